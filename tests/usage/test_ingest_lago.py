"""Lago's event shape, so existing metering code can point at the portal unchanged:
`{"event": {...}}` at /api/v1/events, `{"events": [...]}` at /api/v1/events/batch."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.usage.models import QuarantinedEvent, UsageEvent
from tests.usage.support import (
    BATCH,
    JSON,
    lago,
    month_total,
    post_json,
    result,
    send_lago,
    send_lago_batch,
)

pytestmark = pytest.mark.django_db

AT_10 = datetime(2026, 11, 2, 10, tzinfo=UTC)


def test_single_event_is_stored_and_echoed_with_its_status(client, world, metrics, api_key):
    key, auth = api_key(world.admin_a)
    event = lago("tx-0001", properties={"calls": 42, "region": "eu-west"})

    response = send_lago(client, event, auth)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "event": {
            "transaction_id": "tx-0001",
            "code": "api_calls",
            "external_customer_id": "cus_a1",
            "timestamp": 1793613600,
            "properties": {"calls": 42, "region": "eu-west"},
            "status": "accepted",
        }
    }
    stored = UsageEvent.objects.get()
    assert (stored.source, stored.event_id) == ("lago:cus:cus_a1", "tx-0001")
    assert (stored.customer, stored.metric) == (world.customer_a1, metrics.api_calls)
    assert stored.value == Decimal("42")
    assert stored.timestamp == AT_10
    assert stored.properties == {"calls": 42, "region": "eu-west"}
    assert stored.format == "lago"
    assert (stored.sent_by, stored.api_key) == (world.admin_a, key)
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("42")


@pytest.mark.parametrize(
    ("timestamp", "stored"),
    [
        (1793613600, AT_10),
        ("1793613600", AT_10),
        (Decimal("1793613600.5"), datetime(2026, 11, 2, 10, 0, 0, 500000, tzinfo=UTC)),
        ("1793613600.123456", datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-02T10:00:00Z", AT_10),
        ("2026-11-02T12:30:00+02:00", datetime(2026, 11, 2, 10, 30, tzinfo=UTC)),
        ("2026-11-02T10:00:00.250+00:00", datetime(2026, 11, 2, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
    ids=["unix-int", "unix-string", "unix-decimals", "unix-string-decimals", "iso-z", "iso-offset", "iso-millis"],
)
def test_timestamp_as_unix_seconds_or_iso_8601(client, world, metrics, bearer, timestamp, stored):
    # A JSON number with decimals is written into the body as it is (json.dumps takes no Decimal).
    literal = str(timestamp) if isinstance(timestamp, Decimal) else json.dumps(timestamp)
    body = (
        '{"event": {"transaction_id": "tx-time", "external_customer_id": "cus_a1", "code": "api_calls", '
        f'"timestamp": {literal}, "properties": {{"calls": 1}}}}}}'
    ).encode()

    response = post_json(client, "/api/v1/events", body, JSON, bearer(world.manager))

    assert response.status_code == 200, response.content
    assert response.json()["event"]["status"] == "accepted"
    assert UsageEvent.objects.get().timestamp == stored


def test_event_without_timestamp_happened_when_it_arrived(client, world, metrics, bearer):
    before = timezone.now()
    response = send_lago(client, lago("tx-now", properties={"calls": 2}, timestamp=None), bearer(world.manager))
    after = timezone.now()

    assert response.status_code == 200, response.content
    stored = UsageEvent.objects.get()
    assert before <= stored.timestamp <= after
    assert stored.timestamp == stored.received_at
    assert response.json()["event"] == {
        "transaction_id": "tx-now",
        "code": "api_calls",
        "external_customer_id": "cus_a1",
        "properties": {"calls": 2},
        "timestamp": stored.timestamp.isoformat(),
        "status": "accepted",
    }


def test_batch_stores_every_event_and_sums_exactly(client, world, metrics, bearer):
    events = [
        lago(f"tx-{index}", customer="cus_a1" if index % 2 else "cus_a2", properties={"calls": f"{index}.25"})
        for index in range(40)
    ] + [lago("tx-login-1", code="logins"), lago("tx-login-2", code="logins", properties={})]

    response = send_lago_batch(client, events, bearer(world.admin_a))

    assert response.status_code == 200, response.content
    assert response.json() == result(accepted=42)
    # Odd indexes 1..39 (sum 400) go to cus_a1, even 0..38 (sum 380) to cus_a2, each plus 20 × 0.25.
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("405")
    assert month_total(world.customer_a2, metrics.api_calls) == Decimal("385")
    assert month_total(world.customer_a1, metrics.logins) == Decimal("2")
    assert UsageEvent.objects.filter(format="lago").count() == 42


def test_batch_endpoint_answers_duplicates_of_a_retried_batch(client, world, metrics, bearer):
    auth = bearer(world.manager)
    events = [lago(f"tx-{index}", properties={"calls": 1}) for index in range(5)]
    assert send_lago_batch(client, events[:3], auth).json() == result(accepted=3)

    response = send_lago_batch(client, events, auth)

    assert response.status_code == 200
    assert response.json() == result(accepted=2, duplicates=3)
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("5")


def test_dedup_key_is_customer_and_transaction_id(client, world, metrics, bearer):
    auth = bearer(world.manager)
    first = send_lago(client, lago("tx-shared", customer="cus_a1", properties={"calls": 3}), auth)
    other_customer = send_lago(client, lago("tx-shared", customer="cus_a2", properties={"calls": 4}), auth)
    retry = send_lago(client, lago("tx-shared", customer="cus_a1", properties={"calls": 3}), auth)

    assert first.json()["event"]["status"] == "accepted"
    assert other_customer.json()["event"]["status"] == "accepted"
    assert retry.status_code == 200
    assert retry.json()["event"]["status"] == "duplicate"
    assert set(UsageEvent.objects.values_list("source", "event_id", "value")) == {
        ("lago:cus:cus_a1", "tx-shared", Decimal("3")),
        ("lago:cus:cus_a2", "tx-shared", Decimal("4")),
    }
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("3")
    assert month_total(world.customer_a2, metrics.api_calls) == Decimal("4")


def test_event_for_a_subscription_waits_in_quarantine(client, world, metrics, bearer):
    event = lago("tx-sub-1", customer=None, external_subscription_id="sub_123", properties={"calls": 9})

    response = send_lago(client, event, bearer(world.manager))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "event": {
            "transaction_id": "tx-sub-1",
            "code": "api_calls",
            "timestamp": 1793613600,
            "properties": {"calls": 9},
            "external_subscription_id": "sub_123",
            "status": "quarantined",
            "reason": "No subscription has the external id 'sub_123'.",
        }
    }
    held = QuarantinedEvent.objects.get()
    assert (held.source, held.event_id) == ("lago:sub:sub_123", "tx-sub-1")
    assert (held.reason, held.status, held.attempts) == ("unknown_subscription", "pending", 1)
    assert (held.subscription_external_id, held.customer_external_id, held.metric_code) == ("sub_123", "", "api_calls")
    assert held.timestamp == AT_10
    assert held.payload == event
    assert UsageEvent.objects.count() == 0


def test_batch_with_subscription_events_reports_them_quarantined(client, world, metrics, bearer):
    events = [
        lago("tx-1", properties={"calls": 1}),
        lago("tx-2", customer=None, external_subscription_id="sub_9", properties={"calls": 1}),
    ]

    response = send_lago_batch(client, events, bearer(world.manager))

    assert response.status_code == 200
    assert response.json() == result(accepted=1, quarantined=1)
    assert list(QuarantinedEvent.objects.values_list("reason", flat=True)) == ["unknown_subscription"]


@pytest.mark.parametrize(
    ("event", "errors"),
    [
        (
            lago("tx-x", customer=None),
            {"external_subscription_id": ["Give external_subscription_id or external_customer_id."]},
        ),
        (lago(None, properties={"calls": 1}), {"transaction_id": ["This field is required."]}),
        (lago("tx-x", code="", properties={"calls": 1}), {"code": ["This field is required."]}),
        (lago("tx-x", properties={"calls": "many"}), {"properties.calls": ["Must be a number, not 'many'."]}),
        (lago("tx-x", properties=[1, 2]), {"properties": ["Must be a JSON object, not a list."]}),
        (
            lago("tx-x", properties={"calls": 1}, timestamp="last tuesday"),
            {"timestamp": ["'last tuesday' is not an RFC 3339 time such as 2026-11-23T10:00:00Z."]},
        ),
        (lago("tx-x", properties={"calls": 1}, timestamp=True), {"timestamp": ["Must be a time, not a boolean."]}),
    ],
    ids=["no-customer-or-subscription", "no-transaction-id", "no-code", "bad-value", "bad-properties",
         "bad-timestamp", "boolean-timestamp"],
)  # fmt: skip
def test_malformed_lago_event_is_rejected_naming_the_field(client, world, metrics, bearer, event, errors):
    response = send_lago(client, event, bearer(world.manager))

    assert response.status_code == 400, response.content
    assert response.json() == {"id": event["transaction_id"], "errors": errors}
    assert UsageEvent.objects.count() == 0
    assert QuarantinedEvent.objects.count() == 0


def test_wrong_envelope_names_the_expected_key(client, world, metrics, bearer):
    auth = bearer(world.manager)
    single = post_json(client, "/api/v1/events", lago("tx-1", properties={"calls": 1}), JSON, auth)
    batch = post_json(client, BATCH, {"event": lago("tx-1")}, JSON, auth)
    empty = post_json(client, BATCH, {"events": []}, JSON, auth)

    assert (single.status_code, single.json()) == (400, {"event": ['Expected {"event": {...}} (Lago\'s event shape).']})
    assert (batch.status_code, batch.json()) == (400, {"events": ['Expected {"events": [...]} (Lago\'s batch shape).']})
    assert (empty.status_code, empty.json()) == (400, {"events": ["The batch is empty."]})
    assert UsageEvent.objects.count() == 0
