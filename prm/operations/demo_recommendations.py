"""Demo savings advice: one demo customer committed to more than it used, so closing the past months
recommends a lower commitment, and the customer's dashboard, its partner's dashboard and the
recommendations list show one, with its figures.

Acme Robotics (the company of the demo customer login) raised its own commitment at the start of the
third month before this one, for a second production line that did not come: from then on its
invoices carry a minimum-commitment true-up, and the period close (prm/billing/recommendations.py)
recommends the commitment that would have avoided them. The commitment is a quarter above its
busiest of those months, rated from the demo usage, rounded up to a hundred.

Made through the real services as a channel manager, before the past months are closed (a closed
month takes no change). Idempotent: nothing is made when Acme already has this change, when the
first of the three months is already closed (a demo database made before recommendations existed),
or when its subscription started after that month began (a demo with less usage history).
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.db import transaction

from prm.billing.models import Recommendation, RecommendationStatus
from prm.billing.services import subscription_rate
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription
from prm.customers.services import subscription_change_commitment

DEMO_CUSTOMER = "cus_acme_robotics"
# Not "Demo: …": demo_changes.py takes a change of that kind as a sign that it ran already.
REASON = "Demo savings: committed for a second production line that did not come"
HEADROOM = Decimal("1.25")
ROUND_TO = Decimal(100)


@dataclass
class RecommendationSeedResult:
    raised: int = 0  # commitments raised by this run
    open: int = 0  # open recommendations after the run (set by `count_open`)

    @property
    def line(self) -> str:
        return f"Savings recommendations: {self.open} open (commitments raised this run: {self.raised})."

    def count_open(self) -> "RecommendationSeedResult":
        self.open = Recommendation.objects.filter(status=RecommendationStatus.OPEN).count()
        return self


def seed_recommendation_setup(*, now, actor) -> RecommendationSeedResult:
    """Raise Acme's commitment from the first of the three months the last close will compare."""
    result = RecommendationSeedResult()
    current = BillingPeriod.containing(now)
    first = current.previous().previous().previous()
    subscription = (
        Subscription.objects.filter(customer__external_id=DEMO_CUSTOMER, ended_at__isnull=True)
        .select_related("customer", "plan_version__plan")
        .order_by("pk")
        .first()
    )
    if subscription is None or subscription.started_at > first.start:
        return result
    if subscription.changes.filter(reason=REASON).exists():
        return result
    if ClosedBillingPeriod.objects.filter(period=str(first)).exists():
        return result
    busiest = max(
        subscription_rate(subscription=subscription, period=period).subtotal
        for period in (first, first.next(), first.next().next())
    )
    commitment = (busiest * HEADROOM / ROUND_TO).to_integral_value(rounding=ROUND_CEILING) * ROUND_TO
    with transaction.atomic():
        subscription_change_commitment(
            actor=actor, subscription=subscription, commitment=commitment, effective_at=first.start, reason=REASON
        )
    result.raised += 1
    return result
