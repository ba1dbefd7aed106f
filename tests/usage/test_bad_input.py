"""Bad input is answered with a message naming the field, and never costs the good events of
the same batch: they are stored, each bad one is reported by index."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.usage.models import QuarantinedEvent, UsageEvent
from tests.usage.support import (
    BATCH,
    CLOUDEVENT,
    CLOUDEVENTS_BATCH,
    EVENTS,
    JSON,
    ce,
    month_total,
    post_json,
    result,
    send,
    send_batch,
)

pytestmark = pytest.mark.django_db

ACCEPTED_TYPES = (
    "use application/cloudevents+json, application/cloudevents-batch+json, application/json (Lago's shape) "
    "or CloudEvents binary mode."
)


@pytest.fixture
def auth(world, metrics, bearer):
    return bearer(world.manager)


def good(index):
    return ce(f"good-{index}", data={"calls": index + 1})


# --- the request as a whole -----------------------------------------------------------------


@pytest.mark.parametrize("content_type", [CLOUDEVENT, CLOUDEVENTS_BATCH, JSON])
def test_malformed_json_is_400_naming_the_body(client, auth, content_type):
    body = b'[{"specversion": "1.0", "id": '
    try:
        json.loads(body)
    except ValueError as error:
        expected = f"Malformed JSON: {error}"

    response = post_json(client, EVENTS, body, content_type, auth)

    assert response.status_code == 400
    assert response.json() == {"body": [expected]}
    assert expected == "Malformed JSON: Expecting value: line 1 column 31 (char 30)"
    assert UsageEvent.objects.count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415_naming_the_accepted_types(client, auth, content_type):
    response = post_json(client, EVENTS, [good(0)], content_type, auth)

    assert response.status_code == 415
    assert response.json() == {"detail": f"Content-Type {content_type} is not accepted: {ACCEPTED_TYPES}"}
    assert UsageEvent.objects.count() == 0


def test_batch_endpoint_refuses_a_wrong_content_type_before_reading_the_body(client, auth):
    """A CSV file posted to the batch endpoint is a 415 that names the accepted types, not a
    400 "Malformed JSON" that sends the sender looking for a JSON bug."""
    response = post_json(client, BATCH, b"event_id,customer,metric\ne1,cus_a1,api_calls\n", "text/csv", auth)

    assert response.status_code == 415, response.content
    assert response.json() == {
        "detail": "Content-Type text/csv is not accepted: use application/json or application/cloudevents-batch+json."
    }


def test_batch_endpoint_with_json_of_a_wrong_content_type_is_415(client, auth):
    response = post_json(client, BATCH, {"events": [{"transaction_id": "t"}]}, "text/plain", auth)

    assert response.status_code == 415
    assert response.json() == {
        "detail": "Content-Type text/plain is not accepted: use application/json or application/cloudevents-batch+json."
    }


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_make_the_body_invalid_json(client, auth, constant):
    body = (
        '[{"specversion": "1.0", "id": "e1", "source": "m", "type": "api_calls", "subject": "cus_a1", '
        f'"data": {{"calls": {constant}}}}}, {json.dumps(good(1))}]'
    ).encode()

    response = post_json(client, EVENTS, body, CLOUDEVENTS_BATCH, auth)

    assert response.status_code == 400
    assert response.json() == {"body": [f"{constant} is not a number JSON allows"]}
    assert UsageEvent.objects.count() == 0  # the whole body is refused, the good event too


def test_a_cloudevents_batch_must_be_an_array(client, auth):
    response = send_batch(client, {"events": [good(0)]}, auth)

    assert response.status_code == 400
    assert response.json() == {"body": ["A CloudEvents batch must be a JSON array of events."]}


def test_more_than_10000_events_is_413(client, auth):
    one = json.dumps(good(0)).encode()
    body = b"[" + b",".join([one] * 10_001) + b"]"

    response = post_json(client, EVENTS, body, CLOUDEVENTS_BATCH, auth)
    lago_response = post_json(
        client, BATCH, {"events": [{"transaction_id": str(i)} for i in range(10_001)]}, JSON, auth
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "At most 10000 events per request; this one has 10001."}
    assert lago_response.status_code == 413
    assert lago_response.json() == {"detail": "At most 10000 events per request; this one has 10001."}
    assert UsageEvent.objects.count() == 0


def test_exactly_10000_events_are_read_event_by_event(client, auth):
    # All without a subject: cheap to check, and proves the limit is not hit at 10,000.
    events = [ce(f"e{i}", subject=None, data={"calls": 1}) for i in range(10_000)]

    response = send_batch(client, events, auth)

    assert response.status_code == 400
    rejected = response.json()["rejected"]
    assert len(rejected) == 10_000
    assert rejected[9_999] == {"index": 9_999, "id": "e9999", "errors": {"subject": ["This field is required."]}}


@pytest.mark.parametrize("path", [EVENTS, BATCH])
def test_body_over_the_limit_is_413(client, auth, settings, path):
    body = json.dumps([good(0), good(1)]).encode()
    settings.PRM_INGEST_MAX_BODY_BYTES = len(body) - 1

    response = post_json(client, path, body, CLOUDEVENTS_BATCH, auth)

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The body is larger than {len(body) - 1} bytes; send at most 10000 events per request."
    }
    assert UsageEvent.objects.count() == 0


def test_body_of_exactly_the_limit_is_read(client, auth, settings):
    body = json.dumps([good(0), good(1)]).encode()
    settings.PRM_INGEST_MAX_BODY_BYTES = len(body)

    response = post_json(client, EVENTS, body, CLOUDEVENTS_BATCH, auth)

    assert response.status_code == 200
    assert response.json() == result(accepted=2)


# --- one event: its attributes --------------------------------------------------------------


@pytest.mark.parametrize("missing", ["id", "type", "subject", "source", "specversion"])
def test_missing_required_attribute_is_named(client, world, auth, metrics, missing):
    event = ce("evt-1", data={"calls": 1})
    del event[missing]

    single = send(client, event, auth)
    batch = send_batch(client, [good(0), event, good(2)], auth)

    assert single.status_code == 400
    errors = {missing: ["This field is required."]}
    expected_id = None if missing == "id" else "evt-1"
    assert single.json() == {"id": expected_id, "errors": errors}
    assert batch.status_code == 200
    assert batch.json() == result(accepted=2, rejected=[{"index": 1, "id": expected_id, "errors": errors}])
    assert set(UsageEvent.objects.values_list("event_id", flat=True)) == {"good-0", "good-2"}
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("4")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"specversion": "0.3"}, "specversion", "Unsupported specversion '0.3'; use '1.0'."),
        ({"id": ""}, "id", "This field is required."),
        ({"id": ["a"]}, "id", "Must be a string, not list."),
        ({"subject": True}, "subject", "Must be a string, not bool."),
        ({"source": "s" * 256}, "source", "At most 255 characters."),
        ({"data": "calls=3"}, "data", "Must be a JSON object, not 'calls=3'."),
        ({"data": [1, 2]}, "data", "Must be a JSON object, not a list."),
        ({"datacontenttype": "text/plain"}, "datacontenttype", "Only application/json data is accepted."),
        ({"data_base64": "AAAA"}, "data_base64", "Binary data is not accepted; send data as a JSON object."),
    ],
)
def test_malformed_attribute_is_named(client, auth, change, field, message):
    event = {**ce("evt-1", data={"calls": 1}), **change}

    response = send(client, event, auth)

    assert response.status_code == 400
    expected_id = None if field == "id" else "evt-1"
    assert response.json() == {"id": expected_id, "errors": {field: [message]}}
    assert UsageEvent.objects.count() == 0


def test_an_entry_that_is_not_an_object_is_reported_by_index(client, auth):
    response = send_batch(client, [good(0), 7, "x", None], auth)

    assert response.status_code == 200
    assert response.json() == result(
        accepted=1,
        rejected=[
            {"index": 1, "id": None, "errors": {"event": ["Must be a JSON object, not 7."]}},
            {"index": 2, "id": None, "errors": {"event": ["Must be a JSON object, not 'x'."]}},
            {"index": 3, "id": None, "errors": {"event": ["Must be a JSON object, not null."]}},
        ],
    )


# --- one event: its value -------------------------------------------------------------------

BAD_VALUES = [
    ("abc", "Must be a number, not 'abc'."),
    ("NaN", "Must be a finite number, not 'NaN'."),
    ("Infinity", "Must be a finite number, not 'Infinity'."),
    ("-Infinity", "Must be a finite number, not '-Infinity'."),
    ([1, 2], "Must be a number, not a list."),
    ({"n": 1}, "Must be a number, not an object."),
    (True, "Must be a number, not a boolean."),
    (None, "Required by the metric 'api_calls' (sum of a property)."),
    ("", "Required by the metric 'api_calls' (sum of a property)."),
    (-5, "Must not be negative: the metric 'api_calls' does not allow negative values."),
    ("-0.5", "Must not be negative: the metric 'api_calls' does not allow negative values."),
    (Decimal("0.1234567"), "Has more than 6 decimal places: 0.1234567."),
    ("2.0000001", "Has more than 6 decimal places: 2.0000001."),
    (1234567890123456, "Has more than 15 significant digits: 1234567890123456."),
]


def _body_with_value(value) -> bytes:
    """A batch: a good event, the event with `value` as data.calls, another good event."""
    literal = str(value) if isinstance(value, Decimal) else json.dumps(value)
    bad = json.dumps(ce("bad-1", data={"calls": "__VALUE__"})).replace('"__VALUE__"', literal)
    return f"[{json.dumps(good(0))}, {bad}, {json.dumps(good(2))}]".encode()


@pytest.mark.parametrize(("value", "message"), BAD_VALUES, ids=[repr(v) for v, _m in BAD_VALUES])
def test_bad_value_is_rejected_and_the_rest_of_the_batch_stored(client, world, auth, metrics, value, message):
    response = post_json(client, EVENTS, _body_with_value(value), CLOUDEVENTS_BATCH, auth)

    assert response.status_code == 200
    assert response.json() == result(
        accepted=2, rejected=[{"index": 1, "id": "bad-1", "errors": {"data.calls": [message]}}]
    )
    assert sorted(UsageEvent.objects.values_list("event_id", flat=True)) == ["good-0", "good-2"]
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("4")
    assert QuarantinedEvent.objects.count() == 0


def test_missing_value_property_is_named(client, auth):
    response = send(client, ce("evt-1", data={"call": 3}), auth)

    assert response.status_code == 400
    assert response.json() == {
        "id": "evt-1",
        "errors": {"data.calls": ["Required by the metric 'api_calls' (sum of a property)."]},
    }


def test_value_with_more_than_six_decimals_is_never_rounded_silently(client, auth):
    """29 significant digits: Decimal's default context (28 digits) must not round it to 0.3
    before the decimal places are checked."""
    body = _body_with_value(Decimal("0.30000000000000000000000000001"))

    response = post_json(client, EVENTS, body, CLOUDEVENTS_BATCH, auth)

    assert response.json() == result(
        accepted=2,
        rejected=[
            {
                "index": 1,
                "id": "bad-1",
                "errors": {"data.calls": ["Has more than 6 decimal places: 0.30000000000000000000000000001."]},
            }
        ],
    )
    assert not UsageEvent.objects.filter(event_id="bad-1").exists()


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (Decimal("0.123456"), Decimal("0.123456")),
        ("2.5000000000", Decimal("2.5")),  # trailing zeros are not decimal places of the quantity
        ("  7 ", Decimal("7")),
        (0, Decimal("0")),
        (123456789.123456, Decimal("123456789.123456")),
    ],
)
def test_valid_values_are_stored_exactly(client, world, auth, value, stored):
    response = post_json(client, EVENTS, _body_with_value(value), CLOUDEVENTS_BATCH, auth)

    assert response.json() == result(accepted=3)
    assert UsageEvent.objects.get(event_id="bad-1").value == stored


def test_negative_value_is_accepted_where_the_metric_allows_it(client, world, auth, metrics):
    events = [
        ce("c1", type="credits", data={"amount": "10"}),
        ce("c2", type="credits", data={"amount": "-2.5"}),
        ce("c3", type="credits", data={"amount": -0.25}),
    ]

    response = send_batch(client, events, auth)

    assert response.json() == result(accepted=3)
    credits = UsageEvent.objects.filter(metric__code="credits")
    assert sorted(credits.values_list("value", flat=True)) == [Decimal("-2.5"), Decimal("-0.25"), Decimal("10")]
    assert month_total(world.customer_a1, metrics.credits) == Decimal("7.25")


@pytest.mark.parametrize(
    ("device", "message"),
    [
        (True, "A distinct key must be a string or an integer."),
        (1.5, "A distinct key must be a string or an integer."),
        ("d" * 256, "At most 255 characters."),
        (None, "Required by the metric 'active_devices' (count of distinct values of a property)."),
    ],
)
def test_bad_distinct_key_is_named(client, auth, device, message):
    response = send(client, ce("evt-1", type="active_devices", data={"device": device}), auth)

    assert response.status_code == 400
    assert response.json() == {"id": "evt-1", "errors": {"data.device": [message]}}


# --- one event: its time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time", "message"),
    [
        ("yesterday", "'yesterday' is not an RFC 3339 time such as 2026-11-23T10:00:00Z."),
        ("2026-11-01T10:00:00", "'2026-11-01T10:00:00' has no time zone; add Z or an offset such as +02:00."),
        ("2026-13-01T10:00:00Z", "'2026-13-01T10:00:00Z' is not an RFC 3339 time such as 2026-11-23T10:00:00Z."),
        (1793613600, "Must be an RFC 3339 time such as 2026-11-23T10:00:00Z."),
    ],
)
def test_bad_time_is_named(client, auth, time, message):
    response = send_batch(client, [good(0), ce("evt-1", data={"calls": 1}, time=time)], auth)

    assert response.status_code == 200
    assert response.json() == result(accepted=1, rejected=[{"index": 1, "id": "evt-1", "errors": {"time": [message]}}])


def test_time_more_than_five_minutes_ahead_is_rejected_and_four_minutes_accepted(client, world, auth):
    now = timezone.now()
    ahead_6 = (now + timedelta(minutes=6)).isoformat()
    ahead_4 = (now + timedelta(minutes=4)).isoformat()

    response = send_batch(
        client, [ce("ahead-6", data={"calls": 1}, time=ahead_6), ce("ahead-4", data={"calls": 2}, time=ahead_4)], auth
    )

    assert response.status_code == 200
    assert response.json() == result(
        accepted=1,
        rejected=[
            {
                "index": 0,
                "id": "ahead-6",
                "errors": {"time": ["More than 5 minutes in the future; check the sender's clock."]},
            }
        ],
    )
    assert UsageEvent.objects.get().event_id == "ahead-4"
    assert UsageEvent.objects.get().timestamp == datetime.fromisoformat(ahead_4)


def test_old_event_in_an_open_period_is_accepted(client, world, auth, metrics):
    response = send(client, ce("old-1", data={"calls": 3}, time="2025-06-15T08:30:00Z"), auth)

    assert response.json() == {"id": "old-1", "source": "meter-1", "status": "accepted"}
    june = datetime(2025, 6, 1, tzinfo=UTC)
    assert month_total(world.customer_a1, metrics.api_calls, june, datetime(2025, 7, 1, tzinfo=UTC)) == 3


# --- the report ------------------------------------------------------------------------------


def test_all_rejected_batch_is_400_with_the_report_by_index(client, auth):
    events = [
        ce("r0", data={"calls": "abc"}),
        ce("r1", subject=None, data={"calls": 1}),
        ce("r2", data={"calls": -1}, time="soon"),
    ]

    response = send_batch(client, events, auth)

    assert response.status_code == 400
    assert response.json() == result(
        rejected=[
            {"index": 0, "id": "r0", "errors": {"data.calls": ["Must be a number, not 'abc'."]}},
            {"index": 1, "id": "r1", "errors": {"subject": ["This field is required."]}},
            {
                "index": 2,
                "id": "r2",
                "errors": {"time": ["'soon' is not an RFC 3339 time such as 2026-11-23T10:00:00Z."]},
            },
        ]
    )
    for entry in response.json()["rejected"]:
        assert set(entry) == {"index", "id", "errors"}
    assert UsageEvent.objects.count() == 0


def test_every_problem_of_an_event_is_reported_at_once(client, auth):
    event = {"specversion": "0.3", "type": "api_calls", "time": "later", "data": {"calls": 1}}

    response = send(client, event, auth)

    assert response.status_code == 400
    assert response.json() == {
        "id": None,
        "errors": {
            "specversion": ["Unsupported specversion '0.3'; use '1.0'."],
            "id": ["This field is required."],
            "source": ["This field is required."],
            "subject": ["This field is required."],
            "time": ["'later' is not an RFC 3339 time such as 2026-11-23T10:00:00Z."],
        },
    }
