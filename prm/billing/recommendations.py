"""Recommendations: would a customer have paid less on another plan, or under a lower commitment?

    recommendations_refresh(period=BillingPeriod(2026, 10))

Run by the period close once billing has finalized `period` (and by a Celery task). The method,
for each active subscription that started before the first of the three periods:

1. History. The three billing periods ending with `period` (all closed), and the subscription's
   finalized invoice of each. They are compared only when they are like for like: each invoice
   covers its whole month on the plan version the subscription is on now, and no plan or
   commitment change took effect inside one of the months (a change at a month's start is
   fine). Otherwise two contracts would be mixed and there is nothing fair to say.

2. What was paid, per period: the invoice's plan charges (its subtotal: usage charges and flat
   fees) plus its minimum-commitment true-up, less its credit notes. Prepaid credits applied and
   credit packs bought are left out: they are a way of paying and a separate purchase, not the
   price of the usage. (Credit notes only lower what was paid, so they never inflate a saving.)

3. The usage, per period and metric: the quantities on the finalized invoice's lines, exactly
   what was billed. A metric that only an alternative plan charges is read from the customer's
   hourly rollups (one query per batch finds the few customers that have any such usage; only
   those are summed, with `prm/usage/selectors.py period_usage`).

4. The alternatives, each priced with the pure engine (`prm/plans/pricing.py`) on the same usage,
   period by period — every line rounded once, a period's total the sum of its lines, as on an
   invoice:
   - every other active plan in the customer's currency, at its current version, that covers the
     usage: it charges every metric the customer used in the three months (one whose usage was
     zero may be missing), and any further metric it charges is not already billed by another of
     the customer's subscriptions (switching would bill that usage twice). The minimum owed is the
     subscription's own commitment in that period if it had one (a commitment stays across a plan
     change), else the alternative plan's minimum;
   - a lower commitment, when the subscription has its own commitment above its plan's minimum
     and paid a true-up in at least one of the months: the highest commitment that would have
     avoided every true-up — the smallest month's plan charges, rounded down to a whole unit of
     the currency — but never below the plan's minimum. Each month then costs its charges, or the
     new commitment when that is higher.

5. The cheapest alternative is recommended when it saves, over the three periods, at least
   `PRM_RECOMMENDATION_MIN_SAVING_PERCENT` % of what was paid and at least the amount of
   `PRM_RECOMMENDATION_MIN_SAVING` in the customer's currency. Ties go to the smaller change (a
   commitment before a plan), then to the plan's code.

Kept as `Recommendation` rows, at most one open per subscription. Re-running is idempotent: the
same advice (same plan, or same commitment) updates the open row's figures in place and tells
nobody again; different advice supersedes it (and notifies); no advice any more supersedes it. An
open recommendation whose target the subscription has since taken is marked applied. Advice that
was dismissed is not raised again for the same target. A new recommendation notifies the
customer's admins and its partner's admins (kind `billing.recommendation`).

The number of queries depends on the number of batches of `BATCH_SIZE` subscriptions, not on the
number of customers, plans or usage events.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from prm.accounts.models import Role, User
from prm.core.models import ClosedBillingPeriod
from prm.core.money import money_string, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import ContractPolicy, PlanChoice, Subscription, SubscriptionChange, SubscriptionStatus
from prm.notifications.services import notify
from prm.plans import pricing
from prm.plans.models import Metric, PlanVersion
from prm.usage.models import UsageRollup
from prm.usage.selectors import period_usage

from .credits import CREDIT_LINE, PACK_LINE
from .models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Recommendation,
    RecommendationKind,
    RecommendationStatus,
)

BATCH_SIZE = 500
PERIODS = 3
NOTIFICATION_KIND = "billing.recommendation"
ZERO = Decimal(0)
HUNDRED = Decimal(100)
DEFAULT_MIN_PERCENT = "5"
DEFAULT_MIN_SAVING = {"default": "10"}


# --- the history of a subscription ----------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """The current version of an active plan, its charges parsed once."""

    version: PlanVersion
    charges: tuple[pricing.Charge, ...]
    metrics: frozenset[str]

    @property
    def code(self) -> str:
        return self.version.plan.code


@dataclass
class PeriodHistory:
    """One billed period of a subscription: what it paid and the usage it paid for."""

    period: BillingPeriod
    invoice_id: int
    invoice_number: str
    charges: Decimal  # the plan's charges: the invoice's subtotal
    true_up: Decimal  # the minimum-commitment true-up billed
    credited: Decimal  # its credit notes
    commitment: Decimal | None  # the subscription's own commitment in force (None: the plan's minimum)
    usage: dict[str, Decimal]  # metric code → quantity billed

    @property
    def paid(self) -> Decimal:
        return max(self.charges + self.true_up - self.credited, ZERO)


@dataclass
class Alternative:
    kind: str
    total: Decimal
    figures: list[dict]  # per period, for Recommendation.periods
    candidate: Candidate | None = None
    commitment: Decimal | None = None

    @property
    def rank(self) -> tuple:
        return (self.total, 0 if self.kind == RecommendationKind.COMMITMENT else 1, self.code)

    @property
    def code(self) -> str:
        return self.candidate.code if self.candidate else ""

    @property
    def key(self) -> tuple:
        return _target_key(
            self.kind,
            self.candidate.version.plan_id if self.candidate else None,
            self.commitment,
        )


def _target_key(kind: str, plan_id: int | None, commitment: Decimal | None) -> tuple:
    """What a recommendation asks for: the same plan (whatever its version) or the same commitment."""
    if kind == RecommendationKind.PLAN:
        return (kind, plan_id)
    return (kind, None if commitment is None else commitment.normalize())


@dataclass
class RefreshSummary:
    period: str
    subscriptions: int = 0  # active subscriptions looked at
    compared: int = 0  # of which with three like-for-like periods
    created: int = 0
    updated: int = 0  # same advice, figures refreshed
    unchanged: int = 0  # same advice, same figures (a re-run)
    superseded: int = 0
    applied: int = 0
    skipped: str = ""  # why nothing was looked at

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Context:
    """What a refresh loads once and every batch reads."""

    periods: list[BillingPeriod]
    now: datetime
    candidates: dict[str, list[Candidate]]  # by currency
    metrics: dict[str, Metric]  # by code
    version_metrics: dict[int, frozenset[str]] = field(default_factory=dict)


def _candidates() -> dict[str, list[Candidate]]:
    """The current version of every plan a customer could move to, by currency (two queries): the active
    plans, or only those the contract rules let customers choose (advice nobody but a channel manager
    could take would only frustrate the customer and their partner)."""
    latest: dict[int, PlanVersion] = {}
    versions = PlanVersion.objects.filter(plan__is_active=True)
    policy = ContractPolicy.current()
    if policy.plan_choice == PlanChoice.CHOSEN:
        versions = versions.filter(plan__in=policy.self_service_plans.all())
    versions = versions.select_related("plan").order_by("plan_id", "-version")
    for version in versions:
        latest.setdefault(version.plan_id, version)
    result: dict[str, list[Candidate]] = defaultdict(list)
    for version in latest.values():
        try:
            charges = tuple(pricing.parse_charges(version.charges))
        except pricing.PricingError:  # the plan services never store one; skip rather than fail a close
            continue
        metrics = frozenset(charge.metric for charge in charges if charge.metric)
        result[version.plan.currency].append(Candidate(version, charges, metrics))
    for candidates in result.values():
        candidates.sort(key=lambda candidate: candidate.code)
    return dict(result)


def _metrics_of(charges_json) -> frozenset[str]:
    return frozenset(charge["metric"] for charge in charges_json if isinstance(charge, dict) and charge.get("metric"))


def _window(periods: list[BillingPeriod]) -> tuple[datetime, datetime]:
    return periods[0].start, periods[-1].end


def _comparable(subscription: Subscription, invoices: dict[str, dict], periods: list[BillingPeriod]) -> bool:
    """Three whole months on the current plan version, no change inside any of them (see the docstring)."""
    for period in periods:
        invoice = invoices.get(str(period))
        if invoice is None or invoice["plan_version_id"] != subscription.plan_version_id:
            return False
        if invoice["service_start"] != period.start or invoice["service_end"] != period.end:
            return False
    for change in _changes(subscription):
        if any(period.start < change.effective_at < period.end for period in periods):
            return False
    return True


def _changes(subscription: Subscription) -> list[SubscriptionChange]:
    """The subscription's changes that count (prefetched without the cancelled ones; one waiting for
    approval, or refused, never moved its terms either)."""
    return [change for change in subscription.refresh_changes if getattr(change, "in_force", True)]


def _history(
    subscription: Subscription, invoices: dict[str, dict], lines: dict[int, list], metric_codes: dict[int, str]
) -> list[PeriodHistory]:
    changes = _changes(subscription)
    history = []
    for period_name in sorted(invoices):
        invoice = invoices[period_name]
        period = BillingPeriod.parse(period_name)
        usage: dict[str, Decimal] = {}
        true_up = ZERO
        for metric_id, model, quantity, amount in lines.get(invoice["pk"], []):
            if model == pricing.MINIMUM_COMMITMENT:
                true_up += amount
            elif metric_id is not None and model not in (PACK_LINE, CREDIT_LINE):
                # Two charges on one metric read the same quantity: the first says it.
                usage.setdefault(metric_codes[metric_id], _tidy(quantity))
        history.append(
            PeriodHistory(
                period=period,
                invoice_id=invoice["pk"],
                invoice_number=invoice["number"] or "",
                charges=invoice["subtotal"],
                true_up=true_up,
                credited=invoice["credited"],
                commitment=subscription.terms_at(period.start, changes).commitment,
                usage=usage,
            )
        )
    return history


def _tidy(quantity: Decimal) -> Decimal:
    """A stored quantity without its storage's trailing zeros (12345.000000 → 12345)."""
    normal = quantity.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


# --- pricing the alternatives -------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> str:
    return money_string(amount, currency)


def _usage_rows(usage: dict[str, Decimal], metrics: dict[str, Metric]) -> list[dict]:
    rows = []
    for code in sorted(usage):
        metric = metrics.get(code)
        rows.append(
            {
                "metric": code,
                "name": metric.name if metric else code,
                "unit": metric.unit if metric else "",
                "quantity": plain_decimal(usage[code]),
            }
        )
    return rows


def _figure(history: PeriodHistory, alternative: Decimal, currency: str, usage: dict, metrics, **extra) -> dict:
    return {
        "period": str(history.period),
        "invoice": history.invoice_id,
        "invoice_number": history.invoice_number,
        "charges": _money(history.charges, currency),
        "true_up": _money(history.true_up, currency),
        "credited": _money(history.credited, currency),
        "actual": _money(history.paid, currency),
        "alternative": _money(alternative, currency),
        "saving": _money(history.paid - alternative, currency),
        "commitment": None if history.commitment is None else plain_decimal(history.commitment),
        "usage": _usage_rows(usage, metrics),
        **extra,
    }


def plan_alternative(
    candidate: Candidate, history: list[PeriodHistory], currency: str, metrics: dict[str, Metric]
) -> Alternative:
    """The same usage priced on `candidate`, period by period (its usage must already hold every
    metric the candidate charges)."""
    figures, total = [], ZERO
    for period in history:
        usage = {code: period.usage.get(code, ZERO) for code in candidate.metrics}
        minimum = period.commitment if period.commitment is not None else candidate.version.minimum_commitment
        quote = pricing.price(list(candidate.charges), usage, currency=currency, minimum_commitment=minimum)
        total += quote.total
        shown = {**{code: q for code, q in period.usage.items() if q or code in candidate.metrics}, **usage}
        figures.append(
            _figure(
                period, quote.total, currency, shown, metrics,
                alternative_charges=_money(quote.subtotal, currency),
                alternative_true_up=_money(quote.total - quote.subtotal, currency),
                alternative_minimum=None if minimum is None else plain_decimal(minimum),
                lines=[
                    {"description": line.description, "amount": _money(line.amount, currency)} for line in quote.lines
                ],
            )
        )  # fmt: skip
    return Alternative(kind=RecommendationKind.PLAN, total=total, figures=figures, candidate=candidate)


def commitment_target(subscription: Subscription, history: list[PeriodHistory], currency: str) -> Decimal | None:
    """The highest commitment that would have avoided every true-up (the smallest month's charges,
    rounded down to a whole unit), never below the plan's minimum; None when there is nothing to lower."""
    own = subscription.commitment
    if own is None or not any(period.true_up > 0 for period in history):
        return None
    minimum = subscription.plan_version.minimum_commitment or ZERO
    lowest = min(period.charges for period in history).to_integral_value(rounding=ROUND_FLOOR)
    target = round_money(max(minimum, lowest), currency)
    return target if target < own else None


def commitment_alternative(
    target: Decimal, history: list[PeriodHistory], currency: str, metrics: dict[str, Metric]
) -> Alternative:
    figures, total = [], ZERO
    for period in history:
        true_up = pricing.minimum_true_up(period.charges, target, currency=currency)
        cost = period.charges + (true_up.amount if true_up else ZERO)
        total += cost
        figures.append(
            _figure(
                period, cost, currency, period.usage, metrics,
                alternative_charges=_money(period.charges, currency),
                alternative_true_up=_money(cost - period.charges, currency),
                alternative_minimum=plain_decimal(target),
                lines=[],
            )
        )  # fmt: skip
    return Alternative(kind=RecommendationKind.COMMITMENT, total=total, figures=figures, commitment=target)


def minimum_saving(currency: str) -> tuple[Decimal, Decimal]:
    """(the smallest share of what was paid, in percent; the smallest amount) worth recommending."""
    percent = Decimal(str(getattr(settings, "PRM_RECOMMENDATION_MIN_SAVING_PERCENT", DEFAULT_MIN_PERCENT)))
    amounts = getattr(settings, "PRM_RECOMMENDATION_MIN_SAVING", DEFAULT_MIN_SAVING)
    amount = Decimal(str(amounts.get(currency, amounts.get("default", "0"))))
    return percent, amount


def worth_it(saving: Decimal, paid: Decimal, currency: str) -> bool:
    percent, amount = minimum_saving(currency)
    return saving > 0 and saving >= amount and saving * HUNDRED >= percent * paid


def best_alternative(alternatives: list[Alternative], paid: Decimal, currency: str) -> Alternative | None:
    """The cheapest alternative, if it saves enough."""
    if not alternatives:
        return None
    best = min(alternatives, key=lambda alternative: alternative.rank)
    return best if worth_it(paid - best.total, paid, currency) else None


# --- the refresh --------------------------------------------------------------------------------


def recommendations_refresh(*, period: BillingPeriod, now: datetime | None = None) -> RefreshSummary:
    """Recompute every active subscription's recommendation from the three periods ending with
    `period` (see the module's docstring). Safe to run again."""
    now = now or timezone.now()
    periods = [period.previous().previous(), period.previous(), period]
    summary = RefreshSummary(period=str(period))
    names = [str(each) for each in periods]
    closed = set(ClosedBillingPeriod.objects.filter(period__in=names).values_list("period", flat=True))
    if len(closed) < PERIODS:
        summary.skipped = f"needs {PERIODS} closed periods ending with {period}; not closed: " + ", ".join(
            name for name in names if name not in closed
        )
        return summary

    candidates = _candidates()
    context = _Context(
        periods=periods,
        now=now,
        candidates=candidates,
        metrics={metric.code: metric for metric in Metric.objects.all()},
        version_metrics={each.version.pk: each.metrics for group in candidates.values() for each in group},
    )
    active_changes = SubscriptionChange.objects.filter(cancelled_at__isnull=True)
    subscriptions = (
        Subscription.objects.filter(status=SubscriptionStatus.ACTIVE, started_at__lte=periods[0].start)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=now))
        .select_related("customer__reseller", "plan_version__plan")
        # Into a plain list (to_attr): the default prefetch keeps a queryset that points back at
        # its subscription, a reference cycle that only a full garbage collection frees, so each
        # batch's subscriptions, customers and plans would pile up until one ran.
        .prefetch_related(Prefetch("changes", queryset=active_changes, to_attr="refresh_changes"))
        .order_by("pk")
    )
    last_pk = 0
    while True:
        batch = list(subscriptions.filter(pk__gt=last_pk)[:BATCH_SIZE])
        if not batch:
            break
        last_pk = batch[-1].pk
        _refresh_batch(batch, context, summary)

    # Advice for a subscription that has ended since is moot.
    ended = Recommendation.objects.filter(status=RecommendationStatus.OPEN).filter(
        Q(subscription__status=SubscriptionStatus.ENDED) | Q(subscription__ended_at__lte=now)
    )
    summary.superseded += ended.update(status=RecommendationStatus.SUPERSEDED, decided_at=now)
    return summary


def _refresh_batch(batch: list[Subscription], context: _Context, summary: RefreshSummary) -> None:
    periods, names = context.periods, [str(period) for period in context.periods]
    ids = [subscription.pk for subscription in batch]
    customer_ids = {subscription.customer_id for subscription in batch}

    invoices: dict[int, dict[str, dict]] = defaultdict(dict)
    rows = Invoice.objects.filter(subscription_id__in=ids, period__in=names, status=InvoiceStatus.FINALIZED).values(
        "pk", "subscription_id", "period", "number", "plan_version_id", "subtotal", "credited",
        "service_start", "service_end",
    )  # fmt: skip
    for row in rows:
        invoices[row["subscription_id"]][row["period"]] = row

    comparable = [s for s in batch if _comparable(s, invoices[s.pk], periods)]
    lines: dict[int, list] = defaultdict(list)
    invoice_ids = [invoice["pk"] for s in comparable for invoice in invoices[s.pk].values()]
    if invoice_ids:
        line_rows = InvoiceLine.objects.filter(invoice_id__in=invoice_ids).order_by("invoice_id", "position")
        for invoice_id, metric_id, model, quantity, amount in line_rows.values_list(
            "invoice_id", "metric_id", "model", "quantity", "amount"
        ):
            lines[invoice_id].append((metric_id, model, quantity, amount))
    metric_codes = {metric.pk: code for code, metric in context.metrics.items()}

    # Metrics the customers' other subscriptions bill: an alternative charging one is not open to them.
    billed = _billed_metrics(customer_ids, context)

    histories: dict[int, list[PeriodHistory]] = {}
    needs: dict[int, set[str]] = defaultdict(set)  # customer → metrics only alternatives charge
    for subscription in comparable:
        histories[subscription.pk] = _history(subscription, invoices[subscription.pk], lines, metric_codes)
        current = _version_metrics(subscription.plan_version, context)
        elsewhere = _elsewhere(billed, subscription)
        for candidate in context.candidates.get(subscription.customer.currency, []):
            if candidate.version.plan_id != subscription.plan_version.plan_id and not candidate.metrics & elsewhere:
                needs[subscription.customer_id] |= candidate.metrics - current
    extra_usage = _extra_usage(needs, context)

    existing = _existing(ids)
    admins: dict | None = None
    for subscription in batch:
        summary.subscriptions += 1
        open_row, dismissed = existing.get(subscription.pk, (None, set()))
        if open_row is not None and open_row.period > str(periods[-1]):
            continue  # newer advice already stands (an older period re-closed)
        if open_row is not None and _taken(open_row, subscription):
            Recommendation.objects.filter(pk=open_row.pk, status=RecommendationStatus.OPEN).update(
                status=RecommendationStatus.APPLIED, decided_at=context.now
            )
            summary.applied += 1
            continue  # the terms just changed: new advice waits for months billed on them
        best = None
        if subscription.pk in histories:
            summary.compared += 1
            best = _best_for(subscription, histories[subscription.pk], billed, extra_usage, context)
        if best is None:
            if open_row is not None:
                _supersede(open_row, context.now)
                summary.superseded += 1
            continue
        if open_row is not None and _row_key(open_row) == best.key:
            if _update(open_row, subscription, best, histories[subscription.pk], context):
                summary.updated += 1
            else:
                summary.unchanged += 1
            continue
        if open_row is not None:
            _supersede(open_row, context.now)
            summary.superseded += 1
        if best.key in dismissed:
            continue  # the customer or its partner already said no to this
        if admins is None:
            admins = _admins(batch)
        with transaction.atomic():
            recommendation = _create(subscription, best, histories[subscription.pk], context)
            _notify(recommendation, admins)
        summary.created += 1


def _version_metrics(version: PlanVersion, context: _Context) -> frozenset[str]:
    if version.pk not in context.version_metrics:
        context.version_metrics[version.pk] = _metrics_of(version.charges)
    return context.version_metrics[version.pk]


def _billed_metrics(customer_ids: set[int], context: _Context) -> dict[int, list[tuple[int, frozenset[str]]]]:
    """customer → [(subscription, the metrics its plan charges)] for the customers' active subscriptions."""
    rows = list(
        Subscription.objects.filter(customer_id__in=customer_ids, status=SubscriptionStatus.ACTIVE)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=context.now))
        .values_list("pk", "customer_id", "plan_version_id")
    )
    missing = {version_id for _pk, _customer, version_id in rows if version_id not in context.version_metrics}
    if missing:
        for version_id, charges in PlanVersion.objects.filter(pk__in=missing).values_list("pk", "charges"):
            context.version_metrics[version_id] = _metrics_of(charges)
    billed: dict[int, list] = defaultdict(list)
    for pk, customer_id, version_id in rows:
        billed[customer_id].append((pk, context.version_metrics[version_id]))
    return billed


def _elsewhere(billed: dict, subscription: Subscription) -> frozenset[str]:
    return frozenset().union(
        *(metrics for pk, metrics in billed.get(subscription.customer_id, []) if pk != subscription.pk)
    )


def _extra_usage(needs: dict[int, set[str]], context: _Context) -> dict[tuple[int, str], dict[str, Decimal]]:
    """(customer, metric) → {period: quantity} for metrics only an alternative charges. One query finds
    the customers with any usage of them in the three months; only those are summed."""
    wanted = {code for codes in needs.values() for code in codes if code in context.metrics}
    if not wanted:
        return {}
    start, end = _window(context.periods)
    by_id = {context.metrics[code].pk: code for code in wanted}
    present = (
        UsageRollup.objects.filter(
            customer_id__in=list(needs), metric_id__in=list(by_id), hour__gte=start, hour__lt=end
        )
        .values_list("customer_id", "metric_id")
        .distinct()
    )
    result = {}
    for customer_id, metric_id in present:
        code = by_id[metric_id]
        if code not in needs[customer_id]:
            continue
        metric = context.metrics[code]
        result[(customer_id, code)] = {
            str(period): _tidy(period_usage(customer_id=customer_id, metric=metric, start=period.start, end=period.end))
            for period in context.periods
        }
    return result


def _best_for(
    subscription: Subscription,
    history: list[PeriodHistory],
    billed: dict,
    extra_usage: dict,
    context: _Context,
) -> Alternative | None:
    currency = subscription.customer.currency
    current = _version_metrics(subscription.plan_version, context)
    elsewhere = _elsewhere(billed, subscription)
    used = {code for period in history for code, quantity in period.usage.items() if quantity}
    alternatives = []
    for candidate in context.candidates.get(currency, []):
        if candidate.version.plan_id == subscription.plan_version.plan_id:
            continue
        if not used <= candidate.metrics or candidate.metrics & elsewhere:
            continue
        extra = candidate.metrics - current
        priced = [
            replace(period, usage={**period.usage, **{
                code: extra_usage.get((subscription.customer_id, code), {}).get(str(period.period), ZERO)
                for code in extra
            }})
            for period in history
        ]  # fmt: skip
        alternatives.append(plan_alternative(candidate, priced, currency, context.metrics))
    target = commitment_target(subscription, history, currency)
    if target is not None:
        alternatives.append(commitment_alternative(target, history, currency, context.metrics))
    paid = sum((period.paid for period in history), ZERO)
    return best_alternative(alternatives, paid, currency)


# --- rows -----------------------------------------------------------------------------------------


def _existing(subscription_ids: list[int]) -> dict[int, tuple[Recommendation | None, set[tuple]]]:
    """subscription → (its open recommendation, the targets of its dismissed ones)."""
    rows = Recommendation.objects.filter(
        subscription_id__in=subscription_ids,
        status__in=[RecommendationStatus.OPEN, RecommendationStatus.DISMISSED],
    ).select_related("current_plan_version", "target_plan_version")
    result: dict[int, tuple] = {}
    for row in rows:
        open_row, dismissed = result.get(row.subscription_id, (None, set()))
        if row.status == RecommendationStatus.OPEN:
            open_row = row
        else:
            dismissed = dismissed | {_row_key(row)}
        result[row.subscription_id] = (open_row, dismissed)
    return result


def _row_key(row: Recommendation) -> tuple:
    plan_id = row.target_plan_version.plan_id if row.target_plan_version_id else None
    return _target_key(row.kind, plan_id, row.target_commitment)


def _taken(row: Recommendation, subscription: Subscription) -> bool:
    """Whether the subscription's latest terms (a change scheduled included) already do what `row` advises."""
    if row.kind == RecommendationKind.PLAN:
        return subscription.plan_version.plan_id == row.target_plan_version.plan_id
    if subscription.commitment is None:
        return (subscription.plan_version.minimum_commitment or ZERO) <= row.target_commitment
    return subscription.commitment <= row.target_commitment


def _supersede(row: Recommendation, now: datetime) -> None:
    Recommendation.objects.filter(pk=row.pk, status=RecommendationStatus.OPEN).update(
        status=RecommendationStatus.SUPERSEDED, decided_at=now
    )


def _fields(subscription: Subscription, best: Alternative, history: list[PeriodHistory], context: _Context) -> dict:
    currency = subscription.customer.currency
    paid = sum((period.paid for period in history), ZERO)
    saving = paid - best.total
    return {
        "kind": best.kind,
        "current_plan_version": subscription.plan_version,
        "current_commitment": subscription.commitment,
        "target_plan_version": best.candidate.version if best.candidate else None,
        "target_commitment": best.commitment,
        "period": str(context.periods[-1]),
        "periods": best.figures,
        "currency": currency,
        "actual_total": paid,
        "alternative_total": best.total,
        "saving": saving,
        "saving_percent": (saving * HUNDRED / paid).quantize(Decimal("0.01")) if paid else HUNDRED,
    }


def _update(
    row: Recommendation, subscription: Subscription, best: Alternative, history: list[PeriodHistory], context: _Context
) -> bool:
    """Refresh an open recommendation's figures in place; False when nothing changed (a re-run)."""
    fields = _fields(subscription, best, history, context)
    if all(getattr(row, name) == value for name, value in fields.items()):
        return False
    # Only while still open: a dismissal that just landed stands.
    Recommendation.objects.filter(pk=row.pk, status=RecommendationStatus.OPEN).update(**fields, computed_at=context.now)
    return True


def _create(
    subscription: Subscription, best: Alternative, history: list[PeriodHistory], context: _Context
) -> Recommendation:
    recommendation = Recommendation(
        customer_id=subscription.customer_id,
        subscription=subscription,
        computed_at=context.now,
        **_fields(subscription, best, history, context),
    )
    recommendation.full_clean()
    recommendation.save()
    return recommendation


# --- telling people -------------------------------------------------------------------------------


def _admins(batch: list[Subscription]) -> dict[tuple[str, int], list[User]]:
    """("customer", id) / ("partner", id) → the active admins, for a batch's customers (one query)."""
    customers = {subscription.customer_id for subscription in batch}
    partners = {subscription.customer.reseller_id for subscription in batch}
    users = (
        User.objects.filter(is_active=True)
        .filter(
            Q(membership__role=Role.CUSTOMER_ADMIN, membership__customer_id__in=customers)
            | Q(membership__role=Role.PARTNER_ADMIN, membership__partner_id__in=partners)
        )
        .select_related("membership")
    )
    result: dict[tuple[str, int], list[User]] = defaultdict(list)
    for user in users:
        membership = user.membership
        if membership.role == Role.CUSTOMER_ADMIN:
            result[("customer", membership.customer_id)].append(user)
        else:
            result[("partner", membership.partner_id)].append(user)
    return result


def summary_text(recommendation: Recommendation) -> str:
    """One sentence with the figures: what was paid, what the alternative would have cost."""
    currency = recommendation.currency
    first, last = recommendation.first_period, recommendation.period
    current = recommendation.current_plan_version.plan.name
    if recommendation.kind == RecommendationKind.PLAN:
        alternative = f"on {recommendation.target_plan_version.plan.name}"
    else:
        alternative = f"with a commitment of {money_string(recommendation.target_commitment, currency)} {currency}"
    return (
        f"From {first} to {last} the usage on {current} cost {money_string(recommendation.actual_total, currency)} "
        f"{currency}; the same usage {alternative} would have cost "
        f"{money_string(recommendation.alternative_total, currency)} {currency}: "
        f"{money_string(recommendation.saving, currency)} {currency} less "
        f"({plain_decimal(recommendation.saving_percent)} %)."
    )


def _notify(recommendation: Recommendation, admins: dict) -> None:
    customer = recommendation.subscription.customer
    saving = f"{money_string(recommendation.saving, recommendation.currency)} {recommendation.currency}"
    url = recommendation.get_absolute_url()
    advice = recommendation.advice[0].lower() + recommendation.advice[1:]
    body = summary_text(recommendation)
    notify(
        users=admins.get(("customer", customer.pk), []),
        kind=NOTIFICATION_KIND,
        title=f"You could have saved {saving} over three months: {advice}",
        body=body,
        url=url,
    )
    notify(
        users=admins.get(("partner", customer.reseller_id), []),
        kind=NOTIFICATION_KIND,
        title=f"{customer.name} could have saved {saving} over three months: {advice}",
        body=body,
        url=url,
    )


def review_url(recommendation: Recommendation) -> str:
    """The price-impact preview of the recommended change on the subscription's page, filled in
    (step one of the change: nothing changes until the person confirms it there)."""
    if recommendation.kind == RecommendationKind.PLAN:
        query = {"kind": "plan", "plan-plan": recommendation.target_plan_version.plan_id}
    else:
        query = {"kind": "commitment", "commitment-commitment": plain_decimal(recommendation.target_commitment)}
    return f"{reverse('subscription_change_preview', args=[recommendation.subscription_id])}?{urlencode(query)}"


# --- dismissing -----------------------------------------------------------------------------------


def can_dismiss(user, recommendation: Recommendation) -> bool:
    """The customer's admins and its partner's admins decide on advice (the recommendation is
    already known to be in the user's scope)."""
    if not user.is_authenticated or not (user.is_customer_admin or user.is_partner_admin):
        return False
    return recommendation.status == RecommendationStatus.OPEN


def recommendation_dismiss(*, actor, recommendation: Recommendation) -> Recommendation:
    """Dismiss open advice: it is kept, and the same advice is not raised again."""
    if not actor.is_authenticated or not (actor.is_customer_admin or actor.is_partner_admin):
        raise PermissionDenied("Only the customer's admins and its partner's admins dismiss recommendations.")
    with transaction.atomic():
        recommendation = Recommendation.objects.locked_for(actor, recommendation.pk)
        if recommendation.status != RecommendationStatus.OPEN:
            raise ValidationError(
                {"status": f"This recommendation is {recommendation.get_status_display().lower()}; only an open "
                 "one can be dismissed."}
            )  # fmt: skip
        recommendation.status = RecommendationStatus.DISMISSED
        recommendation.decided_at = timezone.now()
        recommendation.decided_by = actor
        recommendation.save(update_fields=["status", "decided_at", "decided_by"])
    return recommendation
