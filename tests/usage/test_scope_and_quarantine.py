"""Who may send usage for which customer, and quarantine: events that cannot be counted yet are
kept with the reason, shown to channel managers only, and counted once their cause is fixed."""

from decimal import Decimal

import pytest

from prm.core.models import ClosedBillingPeriod
from prm.customers.services import customer_create
from prm.plans.services import metric_create
from prm.usage.models import QuarantinedEvent, UsageEvent
from tests.usage.support import EVENTS, QUARANTINE, ce, month_total, result, send, send_batch

pytestmark = pytest.mark.django_db


def _quarantined(response, event_id, detail, source="meter-1"):
    assert response.status_code == 200, response.content
    assert response.json() == {"id": event_id, "source": source, "status": "quarantined", "reason": detail}


# --- who sends for whom ---------------------------------------------------------------------


def test_manager_key_sends_for_any_customer(client, world, metrics, bearer):
    events = [ce(f"m-{cus}", subject=cus, data={"calls": 2}) for cus in ("cus_a1", "cus_a2", "cus_b1")]

    response = send_batch(client, events, bearer(world.manager))

    assert response.json() == result(accepted=3)
    for customer in (world.customer_a1, world.customer_a2, world.customer_b1):
        assert month_total(customer, metrics.api_calls) == Decimal("2")


def test_partner_key_for_another_partners_customer_looks_exactly_like_an_unknown_customer(
    client, world, metrics, bearer
):
    auth = bearer(world.admin_a)

    other_partners = send(client, ce("x-1", subject="cus_b1", data={"calls": 1}), auth)
    nobodys = send(client, ce("x-2", subject="cus_zz", data={"calls": 1}), auth)

    _quarantined(other_partners, "x-1", "No customer has the external id 'cus_b1'.")
    _quarantined(nobodys, "x-2", "No customer has the external id 'cus_zz'.")
    # Same status, same keys, same sentence: only the id that was sent differs.
    assert other_partners.json()["reason"].replace("cus_b1", "<id>") == nobodys.json()["reason"].replace(
        "cus_zz", "<id>"
    )
    in_batch = [
        send_batch(client, [ce(f"y-{cus}", subject=cus, data={"calls": 1})], auth) for cus in ("cus_b1", "cus_zz")
    ]
    assert [(r.status_code, r.json()) for r in in_batch] == [(200, result(quarantined=1))] * 2
    assert set(QuarantinedEvent.objects.values_list("event_id", "reason")) == {
        ("x-1", "unknown_customer"),
        ("x-2", "unknown_customer"),
        ("y-cus_b1", "unknown_customer"),
        ("y-cus_zz", "unknown_customer"),
    }
    assert month_total(world.customer_b1, metrics.api_calls) == Decimal("0")
    assert UsageEvent.objects.count() == 0


def test_rep_key_sends_only_for_assigned_customers(client, world, metrics, bearer):
    response = send_batch(
        client,
        [ce("r-1", subject="cus_a1", data={"calls": 5}), ce("r-2", subject="cus_a2", data={"calls": 7})],
        bearer(world.rep_a),
    )

    assert response.json() == result(accepted=1, quarantined=1)
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("5")
    assert month_total(world.customer_a2, metrics.api_calls) == Decimal("0")
    held = QuarantinedEvent.objects.get()
    assert (held.event_id, held.reason, held.customer_external_id) == ("r-2", "unknown_customer", "cus_a2")
    assert held.sent_by == world.rep_a


@pytest.mark.parametrize("user", ["customer_user_a1", "customer_viewer_a1"])
def test_customer_users_may_not_send_usage(client, world, metrics, bearer, login, user):
    customer_user = getattr(world, user)
    with_key = send(client, ce("c-1", data={"calls": 1}), bearer(customer_user))
    with_session = send(login(customer_user), ce("c-2", data={"calls": 1}), {})

    for response in (with_key, with_session):
        assert response.status_code == 403
        assert response.json() == {"detail": "Only the vendor and partners send usage."}
    assert UsageEvent.objects.count() == 0
    assert QuarantinedEvent.objects.count() == 0


def test_anonymous_and_bad_keys_are_401(client, world, metrics):
    anonymous = send(client, ce("a-1", data={"calls": 1}), {})
    bad_key = send(client, ce("a-2", data={"calls": 1}), {"HTTP_AUTHORIZATION": "Bearer prm_00000000_nope"})

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert bad_key.status_code == 401
    assert bad_key.json() == {"detail": "Invalid or revoked API key."}
    assert UsageEvent.objects.count() == 0


# --- reasons for quarantine -----------------------------------------------------------------


def test_unknown_metric_is_quarantined(client, world, metrics, bearer):
    response = send(client, ce("g-1", type="gpu_hours", data={"hours": 2}), bearer(world.admin_a))

    _quarantined(response, "g-1", "No metric has the code 'gpu_hours'.")
    held = QuarantinedEvent.objects.get()
    assert (held.reason, held.metric_code, held.customer_external_id, held.status) == (
        "unknown_metric",
        "gpu_hours",
        "cus_a1",
        "pending",
    )
    assert held.payload == ce("g-1", type="gpu_hours", data={"hours": 2})
    assert (held.sent_by, held.attempts) == (world.admin_a, 1)


def test_event_in_a_closed_period_is_quarantined(client, world, metrics, bearer):
    ClosedBillingPeriod.objects.create(period="2026-10")

    closed = send(client, ce("p-1", data={"calls": 4}, time="2026-10-31T23:59:59Z"), bearer(world.manager))
    open_ = send(client, ce("p-2", data={"calls": 6}, time="2026-11-01T00:00:00Z"), bearer(world.manager))

    _quarantined(closed, "p-1", "The billing period 2026-10 is closed.")
    assert open_.json()["status"] == "accepted"
    assert QuarantinedEvent.objects.get().reason == "closed_period"
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["p-2"]


# --- the quarantine API ---------------------------------------------------------------------


@pytest.fixture
def held(client, world, metrics, bearer):
    """One event of each reason, sent by partner A's admin (and one by the manager)."""
    ClosedBillingPeriod.objects.create(period="2026-10")
    admin_a = bearer(world.admin_a)
    send(client, ce("h-metric", type="gpu_hours", data={"hours": "1.5"}), admin_a)
    send(client, ce("h-foreign", subject="cus_b1", data={"calls": 3}), admin_a)
    send(client, ce("h-closed", data={"calls": 4}, time="2026-10-15T09:00:00Z"), admin_a)
    send(client, ce("h-new", subject="cus_new", data={"calls": 8}), bearer(world.manager))
    return {item.event_id: item for item in QuarantinedEvent.objects.all()}


def test_managers_list_the_quarantine(client, world, held, bearer):
    response = client.get(QUARANTINE, **bearer(world.manager))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert {(row["event_id"], row["reason"], row["status"]) for row in body["results"]} == {
        ("h-metric", "unknown_metric", "pending"),
        ("h-foreign", "unknown_customer", "pending"),
        ("h-closed", "closed_period", "pending"),
        ("h-new", "unknown_customer", "pending"),
    }
    filtered = client.get(QUARANTINE, {"reason": "unknown_customer"}, **bearer(world.manager)).json()
    assert sorted(row["event_id"] for row in filtered["results"]) == ["h-foreign", "h-new"]


@pytest.mark.parametrize("user", ["admin_a", "rep_a", "admin_b", "customer_user_a1"])
def test_quarantine_is_invisible_outside_the_vendor(client, world, held, bearer, user):
    auth = bearer(getattr(world, user))
    item = held["h-foreign"]

    listing = client.get(QUARANTINE, **auth)
    detail = client.get(f"{QUARANTINE}{item.pk}/", **auth)
    reprocess = client.post(f"{QUARANTINE}{item.pk}/reprocess/", **auth)
    discard = client.post(f"{QUARANTINE}{item.pk}/discard/", {"reason": "x"}, content_type="application/json", **auth)

    assert listing.status_code == 200
    assert listing.json()["count"] == 0
    assert listing.json()["results"] == []
    assert [detail.status_code, reprocess.status_code, discard.status_code] == [404, 404, 404]
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("pending", 1)


def _reprocess(client, item, auth):
    return client.post(f"{QUARANTINE}{item.pk}/reprocess/", **auth)


def test_reprocess_after_the_metric_is_created_counts_the_event(client, world, held, bearer):
    metric_create(
        actor=world.manager, code="gpu_hours", name="GPU hours", unit="hour", aggregation="sum", field="hours"
    )

    response = _reprocess(client, held["h-metric"], bearer(world.manager))

    assert response.status_code == 200, response.content
    body = response.json()
    event = UsageEvent.objects.get(event_id="h-metric")
    assert (body["outcome"], body["status"], body["accepted_event"]) == ("accepted", "reprocessed", event.pk)
    assert body["resolution"] == "Accepted on re-processing."
    assert (event.customer, event.value, event.sent_by) == (world.customer_a1, Decimal("1.5"), world.admin_a)
    assert month_total(world.customer_a1, event.metric) == Decimal("1.5")
    item = QuarantinedEvent.objects.get(pk=held["h-metric"].pk)
    assert (item.status, item.resolved_by) == ("reprocessed", world.manager)


def test_reprocess_after_the_customer_is_created_counts_the_event(client, world, metrics, held, bearer):
    customer = customer_create(
        actor=world.manager, reseller=world.partner_b, external_id="cus_new", name="New", domain="new.example",
        use_case="api_calls", currency="USD",
    )  # fmt: skip

    response = _reprocess(client, held["h-new"], bearer(world.manager))

    assert response.json()["outcome"] == "accepted"
    assert response.json()["status"] == "reprocessed"
    assert month_total(customer, metrics.api_calls) == Decimal("8")


def test_reprocess_by_the_manager_keeps_the_senders_scope(client, world, metrics, held, bearer):
    """Partner A's key sent an event for partner B's customer: re-processing it, even by the
    vendor, must not let it reach partner B's customer."""
    response = _reprocess(client, held["h-foreign"], bearer(world.manager))

    assert response.status_code == 200
    body = response.json()
    assert (body["outcome"], body["status"], body["reason"]) == ("quarantined", "pending", "unknown_customer")
    assert body["detail"] == "No customer has the external id 'cus_b1'."
    assert body["accepted_event"] is None
    assert body["attempts"] == 2
    assert not UsageEvent.objects.exists()
    assert month_total(world.customer_b1, metrics.api_calls) == Decimal("0")


def test_reprocess_in_a_still_closed_period_stays_quarantined(client, world, held, bearer):
    response = _reprocess(client, held["h-closed"], bearer(world.manager))

    assert response.json()["outcome"] == "quarantined"
    assert response.json()["reason"] == "closed_period"
    assert not UsageEvent.objects.exists()


def test_discard_needs_a_reason_and_happens_once(client, world, held, bearer):
    auth = bearer(world.manager)
    item = held["h-foreign"]
    url = f"{QUARANTINE}{item.pk}/discard/"

    without = client.post(url, {}, content_type="application/json", **auth)
    blank = client.post(url, {"reason": "   "}, content_type="application/json", **auth)
    discarded = client.post(url, {"reason": "Sent to the wrong partner"}, content_type="application/json", **auth)
    again = client.post(url, {"reason": "again"}, content_type="application/json", **auth)
    reprocess = _reprocess(client, item, auth)

    assert (without.status_code, without.json()) == (400, {"reason": ["This field is required."]})
    assert (blank.status_code, blank.json()) == (400, {"reason": ["This field may not be blank."]})
    assert discarded.status_code == 200
    assert (discarded.json()["status"], discarded.json()["resolution"]) == ("discarded", "Sent to the wrong partner")
    assert (again.status_code, again.json()) == (400, {"status": ["This event was already discarded."]})
    assert (reprocess.status_code, reprocess.json()) == (400, {"status": ["This event was already discarded."]})
    item.refresh_from_db()
    assert (item.status, item.resolved_by, item.resolution) == ("discarded", world.manager, "Sent to the wrong partner")


def test_resending_after_the_cause_is_fixed_counts_it_and_resolves_the_quarantine(client, world, held, bearer):
    metric_create(
        actor=world.manager, code="gpu_hours", name="GPU hours", unit="hour", aggregation="sum", field="hours"
    )

    response = send(client, ce("h-metric", type="gpu_hours", data={"hours": "1.5"}), bearer(world.admin_a))

    assert response.json() == {"id": "h-metric", "source": "meter-1", "status": "accepted"}
    item = QuarantinedEvent.objects.get(event_id="h-metric")
    event = UsageEvent.objects.get(event_id="h-metric")
    assert (item.status, item.accepted_event, item.resolution) == ("reprocessed", event, "Accepted when sent again.")
    assert item.resolved_at is not None
    assert QuarantinedEvent.objects.filter(status="pending").count() == 3
    # Re-processing it now finds it resolved; sending it once more is a duplicate.
    assert _reprocess(client, item, bearer(world.manager)).json() == {
        "status": ["This event was already re-processed."]
    }
    again = send(client, ce("h-metric", type="gpu_hours", data={"hours": "1.5"}), bearer(world.admin_a))
    assert again.json()["status"] == "duplicate"
    assert month_total(world.customer_a1, event.metric) == Decimal("1.5")


def test_resending_while_still_unknown_keeps_one_row_and_counts_attempts(client, world, held, bearer):
    auth = bearer(world.admin_a)
    for _ in range(2):
        response = send(client, ce("h-metric", type="gpu_hours", data={"hours": "1.5"}), auth)
        _quarantined(response, "h-metric", "No metric has the code 'gpu_hours'.")
    batch = send_batch(client, [ce("h-metric", type="gpu_hours", data={"hours": "1.5"})] * 2, auth)

    assert batch.json() == result(quarantined=2)
    rows = QuarantinedEvent.objects.filter(event_id="h-metric")
    assert rows.count() == 1
    assert (rows.get().attempts, rows.get().status) == (4, "pending")


# --- reading events -------------------------------------------------------------------------


@pytest.fixture
def stored(client, world, metrics, bearer):
    events = [
        ce(f"s-{cus}-{n}", subject=cus, data={"calls": n}) for cus in ("cus_a1", "cus_a2", "cus_b1") for n in (1, 2)
    ]
    assert send_batch(client, events, bearer(world.manager)).json() == result(accepted=6)


def _sent_order(event_id: str) -> tuple[str, str]:
    """The `stored` batch's order (customer by customer, 1 then 2): the list shows the newest first."""
    _, customer, n = event_id.split("-")
    return customer, n


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("manager", {"s-cus_a1-1", "s-cus_a1-2", "s-cus_a2-1", "s-cus_a2-2", "s-cus_b1-1", "s-cus_b1-2"}),
        ("admin_a", {"s-cus_a1-1", "s-cus_a1-2", "s-cus_a2-1", "s-cus_a2-2"}),
        ("rep_a", {"s-cus_a1-1", "s-cus_a1-2"}),
        ("admin_b", {"s-cus_b1-1", "s-cus_b1-2"}),
        ("customer_user_a2", {"s-cus_a2-1", "s-cus_a2-2"}),
    ],
)
def test_event_list_shows_only_the_callers_events(client, world, stored, bearer, user, visible):
    response = client.get(EVENTS, **bearer(getattr(world, user)))

    assert response.status_code == 200
    assert response.json()["next"] is None  # one page holds them all: there is no `count` to check
    assert [row["event_id"] for row in response.json()["results"]] == sorted(visible, key=_sent_order, reverse=True)


def test_event_list_filter_cannot_reach_another_partner(client, world, stored, bearer):
    response = client.get(EVENTS, {"customer": "cus_b1"}, **bearer(world.admin_a))

    assert response.json() == {"next": None, "previous": None, "results": []}
    row = client.get(EVENTS, {"customer": "cus_a2", "event_id": "s-cus_a2-2"}, **bearer(world.admin_a)).json()
    assert row["results"][0] | {"id": None, "received_at": None} == {
        "id": None,
        "source": "meter-1",
        "event_id": "s-cus_a2-2",
        "customer": "cus_a2",
        "metric": "api_calls",
        "subscription_external_id": "",
        "timestamp": "2026-11-02T10:00:00Z",
        "value": "2",
        "distinct_key": "",
        "properties": {"calls": 2},
        "format": "cloudevents",
        "received_at": None,
        "status": "active",
        "replaces": None,
    }
