"""Fuzzed ingestion (hypothesis): random batches mixing good events, bad ones (wrong types, huge numbers,
NaN/Infinity, unicode, missing fields) and duplicates, posted to /api/v1/events/batch and /api/v1/events.

Whatever arrives: never a 5xx; every bad event is reported by its index with a reason naming the field;
every good event is stored exactly once with its exact Decimal value; an unknown customer's event is
quarantined, not lost; nothing else is stored."""

import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prm.usage.models import QuarantinedEvent, UsageEvent

BATCH, SINGLE = "/api/v1/events/batch", "/api/v1/events"
NOV_2026 = 1793613600  # 2026-11-02T10:00:00Z: an open period
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Quantities the contract accepts: finite, at most 6 decimal places and 15 significant digits.
good_values = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.decimals(min_value=0, max_value=10**8, places=6, allow_nan=False, allow_infinity=False).map(str),
)
# Quantities it refuses, each for a reason a metering client must be told.
bad_values = st.one_of(
    st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "1e999999", "0.1234567", "", " ", "1,5"]),
    st.integers(min_value=10**16, max_value=10**40),  # too many digits
    st.integers(max_value=-1, min_value=-(10**6)),  # a sum metric that does not allow negatives
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.text(min_size=1, max_size=20).map(lambda text: "x" + text),  # unicode that is not a number
)
unicode_ids = st.text(min_size=1, max_size=40).filter(lambda text: text.strip() and "\x00" not in text)


@st.composite
def batches(draw):
    """(events, expected): expected[index] is "good", "bad", "duplicate" or "quarantined"."""
    prefix = uuid.uuid4().hex[:8]
    events, expected, good_ids = [], [], []
    for index in range(draw(st.integers(min_value=1, max_value=12))):
        kind = draw(st.sampled_from(["good", "good", "bad_value", "bad_shape", "duplicate", "unknown_customer"]))
        transaction_id = f"{prefix}-{index}-{draw(unicode_ids)}"
        event = {"transaction_id": transaction_id, "external_customer_id": "cus_a1", "code": "api_calls",
                 "timestamp": NOV_2026, "properties": {"calls": draw(good_values)}}  # fmt: skip
        if kind == "bad_value":
            event["properties"]["calls"] = draw(bad_values)
        elif kind == "bad_shape":
            field = draw(st.sampled_from(["transaction_id", "code", "properties", "timestamp", "event"]))
            if field == "event":
                event = draw(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)))
            elif field == "properties":
                event["properties"] = draw(st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=5)))
            elif field == "timestamp":
                event["timestamp"] = draw(st.one_of(st.booleans(), st.just("last tuesday"), st.just("2026-13-45")))
            else:
                event.pop(field) if draw(st.booleans()) else event.update({field: ""})
        elif kind == "duplicate":
            if not good_ids:
                kind = "good"
            else:
                event = {**draw(st.sampled_from(good_ids)), "properties": {"calls": draw(good_values)}}
        elif kind == "unknown_customer":
            event["external_customer_id"] = f"cus_{draw(unicode_ids)}_nobody"
        if kind == "good":
            good_ids.append(event)
        events.append(event)
        expected.append({"bad_value": "bad", "bad_shape": "bad", "unknown_customer": "quarantined"}.get(kind, kind))
    return prefix, events, expected


def _exact(value) -> Decimal:
    return Decimal(str(value)) if not isinstance(value, int) else Decimal(value)


@pytest.mark.django_db
def test_fuzzed_batches_are_stored_exactly_or_reported_by_index(client, world, metrics, bearer):
    auth = bearer(world.admin_a)

    @FUZZ
    @given(batches())
    def check(case):
        prefix, events, expected = case
        response = client.post(BATCH, data=json.dumps({"events": events}), content_type="application/json", **auth)
        assert response.status_code < 500, response.content
        body = response.json()
        bad = {index for index, kind in enumerate(expected) if kind == "bad"}
        if response.status_code == 400 and "rejected" not in body:
            pytest.fail(f"a 400 without the per-event report: {body}")
        rejected = {row["index"]: row for row in body["rejected"]}
        assert set(rejected) == bad, (rejected, expected)
        for row in rejected.values():
            assert row["errors"] and all(
                isinstance(field, str) and messages for field, messages in row["errors"].items()
            )
        assert body["accepted"] == expected.count("good")
        assert body["duplicates"] == expected.count("duplicate")
        assert body["quarantined"] == expected.count("quarantined")
        # The database: each good event once, with its exact value; the unknown customer's in quarantine.
        goods = [event for event, kind in zip(events, expected, strict=True) if kind == "good"]
        stored = {row.event_id: row for row in UsageEvent.objects.filter(event_id__startswith=f"{prefix}-")}
        assert set(stored) == {event["transaction_id"] for event in goods}
        for event in goods:
            assert stored[event["transaction_id"]].value == _exact(event["properties"]["calls"])
            assert stored[event["transaction_id"]].customer_id == world.customer_a1.pk
        quarantined = QuarantinedEvent.objects.filter(event_id__startswith=f"{prefix}-")
        assert quarantined.count() == expected.count("quarantined")

    check()


@pytest.mark.django_db
def test_fuzzed_single_events_answer_400_naming_the_field_or_store_exactly(client, world, metrics, bearer):
    auth = bearer(world.admin_a)

    @FUZZ
    @given(batches())
    def check(case):
        prefix, events, expected = case
        event, kind = events[0], expected[0]
        response = client.post(SINGLE, data=json.dumps({"event": event}), content_type="application/json", **auth)
        assert response.status_code < 500, response.content
        stored = UsageEvent.objects.filter(event_id__startswith=f"{prefix}-")
        if kind == "bad":
            assert response.status_code == 400, response.content
            errors = response.json()["errors"]
            assert errors and all(isinstance(field, str) and messages for field, messages in errors.items())
            assert not stored.exists()
        else:
            assert response.status_code in (200, 201, 202), response.content
            assert response.json()["event"]["status"] == {"good": "accepted", "quarantined": "quarantined"}[kind]
            if kind == "good":
                assert stored.get().value == _exact(event["properties"]["calls"])

    check()


@pytest.mark.django_db
def test_fuzzed_bodies_never_cause_a_server_error(client, world, metrics, bearer):
    auth = bearer(world.admin_a)

    @FUZZ
    @given(
        st.one_of(
            st.binary(max_size=200),
            st.text(max_size=200).map(str.encode),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                lambda children: (
                    st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
                ),
                max_leaves=10,
            ).map(lambda value: json.dumps({"events": value}).encode()),
        ),
        st.sampled_from([BATCH, SINGLE]),
        st.sampled_from(["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"]),
    )
    def check(body, path, content_type):
        before = UsageEvent.objects.count(), QuarantinedEvent.objects.count()
        response = client.post(path, data=body, content_type=content_type, **auth)
        assert response.status_code < 500, (body, response.content)
        if response.status_code >= 400:
            assert response.json(), body  # a JSON error, with something in it
            assert (UsageEvent.objects.count(), QuarantinedEvent.objects.count()) == before

    check()
