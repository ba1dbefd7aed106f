"""The partner dashboard: exact figures on a small book of business, each user's scope, drill-downs
that give the rows behind a figure, the growth table's CSV, and a query count that stays flat.

The book (periods relative to today, so the test holds every month): M2 and M1 are the two months
before this one, both closed by the real period close; P0 is the open month (live drafts).
Rules: a 10 % revenue share. Prices: api_calls 0.50 USD, storage 2.00 USD per GB (max), and a EUR
plan at 0.10 EUR per call.

    customer         M2 (closed)                  M1 (closed)                        P0 (draft)
    A1 (rep A, USD)  1000 calls + 10 GB = 520.00  1200 calls + 5 GB = 610.00,         100 calls = 50.00
                                                  credit note 10.00 → 600.00 net
    A2 (USD)         400 calls = 200.00           300 calls = 150.00                   20 calls = 10.00
    A3 (EUR)         —                            5000 calls = 500.00 EUR              —
    B1 (partner B)   2000 calls = 1000.00         100 calls = 50.00                    10 calls = 5.00
"""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceStatus
from prm.billing.services import credit_note_create, invoice_draft_ensure, invoice_finalize, invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.customers.services import subscription_create
from prm.dashboards import partner as dashboard
from prm.incentives.accrual import commissions_sync
from prm.incentives.models import CommissionEntry, Statement
from prm.incentives.rules import commission_rule_create
from prm.incentives.statements import payout_record, statement_approve
from prm.operations.period_close import period_close
from prm.partners.models import Tier
from prm.plans.services import plan_create
from tests import factories
from tests.dashboards.conftest import warm_unread_counts

P0 = BillingPeriod.containing(timezone.now())
M1 = P0.previous()
M2 = M1.previous()


def _label(period: BillingPeriod) -> str:
    return period.start.strftime("%b %Y")


def _day(period: BillingPeriod, day: int) -> str:
    return (period.start + timedelta(days=day - 1, hours=10)).isoformat()


def _so_far(period: BillingPeriod) -> str:
    """A moment of the open period that has already passed."""
    now = timezone.now()
    return (period.start + (now - period.start) / 2).isoformat()


@pytest.fixture
def book(world, catalogue, make_plan, subscribe, send):
    manager = world.manager
    commission_rule_create(
        actor=manager, code="share", kind="revenue_share", name="Revenue share", rate="10",
        effective_from=str(M2.previous()),
    )  # fmt: skip
    # A tier above the partners' entry tier, so the dashboard says what it still needs.
    Tier.objects.create(code="gold", name="Gold", rank=2, min_trailing_revenue=5000, min_active_customers=5)
    usd = make_plan(
        "usage",
        [
            {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"},
            {"model": "per_unit", "metric": "storage", "unit_amount": "2"},
        ],
    )
    eur = plan_create(
        actor=manager, code="usage-eu", name="Usage EU", currency="EUR",
        charges=[{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.1"}],
    )  # fmt: skip
    a3 = factories.CustomerFactory(reseller=world.partner_a, name="A3 GmbH", external_id="cus_a3", currency="EUR")
    subscriptions = {
        "a1": subscribe(usd, customer=world.customer_a1, started_at=M2.start),
        "a2": subscribe(usd, customer=world.customer_a2, started_at=M2.start),
        "b1": subscribe(usd, customer=world.customer_b1, started_at=M2.start),
        "a3": subscribe(eur, customer=a3, started_at=M1.start),
    }
    send(
        ("cus_a1", "api_calls", _day(M2, 5), {"calls": 1000}),
        ("cus_a1", "storage", _day(M2, 5), {"gb": 10}),
        ("cus_a2", "api_calls", _day(M2, 6), {"calls": 400}),
        ("cus_b1", "api_calls", _day(M2, 7), {"calls": 2000}),
        ("cus_a1", "api_calls", _day(M1, 5), {"calls": 1200}),
        ("cus_a1", "storage", _day(M1, 5), {"gb": 5}),
        ("cus_a2", "api_calls", _day(M1, 6), {"calls": 300}),
        ("cus_a3", "api_calls", _day(M1, 6), {"calls": 5000}),
        ("cus_b1", "api_calls", _day(M1, 7), {"calls": 100}),
        ("cus_a1", "api_calls", _so_far(P0), {"calls": 100}),
        ("cus_a2", "api_calls", _so_far(P0), {"calls": 20}),
        ("cus_b1", "api_calls", _so_far(P0), {"calls": 10}),
    )
    period_close(period=M2)
    period_close(period=M1)
    for key in ("a1", "a2", "b1"):
        invoice_refresh_draft(subscription=subscriptions[key], period=P0)
    a1_m1 = Invoice.objects.get(customer=world.customer_a1, period=str(M1))
    credit_note_create(actor=manager, invoice=a1_m1, amount="10", reason="Goodwill")
    # M2's statement is approved and paid, M1's USD statement approved and waiting for its payout.
    m2 = Statement.objects.get(partner=world.partner_a, period=str(M2), currency="USD")
    payout_record(actor=manager, statement=statement_approve(actor=manager, statement=m2), reference="TRX-1")
    statement_approve(actor=manager, statement=Statement.objects.get(partner=world.partner_a, period=str(M1),
                                                                     currency="USD"))  # fmt: skip
    return {"a3": a3, "a1_m1": a1_m1, "subscriptions": subscriptions, "usd": usd}


def _home(client, user, query=""):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("home") + query)
    assert response.status_code == 200
    return response


def _kpis(response) -> dict[str, list[str]]:
    def text(value) -> str:
        return " ".join(part for part in (value.text, value.unit, value.delta) if part)

    return {kpi.label: [text(value) for value in kpi.values] for kpi in response.context["kpis"]}


def _kpi_notes(response) -> dict[str, str]:
    return {kpi.label: kpi.note for kpi in response.context["kpis"]}


def _traces(chart) -> dict[str, list[Decimal]]:
    """{trace name: the amounts of M2, M1 and P0} (the last three of the chart's months)."""
    return {trace["name"]: [Decimal(str(y)).quantize(Decimal("0.01")) for y in trace["y"][-3:]]
            for trace in chart.payload["data"]}  # fmt: skip


def _listed(client, url) -> list:
    """The rows of the list page behind a drill-down URL."""
    response = client.get(url)
    assert response.status_code == 200, url
    return list(response.context["object_list"])


def _csv(user, **query) -> list[list[str]]:
    request = RequestFactory().get("/", {"export": "csv", **query})
    request.user = user
    response = dashboard.export(request)
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
def test_partner_admin_sees_the_whole_partner_per_currency(world, book, client):
    response = _home(client, world.admin_a)
    assert _kpis(response) == {
        "Active customers": ["3"],
        # Drafts of P0: A1 50.00 + A2 10.00; A3 has none (shown at zero, EUR is billed too).
        f"Consumption {_label(P0)} so far": ["60.00 USD", "0.00 EUR"],
        # M1 net: A1 610.00 − 10.00 credit note + A2 150.00 = 750.00; M2: 520.00 + 200.00 = 720.00;
        # growth 30 / 720 = 4.166… % → +4.2 %. EUR: nothing in M2 to grow from.
        f"Revenue {_label(M1)}": ["750.00 USD +4.2 %", "500.00 EUR new"],
        "Revenue, 12 months": ["1,470.00 USD", "500.00 EUR"],  # 720.00 + 750.00; never added to the EUR
        # 10 % of each M1 line: A1 60.00 + 1.00, A2 15.00 = 76.00; A3 50.00 EUR.
        f"Commissions {_label(M1)}": ["76.00 USD", "50.00 EUR"],
        # M2: A1 50.00 + 2.00, A2 20.00 = 72.00; + 76.00 = 148.00. (The credit note's clawback is
        # earned in P0, the month it was made in, outside the twelve closed months.)
        "Commissions, 12 months": ["148.00 USD", "50.00 EUR"],
        f"Forecast {_label(P0)}": ["6.00 USD"],  # 10 % of the drafts 50.00 and 10.00
        "Paid out, 12 months": ["72.00 USD"],  # M2's statement; M1's is approved, not paid yet
    }
    notes = _kpi_notes(response)
    assert notes["Active customers"] == "of 3 customers"
    assert notes[f"Consumption {_label(P0)} so far"] == "live estimate from 2 draft invoices"
    assert notes["Paid out, 12 months"] == "76.00 USD approved, to be paid"
    urls = {kpi.label: kpi.url for kpi in response.context["kpis"]}
    assert urls[f"Revenue {_label(M1)}"] == f"/invoices/?period={M1}&status=finalized"
    assert urls[f"Consumption {_label(P0)} so far"] == f"/invoices/?period={P0}&status=draft"
    assert urls[f"Commissions {_label(M1)}"] == f"/incentives/commissions/?period={M1}"
    first = M1
    for _month in range(11):
        first = first.previous()
    twelve = f"period_from={first}&period_to={M1}"
    assert urls["Paid out, 12 months"] == f"/incentives/statements/?status=paid&{twelve}"
    assert urls["Revenue, 12 months"] == f"/invoices/?status=finalized&{twelve}"
    assert urls["Commissions, 12 months"] == f"/incentives/commissions/?{twelve}"
    # The twelve months' links list exactly the rows the figures add up: M2 and M1 of partner A, in both
    # currencies (the KPI shows each), nothing of the open month or of partner B.
    listed = _listed(client, urls["Revenue, 12 months"])
    assert sorted((invoice.customer.name, invoice.period) for invoice in listed) == sorted([
        ("A1 Corp", str(M1)), ("A1 Corp", str(M2)), ("A2 Corp", str(M1)), ("A2 Corp", str(M2)), ("A3 GmbH", str(M1)),
    ])  # fmt: skip
    earned = _listed(client, urls["Commissions, 12 months"])
    assert {entry.period for entry in earned} == {str(M2), str(M1)}
    assert {entry.partner_id for entry in earned} == {world.partner_a.pk}


@pytest.mark.django_db
def test_consumption_by_customer_and_by_metric_add_up_to_the_same_months(world, book, client):
    usd, eur = _home(client, world.admin_a).context["consumption_charts"]
    assert usd.title == "Customers' consumption by customer (USD)"
    labels = usd.payload["data"][0]["x"]
    assert len(labels) == 13  # twelve closed months, then this one
    assert labels[-3:] == [_label(M2), _label(M1), f"{_label(P0)} (so far)"]
    # Largest customer first; M1 net of the credit note.
    assert _traces(usd) == {"A1 Corp": [Decimal("520.00"), Decimal("600.00"), Decimal("50.00")],
                            "A2 Corp": [Decimal("200.00"), Decimal("150.00"), Decimal("10.00")]}  # fmt: skip
    assert _traces(eur) == {"A3 GmbH": [Decimal("0.00"), Decimal("500.00"), Decimal("0.00")]}

    usd, eur = _home(client, world.admin_a, "?by=metric").context["consumption_charts"]
    # api_calls: M2 500.00 + 200.00, M1 600.00 + 150.00, P0 50.00 + 10.00; storage 20.00, 10.00;
    # the credit note −10.00 in M1: each month adds up to the by-customer stack (M1: 750.00).
    assert _traces(usd) == {
        "Api Calls": [Decimal("700.00"), Decimal("750.00"), Decimal("60.00")],
        "Storage": [Decimal("20.00"), Decimal("10.00"), Decimal("0.00")],
        "Credit notes": [Decimal("0.00"), Decimal("-10.00"), Decimal("0.00")],
    }
    assert usd.payload["layout"]["barmode"] == "relative"
    assert _traces(eur) == {"Api Calls": [Decimal("0.00"), Decimal("500.00"), Decimal("0.00")]}
    # An unknown stacking falls back to customers.
    assert _home(client, world.admin_a, "?by=nonsense").context["stack_by"] == "customer"


@pytest.mark.django_db
def test_a_rep_sees_only_the_customers_assigned_to_them(world, book, client):
    response = _home(client, world.rep_a)
    assert _kpis(response) == {
        "Active customers": ["1"],
        f"Consumption {_label(P0)} so far": ["50.00 USD"],
        f"Revenue {_label(M1)}": ["600.00 USD +15.4 %"],  # A1 alone: 80 / 520 = 15.38 %
        "Revenue, 12 months": ["1,120.00 USD"],
        f"Commissions {_label(M1)}": ["61.00 USD"],
        "Commissions, 12 months": ["113.00 USD"],  # 52.00 + 61.00
        f"Forecast {_label(P0)}": ["5.00 USD"],
    }  # no payouts: statements are the partner admins'
    html = response.content.decode()
    for name in ("A2 Corp", "A3 GmbH", "B1 Corp", "Paid out", "What Gold still needs"):
        assert name not in html
    assert "A1 Corp" in html
    assert [row[0] for row in _csv(world.rep_a)] == ["Customer", "A1 Corp"]
    assert "Rep" not in _csv(world.rep_a)[0]  # every row would name the rep themselves


@pytest.mark.django_db
def test_partner_b_never_sees_partner_a(world, book, client):
    response = _home(client, world.admin_b)
    kpis = _kpis(response)
    assert kpis[f"Revenue {_label(M1)}"] == ["50.00 USD -95.0 %"]  # B1: 1,000.00 → 50.00
    assert kpis["Revenue, 12 months"] == ["1,050.00 USD"]
    assert kpis[f"Consumption {_label(P0)} so far"] == ["5.00 USD"]
    assert kpis["Paid out, 12 months"] == ["0.00 USD"]
    html = response.content.decode()
    for name in ("A1 Corp", "A2 Corp", "A3 GmbH", "Alpha Partners", "EUR"):
        assert name not in html
    assert [row[0] for row in _csv(world.admin_b)] == ["Customer", "B1 Corp"]


@pytest.mark.django_db
def test_growth_table_sorts_paginates_and_exports_csv(world, book, client):
    response = _home(client, world.admin_a)
    context = response.context
    assert [row["name"] for row in context["growing"]] == ["A3 GmbH", "A1 Corp"]
    assert [(row["name"], row["change"], row["percent"]) for row in context["declining"]] == [
        ("A2 Corp", "-50.00 USD", "-25.0 %")
    ]
    assert [row.record["name"] for row in context["growth_table"].paginated_rows] == ["A3 GmbH", "A1 Corp", "A2 Corp"]

    header = ["Customer", "Rep", _label(M2), _label(M1), "Change", "Growth", "12 months", "Currency"]
    assert _csv(world.admin_a) == [
        header,
        ["A3 GmbH", "", "0.00", "500.00", "500.00", "", "500.00", "EUR"],  # new: nothing in M2
        ["A1 Corp", "Rep A", "520.00", "600.00", "80.00", "15.4", "1120.00", "USD"],
        ["A2 Corp", "", "200.00", "150.00", "-50.00", "-25.0", "350.00", "USD"],
    ]
    # The CSV follows the order the page shows: by growth, "new" above every percentage.
    assert [row[0] for row in _csv(world.admin_a, **{"growth-sort": "growth"})] == [
        "Customer", "A2 Corp", "A1 Corp", "A3 GmbH"
    ]  # fmt: skip
    assert [row[0] for row in _csv(world.admin_a, **{"growth-sort": "-growth"})][1] == "A3 GmbH"
    sorted_page = _home(client, world.admin_a, "?growth-sort=change")
    assert [row.record["name"] for row in sorted_page.context["growth_table"].paginated_rows][0] == "A2 Corp"
    assert "growth-sort=change" in sorted_page.context["growth_export_url"]
    # Without ?export=csv the export hook leaves the page to the dashboard.
    request = RequestFactory().get("/")
    request.user = world.admin_a
    assert dashboard.export(request) is None


@pytest.mark.django_db
def test_drill_downs_give_the_rows_behind_each_figure(world, book, client):
    response = _home(client, world.admin_a)
    usd = response.context["consumption_charts"][0]
    a1 = next(trace for trace in usd.payload["data"] if trace["name"] == "A1 Corp")
    # A1's M1 segment: its finalized invoice of M1, nothing else.
    assert _listed(client, a1["customdata"][-2]) == [book["a1_m1"]]
    # A1's segment this month: its live draft.
    (draft,) = _listed(client, a1["customdata"][-1])
    assert (draft.customer, draft.period, draft.status) == (world.customer_a1, str(P0), InvoiceStatus.DRAFT)
    # The accessible table under the chart links the same URLs.
    assert ("A1 Corp", f"{_label(M1)}", "600.00 USD", a1["customdata"][-2]) in usd.rows

    # The growth table's cells: A2's previous month is its M2 invoice.
    table = response.context["growth_table"]
    a2 = next(row.record for row in table.paginated_rows if row.record["name"] == "A2 Corp")
    (m2_invoice,) = _listed(client, a2["previous_url"])
    assert (m2_invoice.customer, m2_invoice.period, m2_invoice.total) == (world.customer_a2, str(M2), Decimal("200"))

    # The commissions bar of M1 (USD): the ledger's three entries of that month, 76.00 together.
    (commissions,) = [chart for chart in response.context["commission_charts"] if "USD" in chart.title]
    url = commissions.payload["data"][0]["customdata"][-1]
    assert url == f"/incentives/commissions/?period={M1}&currency=USD"
    entries = _listed(client, url)
    assert len(entries) == 3 and sum(entry.amount for entry in entries) == Decimal("76.00")

    # The KPI of this month: the partner's two drafts.
    drafts = _listed(client, f"/invoices/?period={P0}&status=draft")
    assert sorted(invoice.customer.name for invoice in drafts) == ["A1 Corp", "A2 Corp"]

    # A rep following an admin's link to another customer's invoices finds nothing.
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    assert _listed(client, a2["previous_url"]) == []


@pytest.mark.django_db
def test_lifecycle_track_and_what_the_next_tier_needs(world, book, client):
    response = _home(client, world.admin_a)
    steps = response.context["lifecycle"]
    # The period close found a finalized invoice: incentivize (stages before it were never recorded).
    assert [(step.stage, step.state) for step in steps] == [
        ("recruit", "done"), ("onboard", "done"), ("enable", "done"), ("market", "done"), ("sell", "done"),
        ("incentivize", "current"), ("accelerate", "ahead"),
    ]  # fmt: skip
    current = steps[5]
    assert current.reached_at is not None and timezone.now() - current.reached_at < timedelta(minutes=10)
    # The evaluation of M1 (made at its close, before the credit note): 720.00 + 760.00 = 1,480 USD of
    # 5,000 (29 %), 3 active customers of 5 (60 %). The EUR revenue has no reference rate: left out.
    assert response.context["tier"]["checks"] == [
        {"text": "5,000 USD trailing revenue: 1,480 so far", "met": False, "percent": 29},
        {"text": "5 active customers: 3", "met": False, "percent": 60},
    ]
    html = response.content.decode()
    assert "What Gold still needs" in html
    assert 'aria-current="step"' in html
    # A rep sees the track and the tier's benefits, not the partner's evaluation.
    rep = _home(client, world.rep_a)
    assert rep.context["tier"]["checks"] == []
    assert "Your partner's admins see how the partner stands" in rep.content.decode()


@pytest.mark.django_db
def test_queries_are_pinned_and_flat_as_customers_grow(world, book, client):
    urls = [reverse("home"), reverse("home") + "?by=metric", reverse("home") + "?growth-sort=name"]
    warm_unread_counts()
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    before = [_queries(client, url) for url in urls]
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    rep_before = _queries(client, urls[0])

    # Twenty more customers of A (ten assigned to rep A), each with a finalized M1 invoice, its
    # commission, and a live draft this month.
    flat = plan_create(
        actor=world.manager, code="flat", name="Flat", currency="USD", charges=[{"model": "flat", "amount": "30"}]
    )
    for index in range(20):
        customer = factories.CustomerFactory(
            reseller=world.partner_a, name=f"More {index}", assigned_rep=world.rep_a if index % 2 else None
        )
        subscription = subscription_create(
            actor=world.manager, plan=flat, customer=customer, external_id=f"sub_more_{index}", started_at=M1.start
        )
        invoice_finalize(invoice=invoice_draft_ensure(subscription=subscription, period=M1))
        invoice_refresh_draft(subscription=subscription, period=P0)
    commissions_sync(M1)
    assert CommissionEntry.objects.filter(partner=world.partner_a, period=str(M1)).count() == 4 + 20
    warm_unread_counts()

    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    after = [_queries(client, url) for url in urls]
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    assert _queries(client, urls[0]) == rep_before
    assert after == before
    # Session, user, membership; the last close, the partner with its customers counted, the invoices
    # (totals, the chart's largest customers, the growth table's first page and movers), the ledger
    # grouped, statements grouped, the forecast's totals (the drafts' state and the newest audit entry;
    # on the first view after a change also the forecast itself: rules, drafts, their lines, customers'
    # firsts, bonuses earned), the stage history, the tier evaluation, the tiers, the navigation's
    # partner; the open savings recommendations ("Customers who could pay less"); by metric: the invoice
    # lines grouped too; sorted by another column: the growth table's page. A rep: no statements.
    assert before == [21, 16, 16]
    assert rep_before == 18  # no statements, no tier evaluation to read (nor tiers); its own forecast (a miss)

    # With 22 USD customers: the 8 largest (ties by name), the other 14 together (30.00 each in M1), whose
    # segment drills down to the month's invoices; the growth table pages by ten.
    response = _home(client, world.admin_a, "?growth-page=3")
    usd = response.context["consumption_charts"][0]
    names = [trace["name"] for trace in usd.payload["data"]]
    assert len(names) == 9 and names[:2] == ["A1 Corp", "A2 Corp"] and names[-1] == "Others (14)"
    others = usd.payload["data"][-1]
    assert Decimal(str(others["y"][-2])) == Decimal("420") and others["customdata"][-2] == (
        f"/invoices/?period={M1}&status=finalized"
    )
    table = response.context["growth_table"]
    assert table.paginator.count == 23 and len(table.paginated_rows) == 3


@pytest.mark.django_db
def test_lists_filter_by_a_range_of_months_and_a_currency(world, book, client):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    in_eur = _listed(client, f"/invoices/?currency=EUR&period_from={M2}&period_to={P0}")
    assert [(invoice.customer.name, invoice.period) for invoice in in_eur] == [("A3 GmbH", str(M1))]
    only_m2 = _listed(client, f"/invoices/?period_from={M2}&period_to={M2}")
    assert sorted(invoice.customer.name for invoice in only_m2) == ["A1 Corp", "A2 Corp"]
    # A malformed bound is an error that names the field, in the API as on the page.
    response = client.get("/api/v1/invoices/?period_from=2026-13")
    assert response.status_code == 400
    assert response.json()["period_from"] == ["Enter a billing period as YYYY-MM, e.g. 2026-10."]
    response = client.get("/api/v1/commissions/?period_to=October")
    assert response.status_code == 400 and "period_to" in response.json()
