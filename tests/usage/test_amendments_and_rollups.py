"""Voiding and replacing events (the original is kept), every aggregation's rollups following
them, and the /api/v1/usage endpoint that reads the rollups back."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.usage.models import UsageAmendment, UsageEvent, UsageRollup
from tests.usage.support import ce, month_total, result, rollup_totals, send, send_batch, usage

pytestmark = pytest.mark.django_db

NO_AMEND = "Only a channel manager or the API key that sent an event may amend it."


def at(day, hour, minute=0) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def moment(day, hour, minute=0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def void(client, event, auth, reason="Sent twice by the meter"):
    body = {} if reason is None else {"reason": reason}
    return client.post(f"/api/v1/events/{event.pk}/void", body, content_type="application/json", **auth)


def replace(client, event, auth, **body):
    body.setdefault("reason", "Meter misread")
    return client.post(f"/api/v1/events/{event.pk}/replace", body, content_type="application/json", **auth)


def event(event_id) -> UsageEvent:
    return UsageEvent.objects.get(event_id=event_id)


def buckets(client, auth, metric, granularity, **params):
    response = usage(client, auth, customer="cus_a1", metric=metric, granularity=granularity, **params)
    assert response.status_code == 200, response.content
    return [(bucket["start"], bucket["value"]) for bucket in response.json()["buckets"]]


@pytest.fixture
def manager_auth(world, metrics, bearer):
    return bearer(world.manager)


# --- voiding --------------------------------------------------------------------------------


def test_void_keeps_the_original_and_every_total_follows(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("c1", data={"calls": "5"}, time=at(2, 10, 5)),
            ce("c2", data={"calls": "9.5"}, time=at(2, 10, 20)),
            ce("c3", data={"calls": "3"}, time=at(2, 10, 40)),
            ce("c4", data={"calls": "7"}, time=at(2, 11, 10)),
        ],
        manager_auth,
    )
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("24.5")

    response = void(client, event("c2"), manager_auth)

    assert response.status_code == 200, response.content
    assert (response.json()["event_id"], response.json()["status"], response.json()["value"]) == ("c2", "voided", "9.5")
    original = event("c2")
    assert (original.status, original.value, original.timestamp) == ("voided", Decimal("9.5"), moment(2, 10, 20))
    amendment = UsageAmendment.objects.get()
    assert (amendment.event, amendment.action, amendment.reason) == (original, "void", "Sent twice by the meter")
    assert (amendment.amended_by, amendment.replacement) == (world.manager, None)
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("15")
    assert rollup_totals(world.customer_a1, metrics.api_calls) == {
        "count": 3,
        "sum": Decimal("15"),
        "max": Decimal("7"),
    }
    hour_10 = UsageRollup.objects.get(metric=metrics.api_calls, hour=moment(2, 10))
    assert (hour_10.event_count, hour_10.value_sum, hour_10.value_max) == (2, Decimal("8"), Decimal("5"))
    assert (hour_10.latest_value, hour_10.latest_at) == (Decimal("3"), moment(2, 10, 40))
    assert UsageEvent.objects.count() == 4  # nothing deleted


def test_voiding_the_max_event_recomputes_the_max(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("g1", type="peak_storage", data={"gb": "120.5"}, time=at(3, 8, 0)),
            ce("g2", type="peak_storage", data={"gb": "980"}, time=at(3, 8, 30)),
            ce("g3", type="peak_storage", data={"gb": "310"}, time=at(3, 8, 45)),
            ce("g4", type="peak_storage", data={"gb": "200"}, time=at(4, 9, 0)),
        ],
        manager_auth,
    )
    assert month_total(world.customer_a1, metrics.peak_storage) == Decimal("980")

    void(client, event("g2"), manager_auth)

    assert month_total(world.customer_a1, metrics.peak_storage) == Decimal("310")
    assert buckets(client, manager_auth, "peak_storage", "day") == [
        ("2026-11-03T00:00:00+00:00", "310"),
        ("2026-11-04T00:00:00+00:00", "200"),
    ]
    void(client, event("g3"), manager_auth)
    assert month_total(world.customer_a1, metrics.peak_storage) == Decimal("200")
    assert buckets(client, manager_auth, "peak_storage", "hour") == [
        ("2026-11-03T08:00:00+00:00", "120.5"),
        ("2026-11-04T09:00:00+00:00", "200"),
    ]


def test_voiding_the_latest_event_falls_back_to_the_one_before(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("s1", type="seats", data={"seats": 4}, time=at(2, 10, 5)),
            ce("s2", type="seats", data={"seats": 8}, time=at(2, 10, 30)),
            ce("s3", type="seats", data={"seats": 6}, time=at(2, 10, 50)),
            ce("s4", type="seats", data={"seats": 11}, time=at(2, 12, 0)),
        ],
        manager_auth,
    )
    assert month_total(world.customer_a1, metrics.seats) == Decimal("11")

    void(client, event("s4"), manager_auth)
    assert month_total(world.customer_a1, metrics.seats) == Decimal("6")
    assert not UsageRollup.objects.filter(metric=metrics.seats, hour=moment(2, 12)).exists()

    void(client, event("s3"), manager_auth)
    assert month_total(world.customer_a1, metrics.seats) == Decimal("8")
    hour_10 = UsageRollup.objects.get(metric=metrics.seats, hour=moment(2, 10))
    assert (hour_10.latest_value, hour_10.latest_at, hour_10.event_count) == (Decimal("8"), moment(2, 10, 30), 2)


def test_voiding_counts_and_distinct_keys(client, world, metrics, manager_auth):
    send_batch(
        client,
        [ce(f"l{n}", type="logins", time=at(2, 10, n)) for n in range(3)]
        + [
            ce("d1", type="active_devices", data={"device": "dev-1"}, time=at(2, 10)),
            ce("d2", type="active_devices", data={"device": "dev-2"}, time=at(2, 11)),
            ce("d3", type="active_devices", data={"device": "dev-1"}, time=at(2, 12)),
        ],
        manager_auth,
    )

    void(client, event("l1"), manager_auth)
    void(client, event("d2"), manager_auth)
    void(client, event("d1"), manager_auth)  # dev-1 is still seen at 12:00

    assert month_total(world.customer_a1, metrics.logins) == Decimal("2")
    assert month_total(world.customer_a1, metrics.active_devices) == Decimal("1")
    assert buckets(client, manager_auth, "active_devices", "hour") == [("2026-11-02T12:00:00+00:00", "1")]


def test_void_needs_a_reason(client, world, metrics, manager_auth):
    send(client, ce("c1", data={"calls": 1}), manager_auth)

    without = void(client, event("c1"), manager_auth, reason=None)
    blank = void(client, event("c1"), manager_auth, reason="  ")

    assert (without.status_code, without.json()) == (400, {"reason": ["This field is required."]})
    assert (blank.status_code, blank.json()) == (400, {"reason": ["This field may not be blank."]})
    assert event("c1").status == "active"
    assert not UsageAmendment.objects.exists()


def test_void_twice_is_400(client, world, metrics, manager_auth):
    send(client, ce("c1", data={"calls": 1}), manager_auth)
    assert void(client, event("c1"), manager_auth).status_code == 200

    again = void(client, event("c1"), manager_auth)

    assert (again.status_code, again.json()) == (400, {"status": ["This event is already voided."]})
    assert UsageAmendment.objects.count() == 1


def test_void_in_a_closed_period_is_400(client, world, metrics, manager_auth):
    send(client, ce("oct", data={"calls": 1}, time="2026-10-20T10:00:00Z"), manager_auth)
    ClosedBillingPeriod.objects.create(period="2026-10")

    response = void(client, event("oct"), manager_auth)

    assert response.status_code == 400
    assert response.json() == {"timestamp": ["The billing period 2026-10 is closed; correct it with a credit note."]}
    assert event("oct").status == "active"


def test_who_may_void(client, world, metrics, api_key, bearer, login):
    _sender, sender_auth = api_key(world.admin_a, name="sender")
    send_batch(client, [ce(f"v{n}", data={"calls": 1}) for n in range(2)], sender_auth)

    other_key_same_partner = void(client, event("v0"), bearer(world.admin_a, name="another"))
    rep_of_the_customer = void(client, event("v0"), bearer(world.rep_a))
    other_partner = void(client, event("v0"), bearer(world.admin_b))
    customer_user = void(client, event("v0"), bearer(world.customer_user_a1))
    admin_session = void(login(world.admin_a), event("v0"), {})
    client.logout()

    assert (other_key_same_partner.status_code, other_key_same_partner.json()) == (403, {"detail": NO_AMEND})
    assert (rep_of_the_customer.status_code, rep_of_the_customer.json()) == (403, {"detail": NO_AMEND})
    assert (customer_user.status_code, customer_user.json()) == (403, {"detail": NO_AMEND})
    assert (admin_session.status_code, admin_session.json()) == (403, {"detail": NO_AMEND})
    assert other_partner.status_code == 404  # not in their scope: its existence does not leak
    assert event("v0").status == "active"

    by_sender = void(client, event("v0"), sender_auth)
    by_manager = void(client, event("v1"), bearer(world.manager))

    assert (by_sender.status_code, by_manager.status_code) == (200, 200)
    assert set(UsageEvent.objects.values_list("status", flat=True)) == {"voided"}
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("0")
    assert not UsageRollup.objects.exists()


# --- replacing ------------------------------------------------------------------------------


def test_replace_counts_a_corrected_copy_and_voids_the_original(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("c1", data={"calls": "40", "endpoint": "/v1/search"}, time=at(2, 10, 15)),
            ce("c2", data={"calls": "2"}, time=at(2, 10, 30)),
        ],
        manager_auth,
    )
    original = event("c1")

    response = replace(client, original, manager_auth, value="4.25")

    assert response.status_code == 201, response.content
    body = response.json()
    replacement = UsageEvent.objects.get(pk=body["id"])
    assert {key: body[key] for key in ("source", "event_id", "customer", "metric", "value", "format", "status")} == {
        "source": "prm:amendment",
        "event_id": f"replaces:{original.pk}",
        "customer": "cus_a1",
        "metric": "api_calls",
        "value": "4.25",
        "format": "amendment",
        "status": "active",
    }
    assert body["replaces"] == original.pk
    assert body["properties"] == {"calls": "4.25", "endpoint": "/v1/search"}
    assert (replacement.timestamp, replacement.value) == (moment(2, 10, 15), Decimal("4.25"))
    original.refresh_from_db()
    assert (original.status, original.value) == ("voided", Decimal("40"))
    amendment = UsageAmendment.objects.get()
    assert (amendment.event, amendment.action, amendment.replacement) == (original, "replace", replacement)
    assert (amendment.reason, amendment.amended_by) == ("Meter misread", world.manager)
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("6.25")
    assert rollup_totals(world.customer_a1, metrics.api_calls) == {
        "count": 2,
        "sum": Decimal("6.25"),
        "max": Decimal("4.25"),
    }


def test_replace_with_a_new_time_moves_the_usage_between_hours(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("s1", type="seats", data={"seats": 9}, time=at(2, 10)),
            ce("s2", type="seats", data={"seats": 3}, time=at(2, 11)),
        ],
        manager_auth,
    )

    response = replace(client, event("s1"), manager_auth, timestamp=at(2, 12, 30))

    assert response.status_code == 201, response.content
    assert buckets(client, manager_auth, "seats", "hour") == [
        ("2026-11-02T11:00:00+00:00", "3"),
        ("2026-11-02T12:00:00+00:00", "9"),
    ]
    assert month_total(world.customer_a1, metrics.seats) == Decimal("9")


def test_replace_with_properties_reads_the_metric_field(client, world, metrics, manager_auth):
    send(client, ce("d1", type="active_devices", data={"device": "dev-1"}), manager_auth)
    send(client, ce("d2", type="active_devices", data={"device": "dev-2"}), manager_auth)

    response = replace(client, event("d2"), manager_auth, properties={"device": "dev-1", "fw": "2.1"})

    assert response.status_code == 201, response.content
    assert (response.json()["distinct_key"], response.json()["properties"]) == (
        "dev-1",
        {"device": "dev-1", "fw": "2.1"},
    )
    assert month_total(world.customer_a1, metrics.active_devices) == Decimal("1")


def test_replace_twice_and_replace_of_the_replacement(client, world, metrics, manager_auth):
    send(client, ce("c1", data={"calls": "10"}), manager_auth)
    first = replace(client, event("c1"), manager_auth, value="8")
    again = replace(client, event("c1"), manager_auth, value="7")
    second = replace(client, UsageEvent.objects.get(pk=first.json()["id"]), manager_auth, value="6")

    assert (again.status_code, again.json()) == (
        400,
        {"status": ["This event is already voided; it cannot be replaced."]},
    )
    assert second.status_code == 201
    assert second.json()["event_id"] == f"replaces:{first.json()['id']}"
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("6")
    assert list(UsageEvent.objects.order_by("pk").values_list("status", flat=True)) == ["voided", "voided", "active"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"value": "abc"}, {"value": ["Must be a number, not 'abc'."]}),
        ({"value": "-1"}, {"value": ["Must not be negative: the metric 'api_calls' does not allow negative values."]}),
        ({"value": "1.1234567"}, {"value": ["Has more than 6 decimal places: 1.1234567."]}),
        (
            {"properties": {"call": 1}},
            {"properties.calls": ["Required by the metric 'api_calls' (sum of a property)."]},
        ),
        ({"timestamp": "soon"}, {"timestamp": ["'soon' is not an RFC 3339 time such as 2026-11-23T10:00:00Z."]}),
        ({"reason": ""}, {"reason": ["This field may not be blank."]}),
    ],
)
def test_bad_replacement_is_400_naming_the_field(client, world, metrics, manager_auth, body, errors):
    send(client, ce("c1", data={"calls": "10"}), manager_auth)

    response = replace(client, event("c1"), manager_auth, **body)

    assert response.status_code == 400
    assert response.json() == errors
    assert event("c1").status == "active"
    assert UsageEvent.objects.count() == 1
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("10")


def test_replacement_may_not_move_usage_into_the_future(client, world, metrics, manager_auth):
    """Ingestion refuses times more than 5 minutes ahead; a correction must not get around it
    (it would move this month's usage into a later invoice)."""
    send(client, ce("c1", data={"calls": "10"}), manager_auth)
    next_month = (timezone.now() + timedelta(days=40)).isoformat()

    response = replace(client, event("c1"), manager_auth, timestamp=next_month)

    assert response.status_code == 400, response.content
    assert response.json() == {"timestamp": ["More than 5 minutes in the future; check the sender's clock."]}
    assert event("c1").status == "active"
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("10")


def test_replace_by_the_sending_key_and_not_by_another_partner(client, world, metrics, api_key, bearer):
    _key, sender_auth = api_key(world.admin_a)
    send(client, ce("c1", data={"calls": "10"}), sender_auth)

    foreign = replace(client, event("c1"), bearer(world.admin_b), value="1")
    same_partner_other_key = replace(client, event("c1"), bearer(world.admin_a, name="other"), value="1")
    own = replace(client, event("c1"), sender_auth, value="12")

    assert foreign.status_code == 404
    assert (same_partner_other_key.status_code, same_partner_other_key.json()) == (403, {"detail": NO_AMEND})
    assert own.status_code == 201
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("12")
    # The replacement belongs to the key that made it: it may amend it in turn.
    assert void(client, UsageEvent.objects.get(pk=own.json()["id"]), sender_auth).status_code == 200
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("0")


# --- aggregations ---------------------------------------------------------------------------


def test_unique_count_counts_a_key_once_per_period_and_once_per_bucket(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("u1", type="active_devices", data={"device": "dev-1"}, time=at(2, 10)),
            ce("u2", type="active_devices", data={"device": "dev-1"}, time=at(2, 15)),
            ce("u3", type="active_devices", data={"device": "dev-2"}, time=at(3, 9)),
            ce("u4", type="active_devices", data={"device": "dev-1"}, time=at(3, 9, 30)),
            ce("u5", type="active_devices", data={"device": 42}, time=at(3, 9, 45)),
        ],
        manager_auth,
    )
    # The same device again in a later request, in another hour.
    send(client, ce("u6", type="active_devices", data={"device": "dev-2"}, time=at(4, 0, 1)), manager_auth)

    assert month_total(world.customer_a1, metrics.active_devices) == Decimal("3")
    assert buckets(client, manager_auth, "active_devices", "month") == [("2026-11-01T00:00:00+00:00", "3")]
    assert buckets(client, manager_auth, "active_devices", "day") == [
        ("2026-11-02T00:00:00+00:00", "1"),
        ("2026-11-03T00:00:00+00:00", "3"),
        ("2026-11-04T00:00:00+00:00", "1"),
    ]
    assert buckets(client, manager_auth, "active_devices", "hour") == [
        ("2026-11-02T10:00:00+00:00", "1"),
        ("2026-11-02T15:00:00+00:00", "1"),
        ("2026-11-03T09:00:00+00:00", "3"),
        ("2026-11-04T00:00:00+00:00", "1"),
    ]
    assert event("u5").distinct_key == "42"


def test_latest_is_the_value_with_the_latest_time_whatever_the_arrival_order(client, world, metrics, manager_auth):
    arrivals = [
        ("a", at(2, 12, 0), 10),
        ("b", at(2, 9, 0), 3),  # older, arrives later
        ("c", at(2, 11, 59), 7),
        ("d", at(3, 8, 30), 5),
        ("e", at(3, 8, 10), 2),  # older within the same hour, arrives later
        ("f", at(3, 7, 0), 99),
    ]
    for event_id, time, seats in arrivals:
        assert (
            send(client, ce(event_id, type="seats", data={"seats": seats}, time=time), manager_auth).status_code == 200
        )

    assert month_total(world.customer_a1, metrics.seats) == Decimal("5")
    assert buckets(client, manager_auth, "seats", "day") == [
        ("2026-11-02T00:00:00+00:00", "10"),
        ("2026-11-03T00:00:00+00:00", "5"),
    ]
    assert buckets(client, manager_auth, "seats", "hour") == [
        ("2026-11-02T09:00:00+00:00", "3"),
        ("2026-11-02T11:00:00+00:00", "7"),
        ("2026-11-02T12:00:00+00:00", "10"),
        ("2026-11-03T07:00:00+00:00", "99"),
        ("2026-11-03T08:00:00+00:00", "5"),
    ]
    hour_8 = UsageRollup.objects.get(metric=metrics.seats, hour=moment(3, 8))
    assert (hour_8.latest_value, hour_8.latest_at) == (Decimal("5"), moment(3, 8, 30))


def test_latest_in_one_batch_out_of_order(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("x1", type="seats", data={"seats": 30}, time=at(5, 10, 50)),
            ce("x2", type="seats", data={"seats": 10}, time=at(5, 10, 10)),
            ce("x3", type="seats", data={"seats": 20}, time=at(5, 10, 30)),
        ],
        manager_auth,
    )

    assert month_total(world.customer_a1, metrics.seats) == Decimal("30")


def test_max_and_count(client, world, metrics, manager_auth):
    send_batch(
        client,
        [
            ce("m1", type="peak_storage", data={"gb": "12.75"}, time=at(2, 10)),
            ce("m2", type="peak_storage", data={"gb": "8"}, time=at(2, 11)),
            ce("m3", type="peak_storage", data={"gb": "3"}, time=at(3, 1)),
        ]
        + [ce(f"l{n}", type="logins", time=at(2 + n % 2, 10 + n % 3)) for n in range(7)],
        manager_auth,
    )
    send(client, ce("m4", type="peak_storage", data={"gb": "12.8"}, time=at(3, 1, 30)), manager_auth)

    assert month_total(world.customer_a1, metrics.peak_storage) == Decimal("12.8")
    assert buckets(client, manager_auth, "peak_storage", "day") == [
        ("2026-11-02T00:00:00+00:00", "12.75"),
        ("2026-11-03T00:00:00+00:00", "12.8"),
    ]
    assert month_total(world.customer_a1, metrics.logins) == Decimal("7")
    # n = 0..6 on day 2 + n % 2 at hour 10 + n % 3.
    assert buckets(client, manager_auth, "logins", "hour") == [
        ("2026-11-02T10:00:00+00:00", "2"),
        ("2026-11-02T11:00:00+00:00", "1"),
        ("2026-11-02T12:00:00+00:00", "1"),
        ("2026-11-03T10:00:00+00:00", "1"),
        ("2026-11-03T11:00:00+00:00", "1"),
        ("2026-11-03T12:00:00+00:00", "1"),
    ]
    assert buckets(client, manager_auth, "logins", "month") == [("2026-11-01T00:00:00+00:00", "7")]


# --- the usage endpoint ---------------------------------------------------------------------


@pytest.fixture
def calls(client, world, metrics, manager_auth):
    response = send_batch(
        client,
        [
            ce("k1", data={"calls": "1.5"}, time=at(2, 10, 5)),
            ce("k2", data={"calls": "2.25"}, time=at(2, 10, 55)),
            ce("k3", data={"calls": "4"}, time=at(2, 23, 59)),
            ce("k4", data={"calls": "0.000001"}, time=at(3, 0, 0)),
            ce("k5", data={"calls": "100"}, time="2026-10-31T23:30:00Z"),
        ],
        manager_auth,
    )
    assert response.json() == result(accepted=5)


def test_usage_by_hour_day_and_month(client, world, calls, manager_auth):
    by_hour = usage(client, manager_auth, customer="cus_a1", metric="api_calls", granularity="hour")

    assert by_hour.status_code == 200
    assert by_hour.json() == {
        "customer": "cus_a1",
        "metric": "api_calls",
        "aggregation": "sum",
        "unit": "unit",
        "from": "2026-11-01T00:00:00+00:00",
        "to": "2026-12-01T00:00:00+00:00",
        "granularity": "hour",
        "buckets": [
            {"start": "2026-11-02T10:00:00+00:00", "value": "3.75"},
            {"start": "2026-11-02T23:00:00+00:00", "value": "4"},
            {"start": "2026-11-03T00:00:00+00:00", "value": "0.000001"},
        ],
    }
    assert buckets(client, manager_auth, "api_calls", "day") == [
        ("2026-11-02T00:00:00+00:00", "7.75"),
        ("2026-11-03T00:00:00+00:00", "0.000001"),
    ]
    assert buckets(client, manager_auth, "api_calls", "month") == [("2026-11-01T00:00:00+00:00", "7.750001")]
    # Day is the default; the range is half-open [from, to), read as the hours starting in it.
    default = usage(client, manager_auth, customer="cus_a1", metric="api_calls", **{"from": "2026-10-31T23:00:00Z"})
    assert default.json()["granularity"] == "day"
    assert [(b["start"], b["value"]) for b in default.json()["buckets"]] == [
        ("2026-10-31T00:00:00+00:00", "100"),
        ("2026-11-02T00:00:00+00:00", "7.75"),
        ("2026-11-03T00:00:00+00:00", "0.000001"),
    ]
    after_the_hour = usage(client, manager_auth, customer="cus_a1", metric="api_calls", granularity="month",
                           **{"from": "2026-10-31T23:00:01Z", "to": "2026-11-03T00:00:00Z"})  # fmt: skip
    assert after_the_hour.json()["buckets"] == [{"start": "2026-11-01T00:00:00+00:00", "value": "7.75"}]
    narrow = buckets(
        client, manager_auth, "api_calls", "hour", **{"from": "2026-11-02T11:00:00Z", "to": "2026-11-03T00:00:00Z"}
    )
    assert narrow == [("2026-11-02T23:00:00+00:00", "4")]


def test_usage_for_people_in_scope(client, world, calls, bearer):
    for user in ("admin_a", "rep_a", "customer_user_a1", "customer_viewer_a1"):
        response = usage(
            client, bearer(getattr(world, user)), customer="cus_a1", metric="api_calls", granularity="month"
        )
        assert response.status_code == 200, user
        assert response.json()["buckets"] == [{"start": "2026-11-01T00:00:00+00:00", "value": "7.750001"}]


@pytest.mark.parametrize(
    ("user", "customer"),
    [
        ("admin_b", "cus_a1"),
        ("rep_a", "cus_a2"),
        ("customer_user_a2", "cus_a1"),
        ("admin_a", "cus_b1"),
        ("manager", "cus_nobody"),
    ],
)
def test_usage_of_a_customer_outside_scope_is_404(client, world, calls, bearer, user, customer):
    response = usage(client, bearer(getattr(world, user)), customer=customer, metric="api_calls")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"metric": "nope"}, {"metric": ["No metric has the code 'nope'."]}),
        ({"from": ""}, {"from": ["This field is required (an ISO 8601 time)."]}),
        ({"from": "last week"}, {"from": ["'last week' is not an RFC 3339 time such as 2026-11-23T10:00:00Z."]}),
        (
            {"to": "2026-12-01T00:00:00"},
            {"to": ["'2026-12-01T00:00:00' has no time zone; add Z or an offset such as +02:00."]},
        ),
        ({"to": "2026-11-01T00:00:00Z"}, {"to": ["Must be after `from`."]}),
        ({"granularity": "week"}, {"granularity": ['"week" is not a valid choice.']}),
        ({"customer": ""}, {"customer": ["This field may not be blank."]}),
    ],
)  # fmt: skip
def test_usage_query_errors_name_the_field(client, world, calls, manager_auth, params, errors):
    query = {"customer": "cus_a1", "metric": "api_calls", **params}

    response = usage(client, manager_auth, **query)

    assert response.status_code == 400
    assert response.json() == errors


def test_usage_of_a_metric_without_usage_is_empty(client, world, calls, manager_auth):
    assert buckets(client, manager_auth, "seats", "day") == []
    assert buckets(client, manager_auth, "active_devices", "month") == []
