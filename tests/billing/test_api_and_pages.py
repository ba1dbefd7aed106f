"""The invoice API and pages: what each role sees, immutability, void and credit notes over HTTP."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prm.billing.models import CreditNote, Invoice
from prm.billing.services import invoice_refresh_draft
from prm.operations.period_close import period_close
from tests import factories
from tests.billing.conftest import OCTOBER, at

CHARGES = [
    {"model": "graduated", "metric": "api_calls", "tiers": [
        {"up_to": 1000, "unit_amount": "0.01"}, {"up_to": None, "unit_amount": "0.005", "flat_amount": "1"},
    ]},
    {"model": "flat", "amount": "20"},
]  # fmt: skip


@pytest.fixture
def invoices(world, make_plan, subscribe, send):
    """October closed: a finalized invoice for A1 (assigned to rep A), A2 and B1."""
    plan = make_plan("api", CHARGES)
    for customer in (world.customer_a1, world.customer_a2, world.customer_b1):
        subscribe(plan, customer=customer)
    send(("cus_a1", "api_calls", at(2), {"calls": 3000}), ("cus_b1", "api_calls", at(2), {"calls": 10}))
    period_close(period=OCTOBER)
    return {i.customer.external_id: i for i in Invoice.objects.select_related("customer")}


def _login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.mark.django_db
def test_invoice_api_detail_explains_every_line(world, client, invoices):
    invoice = invoices["cus_a1"]
    body = _login(client, world.customer_user_a1).get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert {k: body[k] for k in ("number", "status", "period", "currency", "customer", "subtotal", "total")} == {
        "number": invoice.number, "status": "finalized", "period": "2026-10", "currency": "USD",
        "customer": "cus_a1", "subtotal": "41.00", "total": "41.00",
    }  # fmt: skip
    assert body["credited"] == "0.00"
    usage_line, flat_line = body["lines"]
    # 1000 × 0.01 + (2000 × 0.005 + 1) = 21.00
    assert (usage_line["metric"], usage_line["model"], usage_line["quantity"], usage_line["amount"]) == (
        "api_calls", "graduated", "3000", "21.00",
    )  # fmt: skip
    assert [tier["amount"] for tier in usage_line["tiers"]] == ["10", "11"]
    assert (flat_line["metric"], flat_line["amount"], flat_line["description"]) == (
        None, "20.00", "Flat fee of 20 per period",
    )  # fmt: skip


@pytest.mark.django_db
def test_invoices_cannot_be_written_through_the_api(world, client, invoices):
    invoice = invoices["cus_a1"]
    _login(client, world.manager)
    detail = f"/api/v1/invoices/{invoice.pk}/"
    for method in ("patch", "put"):
        response = getattr(client, method)(detail, {"total": "0"}, content_type="application/json")
        assert response.status_code == 405 and "immutable" in response.json()["detail"], method
    assert client.post("/api/v1/invoices/", {}, content_type="application/json").status_code == 405
    invoice.refresh_from_db()
    assert str(invoice.total) == "41.000"


@pytest.mark.django_db
def test_api_void_is_for_managers(world, client, invoices):
    invoice = invoices["cus_a1"]
    url = f"/api/v1/invoices/{invoice.pk}/void/"
    assert _login(client, world.admin_a).post(url, {"reason": "x"}, content_type="application/json").status_code == 403
    assert _login(client, world.admin_b).post(url, {"reason": "x"}, content_type="application/json").status_code == 404
    _login(client, world.manager)
    assert client.post(url, {}, content_type="application/json").json() == {"reason": ["This field is required."]}
    response = client.post(url, {"reason": "duplicate"}, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "void" and response.json()["number"] == invoice.number


@pytest.mark.django_db
def test_api_credit_notes(world, client, invoices):
    invoice = invoices["cus_a1"]
    body = {"invoice": invoice.pk, "amount": "15.5", "reason": "outage"}
    for user in (world.admin_a, world.customer_user_a1):
        response = _login(client, user).post("/api/v1/credit-notes/", body, content_type="application/json")
        assert response.status_code == 403
    _login(client, world.manager)
    created = client.post("/api/v1/credit-notes/", body, content_type="application/json")
    assert created.status_code == 201, created.json()
    assert created.json()["amount"] == "15.50" and created.json()["number"].startswith("CN-")
    over = client.post("/api/v1/credit-notes/", {**body, "amount": "30"}, content_type="application/json")
    assert over.status_code == 400 and "25.50" in over.json()["amount"][0]
    missing = client.post("/api/v1/credit-notes/", {**body, "invoice": 999999}, content_type="application/json")
    assert missing.status_code == 400 and "does not exist" in missing.json()["invoice"][0]
    assert Invoice.objects.get(pk=invoice.pk).credited == 15.5
    # Partner A sees its customer's credit note; partner B does not.
    assert _login(client, world.admin_a).get("/api/v1/credit-notes/").json()["count"] == 1
    assert _login(client, world.admin_b).get("/api/v1/credit-notes/").json()["count"] == 0


@pytest.mark.django_db
def test_each_role_sees_only_its_invoices(world, client, invoices):
    expected = {
        world.manager: {"cus_a1", "cus_a2", "cus_b1"},
        world.admin_a: {"cus_a1", "cus_a2"},
        world.rep_a: {"cus_a1"},
        world.customer_user_a1: {"cus_a1"},
        world.customer_viewer_a1: {"cus_a1"},
        world.admin_b: {"cus_b1"},
        world.customer_user_b1: {"cus_b1"},
    }
    for user, customers in expected.items():
        _login(client, user)
        listed = {row["customer"] for row in client.get("/api/v1/invoices/").json()["results"]}
        assert listed == customers, user.email
        page = client.get(reverse("invoice_list")).content.decode()
        export = b"".join(client.get(reverse("invoice_list"), {"export": "csv"}).streaming_content).decode()
        for external_id, invoice in invoices.items():
            visible = external_id in customers
            assert (invoice.number in page) is visible, (user.email, external_id)
            assert (invoice.number in export) is visible, (user.email, external_id, "csv")
            status = client.get(reverse("invoice_detail", args=[invoice.pk])).status_code
            assert status == (200 if visible else 404), (user.email, external_id)
            api = client.get(f"/api/v1/invoices/{invoice.pk}/").status_code
            assert api == (200 if visible else 404), (user.email, external_id)


@pytest.mark.django_db
def test_invoice_list_filters(world, client, invoices):
    _login(client, world.manager)
    page = client.get(reverse("invoice_list"), {"customer": world.customer_b1.pk, "status": "finalized"})
    body = page.content.decode()
    assert invoices["cus_b1"].number in body and invoices["cus_a1"].number not in body
    assert client.get("/api/v1/invoices/", {"period": "2026-09"}).json()["count"] == 0
    assert client.get("/api/v1/invoices/", {"customer_external_id": "cus_a2"}).json()["count"] == 1


@pytest.mark.django_db
def test_invoice_page_explains_lines_and_links_to_the_usage(world, client, invoices):
    invoice = invoices["cus_a1"]
    body = _login(client, world.customer_user_a1).get(reverse("invoice_detail", args=[invoice.pk])).content.decode()
    assert f"Invoice {invoice.number}" in body
    assert "data-print" in body
    assert "tier 2 (up to ∞): 2000 × 0.005 + 1 flat = 11" in body
    assert "21.00" in body and "41.00" in body
    assert "Void this invoice" not in body and "Issue a credit note" not in body  # managers only
    link = next(part for part in body.split('"') if part.startswith("/usage/events/?"))
    query = parse_qs(urlparse(link.replace("&amp;", "&")).query)
    assert query == {
        "customer": ["cus_a1"], "metric": ["api_calls"],
        "timestamp_after": ["2026-10-01T00:00:00+00:00"], "timestamp_before": ["2026-11-01T00:00:00+00:00"],
    }  # fmt: skip
    # The link lists exactly the event behind the line.
    assert "3000" in client.get(link.replace("&amp;", "&")).content.decode()


@pytest.mark.django_db
def test_managers_void_and_credit_from_the_page(world, client, invoices):
    invoice = invoices["cus_a1"]
    _login(client, world.manager)
    body = client.get(reverse("invoice_detail", args=[invoice.pk])).content.decode()
    assert "Issue a credit note" in body and "Void this invoice" in body
    credit = reverse("invoice_credit", args=[invoice.pk])
    response = client.post(credit, {"credit-amount": "1.00", "credit-reason": "goodwill"}, follow=True)
    assert "Credit note CN-" in response.content.decode()
    response = client.post(credit, {"credit-amount": "500", "credit-reason": "too much"}, follow=True)
    assert "Amount: amount 500.00 USD is more than remains creditable" in response.content.decode()
    assert CreditNote.objects.count() == 1
    # A partner may look but not act: 403 on its own customer's invoice.
    _login(client, world.admin_a)
    assert client.post(credit, {"credit-amount": "1", "credit-reason": "x"}).status_code == 403
    assert client.post(reverse("invoice_void", args=[invoice.pk]), {"void-reason": "x"}).status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).status == "finalized"
    _login(client, world.manager)
    client.post(reverse("invoice_void", args=[invoices["cus_a2"].pk]), {"void-reason": "duplicate"})
    assert Invoice.objects.get(pk=invoices["cus_a2"].pk).status == "void"


@pytest.mark.django_db
def test_the_open_periods_draft_is_the_live_estimate(world, client, make_plan, subscribe, send):
    subscription = subscribe(make_plan("api", CHARGES))
    send(("cus_a1", "api_calls", at(2), {"calls": 500}))
    draft = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    body = _login(client, world.customer_user_a1).get(reverse("invoice_detail", args=[draft.pk])).content.decode()
    assert "Draft invoice — estimate" in body and "live estimate for 2026-10" in body and "25.00" in body
    listing = client.get("/api/v1/invoices/").json()["results"]
    assert [(row["status"], row["number"], row["total"]) for row in listing] == [("draft", None, "25.00")]


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.django_db
def test_invoice_pages_and_api_run_a_flat_number_of_queries(world, client, make_plan, subscribe, send):
    plan = make_plan("api", CHARGES)
    subscribe(plan, customer=world.customer_a1)
    period_close(period=OCTOBER)
    invoice = Invoice.objects.get()
    urls = [reverse("invoice_list"), reverse("invoice_list") + "?export=csv", "/api/v1/invoices/",
            reverse("invoice_detail", args=[invoice.pk]), f"/api/v1/invoices/{invoice.pk}/"]  # fmt: skip
    _login(client, world.manager)
    client.get(urls[0])  # warms the per-person cache of the navigation's unread count
    before = [_count_queries(client, url) for url in urls]
    for index in range(5):
        customer = factories.CustomerFactory(reseller=world.partner_a)
        subscribe(plan, customer=customer, external_id=f"sub_more_{index}")
    period_close(period=OCTOBER)  # again: finalizes the new subscriptions' invoices
    assert Invoice.objects.count() == 6
    assert [_count_queries(client, url) for url in urls] == before
