"""The commission-rules and commissions APIs and pages: who reads, who writes, bad input answered
400 naming the field (403 for the wrong role), and the ledger scoped like every tenant row."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from prm.billing.models import Invoice
from prm.billing.services import credit_note_create
from prm.incentives.accrual import commissions_sync
from prm.incentives.models import CommissionEntry, CommissionRule
from prm.operations.period_close import period_close
from tests.billing.conftest import OCTOBER, at

RULE = {"code": "share", "name": "Revenue share", "kind": "revenue_share", "rate": "20", "effective_from": "2026-01"}
API = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}]


def _login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _post(client, url, data):
    return client.post(url, data, content_type="application/json")


# --- commission rules -------------------------------------------------------------------------


@pytest.mark.django_db
def test_managers_create_rules_and_everyone_signed_in_reads_them(world, client, catalogue):
    _login(client, world.manager)
    response = _post(
        client, "/api/v1/commission-rules/",
        RULE | {"metric": "api_calls", "first_months": 12, "first_months_rate": "40", "cap_amount": "2000",
                "currency": "USD"},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("code", "version", "kind", "rate", "first_months_rate", "cap_amount", "metric")} == {
        "code": "share", "version": 1, "kind": "revenue_share", "rate": "20", "first_months_rate": "40",
        "cap_amount": "2000.00", "metric": "api_calls",
    }  # fmt: skip
    assert body["effective_to"] == "" and body["created_by"] == "manager@test.example"

    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        listing = _login(client, user).get("/api/v1/commission-rules/").json()
        assert [row["code"] for row in listing["results"]] == ["share"], user.email
        assert client.get(f"/api/v1/commission-rules/{body['id']}/").status_code == 200
    client.logout()
    assert client.get("/api/v1/commission-rules/").status_code == 401


@pytest.mark.django_db
def test_partners_cannot_create_or_revise_rules(world, client):
    rule = _post(_login(client, world.manager), "/api/v1/commission-rules/", RULE).json()
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        _login(client, user)
        assert _post(client, "/api/v1/commission-rules/", RULE | {"code": "mine"}).status_code == 403
        revise = _post(client, f"/api/v1/commission-rules/{rule['id']}/revise/", {"effective_from": "2027-01"})
        assert revise.status_code == 403, user.email
    assert list(CommissionRule.objects.values_list("code", "version")) == [("share", 1)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rate": "120"}, "rate"),
        ({"cap_amount": "-1", "currency": "USD"}, "cap_amount"),
        ({"effective_from": "2026-13"}, "effective_from"),
        ({"effective_from": "October"}, "effective_from"),
        ({"effective_to": "2025-01"}, "effective_to"),
        ({"kind": "new_customer_bonus", "rate": None}, "bonus_amount"),
        ({"tier": "diamond"}, "tier"),
        ({"first_months": "many", "first_months_rate": "40"}, "first_months"),
    ],
)
def test_bad_rules_answer_400_naming_the_field(world, client, fields, field):
    response = _post(_login(client, world.manager), "/api/v1/commission-rules/", RULE | fields)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not CommissionRule.objects.exists()


@pytest.mark.django_db
def test_overlapping_versions_answer_400(world, client):
    _login(client, world.manager)
    assert _post(client, "/api/v1/commission-rules/", RULE).status_code == 201
    response = _post(client, "/api/v1/commission-rules/", RULE | {"effective_from": "2026-06", "rate": "30"})
    assert response.status_code == 400
    assert "Overlaps version 1" in response.json()["effective_from"][0]
    assert CommissionRule.objects.count() == 1


@pytest.mark.django_db
def test_rules_are_revised_never_edited(world, client):
    _login(client, world.manager)
    rule = _post(client, "/api/v1/commission-rules/", RULE).json()
    url = f"/api/v1/commission-rules/{rule['id']}/"
    for method in (client.patch, client.put):
        response = method(url, {"rate": "30"}, content_type="application/json")
        assert response.status_code == 405
        assert "/revise/" in response.json()["detail"]

    response = _post(client, url + "revise/", {"effective_from": "2027-01", "rate": "25", "name": "Share 2027"})
    assert response.status_code == 201, response.json()
    revised = response.json()
    assert (revised["version"], revised["rate"], revised["name"], revised["effective_from"]) == (
        2, "25", "Share 2027", "2027-01",
    )  # fmt: skip
    assert client.get(url).json()["effective_to"] == "2026-12"
    # The old version cannot be revised again; a bad period is named.
    assert "version" in _post(client, url + "revise/", {"effective_from": "2027-06"}).json()
    bad = _post(client, f"/api/v1/commission-rules/{revised['id']}/revise/", {"effective_from": "2027-1"})
    assert bad.status_code == 400 and "effective_from" in bad.json()
    missing = _post(client, f"/api/v1/commission-rules/{revised['id']}/revise/", {"rate": "30"})
    assert missing.status_code == 400 and "effective_from" in missing.json()
    assert CommissionRule.objects.count() == 2


@pytest.mark.django_db
def test_rule_pages(world, client):
    _login(client, world.manager)
    response = client.post(
        reverse("commission_rule_create"),
        {"code": "share", "kind": "revenue_share", "name": "Revenue share", "effective_from": "2026-01",
         "rate": "120", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "between 0 and 100; 120 is not" in response.content.decode()
    assert not CommissionRule.objects.exists()
    response = client.post(
        reverse("commission_rule_create"),
        {"code": "share", "kind": "revenue_share", "name": "Revenue share", "effective_from": "2026-01",
         "rate": "20", "is_active": "on"},
    )  # fmt: skip
    rule = CommissionRule.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("commission_rule_detail", args=[rule.pk])

    revise = reverse("commission_rule_revise", args=[rule.pk])
    assert client.get(revise).status_code == 200
    response = client.post(
        revise, {"name": "Revenue share", "effective_from": "2027-01", "rate": "25", "is_active": "on"}
    )
    assert response.status_code == 302
    assert list(CommissionRule.objects.order_by("version").values_list("version", "rate", "effective_to")) == [
        (1, Decimal(20), "2026-12"), (2, Decimal(25), ""),
    ]  # fmt: skip

    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        _login(client, user)
        body = client.get(reverse("commission_rule_list")).content.decode()
        assert "Revenue share" in body and reverse("commission_rule_create") not in body
        assert client.get(reverse("commission_rule_detail", args=[rule.pk])).status_code == 200
        assert client.get(reverse("commission_rule_create")).status_code == 403
        assert client.get(revise).status_code == 403
        assert client.post(revise, {"name": "x", "effective_from": "2028-01"}).status_code == 403
    assert CommissionRule.objects.count() == 2


# --- the ledger -------------------------------------------------------------------------------


@pytest.fixture
def ledger(world, make_plan, subscribe, send, rule):
    """October closed with a 20 % revenue share: A1 1,234.50 → 246.90, A2 100.00 → 20.00, B1 500.00 → 100.00."""
    share = rule("revenue_share", rate="20")
    plan = make_plan("api", API)
    for customer, calls in ((world.customer_a1, 2469), (world.customer_a2, 200), (world.customer_b1, 1000)):
        subscribe(plan, customer=customer)
        send((customer.external_id, "api_calls", at(2), {"calls": calls}))
    period_close(period=OCTOBER)
    entries = {entry.customer.external_id: entry for entry in CommissionEntry.objects.select_related("customer")}
    assert {key: entry.amount for key, entry in entries.items()} == {
        "cus_a1": Decimal("246.90"), "cus_a2": Decimal("20.00"), "cus_b1": Decimal("100.00"),
    }  # fmt: skip
    return {"rule": share, **entries}


def _ids(client, **query) -> set[int]:
    return {row["id"] for row in client.get("/api/v1/commissions/", query).json()["results"]}


@pytest.mark.django_db
def test_the_ledger_is_scoped(world, client, ledger):
    a1, a2, b1 = ledger["cus_a1"], ledger["cus_a2"], ledger["cus_b1"]
    assert _ids(_login(client, world.manager)) == {a1.pk, a2.pk, b1.pk}
    assert _ids(_login(client, world.admin_a)) == {a1.pk, a2.pk}
    assert client.get(f"/api/v1/commissions/{b1.pk}/").status_code == 404
    assert _ids(_login(client, world.rep_a)) == {a1.pk}  # only the customer assigned to them
    assert client.get(f"/api/v1/commissions/{a2.pk}/").status_code == 404
    assert _ids(_login(client, world.admin_b)) == {b1.pk}
    assert client.get(f"/api/v1/commissions/{a1.pk}/").status_code == 404
    for user in (world.customer_user_a1, world.customer_viewer_a1):
        assert _ids(_login(client, user)) == set()  # customers never see what their partner earns
    assert _post(client, "/api/v1/commissions/", {}).status_code == 405


@pytest.mark.django_db
def test_an_entry_names_what_earned_it(world, client, ledger):
    entry = ledger["cus_a1"]
    body = _login(client, world.admin_a).get(f"/api/v1/commissions/{entry.pk}/").json()
    invoice = Invoice.objects.get(customer=world.customer_a1)
    assert {k: body[k] for k in ("period", "currency", "base_amount", "rate", "amount", "rule_code")} == {
        "period": "2026-10", "currency": "USD", "base_amount": "1234.50", "rate": "20", "amount": "246.90",
        "rule_code": "revenue-share",
    }  # fmt: skip
    assert (body["partner"], body["customer"], body["rule"], body["invoice"], body["invoice_line"]) == (
        world.partner_a.pk, world.customer_a1.pk, ledger["rule"].pk, invoice.pk, invoice.lines.get().pk,
    )  # fmt: skip
    assert (body["credit_note"], body["invoice_number"], body["invoice_url"]) == (
        None, invoice.number, reverse("invoice_detail", args=[invoice.pk]),
    )  # fmt: skip
    assert body["statement"] == entry.statement_id
    assert body["explanation"] == "20 % of 1,234.50 USD (Api · api_calls, Oct 2026)"


@pytest.mark.django_db
def test_ledger_filters(world, client, ledger):
    a1, a2, b1 = ledger["cus_a1"], ledger["cus_a2"], ledger["cus_b1"]
    note = credit_note_create(
        actor=world.manager, invoice=Invoice.objects.get(customer=world.customer_a1), amount="617.25", reason="x"
    )
    _login(client, world.manager)
    assert commissions_sync().clawbacks == 1  # half of 246.90: −123.45
    clawback = CommissionEntry.objects.get(credit_note=note)
    assert clawback.amount == Decimal("-123.45")
    assert _ids(client, period="2026-10") == {a1.pk, a2.pk, b1.pk}
    assert _ids(client, period=clawback.period) == {clawback.pk}
    assert _ids(client, partner=world.partner_b.pk) == {b1.pk}
    assert _ids(client, customer=world.customer_a1.pk) == {a1.pk, clawback.pk}
    assert _ids(client, rule=ledger["rule"].pk, currency="USD") == {a1.pk, a2.pk, b1.pk, clawback.pk}
    assert _ids(client, rule_code="nothing") == set()
    assert _ids(client, currency="EUR") == set()
    if a1.statement_id:
        assert a1.pk in _ids(client, statement=a1.statement_id)
    body = client.get(f"/api/v1/commissions/{clawback.pk}/").json()
    assert (body["credit_note"], body["amount"], body["rate"]) == (note.pk, "-123.45", None)
    # A partner filtering on another partner's id is told it is not a choice, and gets nothing.
    response = _login(client, world.admin_a).get("/api/v1/commissions/", {"partner": world.partner_b.pk})
    assert response.status_code == 400 and "partner" in response.json()


@pytest.mark.django_db
def test_ledger_page_and_csv(world, client, ledger):
    invoice = Invoice.objects.get(customer=world.customer_a1)
    _login(client, world.admin_a)
    body = client.get(reverse("commission_list")).content.decode()
    assert "A1 Corp" in body and "A2 Corp" in body and "B1 Corp" not in body
    assert reverse("invoice_detail", args=[invoice.pk]) in body  # the drill-down to the line and its usage
    assert "20 % of 1,234.50 USD" in body
    export = client.get(reverse("commission_list"), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:4] == ["Period", "Partner", "Customer", "Rule"]
    assert sorted(row[rows[0].index("Amount")] for row in rows[1:]) == ["20.00", "246.90"]
    _login(client, world.rep_a)
    body = client.get(reverse("commission_list")).content.decode()
    assert "A1 Corp" in body and "A2 Corp" not in body
    _login(client, world.customer_user_a1)
    assert "246.90" not in client.get(reverse("commission_list")).content.decode()
