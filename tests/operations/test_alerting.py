"""Alert evaluation (prm/operations/alerting.py): usage and spend thresholds fire once per period and
threshold, the default rules at 80 % and 100 % of the commitment, prepaid credits, anomalies with
known figures (median ± k·1.4826·MAD and its guards), who is told, the webhook event, and a number
of queries that does not grow with the number of customers.

The clock is 20 November 2026, 12:00 UTC: November is the open period, 19 November is "yesterday".
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prm.billing.credits import credit_grant_create
from prm.notifications.models import Notification, WebhookDelivery
from prm.notifications.webhooks import webhook_endpoint_create
from prm.operations.alerting import alerts_evaluate
from prm.usage.alerts import alert_rule_create, alert_rule_update, baseline_of
from prm.usage.models import Alert, AlertRule
from tests import factories
from tests.billing import conftest as billing

# Billing's set-up, shared: a catalogue made through the plan services, usage through ingestion.
catalogue, make_plan, send, subscribe = billing.catalogue, billing.make_plan, billing.send, billing.subscribe

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
NOVEMBER_START = datetime(2026, 11, 1, tzinfo=UTC)
YESTERDAY = datetime(2026, 11, 19, tzinfo=UTC)
PER_CALL = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]
PER_UNIT = [{"model": "per_unit", "metric": "units", "unit_amount": "0.10"}]


class Clock:
    def __init__(self, now):
        self.now = now

    def advance(self, **delta):
        """Later by `delta`: a draft rated before is then old enough to be re-rated."""
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(NOW)
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def _day(day: int, hour: int = 10) -> str:
    return datetime(2026, 11, day, hour, tzinfo=UTC).isoformat()


def _evaluate(clock):
    clock.advance(minutes=10)
    return alerts_evaluate()


# --- usage thresholds -------------------------------------------------------------------------


def test_a_usage_threshold_fires_once_per_period_and_threshold(world, clock, catalogue, send):
    rule = alert_rule_create(
        actor=world.admin_a, customer=world.customer_a1, metric=catalogue.api_calls, measure="usage",
        basis="absolute", threshold=Decimal("10000"),
    )  # fmt: skip
    send(("cus_a1", "api_calls", _day(5), {"calls": 6000}))
    assert _evaluate(clock) == []

    send(("cus_a1", "api_calls", _day(10), {"calls": 5000}), ("cus_a2", "api_calls", _day(10), {"calls": 99999}))
    [alert] = _evaluate(clock)
    assert (alert.rule, alert.customer, alert.observed, alert.limit, alert.unit) == (
        rule, world.customer_a1, Decimal("11000"), Decimal("10000"), "unit",
    )  # fmt: skip
    assert (alert.period_start, alert.period_end) == (NOVEMBER_START, datetime(2026, 12, 1, tzinfo=UTC))
    assert alert.message == (
        "A1 Corp used 11,000 unit of Api Calls in 2026-11 so far, reaching the alert threshold of 10,000 unit."
    )

    # Evaluated again (and again): still one alert this period.
    assert _evaluate(clock) == [] and _evaluate(clock) == []
    assert Alert.objects.count() == 1

    # Per threshold: raised to 11,000, the rule fires again for the same period.
    alert_rule_update(actor=world.admin_a, rule=rule, threshold=Decimal("11000"))
    [again] = _evaluate(clock)
    assert again.threshold == Decimal("11000") and Alert.objects.filter(rule=rule).count() == 2


def test_inactive_rules_and_customers_fire_nothing(world, clock, catalogue, send):
    for customer in (world.customer_a1, world.customer_a2):
        alert_rule_create(
            actor=world.manager, customer=customer, metric=catalogue.api_calls, measure="usage", basis="absolute",
            threshold=1, is_active=customer == world.customer_a1,
        )  # fmt: skip
    send(("cus_a1", "api_calls", _day(5), {"calls": 5}), ("cus_a2", "api_calls", _day(5), {"calls": 5}))
    world.customer_a1.is_active = False
    world.customer_a1.save()
    assert _evaluate(clock) == []


# --- spend ------------------------------------------------------------------------------------


def test_default_rules_fire_at_80_and_100_percent_of_the_commitment(
    world,
    clock,
    make_plan,
    subscribe,
    send,
):
    subscription = subscribe(make_plan("calls", PER_CALL), started_at="2026-11-01T00:00:00Z", commitment=300)
    assert _evaluate(clock) == []  # no spend yet, but the defaults are made
    defaults = AlertRule.objects.filter(subscription=subscription).order_by("threshold")
    assert [(r.basis, r.measure, r.threshold, r.is_default) for r in defaults] == [
        ("percent_of_commitment", "spend", Decimal(80), True),
        ("percent_of_commitment", "spend", Decimal(100), True),
    ]

    send(("cus_a1", "api_calls", _day(5), {"calls": 25000}))  # 250.00 of 300.00: 83.3 %
    [at_80] = _evaluate(clock)
    assert (at_80.rule.threshold, at_80.observed, at_80.limit, at_80.unit) == (80, Decimal("250"), 240, "USD")
    assert at_80.subscription == subscription
    assert at_80.message == (
        "Spend of A1 Corp (sub_cus_a1_calls) in 2026-11 so far is 250 USD: 83.3 % of the 300 USD commitment of "
        "sub_cus_a1_calls (alert at 80 %, 240 USD)."
    )
    assert _evaluate(clock) == []

    send(("cus_a1", "api_calls", _day(12), {"calls": 6000}))  # 310.00: over the commitment
    [at_100] = _evaluate(clock)
    assert (at_100.rule.threshold, at_100.observed, at_100.limit) == (100, Decimal("310"), Decimal("300"))
    assert _evaluate(clock) == []
    # Made once, however many evaluations ran.
    assert AlertRule.objects.filter(subscription=subscription).count() == 2
    assert Alert.objects.count() == 2


def test_a_default_switched_off_or_changed_is_kept_as_it_is(world, clock, make_plan, subscribe, send):
    subscription = subscribe(make_plan("calls", PER_CALL, minimum_commitment="100"), started_at="2026-11-01T00:00:00Z")
    _evaluate(clock)
    at_80, at_100 = AlertRule.objects.filter(subscription=subscription).order_by("threshold")
    alert_rule_update(actor=world.customer_user_a1, rule=at_80, threshold=Decimal(50))
    alert_rule_update(actor=world.customer_user_a1, rule=at_100, is_active=False)

    send(("cus_a1", "api_calls", _day(5), {"calls": 20000}))  # 200.00: twice the plan's minimum of 100
    [alert] = _evaluate(clock)
    assert (alert.rule, alert.threshold, alert.limit) == (at_80, Decimal(50), Decimal(50))
    assert AlertRule.objects.filter(subscription=subscription).count() == 2  # nothing re-made
    assert not AlertRule.objects.get(pk=at_100.pk).is_active


def test_spend_on_prepaid_credits_and_an_absolute_amount(world, clock, make_plan, subscribe, send):
    subscription = subscribe(make_plan("units", PER_UNIT), started_at="2026-11-01T00:00:00Z")
    credit_grant_create(
        actor=world.manager, subscription=subscription, credits=Decimal("500"), reason="Launch goodwill",
        granted_at=NOVEMBER_START,
    )  # fmt: skip
    on_credits = alert_rule_create(
        actor=world.customer_user_a1, measure="spend", basis="percent_of_credit", threshold=Decimal(50)
    )
    absolute = alert_rule_create(
        actor=world.rep_a, customer=world.customer_a1, measure="spend", basis="absolute", threshold=Decimal("350")
    )
    send(("cus_a1", "units", _day(3), {"n": 2000}))  # 200.00: 40 % of the 500 credits
    assert _evaluate(clock) == []

    send(("cus_a1", "units", _day(8), {"n": 1000}))  # 300.00: 60 %
    [alert] = _evaluate(clock)
    assert (alert.rule, alert.observed, alert.limit) == (on_credits, Decimal(300), Decimal(250))
    assert alert.message == (
        "Spend of A1 Corp in 2026-11 so far is 300 USD: 60 % of the 500 USD of prepaid credits available this "
        "period (alert at 50 %, 250 USD)."
    )

    send(("cus_a1", "units", _day(9), {"n": 600}))  # 360.00: over the absolute 350
    [alert] = _evaluate(clock)
    assert (alert.rule, alert.observed, alert.limit, alert.basis) == (absolute, Decimal(360), 350, "absolute")
    assert alert.message == "Spend of A1 Corp in 2026-11 so far is 360 USD, reaching the alert threshold of 350 USD."


# --- anomalies --------------------------------------------------------------------------------

STEADY = [98, 101, 100, 99, 102, 100, 97, 103, 100, 101, 99, 100, 98, 102]  # 5 to 18 November


def _days_of_usage(send, customer: str, values: list[int], last: int):
    """Usage from 5 November, a day per value, then `last` on the 19th (yesterday); 0: no events that day."""
    events = [(customer, "api_calls", _day(5 + index), {"calls": value}) for index, value in enumerate(values) if value]
    if last:
        events.append((customer, "api_calls", _day(19, 15), {"calls": last}))
    send(*events)


def _anomaly_rule(world, catalogue, customer, **fields):
    return alert_rule_create(
        actor=world.manager, customer=customer, metric=catalogue.api_calls, measure="usage", basis="anomaly", **fields
    )


def test_an_unusual_day_fires_with_the_figures_that_explain_it(world, clock, catalogue, send):
    rule = _anomaly_rule(world, catalogue, world.customer_a1)
    _anomaly_rule(world, catalogue, world.customer_a2)
    _days_of_usage(send, "cus_a1", STEADY, last=400)
    _days_of_usage(send, "cus_a2", STEADY, last=110)  # within median ± 3σ̂: not unusual

    [alert] = _evaluate(clock)
    # Median 100, MAD 1 (σ̂ 1.48) — but σ̂ is never below 5 % of the median: 5, so 85 to 115.
    assert (alert.rule, alert.observed, alert.baseline_median, alert.baseline_mad) == (rule, 400, 100, 1)
    assert (alert.limit, alert.threshold, alert.baseline_days) == (Decimal(115), Decimal(3), 14)
    assert (alert.period_start, alert.period_end) == (YESTERDAY, datetime(2026, 11, 20, tzinfo=UTC))
    assert alert.message == (
        "400 unit of Api Calls on Thu 19 Nov 2026 (yesterday, UTC) vs a median of 100 (±5 typical) over the 14 "
        "days before; threshold k=3: a day outside 85 – 115 is unusual, and this one is above."
    )
    # Once per day: the same day is not judged again.
    assert _evaluate(clock) == []


def test_the_typical_deviation_is_1_4826_mads(world, clock, catalogue, send):
    """Seven days of 80 and seven of 120: median 100, MAD 20, σ̂ = 29.652; k=3 → 11.044 to 188.956."""
    values = [80, 120] * 7
    baseline = baseline_of([Decimal(v) for v in values])
    assert (baseline.median, baseline.mad, baseline.typical) == (100, 20, Decimal("29.6520"))
    assert not baseline.departs(Decimal(188), Decimal(3)) and baseline.departs(Decimal(189), Decimal(3))
    assert baseline.departs(Decimal(11), Decimal(3)) and not baseline.departs(Decimal(12), Decimal(3))

    rule = _anomaly_rule(world, catalogue, world.customer_a1)
    _days_of_usage(send, "cus_a1", values, last=0)  # usage stopped: below the baseline fires too
    [alert] = _evaluate(clock)
    assert (alert.rule, alert.observed, alert.limit) == (rule, 0, Decimal("11.044"))
    assert "vs a median of 100 (±29.7 typical)" in alert.message and "this one is below" in alert.message


def test_the_mad_zero_case(world, clock, catalogue, send):
    # Every day the same: MAD 0 and no mean deviation either; σ̂ is the floor, 5 % of the median.
    flat = baseline_of([Decimal(100)] * 14)
    assert (flat.mad, flat.typical) == (0, Decimal("5.00"))
    assert not flat.departs(Decimal(115), Decimal(3)) and flat.departs(Decimal(116), Decimal(3))
    # Most days the same: MAD 0, so σ̂ = 1.2533 × the mean absolute deviation (6 × 60 / 14 = 25.714…).
    mostly = baseline_of([Decimal(100)] * 8 + [Decimal(160)] * 6)
    assert mostly.mad == 0 and mostly.typical.quantize(Decimal("0.0001")) == Decimal("32.2277")
    assert not mostly.departs(Decimal(196), Decimal(3)) and mostly.departs(Decimal(197), Decimal(3))

    _anomaly_rule(world, catalogue, world.customer_a1)
    _anomaly_rule(world, catalogue, world.customer_a2)
    _days_of_usage(send, "cus_a1", [100] * 14, last=116)
    _days_of_usage(send, "cus_a2", [100] * 14, last=115)
    [alert] = _evaluate(clock)
    assert (alert.customer, alert.baseline_mad, alert.limit) == (world.customer_a1, 0, Decimal(115))


def test_a_short_history_is_not_judged_and_k_and_days_are_the_rules(world, clock, catalogue, send):
    _anomaly_rule(world, catalogue, world.customer_a1)  # 14 days: only 6 of them have usage
    _days_of_usage(send, "cus_a1", [0] * 8 + [100] * 6, last=1000)
    # A wider k and a shorter baseline: the last 5 days, 100 to 104 (median 102, σ̂ 5.1).
    rule = _anomaly_rule(world, catalogue, world.customer_a2, k=Decimal(10), baseline_days=5)
    _days_of_usage(send, "cus_a2", [0] * 9 + [100, 101, 102, 103, 104], last=153)
    assert _evaluate(clock) == []
    send(("cus_a2", "api_calls", _day(19, 16), {"calls": 1}))  # 154: more than 10 × 5.1 above 102
    [alert] = _evaluate(clock)
    assert (alert.rule, alert.observed, alert.baseline_days) == (rule, 154, 5)


# --- telling people ---------------------------------------------------------------------------


def test_the_customer_admins_the_partner_admins_and_the_rep_are_told(world, clock, catalogue, send):
    endpoint = webhook_endpoint_create(
        actor=world.admin_a, url="https://hooks.alpha.example/prm", event_types=["usage.threshold_crossed"]
    )
    webhook_endpoint_create(actor=world.admin_b, url="https://hooks.beta.example/prm", event_types=["*"])
    alert_rule_create(
        actor=world.customer_user_a1, metric=catalogue.api_calls, measure="usage", basis="absolute", threshold=10
    )
    send(("cus_a1", "api_calls", _day(5), {"calls": 12}))
    [alert] = _evaluate(clock)

    told = Notification.objects.filter(kind="usage.threshold_crossed")
    assert sorted(told.values_list("recipient__email", flat=True)) == [
        "admin-a@test.example", "cust-a1@test.example", "rep-a@test.example",
    ]  # fmt: skip
    first = told.first()
    assert first.url == f"/usage/alerts/{alert.pk}/" and first.body == alert.message
    assert first.title == "Api Calls over 10 unit: A1 Corp"

    # One signed delivery queued for A's endpoint subscribed to the event; none for B's.
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.endpoint, delivery.event_type) == (endpoint, "usage.threshold_crossed")
    data = json.loads(delivery.body)["data"]
    assert {k: data[k] for k in ("alert", "customer", "metric", "basis", "threshold", "observed", "limit")} == {
        "alert": alert.pk, "customer": "cus_a1", "metric": "api_calls", "basis": "absolute", "threshold": "10",
        "observed": "12", "limit": "10",
    }  # fmt: skip
    assert data["url"].endswith(f"/usage/alerts/{alert.pk}/")


def test_an_anomaly_is_told_as_its_own_kind(world, clock, catalogue, send):
    _anomaly_rule(world, catalogue, world.customer_a2)  # not assigned to a rep
    _days_of_usage(send, "cus_a2", STEADY, last=400)
    _evaluate(clock)
    told = Notification.objects.filter(kind="usage.anomaly")
    assert sorted(told.values_list("recipient__email", flat=True)) == ["admin-a@test.example", "cust-a2@test.example"]


# --- cost -------------------------------------------------------------------------------------


def test_usage_rules_are_evaluated_in_a_fixed_number_of_queries(world, clock, catalogue, send):
    def rules_for(customers):
        for customer in customers:
            for basis, threshold in (("absolute", Decimal(10**9)), ("anomaly", None)):
                alert_rule_create(
                    actor=world.manager, customer=customer, metric=catalogue.api_calls, measure="usage", basis=basis,
                    threshold=threshold,
                )  # fmt: skip
            send((customer.external_id, "api_calls", _day(18), {"calls": 5}))

    def queries():
        clock.advance(minutes=10)
        with CaptureQueriesContext(connection) as captured:
            assert alerts_evaluate() == []
        return len(captured)

    rules_for([world.customer_a1, world.customer_a2])
    before = queries()
    rules_for([factories.CustomerFactory(reseller=world.partner_a) for _ in range(6)])
    assert queries() == before
