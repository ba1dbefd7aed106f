"""Closing a billing period: the month's usage is frozen, and every invoice of it finalized.

    period_close(period=BillingPeriod(2026, 10))

1. refuse a period that has not ended (usage is still arriving for it);
2. record it as closed (`ClosedBillingPeriod`): from that commit on, ingestion quarantines
   events timestamped in it and amendments to it are refused, so the invoices below count
   usage that can no longer change;
3. for every subscription active at some point in the period, rate its invoice one last time
   and finalize it (numbered, immutable), in batches by primary key so memory stays flat however
   many subscriptions there are. A batch is loaded and rated set-based and written in one
   transaction (prm/billing/batch.py); the subscriptions it does not cover exactly (customers with
   prepaid credits …) are finalized one per transaction, in their turn. `batched=False` sends
   every subscription that way (the reference the batch path is tested against).

Safe to run again (after a crash, or by mistake): finalized and void invoices are left as
they are, so a second run finalizes nothing new and takes no new numbers.

4. then incentives follow the money: commissions accrue on every finalized invoice of the period
   (and its growth), the period's statements gather them, and each partner's tier is evaluated
   on the trailing twelve months (proposals a manager confirms), and partners move forward to the
   lifecycle stage their evidence shows. Each step is idempotent too.

5. and customers hear where they could pay less: `recommendations_refresh` re-prices the last three
   closed periods' usage on the other plans and a lower commitment (prm/billing/recommendations.py),
   and a new recommendation notifies the customer's and its partner's admins (idempotent as well).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from prm.billing.batch import invoices_finalize
from prm.billing.models import Invoice, InvoiceStatus
from prm.billing.recommendations import recommendations_refresh
from prm.core.locks import billing_periods_lock
from prm.core.models import ClosedBillingPeriod
from prm.core.money import money_string
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, SubscriptionStatus
from prm.incentives.accrual import commissions_sync
from prm.incentives.statements import statements_generate
from prm.operations.lifecycle import partner_stages_refresh
from prm.operations.tier_evaluation import tier_evaluations_propose

BATCH_SIZE = 500


@dataclass
class PeriodCloseSummary:
    period: str
    subscriptions: int = 0
    finalized: int = 0  # finalized by this run
    already_final: int = 0  # finalized (or voided) by an earlier run
    # How the invoices finalized now were: set-based in batches, or one subscription at a time.
    finalized_batched: int = 0
    finalized_one_by_one: int = 0
    # Every finalized invoice of the period, whichever run finalized it (void ones left out).
    totals: dict[str, Decimal] = field(default_factory=dict)
    invoices_final: int = 0
    commissions: dict = field(default_factory=dict)
    statements: dict = field(default_factory=dict)
    tier_evaluations: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)
    recommendations: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "period": self.period,
            "subscriptions": self.subscriptions,
            "finalized": self.finalized,
            "already_final": self.already_final,
            "finalized_batched": self.finalized_batched,
            "finalized_one_by_one": self.finalized_one_by_one,
            "invoices_final": self.invoices_final,
            "totals": {currency: money_string(amount, currency) for currency, amount in sorted(self.totals.items())},
            "commissions": self.commissions,
            "statements": self.statements,
            "tier_evaluations": self.tier_evaluations,
            "stages": self.stages,
            "recommendations": self.recommendations,
        }

    def __str__(self) -> str:
        totals = ", ".join(f"{amount} {currency}" for currency, amount in self.as_dict()["totals"].items()) or "nothing"
        return (
            f"Period {self.period} closed: {self.subscriptions} subscriptions, "
            f"{self.finalized} invoices finalized now ({self.finalized_batched} in batches, "
            f"{self.finalized_one_by_one} one by one), {self.already_final} already final; "
            f"{self.invoices_final} finalized invoices total {totals}. "
            f"Commissions: {self.commissions.get('accrued', 0)} entries accrued, "
            f"{self.commissions.get('growth', 0)} growth; statements: {self.statements.get('statements', 0)}; "
            f"tier proposals: {self.tier_evaluations.get('upgrades', 0)} up, "
            f"{self.tier_evaluations.get('downgrades', 0)} down; "
            f"recommendations: {self.recommendations.get('created', 0)} new."
        )


def active_subscriptions(period: BillingPeriod):
    """Subscriptions active at some point in [period.start, period.end)."""
    return Subscription.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=period.start), started_at__lt=period.end
    )


def period_close(*, period: BillingPeriod, actor=None, batched: bool = True) -> PeriodCloseSummary:
    """Close `period` (see the module's docstring). `actor` None is the system (command, task)."""
    if actor is not None and not actor.is_manager:
        raise PermissionDenied("Only channel managers close billing periods.")
    current = BillingPeriod.containing(timezone.now())
    if period >= current:
        raise ValidationError(
            {"period": f"{period} has not ended (the current period is {current}); a period is closed once it is over."}
        )
    # Committed on its own, before any invoice is finalized, so ingestion sees it from now on.
    with transaction.atomic():
        # Waits for ingests in flight; ingests after this commit see the period closed.
        billing_periods_lock(exclusive=True)
        ClosedBillingPeriod.objects.get_or_create(period=str(period), defaults={"closed_by": actor})

    # Subscriptions whose end date has passed are ended now (an end can be set ahead of time).
    Subscription.objects.filter(status=SubscriptionStatus.ACTIVE, ended_at__lte=timezone.now()).update(
        status=SubscriptionStatus.ENDED
    )
    summary = PeriodCloseSummary(period=str(period))
    subscriptions = active_subscriptions(period).order_by("pk").values_list("pk", flat=True)
    last_pk = 0
    while True:
        batch = list(subscriptions.filter(pk__gt=last_pk)[:BATCH_SIZE])
        if not batch:
            break
        last_pk = batch[-1]
        statuses = dict(
            Invoice.objects.filter(subscription__in=batch, period=str(period)).values_list("subscription_id", "status")
        )
        drafts = [pk for pk in batch if statuses.get(pk, InvoiceStatus.DRAFT) == InvoiceStatus.DRAFT]
        summary.subscriptions += len(batch)
        summary.already_final += len(batch) - len(drafts)
        outcome = invoices_finalize(subscription_ids=drafts, period=period, batched=batched)
        summary.finalized += outcome.finalized
        summary.finalized_batched += outcome.batched
        summary.finalized_one_by_one += outcome.one_by_one
        summary.already_final += outcome.already_final

    final = Invoice.objects.filter(period=str(period), status=InvoiceStatus.FINALIZED)
    # Summed here, not by the database: SQLite would add the decimals as floats.
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, total in final.values_list("currency", "total").iterator(chunk_size=2000):
        totals[currency] += total
        summary.invoices_final += 1
    summary.totals = dict(totals)

    summary.commissions = commissions_sync(period).as_dict()
    summary.statements = statements_generate(period).as_dict()
    summary.tier_evaluations = tier_evaluations_propose(period=period).as_dict()
    summary.stages = partner_stages_refresh().as_dict()
    summary.recommendations = recommendations_refresh(period=period).as_dict()
    return summary
