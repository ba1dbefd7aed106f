"""The demo's metrics and six months of usage, sent through the ingest service the API uses."""

import json
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from prm.accounts.models import User
from prm.customers.models import Customer, UseCase
from prm.operations import demo, demo_usage
from prm.operations.demo import load_demo_config, load_metric_fixture, seed_demo
from prm.operations.demo_usage import (
    SOURCE,
    DemoUsageError,
    customer_events,
    daily_values,
    demo_usage_events,
    profile_for,
    seed_usage,
    usage_start,
)
from prm.plans.models import Metric
from prm.usage.models import QuarantinedEvent, UsageDistinctKey, UsageEvent, UsageRollup
from prm.usage.selectors import period_usage

# A fixed clock (in the past, so nothing is "in the future" for the ingest service): the same
# events, and the same numbers, whenever the tests run. The seed reads it as 15:00, its hour.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
START = date(2026, 5, 1)  # six whole months before November
DAYS = (NOW.date() - START).days + 1  # 1 May to 23 November, today's noon events included
FULL_MONTHS = [datetime(2026, month, 1, tzinfo=UTC) for month in range(5, 12)]  # May … November starts
MAIN_METRIC = {
    UseCase.SAAS_SEATS: "active_seats",
    UseCase.API_CALLS: "api_calls",
    UseCase.STORAGE: "storage_gb",
    UseCase.MANUFACTURING: "machine_hours",
    UseCase.IOT: "sensor_events",
}


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(demo, "timezone", SimpleNamespace(now=lambda: NOW + timedelta(minutes=17, seconds=3)))


def demo_customers() -> list[Customer]:
    """The demo's customers as (unsaved) rows: enough for the generator, which needs no database."""
    return [
        Customer(external_id=config["external_id"], use_case=config["use_case"])
        for config in load_demo_config()["customers"]
    ]


def generated(customers, *, start=START, now=NOW) -> list[dict]:
    return list(
        demo_usage_events(
            customers,
            metric_fixture=load_metric_fixture(),
            usage_config=load_demo_config()["usage"],
            start=start,
            now=now,
        )
    )


def month_usage(customer: Customer, code: str) -> list[Decimal]:
    metric = Metric.objects.get(code=code)
    return [
        period_usage(customer_id=customer.pk, metric=metric, start=start, end=end)
        for start, end in zip(FULL_MONTHS, FULL_MONTHS[1:], strict=False)
    ]


# --- the full demo, seeded as `make run` seeds it ----------------------------------------------


@pytest.mark.django_db
def test_full_seed_demo_meters_six_months_for_every_customer(frozen_clock):
    output = StringIO()
    call_command("seed_demo", stdout=output)
    assert "Demo logins (password: prm-demo-2026):" in output.getvalue()
    config, metric_fixture = load_demo_config(), load_metric_fixture()
    use_cases = metric_fixture["use_cases"]

    # The metrics, as the fixture defines them.
    assert {metric.code: (metric.aggregation, metric.field, metric.unit) for metric in Metric.objects.all()} == {
        "active_seats": ("max", "seats", "seat"),
        "api_calls": ("sum", "calls", "call"),
        "storage_gb": ("max", "gb", "GB"),
        "machine_hours": ("sum", "hours", "machine-hour"),
        "units_produced": ("sum", "units", "unit"),
        "sensor_events": ("sum", "events", "event"),
        "active_devices": ("unique_count", "device_id", "device"),
    }

    # Every customer has one event a day for each daily metric of its use case, and nothing else.
    customers = list(Customer.objects.all())
    assert len(customers) == 60
    events_by = Counter(UsageEvent.objects.values_list("customer__external_id", "metric__code"))
    for customer in customers:
        codes = use_cases[customer.use_case]
        assert {code for (external_id, code) in events_by if external_id == customer.external_id} == set(codes)
        for code in codes:
            if code == "active_devices":
                assert events_by[(customer.external_id, code)] > 10 * 29  # weekly, from at least 10 devices
            else:
                assert events_by[(customer.external_id, code)] == DAYS, (customer.external_id, code)
    total = UsageEvent.objects.count()
    assert 20_000 < total < 60_000
    assert not QuarantinedEvent.objects.exists()
    first, last = UsageEvent.objects.order_by("timestamp").first(), UsageEvent.objects.order_by("timestamp").last()
    assert first.timestamp.date() == START
    assert last.timestamp <= NOW
    assert {event.source for event in UsageEvent.objects.all()[:100]} == {SOURCE}
    assert set(UsageEvent.objects.values_list("sent_by__email", flat=True).distinct()) == {"manager@demo.test"}

    # The rollups hold exactly what the raw events say, for every customer and metric.
    raw = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for customer_id, metric_id, value in UsageEvent.objects.values_list("customer_id", "metric_id", "value"):
        bucket = raw[(customer_id, metric_id)]
        bucket[0], bucket[1], bucket[2] = bucket[0] + 1, bucket[1] + value, max(bucket[2], value)
    rolled = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for customer_id, metric_id, count, total_value, biggest in UsageRollup.objects.values_list(
        "customer_id", "metric_id", "event_count", "value_sum", "value_max"
    ):
        bucket = rolled[(customer_id, metric_id)]
        bucket[0], bucket[1], bucket[2] = bucket[0] + count, bucket[1] + total_value, max(bucket[2], biggest)
    assert rolled == raw
    acme = Customer.objects.get(external_id="cus_acme_robotics")
    hours = Metric.objects.get(code="machine_hours")
    acme_hours = sum(UsageEvent.objects.filter(customer=acme, metric=hours).values_list("value", flat=True))
    assert acme_hours > 10_000
    assert period_usage(customer_id=acme.pk, metric=hours, start=FULL_MONTHS[0], end=NOW) == acme_hours

    # A period's active devices are the distinct device ids sent in it.
    sent = generated(customers)
    devices = Metric.objects.get(code="active_devices")
    for customer in (c for c in customers if c.use_case == UseCase.IOT):
        for start, end in zip(FULL_MONTHS, [*FULL_MONTHS[1:], NOW], strict=True):
            ids = {
                event["data"]["device_id"]
                for event in sent
                if event["subject"] == customer.external_id
                and event["type"] == "active_devices"
                and start <= datetime.fromisoformat(event["time"]) < end
            }
            assert len(ids) >= 10
            assert period_usage(customer_id=customer.pk, metric=devices, start=start, end=end) == len(ids)
            stored = UsageDistinctKey.objects.filter(customer=customer, metric=devices, hour__gte=start, hour__lt=end)
            assert set(stored.values_list("key", flat=True)) == ids
    assert UsageEvent.objects.count() == len(sent)

    # Most customers grow, month after month; the declining ones decline and the churned collapse.
    usage_config = config["usage"]
    declining, churning = set(usage_config["declining"]), set(usage_config["churning"])
    growing_every_month = 0
    for customer in customers:
        months = month_usage(customer, MAIN_METRIC[customer.use_case])  # May … October
        if customer.external_id in declining:
            assert months[-1] < months[0] * Decimal("0.97"), customer.external_id
        elif customer.external_id in churning:
            november = period_usage(
                customer_id=customer.pk,
                metric=Metric.objects.get(code=MAIN_METRIC[customer.use_case]),
                start=FULL_MONTHS[-1],
                end=NOW,
            )
            assert november < months[0] / 3, customer.external_id
        else:
            assert months[-1] > months[0] * Decimal("1.05"), customer.external_id
            growing_every_month += all(later > earlier for earlier, later in zip(months, months[1:], strict=False))
    assert growing_every_month >= 15
    assert len(declining) + len(churning) == 5

    # Seeding again sends the same events: every one is already there, and nothing changes.
    rollups = list(UsageRollup.objects.order_by("pk").values())
    summary = seed_demo()
    assert (summary.usage.sent, summary.usage.accepted, summary.usage.duplicates) == (total, 0, total)
    assert summary.usage.customers == 60
    assert summary.usage_line == (
        f"Usage: 7 metrics, {total} events for 60 customers since 2026-05-01 "
        f"(new this run: 0 events; already there: {total})."
    )
    assert UsageEvent.objects.count() == total
    assert list(UsageRollup.objects.order_by("pk").values()) == rollups


# --- a small version: a few customers, a few weeks ----------------------------------------------


@pytest.fixture
def few(db, frozen_clock):
    """The demo's rows without its usage, and three customers (seats, manufacturing, IoT) to meter."""
    demo.seed_demo(usage_months=0, usage_customers=[], invoices=False)  # usage for past months follows
    customers = list(
        Customer.objects.filter(
            external_id__in=["cus_cedar_health", "cus_acme_robotics", "cus_evergreen_farms"]
        ).order_by("external_id")
    )
    manager = User.objects.get(email="manager@demo.test")
    return SimpleNamespace(customers=customers, manager=manager)


def seed_small(few, *, now=NOW, start=date(2026, 10, 26), metric_fixture=None):
    return seed_usage(
        few.customers,
        actor=few.manager,
        metric_fixture=metric_fixture or load_metric_fixture(),
        usage_config=load_demo_config()["usage"],
        now=now,
        start=start,
    )


def test_seed_demo_can_skip_usage(few):
    assert not UsageEvent.objects.exists()
    assert Metric.objects.count() == 7


def test_small_seed_stores_every_event_once_and_a_later_day_adds_only_that_day(few):
    yesterday = NOW - timedelta(days=1)
    result = seed_small(few, now=yesterday)
    stored = UsageEvent.objects.count()
    assert result.sent == stored == result.accepted
    assert result.duplicates == 0
    days = (yesterday.date() - date(2026, 10, 26)).days + 1
    daily = UsageEvent.objects.exclude(metric__code="active_devices")
    assert daily.count() == days * 4  # seats; machine hours and units; sensor events
    ids = set(UsageEvent.objects.filter(customer__external_id="cus_cedar_health").values_list("event_id", flat=True))
    assert "demo:cus_cedar_health:active_seats:2026-11-02" in ids

    again = seed_small(few, now=yesterday)
    assert (again.accepted, again.duplicates) == (0, stored)
    assert UsageEvent.objects.count() == stored

    today = seed_small(few, now=NOW)
    assert today.duplicates == stored
    new = UsageEvent.objects.filter(timestamp__gt=yesterday)
    assert today.accepted == new.count() == UsageEvent.objects.count() - stored
    assert new.exclude(metric__code="active_devices").count() == 4
    assert {event.timestamp.date() for event in new.exclude(metric__code="active_devices")} == {NOW.date()}


def test_batches_are_at_most_the_batch_size(few, monkeypatch):
    sizes = []
    ingest = demo_usage.events_ingest

    def counting_ingest(events, **kwargs):
        sizes.append(len(events))
        return ingest(events, **kwargs)

    monkeypatch.setattr(demo_usage, "BATCH_SIZE", 100)
    monkeypatch.setattr(demo_usage, "events_ingest", counting_ingest)
    result = seed_small(few)
    assert max(sizes) == 100
    assert sum(sizes) == result.sent == result.accepted
    assert len(sizes) == -(-result.sent // 100)


def test_a_quarantined_event_stops_the_seed(few):
    Metric.objects.filter(code="active_seats").delete()  # the ingest service quarantines its events
    with pytest.raises(
        DemoUsageError,
        match=r"29 demo usage events were quarantined; the first, demo:cus_cedar_health:active_seats:2026-10-26: "
        r"unknown_metric: No metric has the code 'active_seats'\.",
    ):
        seed_small(few)


def test_a_rejected_event_stops_the_seed(few, monkeypatch):
    monkeypatch.setattr(demo_usage, "daily_values", lambda profile, day: {"active_seats": -3})
    few.customers = [c for c in few.customers if c.use_case == UseCase.SAAS_SEATS]
    with pytest.raises(DemoUsageError, match=r"rejected; the first, demo:cus_cedar_health:active_seats:2026-10-26: "):
        seed_small(few)
    assert not UsageEvent.objects.exists()


# --- the generator (no database) --------------------------------------------------------------


def test_events_are_cloudevents_the_ingest_api_accepts():
    events = generated(demo_customers()[:8], start=date(2026, 11, 1))
    assert len({(event["source"], event["id"]) for event in events}) == len(events)
    for event in events:
        assert set(event) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
        assert event["specversion"] == "1.0"
        assert event["source"] == SOURCE
        assert event["id"].startswith(f"demo:{event['subject']}:{event['type']}:{event['time'][:10]}")
        moment = datetime.fromisoformat(event["time"])
        assert date(2026, 11, 1) <= moment.date() and moment <= NOW
    assert json.loads(json.dumps(events)) == events  # plain JSON, as a sender would post it


def test_values_are_quantities_with_few_decimals():
    for event in generated(demo_customers(), start=date(2026, 11, 16)):
        (value,) = event["data"].values()
        if event["type"] in ("storage_gb", "machine_hours"):
            assert isinstance(value, str)
            assert -Decimal(value).as_tuple().exponent == (2 if event["type"] == "storage_gb" else 1)
            assert Decimal(value) > 0
        elif event["type"] == "active_devices":
            assert value.startswith("dev-")
        else:
            assert isinstance(value, int) and value > 0


def test_a_days_value_does_not_depend_on_the_window():
    customers = demo_customers()
    wide = {event["id"]: event for event in generated(customers, start=date(2026, 9, 1))}
    narrow = generated(customers, start=date(2026, 11, 10), now=NOW + timedelta(days=1))
    overlap = [event for event in narrow if event["id"] in wide]
    assert len(overlap) > 1000
    assert all(event == wide[event["id"]] for event in overlap)
    assert len(narrow) > len(overlap)  # and a later clock adds the new day


def test_usage_starts_on_the_first_of_the_month_months_back():
    assert usage_start(NOW, 6) == date(2026, 5, 1)
    assert usage_start(datetime(2026, 3, 31, 23, tzinfo=UTC), 6) == date(2025, 9, 1)
    assert usage_start(NOW, 0) == date(2026, 11, 1)


def test_weekdays_are_busier_except_for_sensors():
    config = load_demo_config()["usage"]
    weeks = [date(2026, 9, 7) + timedelta(days=offset) for offset in range(5 * 7)]  # Monday 7 September on
    for customer in demo_customers():
        profile = profile_for(customer, config, NOW.date())
        by_day = [(day, daily_values(profile, day)[MAIN_METRIC[customer.use_case]]) for day in weeks]
        weekday = statistics.median(float(value) for day, value in by_day if day.weekday() < 5)
        weekend = statistics.median(float(value) for day, value in by_day if day.weekday() >= 5)
        if customer.use_case in (UseCase.SAAS_SEATS, UseCase.API_CALLS, UseCase.MANUFACTURING):
            assert weekend < weekday * 0.6, customer.external_id
        else:
            assert weekend == pytest.approx(weekday, rel=0.08), customer.external_id


def test_a_few_busy_days_of_three_to_five_times_the_usual():
    spikes = 0
    days = [START + timedelta(days=offset) for offset in range(DAYS - 1)]
    config = load_demo_config()["usage"]
    for customer in demo_customers():
        if customer.use_case not in (UseCase.API_CALLS, UseCase.IOT):
            continue
        profile = profile_for(customer, config, NOW.date())
        code = MAIN_METRIC[customer.use_case]
        values = [daily_values(profile, day)[code] for day in days]
        for index, (day, value) in enumerate(zip(days, values, strict=True)):
            same_weekday = values[max(0, index - 21) : index : 7] + values[index + 7 : index + 22 : 7]
            if value > 2.5 * statistics.median(same_weekday):
                spikes += 1
                assert value < 6 * statistics.median(same_weekday), (customer.external_id, day)
    assert 20 <= spikes <= 100  # 24 spiky customers, about two each


def test_device_ids_report_once_a_week():
    customer = next(c for c in demo_customers() if c.external_id == "cus_evergreen_farms")
    profile = profile_for(customer, load_demo_config()["usage"], NOW.date())
    metrics = {metric["code"]: metric for metric in load_metric_fixture()["metrics"]}
    events = list(customer_events(profile, metrics, ["active_devices"], start=date(2026, 10, 5), now=NOW))
    weeks = Counter(
        (datetime.fromisoformat(event["time"]).isocalendar()[1], event["data"]["device_id"]) for event in events
    )
    assert set(weeks.values()) == {1}
    assert {event["data"]["device_id"] for event in events} >= {"dev-1", "dev-2", "dev-10"}
