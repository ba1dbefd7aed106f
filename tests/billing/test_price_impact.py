"""The price impact of a contract change, against hand-computed Decimals.

The clock stands at 11 October 2026 00:00 UTC: 10 of October's 31 days have passed. A1 is on plan A
(a flat 310 and 0.01 a call) since 1 September; it made 30,000 calls in September and 10,000 so far
in October, a pace of 1,000 a day, so October is projected at 31,000 calls.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.billing.price_impact import FLAT_FEES, TRUE_UP, change_impact
from prm.billing.services import subscription_rate
from prm.core.periods import BillingPeriod
from prm.customers.services import subscription_change_propose
from tests.billing.conftest import OCTOBER, at

NOW = datetime(2026, 10, 11, tzinfo=UTC)
SEPTEMBER = BillingPeriod(2026, 9)
PLAN_A = [{"model": "flat", "amount": "310"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
PLAN_B = [{"model": "flat", "amount": "620"}, {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.02"}]
MID_OCTOBER = datetime(2026, 10, 16, tzinfo=UTC)  # 15 days before, 16 days after


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def a1(world, clock, make_plan, subscribe, send):
    plan_a = make_plan("p-a", PLAN_A)
    subscription = subscribe(plan_a, started_at="2026-09-01T00:00:00Z", commitment=Decimal("500"))
    send(
        ("cus_a1", "api_calls", "2026-09-10T10:00:00+00:00", {"calls": 30000}),
        ("cus_a1", "api_calls", at(3), {"calls": 4000}),
        ("cus_a1", "api_calls", at(10, 23), {"calls": 6000}),
    )
    return subscription


def _rows(comparison):
    return [(row.item, row.as_is, row.with_change, row.difference) for row in comparison.rows]


@pytest.mark.django_db
def test_a_plan_change_later_in_the_open_period(world, a1, make_plan):
    plan_b = make_plan("p-b", PLAN_B)
    proposal = subscription_change_propose(
        actor=world.manager, subscription=a1, kind="plan", plan=plan_b, effective_at=MID_OCTOBER
    )
    impact = change_impact(proposal=proposal)
    current = impact.current
    assert impact.as_of == NOW and impact.open_period == OCTOBER
    assert current.usage == {"api_calls": Decimal(31000)}
    # As is: 310 + 31,000 × 0.01 = 310 + 310 = 620.00 (above the 500 committed).
    # With the change: plan A for 15 days: 310 × 15/31 = 150.00, 10,000 + 5 × 1,000 = 15,000 calls × 0.01 = 150.00;
    # plan B for 16 days: 620 × 16/31 = 320.00, 16,000 calls × 0.02 = 320.00. Total 940.00.
    assert _rows(current) == [
        (FLAT_FEES, Decimal("310.00"), Decimal("470.00"), Decimal("160.00")),
        ("api_calls usage", Decimal("310.00"), Decimal("470.00"), Decimal("160.00")),
    ]
    assert (current.as_is.total, current.with_change.total, current.difference) == (
        Decimal("620.00"), Decimal("940.00"), Decimal("320.00"),
    )  # fmt: skip
    assert [line.amount for line in current.with_change.lines] == [Decimal("150.00")] * 2 + [Decimal("320.00")] * 2
    # A full period at September's 30,000 calls: A 310 + 300 = 610.00, B 620 + 600 = 1,220.00.
    full = impact.full_period
    assert full.usage_period == SEPTEMBER and full.usage == {"api_calls": Decimal(30000)}
    assert (full.as_is.total, full.with_change.total, full.difference) == (
        Decimal("610.00"), Decimal("1220.00"), Decimal("610.00"),
    )  # fmt: skip
    # Nothing was written: the subscription is still on plan A, with no change recorded.
    a1.refresh_from_db()
    assert a1.plan_version.plan.code == "p-a" and not a1.changes.exists()


@pytest.mark.django_db
def test_a_commitment_raised_mid_period_is_owed_for_its_days(world, a1):
    proposal = subscription_change_propose(
        actor=world.manager, subscription=a1, kind="commitment", commitment=Decimal("1000"), effective_at=MID_OCTOBER
    )
    impact = change_impact(proposal=proposal)
    # As is: charges 620.00 > 500: no true-up. With the change: (500 × 15 + 1,000 × 16) / 31 = 758.0645… → 758.06
    # owed, so a true-up of 758.06 − 620.00 = 138.06.
    assert _rows(impact.current) == [
        (FLAT_FEES, Decimal("310.00"), Decimal("310.00"), Decimal("0.00")),
        ("api_calls usage", Decimal("310.00"), Decimal("310.00"), Decimal("0.00")),
        (TRUE_UP, Decimal("0"), Decimal("138.06"), Decimal("138.06")),
    ]
    assert impact.current.with_change.total == Decimal("758.06")
    # A full period at September's usage: 610.00 as is (above 500), the 1,000 minimum with the change.
    assert _rows(impact.full_period) == [
        (FLAT_FEES, Decimal("310.00"), Decimal("310.00"), Decimal("0.00")),
        ("api_calls usage", Decimal("300.00"), Decimal("300.00"), Decimal("0.00")),
        (TRUE_UP, Decimal("0"), Decimal("390.00"), Decimal("390.00")),
    ]
    assert impact.full_period.difference == Decimal("390.00")


@pytest.mark.django_db
def test_the_as_is_projection_is_what_rating_the_period_at_that_usage_gives(world, a1, send, monkeypatch):
    """The projection's "as is" prices the projected usage exactly as the period's invoice would."""
    proposal = subscription_change_propose(
        actor=world.manager, subscription=a1, kind="commitment", commitment=Decimal("1000"),
        effective_at=OCTOBER.end,
    )  # fmt: skip
    impact = change_impact(proposal=proposal)
    # The rest of October at the same pace: 21,000 more calls make the 31,000 projected.
    monkeypatch.setattr(timezone, "now", lambda: OCTOBER.end)
    send(("cus_a1", "api_calls", "2026-10-20T10:00:00+00:00", {"calls": 21000}))
    rated = subscription_rate(subscription=a1, period=OCTOBER)
    assert impact.current.as_is.total == rated.total == Decimal("620.00")
    # A change from the next period on leaves the open one as it is.
    assert impact.current.difference == Decimal("0.00")
    assert impact.full_period.difference == Decimal("390.00")


@pytest.mark.django_db
def test_levels_are_kept_and_lowering_takes_effect_next_period(world, clock, make_plan, subscribe, send):
    seats = make_plan("seats", [{"model": "per_unit", "metric": "seats", "unit_amount": "5"}])
    subscription = subscribe(seats, started_at="2026-09-01T00:00:00Z", commitment=Decimal("200"))
    send(
        ("cus_a1", "seats", "2026-09-05T10:00:00+00:00", {"seats": 30}),
        ("cus_a1", "seats", at(2), {"seats": 10}),
        ("cus_a1", "seats", at(9), {"seats": 12}),
    )
    proposal = subscription_change_propose(
        actor=world.admin_a, subscription=subscription, kind="commitment", commitment=Decimal("50")
    )
    assert proposal.effective_at == OCTOBER.end and proposal.reduction
    impact = change_impact(proposal=proposal)
    # The latest seat count so far (12) is the level for the rest of October: 60.00, trued up to 200 either way.
    assert impact.current.usage == {"seats": Decimal(12)}
    assert (impact.current.as_is.total, impact.current.with_change.total) == (Decimal("200.00"), Decimal("200.00"))
    # A full period at September's 30 seats: 150.00, trued up to 200 as is; 150.00 with 50 committed.
    assert (impact.full_period.as_is.total, impact.full_period.with_change.total) == (
        Decimal("200.00"), Decimal("150.00"),
    )  # fmt: skip
    assert impact.full_period.difference == Decimal("-50.00")


@pytest.mark.django_db
def test_too_early_in_the_period_to_project(world, a1, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 10, 1, 12, tzinfo=UTC))
    proposal = subscription_change_propose(
        actor=world.manager, subscription=a1, kind="commitment", commitment=Decimal("1000")
    )
    impact = change_impact(proposal=proposal)
    assert impact.current is None and "too early" in impact.current_note
    assert impact.full_period.difference == Decimal("390.00")
    body = impact.as_dict()
    assert body["open_period"] is None
    assert body["full_period"]["rows"][-1] == {
        "item": TRUE_UP, "metric": None, "as_is": "0.00", "with_change": "390.00", "difference": "390.00",
    }  # fmt: skip
