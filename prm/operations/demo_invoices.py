"""Demo invoices: every past month closed (finalized invoices), this month's live drafts.

A few customers buy a credit pack first (demo_credits.py), so the closed months bill it and
draw it down and this month's drafts show what is left. One customer commits to more than it uses
(demo_recommendations.py), so the closes recommend a lower commitment.

They are made by the real flow, `period_close` and `invoice_refresh_draft`, from the demo usage,
so the figures a demo user sees are the ones billing would produce.
"""

from dataclasses import dataclass, field

from django.db import transaction

from prm.billing.services import invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription
from prm.operations.demo_changes import ChangeSeedResult, seed_subscription_changes
from prm.operations.demo_credits import CreditSeedResult, seed_credits
from prm.operations.demo_recommendations import RecommendationSeedResult, seed_recommendation_setup
from prm.operations.period_close import active_subscriptions, period_close


@dataclass
class InvoiceSeedResult:
    closed_months: int = 0
    finalized_now: int = 0
    drafts: int = 0
    credits: CreditSeedResult = field(default_factory=CreditSeedResult)
    changes: ChangeSeedResult = field(default_factory=ChangeSeedResult)
    recommendations: RecommendationSeedResult = field(default_factory=RecommendationSeedResult)

    @property
    def line(self) -> str:
        return (
            f"Invoices: {self.closed_months} past months closed (finalized this run: {self.finalized_now}), "
            f"{self.drafts} live drafts for this month. {self.credits.line} {self.changes.line} "
            f"{self.recommendations.line}"
        )


def seed_invoices(*, now, actor) -> InvoiceSeedResult:
    result = InvoiceSeedResult()
    first = Subscription.objects.order_by("started_at").values_list("started_at", flat=True).first()
    if first is None:
        return result
    # Before any month is closed: a pack bought or a commitment raised in a closed month could
    # not be billed.
    result.credits = seed_credits(now=now, actor=actor)
    # Before the other contract changes: they pass over a subscription that has one already.
    result.recommendations = seed_recommendation_setup(now=now, actor=actor)
    result.changes = seed_subscription_changes(now=now, actor=actor)
    current = BillingPeriod.containing(now)
    period = BillingPeriod.containing(first)
    while period < current:
        result.finalized_now += period_close(period=period, actor=actor).finalized
        result.closed_months += 1
        period = period.next()
    # Each close re-priced its last three months (prm/billing/recommendations.py): count what stands.
    result.recommendations.count_open()
    for subscription in active_subscriptions(current).order_by("pk"):
        with transaction.atomic():
            invoice_refresh_draft(subscription=subscription, period=current)
        result.drafts += 1
    return result
