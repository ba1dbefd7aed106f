"""The official CloudEvents SDK as a client of the ingest API: structured, binary and batch mode,
deduplication of re-sent batches, and exact totals (0.1 × 1000 is 100, not 99.99999999999986)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cloudevents.core.bindings import http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from prm.usage.models import UsageEvent, UsageRollup
from tests.usage.support import CLOUDEVENTS_BATCH, EVENTS, month_total, result, rollup_totals, usage

pytestmark = pytest.mark.django_db

SOURCE = "https://meter.northwind.example/api-gateway"


def sdk_event(event_id, *, data, time, type="api_calls", subject="cus_a1", source=SOURCE) -> CloudEvent:
    return CloudEvent(
        {
            "id": event_id,
            "source": source,
            "type": type,
            "subject": subject,
            "time": time,
            "datacontenttype": "application/json",
        },
        data,
    )


def post_structured(client, event, auth):
    message = http.to_structured_event(event)
    return client.post(EVENTS, data=message.body, content_type=message.headers["content-type"], **auth)


def post_binary(client, event, auth):
    message = http.to_binary_event(event)
    # A real server turns the `ce-id` header into the META key HTTP_CE_ID; the test client takes META.
    meta = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in message.headers.items()
        if name.startswith("ce-")
    }
    return client.post(EVENTS, data=message.body, content_type=message.headers["content-type"], **auth, **meta)


def post_sdk_batch(client, events, auth):
    body = b"[" + b",".join(JSONFormat().write(event) for event in events) + b"]"
    return client.post(EVENTS, data=body, content_type=CLOUDEVENTS_BATCH, **auth)


def test_structured_event_is_stored_exactly_as_sent(client, world, metrics, api_key):
    key, auth = api_key(world.manager)
    sent_at = datetime(2026, 11, 2, 10, 15, 30, 250000, tzinfo=UTC)
    event = sdk_event("evt-0001", data={"calls": 12, "endpoint": "/v1/search"}, time=sent_at)

    response = post_structured(client, event, auth)

    assert response.status_code == 200, response.content
    assert response.json() == {"id": "evt-0001", "source": SOURCE, "status": "accepted"}
    stored = UsageEvent.objects.get()
    assert (stored.source, stored.event_id) == (SOURCE, "evt-0001")
    assert stored.customer == world.customer_a1
    assert stored.metric == metrics.api_calls
    assert stored.value == Decimal("12")
    assert stored.timestamp == sent_at
    assert stored.properties == {"calls": 12, "endpoint": "/v1/search"}
    assert stored.format == "cloudevents"
    assert stored.status == "active"
    assert stored.sent_by == world.manager
    assert stored.api_key == key
    rollup = UsageRollup.objects.get()
    assert (rollup.customer, rollup.metric) == (world.customer_a1, metrics.api_calls)
    assert rollup.hour == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert (rollup.event_count, rollup.value_sum, rollup.value_max) == (1, Decimal("12"), Decimal("12"))
    assert (rollup.latest_value, rollup.latest_at) == (Decimal("12"), sent_at)


def test_binary_mode_event_is_stored_from_its_ce_headers(client, world, metrics, bearer):
    sent_at = datetime(2026, 11, 2, 11, 0, 5, tzinfo=UTC)
    event = sdk_event("evt-binary-1", data={"calls": 3.5}, time=sent_at, subject="cus_a2")

    response = post_binary(client, event, bearer(world.admin_a))

    assert response.status_code == 200, response.content
    assert response.json() == {"id": "evt-binary-1", "source": SOURCE, "status": "accepted"}
    stored = UsageEvent.objects.get()
    assert (stored.source, stored.event_id, stored.customer) == (SOURCE, "evt-binary-1", world.customer_a2)
    assert stored.value == Decimal("3.5")
    assert stored.timestamp == sent_at
    assert stored.properties == {"calls": "3.5"}  # decimals are kept exactly, as strings
    assert month_total(world.customer_a2, metrics.api_calls) == Decimal("3.5")


def test_binary_mode_header_values_are_percent_decoded(client, world, metrics, bearer):
    """The HTTP binding percent-encodes header values (a space is %20): the event's id is
    'order 7', so sending it again in structured mode is the same event, not a second one."""
    auth = bearer(world.manager)
    event = sdk_event("order 7", data={"calls": 5}, time=datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert http.to_binary_event(event).headers["ce-id"] == "order%207"

    first = post_binary(client, event, auth)
    again = post_structured(client, event, auth)

    assert first.status_code == 200, first.content
    assert first.json() == {"id": "order 7", "source": SOURCE, "status": "accepted"}
    assert again.json() == {"id": "order 7", "source": SOURCE, "status": "duplicate"}
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["order 7"]
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("5")


def _batch(count, *, start, step, value):
    return [
        sdk_event(f"evt-{index:05d}", data={"calls": value(index)}, time=start + index * step) for index in range(count)
    ]


def test_batch_of_250_is_counted_exactly_and_a_resent_batch_changes_nothing(client, world, metrics, bearer):
    auth = bearer(world.manager)
    # 250 events, 7 minutes apart (about 29 hours), values 1..10: 25 × 55.
    events = _batch(250, start=datetime(2026, 11, 3, tzinfo=UTC), step=timedelta(minutes=7), value=lambda i: i % 10 + 1)

    response = post_sdk_batch(client, events, auth)

    assert response.status_code == 200, response.content
    assert response.json() == result(accepted=250)
    assert UsageEvent.objects.count() == 250
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("1375")
    assert rollup_totals(world.customer_a1, metrics.api_calls) == {
        "count": 250,
        "sum": Decimal("1375"),
        "max": Decimal("10"),
    }
    assert UsageRollup.objects.count() == 30  # 00:00 on the 3rd to 05:00 on the 4th
    rollups_before = list(UsageRollup.objects.order_by("hour").values())

    resent = post_sdk_batch(client, events, auth)

    assert resent.status_code == 200, resent.content
    assert resent.json() == result(duplicates=250)
    assert UsageEvent.objects.count() == 250
    assert list(UsageRollup.objects.order_by("hour").values()) == rollups_before
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("1375")
    answer = usage(client, bearer(world.admin_a), customer="cus_a1", metric="api_calls", granularity="month")
    assert answer.json()["buckets"] == [{"start": "2026-11-01T00:00:00+00:00", "value": "1375"}]


def test_a_tenth_summed_a_thousand_times_is_exactly_one_hundred(client, world, metrics, bearer):
    """Ten batches of 100 events of 0.1, every batch touching the same 20 hours: each hour's
    rollup is added to ten times in the database, and the month sums 20 hours."""
    auth = bearer(world.manager)
    start = datetime(2026, 11, 5, tzinfo=UTC)
    for batch in range(10):
        events = [
            sdk_event(
                f"tenth-{batch}-{index}", data={"calls": 0.1}, time=start + timedelta(hours=index % 20, seconds=batch)
            )
            for index in range(100)
        ]
        response = post_sdk_batch(client, events, auth)
        assert response.json() == result(accepted=100)

    assert UsageEvent.objects.count() == 1000
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("100")
    assert set(UsageRollup.objects.values_list("value_sum", "event_count")) == {(Decimal("5"), 50)}
    answer = usage(client, auth, customer="cus_a1", metric="api_calls", granularity="day")
    assert answer.json()["buckets"] == [{"start": "2026-11-05T00:00:00+00:00", "value": "100"}]
    hourly = usage(client, auth, customer="cus_a1", metric="api_calls", granularity="hour").json()["buckets"]
    assert hourly == [{"start": (start + timedelta(hours=hour)).isoformat(), "value": "5"} for hour in range(20)]
