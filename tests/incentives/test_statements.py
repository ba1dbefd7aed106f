"""Statements: generation (exact sums, per currency, idempotent), carry-forward of negative balances,
late entries, approval, payouts, scope, the portal pages and CSV exports, and the demo history."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from prm.incentives.models import CommissionEntry, Payout, Statement
from prm.incentives.statements import payout_record, statement_approve, statements_generate
from prm.operations.demo_statements import seed_statement_payments
from tests.incentives.statement_support import AUGUST, OCTOBER, SEPTEMBER, closed, entry, finalized_october

NOVEMBER = "2026-11"  # the open period (the tests' clock is in November 2026 or later)


def _login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _statement(partner, period, currency="USD") -> Statement:
    return Statement.objects.get(partner=partner, period=period, currency=currency)


def _frozen(statement: Statement) -> tuple:
    statement.refresh_from_db()
    return (statement.status, statement.carried_in, statement.entries_total, statement.total, statement.approved_at)


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- generation ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_generation_sums_rounded_entries_exactly_per_partner_and_currency(world):
    a, b = world.partner_a, world.partner_b
    # 12.5 % of 80.04 = 10.005 → 10.01 (half up), twice; 12.5 % of 2.65 = 0.33125 → 0.33.
    # The statement is the sum of the rounded entries: 10.01 + 10.01 + 0.33 = 20.35
    # (summing before rounding would give 20.34125 → 20.34).
    usd = [
        entry(a, world.customer_a1, OCTOBER, base="80.04"),
        entry(a, world.customer_a2, OCTOBER, base="80.04"),
        entry(a, world.customer_a1, OCTOBER, base="2.65"),
    ]
    eur = entry(a, world.customer_a2, OCTOBER, base="60.00", currency="EUR")  # 7.50 EUR, its own statement
    entry(b, world.customer_b1, OCTOBER, base="24.00")  # 3.00
    november = entry(a, world.customer_a1, NOVEMBER, base="8.00")  # the open period: not stated
    closed(OCTOBER)

    summary = statements_generate(OCTOBER)

    a_usd, a_eur, b_usd = _statement(a, OCTOBER), _statement(a, OCTOBER, "EUR"), _statement(b, OCTOBER)
    assert (a_usd.status, a_usd.carried_in, a_usd.entries_total, a_usd.total) == (
        "draft", Decimal("0"), Decimal("20.35"), Decimal("20.35"),
    )  # fmt: skip
    assert set(a_usd.entries.all()) == set(usd)
    assert (a_eur.total, list(a_eur.entries.all())) == (Decimal("7.50"), [eur])
    assert b_usd.total == Decimal("3.00")
    november.refresh_from_db()
    assert november.statement is None
    assert summary.as_dict() == {
        "period": OCTOBER, "created": 3, "refreshed": 0, "entries": 5, "late_entries": 0, "carried": 0,
        "waiting": 0, "statements": 3, "totals": {"EUR": "7.50", "USD": "23.35"},
    }  # fmt: skip

    # Idempotent: a second run finds nothing to do and changes nothing.
    before = sorted(Statement.objects.values_list("pk", "status", "carried_in", "entries_total", "total"))
    again = statements_generate(OCTOBER)
    assert (again.created, again.refreshed, again.entries, again.waiting) == (0, 0, 0, 0)
    assert sorted(Statement.objects.values_list("pk", "status", "carried_in", "entries_total", "total")) == before

    # A clawback that accrues while the statement is a draft refreshes it: 12.5 % of -8.00 = -1.00.
    clawback = entry(a, world.customer_a1, OCTOBER, base="-8.00")
    refreshed = statements_generate(OCTOBER)
    assert (refreshed.created, refreshed.refreshed, refreshed.entries) == (0, 1, 1)
    clawback.refresh_from_db()
    assert clawback.statement == a_usd
    a_usd.refresh_from_db()
    assert (a_usd.entries_total, a_usd.total) == (Decimal("19.35"), Decimal("19.35"))


@pytest.mark.django_db
def test_generation_is_for_closed_periods_and_managers(world):
    entry(world.partner_a, world.customer_a1, OCTOBER, base="8.00")
    with pytest.raises(ValidationError) as error:
        statements_generate(OCTOBER)
    assert "period" in error.value.message_dict
    closed(OCTOBER)
    with pytest.raises(PermissionDenied):
        statements_generate(OCTOBER, actor=world.admin_a)
    with pytest.raises(ValidationError) as error:
        statements_generate("October", actor=world.manager)
    assert "period" in error.value.message_dict
    assert not Statement.objects.exists()
    assert statements_generate(OCTOBER, actor=world.manager).created == 1


# --- carry-forward ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_negative_statement_is_carried_into_the_next_period(world):
    a, b = world.partner_a, world.partner_b
    # September: A earns 12.5 % of 40 = 5.00 and loses 12.5 % of 240 = 30.00 to a credit note: -25.00.
    entry(a, world.customer_a1, SEPTEMBER, base="40.00")
    entry(a, world.customer_a1, SEPTEMBER, base="-240.00")
    # B only loses: 12.5 % of -80 = -10.00, and earns nothing in October.
    entry(b, world.customer_b1, SEPTEMBER, base="-80.00")
    closed(SEPTEMBER, OCTOBER)
    statements_generate(SEPTEMBER)
    a_september, b_september = _statement(a, SEPTEMBER), _statement(b, SEPTEMBER)
    assert a_september.total == Decimal("-25.00")

    for statement in (a_september, b_september):
        carried = statement_approve(actor=world.manager, statement=statement)
        assert carried.status == "carried"  # not "approved": there is nothing to pay
        assert carried.approved_by == world.manager

    entry(a, world.customer_a1, OCTOBER, base="320.00")  # 40.00
    summary = statements_generate(OCTOBER)
    assert (summary.created, summary.carried) == (2, 2)

    a_october = _statement(a, OCTOBER)
    # -25.00 carried in + 40.00 earned = 15.00.
    assert (a_october.carried_from, a_october.carried_in, a_october.entries_total, a_october.total) == (
        a_september, Decimal("-25.00"), Decimal("40.00"), Decimal("15.00"),
    )  # fmt: skip
    # B earned nothing in October: its statement exists to keep the -10.00 it still owes.
    b_october = _statement(b, OCTOBER)
    assert (b_october.carried_from, b_october.carried_in, b_october.entries_total, b_october.total) == (
        b_september, Decimal("-10.00"), Decimal("0"), Decimal("-10.00"),
    )  # fmt: skip
    assert list(b_october.entries.all()) == []
    assert _frozen(a_september)[:4] == ("carried", Decimal("0"), Decimal("-25.00"), Decimal("-25.00"))
    # Idempotent: the balance is carried once.
    assert statements_generate(OCTOBER).carried == 0
    assert Statement.objects.filter(carried_from=a_september).count() == 1


@pytest.mark.django_db
def test_approving_a_negative_statement_carries_it_into_an_existing_draft(world, client):
    a = world.partner_a
    entry(a, world.customer_a1, SEPTEMBER, base="-200.00")  # -25.00
    entry(a, world.customer_a1, OCTOBER, base="320.00")  # 40.00
    closed(SEPTEMBER, OCTOBER)
    statements_generate(SEPTEMBER)
    statements_generate(OCTOBER)
    october = _statement(a, OCTOBER)
    assert (october.carried_in, october.total) == (Decimal("0"), Decimal("40.00"))

    september = _statement(a, SEPTEMBER)
    response = _login(client, world.manager).post(f"/api/v1/statements/{september.pk}/approve/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["total"], body["carried_to"]) == ("carried", "-25.00", october.pk)
    assert "nothing to pay" in body["message"] and "2026-10" in body["message"]
    october.refresh_from_db()
    # 40.00 earned - 25.00 carried in = 15.00.
    assert (october.carried_from, october.carried_in, october.total) == (september, Decimal("-25.00"), Decimal("15.00"))


# --- late entries ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_late_entries_for_an_approved_period_go_on_the_next_draft(world):
    a = world.partner_a
    entry(a, world.customer_a1, SEPTEMBER, base="400.00")  # 50.00
    closed(AUGUST, SEPTEMBER, OCTOBER)
    statements_generate(SEPTEMBER)
    september = statement_approve(actor=world.manager, statement=_statement(a, SEPTEMBER))
    before = _frozen(september)

    # A credit note on a September invoice after September was approved: 12.5 % of -40 = -5.00.
    late_clawback = entry(a, world.customer_a1, SEPTEMBER, base="-40.00")
    # And an August entry, a month that has no statement at all: 12.5 % of 16 = 2.00.
    late_august = entry(a, world.customer_a2, AUGUST, base="16.00")
    rerun = statements_generate(SEPTEMBER)
    # The approved September statement takes nothing; the clawback waits, August's entry has nowhere to go.
    assert (rerun.entries, rerun.waiting) == (0, 2)
    assert _frozen(september) == before
    assert list(september.entries.values_list("amount", flat=True)) == [Decimal("50.00")]

    entry(a, world.customer_a1, OCTOBER, base="160.00")  # 20.00
    summary = statements_generate(OCTOBER)
    assert (summary.entries, summary.late_entries, summary.waiting) == (3, 2, 0)
    october = _statement(a, OCTOBER)
    # 20.00 - 5.00 + 2.00 = 17.00; the late entries keep their own period.
    assert (october.entries_total, october.total) == (Decimal("17.00"), Decimal("17.00"))
    late_clawback.refresh_from_db()
    late_august.refresh_from_db()
    assert (late_clawback.statement, late_clawback.period) == (october, SEPTEMBER)
    assert (late_august.statement, late_august.period) == (october, AUGUST)
    assert _frozen(september) == before


@pytest.mark.django_db
def test_an_entry_of_a_period_whose_draft_exists_goes_on_that_draft(world):
    a = world.partner_a
    entry(a, world.customer_a1, SEPTEMBER, base="80.00")  # 10.00
    entry(a, world.customer_a1, OCTOBER, base="160.00")  # 20.00
    closed(SEPTEMBER, OCTOBER)
    statements_generate(SEPTEMBER)
    statements_generate(OCTOBER)
    entry(a, world.customer_a1, SEPTEMBER, base="8.00")  # 1.00, September still a draft
    summary = statements_generate(OCTOBER)
    assert (summary.refreshed, summary.late_entries) == (1, 0)
    assert _statement(a, SEPTEMBER).total == Decimal("11.00")
    assert _statement(a, OCTOBER).total == Decimal("20.00")


# --- approval ------------------------------------------------------------------------------------


@pytest.fixture
def october(world):
    """Partner A's October statement (20.35 USD: see the first test) and B's (3.00 USD), drafts."""
    for base in ("80.04", "80.04", "2.65"):
        entry(world.partner_a, world.customer_a1, OCTOBER, base=base)
    entry(world.partner_b, world.customer_b1, OCTOBER, base="24.00")
    closed(OCTOBER)
    statements_generate(OCTOBER)
    return {"a": _statement(world.partner_a, OCTOBER), "b": _statement(world.partner_b, OCTOBER)}


@pytest.mark.django_db
def test_only_managers_approve_and_only_drafts(world, client, october):
    statement = october["a"]
    url = f"/api/v1/statements/{statement.pk}/approve/"
    with pytest.raises(PermissionDenied):
        statement_approve(actor=world.admin_a, statement=statement)
    assert _login(client, world.admin_a).post(url).status_code == 403
    assert _login(client, world.admin_b).post(url).status_code == 404  # another partner's: not found
    assert _login(client, world.rep_a).post(url).status_code == 404  # reps do not see statements
    assert _frozen(statement) == ("draft", Decimal("0"), Decimal("20.35"), Decimal("20.35"), None)

    response = _login(client, world.manager).post(url)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["total"], body["approved_by"]) == ("approved", "20.35", "manager@test.example")
    assert body["message"] == "Statement 2026-10 approved: 20.35 USD to pay. Record the payout once it is made."
    approved = _frozen(statement)

    again = client.post(url)
    assert again.status_code == 400
    assert again.json() == {"status": ["Only a draft statement can be approved; this one is already approved."]}
    assert _frozen(statement) == approved


@pytest.mark.django_db
def test_a_zero_statement_is_approved_with_nothing_to_pay(world):
    entry(world.partner_a, world.customer_a1, OCTOBER, base="80.00")  # 10.00
    entry(world.partner_a, world.customer_a1, OCTOBER, base="-80.00")  # -10.00: a full credit note
    closed(OCTOBER)
    statements_generate(OCTOBER)
    statement = statement_approve(actor=world.manager, statement=_statement(world.partner_a, OCTOBER))
    assert (statement.status, statement.total) == ("approved", Decimal("0"))
    with pytest.raises(ValidationError) as error:
        payout_record(actor=world.manager, statement=statement, reference="TRX-0")
    assert error.value.message_dict == {"statement": ["Nothing to pay: the total is 0.00 USD."]}
    assert not Payout.objects.exists()


# --- payouts -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_payout_pays_an_approved_statement_once(world, client, october):
    statement = october["a"]
    payouts = "/api/v1/payouts/"
    _login(client, world.manager)
    # A draft is approved first.
    response = client.post(payouts, {"statement": statement.pk, "reference": "TRX-1"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "statement": ["Only an approved statement is paid; this one is a draft: approve it first."]
    }

    statement_approve(actor=world.manager, statement=statement)
    # Partner admins do not record payouts, even of their own statement.
    response = _login(client, world.admin_a).post(
        payouts, {"statement": statement.pk, "reference": "TRX-1"}, content_type="application/json"
    )
    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        payout_record(actor=world.admin_a, statement=statement, reference="TRX-1")
    _login(client, world.manager)
    bad = client.post(payouts, {"statement": statement.pk, "reference": "  "}, content_type="application/json")
    assert bad.status_code == 400 and "reference" in bad.json()
    future = (timezone.now() + timedelta(days=2)).isoformat()
    bad = client.post(
        payouts, {"statement": statement.pk, "reference": "TRX-1", "paid_at": future}, content_type="application/json"
    )
    assert bad.status_code == 400 and set(bad.json()) == {"paid_at"}
    assert not Payout.objects.exists()

    paid_at = "2026-11-20T10:00:00Z"
    response = client.post(
        payouts, {"statement": statement.pk, "reference": "TRX-1", "paid_at": paid_at}, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    # The amount is the statement's total, in its currency.
    assert {k: body[k] for k in ("statement", "partner", "period", "currency", "amount", "reference")} == {
        "statement": statement.pk, "partner": world.partner_a.pk, "period": OCTOBER, "currency": "USD",
        "amount": "20.35", "reference": "TRX-1",
    }  # fmt: skip
    assert body["paid_at"] == "2026-11-20T10:00:00Z"
    assert body["recorded_by"] == "manager@test.example"
    paid = _frozen(statement)
    assert paid[0] == "paid"
    detail = client.get(f"/api/v1/statements/{statement.pk}/").json()
    assert detail["payout"] == {
        "id": body["id"], "amount": "20.35", "currency": "USD", "reference": "TRX-1", "paid_at": paid_at,
    }  # fmt: skip

    # Paid: neither paid again nor approved again.
    again = client.post(payouts, {"statement": statement.pk, "reference": "TRX-2"}, content_type="application/json")
    assert again.status_code == 400
    assert again.json() == {
        "statement": ["Only an approved statement is paid; this one is already paid (TRX-1, 2026-11-20)."]
    }
    approve = client.post(f"/api/v1/statements/{statement.pk}/approve/")
    assert approve.status_code == 400
    assert approve.json() == {
        "status": ["Only a draft statement can be approved; this one is already paid (TRX-1, 2026-11-20)."]
    }
    assert Payout.objects.count() == 1
    assert _frozen(statement) == paid


@pytest.mark.django_db
def test_a_carried_statement_is_not_paid(world):
    entry(world.partner_a, world.customer_a1, OCTOBER, base="-8.00")  # -1.00
    closed(OCTOBER)
    statements_generate(OCTOBER)
    statement = statement_approve(actor=world.manager, statement=_statement(world.partner_a, OCTOBER))
    with pytest.raises(ValidationError) as error:
        payout_record(actor=world.manager, statement=statement, reference="TRX-1")
    assert "negative and carried" in error.value.message_dict["statement"][0]


@pytest.mark.django_db
def test_statements_are_not_edited_through_the_api(world, client, october):
    statement = october["a"]
    _login(client, world.manager)
    for method in ("patch", "put"):
        response = getattr(client, method)(
            f"/api/v1/statements/{statement.pk}/", {"total": "0"}, content_type="application/json"
        )
        assert response.status_code == 405 and "never edited" in response.json()["detail"], method
    assert client.post("/api/v1/statements/", {}, content_type="application/json").status_code == 405
    assert _frozen(statement)[3] == Decimal("20.35")


# --- scope ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_partners_read_only_their_own_statements_and_payouts(world, client, october):
    for key in ("a", "b"):
        statement_approve(actor=world.manager, statement=october[key])
        payout_record(actor=world.manager, statement=october[key], reference=f"TRX-{key}")
    a, b = october["a"], october["b"]

    def ids(user, route, **query):
        body = _login(client, user).get(f"/api/v1/{route}/", query).json()
        return sorted(row["id"] for row in body["results"])

    payout_a, payout_b = Payout.objects.get(statement=a).pk, Payout.objects.get(statement=b).pk
    assert ids(world.admin_b, "statements") == [b.pk]
    assert ids(world.admin_b, "payouts") == [payout_b]
    assert ids(world.admin_a, "statements") == [a.pk]
    assert ids(world.admin_a, "payouts") == [payout_a]
    assert _login(client, world.admin_b).get(f"/api/v1/statements/{a.pk}/").status_code == 404
    assert _login(client, world.admin_b).get(f"/api/v1/payouts/{payout_a}/").status_code == 404
    for user in (world.rep_a, world.customer_user_a1):
        assert ids(user, "statements") == [] and ids(user, "payouts") == []
    assert ids(world.manager, "statements") == sorted([a.pk, b.pk])
    assert ids(world.manager, "statements", partner=world.partner_b.pk) == [b.pk]
    assert ids(world.manager, "statements", period=SEPTEMBER) == []
    assert ids(world.manager, "statements", status="paid", currency="USD") == sorted([a.pk, b.pk])
    assert ids(world.manager, "payouts", partner=world.partner_a.pk) == [payout_a]
    # A partner's filter on another partner's id is not a choice it has: refused, nothing listed.
    foreign = _login(client, world.admin_a).get("/api/v1/statements/", {"partner": world.partner_b.pk})
    assert foreign.status_code == 400 and "partner" in foreign.json()

    listing = _login(client, world.admin_a).get("/api/v1/statements/").json()["results"][0]
    assert {k: listing[k] for k in ("partner", "period", "currency", "status", "carried_in", "entries_total")} == {
        "partner": world.partner_a.pk, "period": OCTOBER, "currency": "USD", "status": "paid",
        "carried_in": "0.00", "entries_total": "20.35",
    }  # fmt: skip
    assert listing["payout"]["reference"] == "TRX-a"

    # The portal too: the list, one statement, and its CSV.
    _login(client, world.admin_a)
    body = client.get(reverse("statement_list")).content.decode()
    assert "Alpha Partners" in body and "Beta Partners" not in body
    assert client.get(reverse("statement_detail", args=[b.pk])).status_code == 404
    assert client.get(reverse("statement_detail", args=[b.pk]), {"export": "csv"}).status_code == 404
    _login(client, world.rep_a)
    assert client.get(reverse("statement_detail", args=[a.pk])).status_code == 404
    assert client.get(reverse("statement_list")).context["table"].paginator.count == 0


# --- portal --------------------------------------------------------------------------------------


@pytest.fixture
def stated(world):
    """October closed for real (finalized invoices), the entries of A's lines, and A's statement."""
    invoices = finalized_october(world)
    a1 = invoices["cus_a1"]
    usage_line, flat_line = a1.lines.order_by("position")
    assert (usage_line.amount, flat_line.amount) == (Decimal("21.00"), Decimal("20.00"))
    a = world.partner_a
    # 12.5 % of 21.00 = 2.625 → 2.63; of 20.00 = 2.50; A2's flat 20.00 → 2.50.
    entry(a, world.customer_a1, OCTOBER, base="21.00", invoice=a1, invoice_line=usage_line)
    entry(a, world.customer_a1, OCTOBER, base="20.00", invoice=a1, invoice_line=flat_line)
    a2 = invoices["cus_a2"]
    entry(a, world.customer_a2, OCTOBER, base="20.00", invoice=a2, invoice_line=a2.lines.get(model="flat"))
    # A distributor's override on its reseller B's customer (10 % of 20.00 = 2.00): A may not open B1's invoice.
    b1 = invoices["cus_b1"]
    entry(a, world.customer_b1, OCTOBER, base="20.00", rate="10", invoice=b1, invoice_line=b1.lines.get(model="flat"))
    statements_generate(OCTOBER)
    return {"statement": _statement(a, OCTOBER), "a1": a1, "a2": a2, "b1": b1}


@pytest.mark.django_db
def test_statement_page_groups_entries_by_customer_and_links_each_to_its_invoice(world, client, stated):
    statement, a1, a2, b1 = stated["statement"], stated["a1"], stated["a2"], stated["b1"]
    # 2.63 + 2.50 + 2.50 + 2.00 = 9.63.
    assert statement.total == Decimal("9.63")
    _login(client, world.admin_a)
    response = client.get(statement.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    groups = [group["customer"].external_id for group in response.context["customers"]]
    assert groups == ["cus_a1", "cus_a2", "cus_b1"]  # by customer name: A1 Corp, A2 Corp, B1 Corp
    assert [group["subtotal"] for group in response.context["customers"]] == ["5.13", "2.50", "2.00"]
    assert f'href="{a1.get_absolute_url()}"' in body and f'href="{a2.get_absolute_url()}"' in body
    # The reseller's invoice is named, not linked: the distributor cannot open it.
    assert b1.number in body and f'href="{b1.get_absolute_url()}"' not in body
    assert "9.63 USD" in body
    # Partners see no approve or payout form; managers do.
    assert reverse("statement_approve", args=[statement.pk]) not in body
    # Printable: the print button, and the stylesheet whose print rules hide navigation and forms.
    assert "data-print" in body and "css/portal.css" in body
    with open(finders.find("css/portal.css")) as stylesheet:
        assert "@media print" in stylesheet.read()

    # The drill-down: from the entry to its invoice, and from the invoice line to the usage behind it.
    invoice_page = client.get(a1.get_absolute_url())
    assert invoice_page.status_code == 200
    assert "Usage behind it" in invoice_page.content.decode()

    manager_body = _login(client, world.manager).get(statement.get_absolute_url()).content.decode()
    assert reverse("statement_approve", args=[statement.pk]) in manager_body
    assert f'href="{b1.get_absolute_url()}"' in manager_body  # managers open every invoice
    assert reverse("statement_payout", args=[statement.pk]) not in manager_body  # a draft is approved first


@pytest.mark.django_db
def test_one_statement_exports_its_entries_as_csv(world, client, stated):
    statement, a1 = stated["statement"], stated["a1"]
    rows = _csv(_login(client, world.admin_a).get(statement.get_absolute_url(), {"export": "csv"}))
    header, *entries = rows
    assert header[:3] == ["Earned in", "Customer", "Customer id"] and header[-2:] == ["Amount", "Explanation"]
    column = {name: header.index(name) for name in ("Customer id", "Invoice", "Rate %", "Amount", "Base")}
    assert [(row[column["Customer id"]], row[column["Invoice"]], row[column["Amount"]]) for row in entries] == [
        ("cus_a1", a1.number, "2.63"), ("cus_a1", a1.number, "2.50"),
        ("cus_a2", stated["a2"].number, "2.50"), ("cus_b1", stated["b1"].number, "2.00"),
    ]  # fmt: skip
    assert [row[column["Rate %"]] for row in entries] == ["12.5", "12.5", "12.5", "10"]
    assert sum(Decimal(row[column["Amount"]]) for row in entries) == statement.entries_total


@pytest.mark.django_db
def test_statement_list_filters_and_exports_csv(world, client, october):
    statement_approve(actor=world.manager, statement=october["b"])
    _login(client, world.manager)
    body = client.get(reverse("statement_list")).content.decode()
    assert "Alpha Partners" in body and "Beta Partners" in body
    filtered = client.get(reverse("statement_list"), {"status": "approved"}).content.decode()
    assert "Beta Partners" in filtered and "Alpha Partners" not in filtered.split("<table")[1]
    header, *rows = _csv(client.get(reverse("statement_list"), {"export": "csv"}))
    assert header == [
        "Statement", "Partner", "Currency", "Status", "Carried in", "Earned", "Total", "Approved", "Payout",
    ]  # fmt: skip
    approved_at = _statement(world.partner_b, OCTOBER).approved_at.isoformat()
    assert sorted(rows) == [
        [OCTOBER, "Alpha Partners", "USD", "Draft", "0.00", "20.35", "20.35", "", ""],
        [OCTOBER, "Beta Partners", "USD", "Approved", "0.00", "3.00", "3.00", approved_at, ""],
    ]


@pytest.mark.django_db
def test_managers_approve_and_pay_from_the_statement_page(world, client, october):
    statement = october["a"]
    approve = reverse("statement_approve", args=[statement.pk])
    payout = reverse("statement_payout", args=[statement.pk])
    assert _login(client, world.admin_a).post(approve).status_code == 403
    assert _login(client, world.admin_b).post(approve).status_code == 404
    assert _frozen(statement)[0] == "draft"

    _login(client, world.manager)
    response = client.post(approve, follow=True)
    assert "20.35 USD to pay" in response.content.decode()
    assert _frozen(statement)[0] == "approved"
    # Approving again is refused with the reason, shown on the page.
    response = client.post(approve, follow=True)
    assert "this one is already approved" in response.content.decode()

    page = client.get(statement.get_absolute_url()).content.decode()
    assert payout in page
    response = client.post(payout, {"payout-reference": "", "payout-paid_at": ""}, follow=True)
    assert "This field is required" in response.content.decode()
    assert not Payout.objects.exists()
    response = client.post(payout, {"payout-reference": "TRX-9", "payout-paid_at": "2026-11-20 10:00"}, follow=True)
    assert "Payout of 20.35 USD recorded (TRX-9)" in response.content.decode()
    recorded = Payout.objects.get()
    assert (recorded.amount, recorded.paid_at) == (Decimal("20.35"), datetime(2026, 11, 20, 10, tzinfo=UTC))
    assert _frozen(statement)[0] == "paid"


# --- demo ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_approves_past_statements_and_pays_all_but_the_last_two_months(world):
    a, b = world.partner_a, world.partner_b
    months = ["2026-07", AUGUST, SEPTEMBER, OCTOBER]
    for month in months:
        entry(a, world.customer_a1, month, base="80.00")  # 10.00 a month
    entry(b, world.customer_b1, AUGUST, base="-80.00")  # B owes 10.00 in August
    entry(b, world.customer_b1, SEPTEMBER, base="160.00")  # and earns 20.00 in September
    closed(*months)
    for month in months:
        statements_generate(month)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)

    result = seed_statement_payments(actor=world.manager, now=now)

    status = dict(Statement.objects.filter(partner=a).values_list("period", "status"))
    # October (the last month) stays a draft, September is approved, July and August are paid.
    assert status == {"2026-07": "paid", AUGUST: "paid", SEPTEMBER: "approved", OCTOBER: "draft"}
    b_status = dict(Statement.objects.filter(partner=b).values_list("period", "status"))
    assert b_status == {AUGUST: "carried", SEPTEMBER: "approved"}
    # B's -10.00 was carried into its September draft before that was approved: 20.00 - 10.00 = 10.00.
    assert _statement(b, SEPTEMBER).total == Decimal("10.00")
    references = sorted(Payout.objects.values_list("reference", "amount"))
    assert references == [
        (f"DEMO-PAY-2026-07-{a.pk}-USD", Decimal("10.00")), (f"DEMO-PAY-2026-08-{a.pk}-USD", Decimal("10.00")),
    ]  # fmt: skip
    assert Payout.objects.get(reference=f"DEMO-PAY-2026-07-{a.pk}-USD").paid_at == datetime(2026, 8, 15, 10, tzinfo=UTC)
    assert (result.approved_now, result.carried_now, result.paid_now, result.approved, result.paid) == (5, 1, 2, 5, 2)

    again = seed_statement_payments(actor=world.manager, now=now)
    assert (again.approved_now, again.paid_now, again.approved, again.paid) == (0, 0, 5, 2)
    assert Payout.objects.count() == 2
    assert CommissionEntry.objects.filter(statement__isnull=True).count() == 0
