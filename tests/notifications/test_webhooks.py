"""Outgoing webhooks against a real HTTP receiver on loopback: signing, routing, retries with
backoff, the retry sweep, a hung receiver that never holds up billing, ping, re-send, rotation,
bad input and scope."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from prm.billing.services import invoice_finalize, invoice_refresh_draft
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription
from prm.deals.models import DealRegistration
from prm.deals.services import deal_approve
from prm.incentives.models import Statement
from prm.incentives.statements import statement_approve
from prm.notifications import webhooks
from prm.notifications.models import WebhookDelivery, WebhookEndpoint
from prm.notifications.tasks import webhook_deliveries_retry_task
from prm.notifications.webhooks import (
    backoff,
    publish_event,
    verify_signature,
    webhook_deliveries_retry,
    webhook_endpoint_create,
)
from prm.plans.models import Plan, PlanVersion


def _endpoint(actor, url, event_types=("*",), **fields):
    return webhook_endpoint_create(actor=actor, url=url, event_types=list(event_types), **fields)


def _due_now(delivery):
    """The backoff's wait has passed (instead of sleeping a minute)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# --- signing and the payload ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_delivery_is_signed_with_the_secret_shown_at_creation(world, login, receiver):
    client = login(world.admin_a)
    created = client.post(
        "/api/v1/webhooks/",
        {"url": receiver.url, "event_types": ["invoice.finalized"], "description": "Billing sync"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    answer = created.json()
    secret = answer["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30
    assert answer["partner"] == world.partner_a.pk and answer["event_types"] == ["invoice.finalized"]
    # Never shown again: not in the detail, not in the list.
    assert "secret" not in client.get(f"/api/v1/webhooks/{answer['id']}/").json()
    assert all("secret" not in row for row in client.get("/api/v1/webhooks/").json()["results"])

    publish_event(
        type="invoice.finalized",
        data={"invoice": {"id": 7, "total": "12.50", "currency": "USD"}},
        partner_id=world.partner_a.pk,
    )
    assert webhook_deliveries_retry() == 1

    (request,) = receiver.requests
    assert request.path == "/hooks/prm"
    assert request.signed_by(secret)
    assert verify_signature(secret, request.headers["PRM-Signature"], request.body)
    assert not verify_signature(secret, request.headers["PRM-Signature"], request.body + b" ")  # tampered
    assert not verify_signature("whsec_other", request.headers["PRM-Signature"], request.body)
    timestamp = int(request.headers["PRM-Signature"].split(",")[0].removeprefix("t="))
    assert abs(time.time() - timestamp) < 60
    assert not verify_signature(secret, request.headers["PRM-Signature"], request.body, now=timestamp + 301)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["PRM-Event-Type"] == "invoice.finalized"
    delivery = WebhookDelivery.objects.get()
    assert request.headers["PRM-Delivery"] == str(delivery.pk)
    body = request.json
    assert set(body) == {"id", "type", "created", "data"}
    assert body["id"] == str(delivery.event_id) and body["type"] == "invoice.finalized"
    assert body["data"] == {"invoice": {"id": 7, "total": "12.50", "currency": "USD"}}
    assert request.body == delivery.body.encode()  # the exact bytes recorded are the bytes sent
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    assert delivery.response_excerpt == '{"ok": true}' and delivery.delivered_at is not None

    log = client.get(f"/api/v1/webhooks/{answer['id']}/deliveries/").json()
    assert log["count"] == 1 and log["results"][0]["response_code"] == 200


@pytest.mark.django_db
def test_events_reach_the_partners_own_endpoints_and_the_vendors(world, receiver):
    hook_a = _endpoint(world.admin_a, receiver.url + "?a", ["deal.status_changed"])
    hook_b = _endpoint(world.admin_b, receiver.url + "?b")
    vendor = _endpoint(world.manager, receiver.url + "?vendor", ["*"])
    _endpoint(world.manager, receiver.url + "?vendor-invoices", ["invoice.finalized"])
    inactive = _endpoint(world.admin_a, receiver.url + "?off")
    WebhookEndpoint.objects.filter(pk=inactive.pk).update(is_active=False)

    publish_event(type="deal.status_changed", data={"deal": {"id": 1}}, partner_id=world.partner_a.pk)
    publish_event(type="invoice.finalized", data={"invoice": {"id": 2}}, customer_id=world.customer_b1.pk)
    publish_event(type="usage.threshold_crossed", data={"rule": 3})  # nobody's partner: vendor endpoints only

    sent = {(d.endpoint_id, d.event_type) for d in WebhookDelivery.objects.all()}
    assert sent == {
        (hook_a.pk, "deal.status_changed"),
        (vendor.pk, "deal.status_changed"),
        (hook_b.pk, "invoice.finalized"),  # found from the customer: B1 is B's
        (vendor.pk, "invoice.finalized"),
        (WebhookEndpoint.objects.get(url__endswith="vendor-invoices").pk, "invoice.finalized"),
        (vendor.pk, "usage.threshold_crossed"),
    }
    # One event, one id, whichever endpoints receive it.
    assert WebhookDelivery.objects.filter(event_type="invoice.finalized").values("event_id").distinct().count() == 1


@pytest.mark.django_db
def test_a_payload_function_is_called_only_when_an_endpoint_listens(world):
    calls = []

    def payload():
        calls.append(1)
        return {"invoice": {"id": 5}}

    publish_event(type="invoice.finalized", data=payload, customer_id=world.customer_a1.pk)
    assert calls == [] and not WebhookDelivery.objects.exists()
    _endpoint(world.admin_b, "https://hooks.beta.example/", ["invoice.finalized"])  # B's: not A1's partner
    publish_event(type="invoice.finalized", data=payload, customer_id=world.customer_a1.pk)
    assert calls == [] and not WebhookDelivery.objects.exists()
    hook_a = _endpoint(world.admin_a, "https://hooks.alpha.example/", ["invoice.finalized"])
    publish_event(type="invoice.finalized", data=payload, customer_id=world.customer_a1.pk)
    assert calls == [1]
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.endpoint == hook_a and json.loads(delivery.body)["data"] == {"invoice": {"id": 5}}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_hand_off_publishes_nothing_and_a_bad_payload_never_breaks_the_caller(world, receiver):
    _endpoint(world.manager, receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_event(type="invoice.finalized", data={"invoice": {"id": 1}})
        raise RuntimeError
    assert not WebhookDelivery.objects.exists()

    with transaction.atomic():
        publish_event(type="invoice.finalized", data={"not json": object()})  # logged, swallowed
        # The caller's transaction is still usable (on PostgreSQL a failed statement would poison it).
        assert WebhookEndpoint.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


# --- retries -------------------------------------------------------------------------------------


def test_backoff_doubles_from_a_minute_up_to_an_hour():
    assert [backoff(n) for n in range(1, 9)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]


@pytest.mark.django_db
def test_a_500_is_retried_with_backoff_and_the_sweep_delivers_once_the_receiver_recovers(world, receiver):
    endpoint = _endpoint(world.admin_a, receiver.url)
    receiver.status, receiver.answer = 500, b"database down"
    publish_event(type="invoice.finalized", data={"invoice": {"id": 9}}, partner_id=world.partner_a.pk)

    assert webhook_deliveries_retry() == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    assert delivery.response_excerpt == "database down" and "HTTP 500" in delivery.last_error
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(minutes=1)
    # Not due yet: the sweep leaves it.
    assert webhook_deliveries_retry() == 0 and len(receiver.requests) == 1

    _due_now(delivery)
    assert webhook_deliveries_retry_task() == 1  # the beat task
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(minutes=2)

    receiver.status, receiver.answer = 204, b""
    _due_now(delivery)
    assert webhook_deliveries_retry() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 204)
    assert delivery.next_attempt_at is None and delivery.last_error == ""
    # Every try: the same body and event id, freshly signed with the endpoint's secret.
    assert len(receiver.requests) == 3
    assert {request.body for request in receiver.requests} == {delivery.body.encode()}
    assert all(request.signed_by(endpoint.secret) for request in receiver.requests)


@pytest.mark.django_db
def test_after_the_last_try_a_delivery_is_failed_and_can_be_resent(world, login, receiver):
    endpoint = _endpoint(world.admin_a, receiver.url)
    receiver.status = 503
    publish_event(type="invoice.finalized", data={}, partner_id=world.partner_a.pk)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=webhooks.MAX_ATTEMPTS - 1)
    webhook_deliveries_retry()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", webhooks.MAX_ATTEMPTS, None)

    receiver.status = 200
    client = login(world.admin_a)
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/"
    answer = client.post(url)
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["response_code"]) == ("succeeded", 200)
    assert receiver.requests[-1].body == delivery.body.encode()
    # The portal's button does the same.
    receiver.status = 500
    page = login(world.admin_a).post(reverse("webhook_delivery_resend", args=[delivery.pk]), follow=True)
    assert "Re-send failed" in page.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.response_code == 500  # a manual try of a settled one: no retries


@pytest.mark.django_db
def test_a_receiver_that_does_not_answer_in_time_is_recorded_as_a_timeout(world, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.5)  # instead of 5 s, for the test's sake
    _endpoint(world.admin_a, receiver.url)
    receiver.hold = True
    publish_event(type="invoice.finalized", data={}, partner_id=world.partner_a.pk)
    webhook_deliveries_retry()
    receiver.release.set()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.response_code is None
    assert delivery.last_error == "No answer within 0.5 seconds."


@pytest.mark.django_db
def test_private_hosts_are_refused_unless_allowed(world, receiver, settings):
    settings.PRM_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    _endpoint(world.admin_a, receiver.url)
    publish_event(type="invoice.finalized", data={}, partner_id=world.partner_a.pk)
    webhook_deliveries_retry()
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests == []
    assert delivery.last_error == "Not sent: 127.0.0.1 resolves to 127.0.0.1, a private or local address."


# --- never slowing the caller ------------------------------------------------------------------------


def _finalizable_invoice(world):
    """A closed October 2026 with a draft invoice of B1 (a flat 10.00 USD)."""
    plan = Plan.objects.create(code="flat10", name="Flat 10", currency="USD")
    version = PlanVersion.objects.create(plan=plan, version=1, charges=[{"model": "flat", "amount": "10"}])
    subscription = Subscription.objects.create(
        customer=world.customer_b1, plan_version=version, external_id="sub_b1_oct",
        started_at=datetime(2026, 10, 1, tzinfo=UTC), ended_at=datetime(2026, 11, 1, tzinfo=UTC),
    )  # fmt: skip
    ClosedBillingPeriod.objects.get_or_create(period="2026-10")
    return invoice_refresh_draft(subscription=subscription, period=BillingPeriod(2026, 10))


def _wait_for(predicate, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_hung_receiver_never_holds_up_invoice_finalize(world, receiver, shared_database):
    """The receiver answers only when the test says so, after invoice_finalize has returned: were the
    delivery inside the call, the call would not return until the receiver gave up waiting (30 s),
    and `answered` would be 1 when it did."""
    endpoint = _endpoint(world.admin_b, receiver.url, ["invoice.finalized"])
    invoice = _finalizable_invoice(world)
    receiver.hold = True

    finalized = invoice_finalize(invoice=invoice)

    assert finalized.status == "finalized"
    assert receiver.answered == 0  # the caller is back; the receiver has not answered
    receiver.release.set()
    assert _wait_for(lambda: WebhookDelivery.objects.filter(status="succeeded").exists())
    connection.close()  # read afresh, after the background thread's commit
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint_id == endpoint.pk and delivery.attempts == 1
    (request,) = receiver.requests
    assert request.signed_by(endpoint.secret)
    data = request.json["data"]
    assert data["invoice"] == {
        "id": finalized.pk, "number": finalized.number, "period": "2026-10", "currency": "USD",
        "subtotal": "10.00", "total": "10.00", "finalized_at": finalized.finalized_at.isoformat(),
        "url": f"http://127.0.0.1:8000/invoices/{finalized.pk}/",
    }  # fmt: skip
    assert data["customer"] == {"id": world.customer_b1.pk, "external_id": "cus_b1"}
    assert data["subscription"]["external_id"] == "sub_b1_oct"


@pytest.mark.django_db
def test_statement_approval_and_deal_decisions_are_published(world):
    vendor = _endpoint(world.manager, "https://hooks.vendor.example/prm")
    statement = Statement.objects.create(
        partner=world.partner_b, period="2026-10", currency="USD", entries_total="3.5", total="3.5"
    )
    statement_approve(actor=world.manager, statement=statement)
    plan = Plan.objects.create(code="deal-plan", name="Deal plan", currency="USD")
    deal = DealRegistration.objects.create(
        partner=world.partner_a, registered_by=world.rep_a, company="Acme", company_key="acme",
        domain="acme.example", plan=plan, expected_close="2027-01-31",
    )  # fmt: skip
    deal_approve(actor=world.manager, deal=deal, reason="Looks good")

    approved = json.loads(WebhookDelivery.objects.get(event_type="commission.statement_approved").body)["data"]
    assert approved["statement"]["total"] == "3.50" and approved["statement"]["status"] == "approved"
    assert approved["partner"] == {"id": world.partner_b.pk}
    decided = json.loads(WebhookDelivery.objects.get(event_type="deal.status_changed").body)["data"]
    assert decided["deal"]["status"] == "approved" and decided["deal"]["reason"] == "Looks good"
    assert decided["deal"]["url"] == f"http://127.0.0.1:8000/deals/{deal.pk}/"
    assert decided["partner"] == {"id": world.partner_a.pk}
    assert set(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == {vendor.pk}


# --- ping, rotation -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ping_sends_a_signed_ping_now_and_rotation_retires_the_old_secret(world, login, receiver):
    client = login(world.admin_a)
    created = client.post(
        "/api/v1/webhooks/", {"url": receiver.url, "event_types": ["*"]}, content_type="application/json"
    ).json()
    old_secret = created["secret"]

    answer = client.post(f"/api/v1/webhooks/{created['id']}/ping")  # ARCHITECTURE.md's exact path
    assert answer.status_code == 200, answer.content
    assert (answer.json()["event_type"], answer.json()["status"], answer.json()["response_code"]) == (
        "ping", "succeeded", 200,
    )  # fmt: skip
    (ping,) = receiver.requests
    assert ping.json["type"] == "ping" and ping.json["data"]["endpoint"] == created["id"]
    assert ping.signed_by(old_secret)

    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert client.post(f"/api/v1/webhooks/{created['id']}/ping/").json()["response_code"] == 200  # router's path
    latest = receiver.requests[-1]
    assert latest.signed_by(new_secret)
    assert not latest.signed_by(old_secret)  # the old secret stopped signing at once
    assert not verify_signature(old_secret, latest.headers["PRM-Signature"], latest.body)

    # A receiver that fails: the ping says so (one try, no retries).
    receiver.status = 500
    failed = client.post(f"/api/v1/webhooks/{created['id']}/ping").json()
    assert (failed["status"], failed["response_code"], failed["next_attempt_at"]) == ("failed", 500, None)


@pytest.mark.django_db
def test_an_inactive_endpoint_gets_nothing(world, login, receiver):
    endpoint = _endpoint(world.admin_a, receiver.url)
    publish_event(type="invoice.finalized", data={}, partner_id=world.partner_a.pk)  # pending
    client = login(world.admin_a)
    assert (
        client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"is_active": False}, content_type="application/json").json()[
            "is_active"
        ]
        is False
    )
    webhook_deliveries_retry()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "deactivated" in delivery.last_error and receiver.requests == []
    answer = client.post(f"/api/v1/webhooks/{endpoint.pk}/ping")
    assert answer.status_code == 400 and "is_active" in answer.json()
    publish_event(type="invoice.finalized", data={}, partner_id=world.partner_a.pk)
    assert WebhookDelivery.objects.count() == 1


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bad_urls_and_event_types_answer_400_naming_the_field(world, login):
    client = login(world.manager)
    for url in ("ftp://files.example.com/in", "file:///etc/passwd", "javascript:alert(1)", "not a url"):
        answer = client.post("/api/v1/webhooks/", {"url": url, "event_types": ["*"]}, content_type="application/json")
        assert answer.status_code == 400, url
        assert set(answer.json()) == {"url"}, (url, answer.json())
    ftp = client.post(
        "/api/v1/webhooks/", {"url": "ftp://x.example/", "event_types": ["*"]}, content_type="application/json"
    )
    assert "http:// or https://" in ftp.json()["url"][0]

    unknown = client.post(
        "/api/v1/webhooks/", {"url": "https://x.example/", "event_types": ["invoice.paid"]},
        content_type="application/json",
    )  # fmt: skip
    assert unknown.status_code == 400 and "invoice.paid" in unknown.json()["event_types"][0]
    empty = client.post(
        "/api/v1/webhooks/", {"url": "https://x.example/", "event_types": []}, content_type="application/json"
    )
    assert empty.status_code == 400 and "event_types" in empty.json()
    assert not WebhookEndpoint.objects.exists()

    endpoint = _endpoint(world.manager, "https://x.example/")
    patch = client.patch(
        f"/api/v1/webhooks/{endpoint.pk}/", {"url": "gopher://x.example/"}, content_type="application/json"
    )
    assert patch.status_code == 400 and "url" in patch.json()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://x.example/"


# --- who may see and manage -------------------------------------------------------------------------


@pytest.mark.django_db
def test_partners_see_only_their_own_endpoints(world, login, receiver):
    hook_a = _endpoint(world.admin_a, receiver.url, description="A's hook")
    vendor = _endpoint(world.manager, receiver.url, description="Vendor hook")
    publish_event(type="invoice.finalized", data={}, partner_id=world.partner_a.pk)
    delivery_a = WebhookDelivery.objects.get(endpoint=hook_a)

    client = login(world.admin_b)
    assert client.get("/api/v1/webhooks/").json()["results"] == []
    for path in (
        f"/api/v1/webhooks/{hook_a.pk}/", f"/api/v1/webhooks/{hook_a.pk}/deliveries/", f"/api/v1/webhooks/{vendor.pk}/",
    ):  # fmt: skip
        assert client.get(path).status_code == 404, path
    for path in (
        f"/api/v1/webhooks/{hook_a.pk}/ping", f"/api/v1/webhooks/{hook_a.pk}/rotate-secret/",
        f"/api/v1/webhooks/{hook_a.pk}/deliveries/{delivery_a.pk}/resend/",
    ):  # fmt: skip
        assert client.post(path).status_code == 404, path
    assert client.get(reverse("webhook_detail", args=[hook_a.pk])).status_code == 404
    assert receiver.requests == []
    # B's admin cannot create an endpoint for A either: the partner they name does not exist for them.
    answer = client.post(
        "/api/v1/webhooks/", {"url": "https://b.example/", "event_types": ["*"], "partner": world.partner_a.pk},
        content_type="application/json",
    )  # fmt: skip
    assert answer.status_code == 400 and "partner" in answer.json()

    # Reps and customers manage none, and see none.
    for user in (world.rep_a, world.customer_user_a1):
        client = login(user)
        assert client.get("/api/v1/webhooks/").json()["results"] == []
        denied = client.post("/api/v1/webhooks/", {"url": "https://x.example/", "event_types": ["*"]},
                             content_type="application/json")  # fmt: skip
        assert denied.status_code == 403
        assert client.get(reverse("webhook_list")).status_code == 403

    # Positive controls: A's admin sees A's (not the vendor's); the manager sees both.
    assert [row["id"] for row in login(world.admin_a).get("/api/v1/webhooks/").json()["results"]] == [hook_a.pk]
    assert {row["id"] for row in login(world.manager).get("/api/v1/webhooks/").json()["results"]} == {
        hook_a.pk, vendor.pk,
    }  # fmt: skip


# --- the portal ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_portal_registers_an_endpoint_and_shows_its_secret_once(world, login, receiver):
    client = login(world.admin_a)
    assert 'href="/notifications/webhooks/"' in client.get(reverse("notification_inbox")).content.decode()
    form = client.get(reverse("webhook_create")).content.decode()
    assert 'name="partner"' not in form and 'value="invoice.finalized"' in form

    answer = client.post(
        reverse("webhook_create"),
        {"url": receiver.url, "event_types": ["invoice.finalized", "deal.status_changed"], "description": "CRM"},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert answer.status_code == 302 and answer.url == reverse("webhook_detail", args=[endpoint.pk])
    assert (endpoint.partner, endpoint.created_by) == (world.partner_a, world.admin_a)
    assert endpoint.event_types == ["deal.status_changed", "invoice.finalized"]
    first = client.get(answer.url).content.decode()
    assert endpoint.secret in first and "shown only this once" in first
    assert endpoint.secret not in client.get(answer.url).content.decode()  # never again

    ping = client.post(reverse("webhook_ping", args=[endpoint.pk]), follow=True).content.decode()
    assert "Ping delivered: the receiver answered HTTP 200." in ping
    assert receiver.requests[-1].signed_by(endpoint.secret)
    assert "ping" in ping and "Succeeded" in ping  # the delivery log

    old = endpoint.secret
    rotated = client.post(reverse("webhook_rotate_secret", args=[endpoint.pk]), follow=True).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in rotated and old not in rotated

    bad = client.post(reverse("webhook_edit", args=[endpoint.pk]), {"url": "ftp://x.example/", "event_types": ["*"]})
    assert bad.status_code == 200 and "http:// or https://" in bad.content.decode()

    client.post(reverse("webhook_deactivate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.is_active is False

    listing = login(world.manager).get(reverse("webhook_list")).content.decode()
    assert receiver.url in listing and "Alpha Partners" in listing
    assert "Vendor (all partners)" not in listing  # no vendor endpoint yet
    manager_form = login(world.manager).get(reverse("webhook_create")).content.decode()
    assert 'name="partner"' in manager_form and "a vendor endpoint" in manager_form
