"""The period close's recommendations step: once billing has finalized the third month, customers who
would have paid less hear about it, and closing again tells nobody twice. The Celery task runs the same
step for the last closed period."""

from decimal import Decimal

import pytest

from prm.billing.models import Recommendation
from prm.core.periods import BillingPeriod
from prm.customers.services import subscription_create
from prm.notifications.models import Notification
from prm.operations.period_close import period_close
from prm.operations.tasks import recommendations_refresh_task
from prm.plans.services import metric_create, plan_create
from prm.usage.ingest import events_ingest
from prm.usage.parsing import cloudevent

pytestmark = pytest.mark.django_db

MONTHS = (BillingPeriod(2026, 8), BillingPeriod(2026, 9), BillingPeriod(2026, 10))


@pytest.fixture
def committed(world):
    """A1 committed to 300 a month on a plan of 0.01 a call, and used 200, 250 and 180 worth."""
    metric_create(
        actor=world.manager, code="api_calls", name="API calls", unit="call", aggregation="sum", field="calls"
    )
    plan = plan_create(
        actor=world.manager, code="metered", name="Metered", currency="USD",
        charges=[{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}],
    )  # fmt: skip
    subscription_create(
        actor=world.manager, plan=plan, customer=world.customer_a1, external_id="sub_a1",
        started_at=MONTHS[0].start, commitment=Decimal("300"),
    )  # fmt: skip
    events = [
        cloudevent(index, {"specversion": "1.0", "id": f"close-{index}", "source": "test", "type": "api_calls",
                           "subject": "cus_a1", "time": period.start.replace(day=9).isoformat(),
                           "data": {"calls": calls}})
        for index, (period, calls) in enumerate(zip(MONTHS, (20_000, 25_000, 18_000), strict=True))
    ]  # fmt: skip
    assert events_ingest(events, actor=world.manager).accepted == 3


def test_closing_the_third_month_recommends_and_closing_again_tells_nobody_twice(world, committed):
    first, second = (period_close(period=period) for period in MONTHS[:2])
    assert first.recommendations["skipped"] and second.recommendations["skipped"]  # not three months yet
    assert not Recommendation.objects.exists()

    summary = period_close(period=MONTHS[2])

    assert summary.recommendations["created"] == 1
    assert "recommendations: 1 new." in str(summary)
    recommendation = Recommendation.objects.get()
    # 900 paid (each month topped up to 300); at a commitment of 180 it would have been 200 + 250 + 180.
    assert (recommendation.kind, recommendation.target_commitment) == ("commitment", Decimal("180"))
    assert (recommendation.actual_total, recommendation.saving) == (Decimal("900.00"), Decimal("270.00"))
    told = Notification.objects.filter(kind="billing.recommendation")
    assert sorted(told.values_list("recipient__email", flat=True)) == ["admin-a@test.example", "cust-a1@test.example"]

    again = period_close(period=MONTHS[2])
    assert (again.recommendations["created"], again.recommendations["unchanged"]) == (0, 1)
    assert Recommendation.objects.count() == 1 and told.count() == 2

    result = recommendations_refresh_task.delay().get()  # the last closed period: October
    assert (result["period"], result["created"], result["unchanged"]) == ("2026-10", 0, 1)
