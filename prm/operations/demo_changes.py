"""Demo contract changes, so the demo shows flexible contracts at work: one customer raised its
commitment in the middle of last month (its invoice owes each commitment for the days it
applied) and one has lowered its commitment from the end of this month (scheduled).

Made through the real services as a channel manager, before the past months are closed (a
closed month takes no change). Idempotent: a subscription that already has changes is left alone.
"""

from dataclasses import dataclass
from decimal import Decimal

from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, UseCase
from prm.customers.services import subscription_change_commitment


@dataclass
class ChangeSeedResult:
    changes: int = 0

    @property
    def line(self) -> str:
        return f"Contract changes: {self.changes} new."


def _first_subscription(use_case: str, started_before):
    return (
        Subscription.objects.filter(
            customer__use_case=use_case, started_at__lt=started_before, ended_at__isnull=True, changes__isnull=True
        )
        .select_related("plan_version", "customer")
        .order_by("customer__external_id")
        .first()
    )


def seed_subscription_changes(*, now, actor) -> ChangeSeedResult:
    result = ChangeSeedResult()
    current = BillingPeriod.containing(now)
    last = current.previous()
    if Subscription.objects.filter(changes__reason__startswith="Demo:").exists():
        return result  # seeded before
    if ClosedBillingPeriod.objects.filter(period=str(last)).exists():
        return result  # a demo from before contract changes existed: last month is final now
    raised = _first_subscription(UseCase.API_CALLS, last.start)
    if raised is not None:
        minimum = raised.plan_version.minimum_commitment or Decimal(0)
        subscription_change_commitment(
            actor=actor, subscription=raised, commitment=minimum * 2,
            effective_at=last.start.replace(day=15), reason="Demo: a bigger rollout, committed mid-month",
        )  # fmt: skip
        result.changes += 1
    lowered = _first_subscription(UseCase.MANUFACTURING, last.start)
    if lowered is not None:
        minimum = lowered.plan_version.minimum_commitment or Decimal(0)
        subscription_change_commitment(
            actor=actor, subscription=lowered, commitment=(minimum / 2).quantize(minimum),
            reason="Demo: one production line closes; lowered from the next period",
        )  # fmt: skip
        result.changes += 1
    return result
