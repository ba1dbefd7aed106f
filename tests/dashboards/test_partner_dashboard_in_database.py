"""The partner dashboard picks its chart's customers, its movers and the growth table's pages in the
database (prm/dashboards/partner_selectors.py). These tests hold that work to a plain Python reading of
the same invoices — the definitions the dashboard documents — on a book larger than a chart names and a
table page shows:

- the chart names the eight customers with the most revenue over its months (the sum of each month's
  |figure|, ties by customer id as text) and adds the rest up as "Others (n)";
- the growth table lists every customer with revenue in either of the last two closed months, largest
  increase first (ties: name case-insensitively, then customer); every column sorts in the database
  with that order as its tie-break, the growth column by the percentage shown (to 0.1) with "new" above all;
  a page holds ten rows and the CSV every row, in the order asked;
- the movers are the first three that grew and the three that declined most.

Periods as in test_partner_dashboard.py: M2 and M1 closed by the real period close, P0 open (drafts).
"""

import csv
import io
from decimal import Decimal
from functools import cmp_to_key

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceStatus
from prm.billing.services import credit_note_create, invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.dashboards import partner as dashboard
from prm.operations.period_close import period_close
from prm.plans.services import plan_create
from tests import factories

P0 = BillingPeriod.containing(timezone.now())
M1 = P0.previous()
M2 = M1.previous()
ZERO = Decimal(0)
TENTH = Decimal("0.1")

# name, currency, rep?, api calls in M2, in M1, in P0 (USD 0.50 per call, EUR 0.10).
BOOK = [
    ("Acme", "USD", True, 1000, 1200, 10),
    ("acme labs", "USD", False, 400, 600, 0),  # the same change as Acme (+100.00): ties by name
    ("Bolt", "USD", False, 0, 300, 5),  # new: nothing in M2
    ("Cobalt", "USD", True, 800, 200, 0),
    ("Delta", "USD", False, 300, 300, 0),  # no change
    ("Ember", "USD", False, 50, 0, 0),  # gone: nothing in M1
    ("Fjord", "USD", False, 2000, 2100, 40),
    ("Gamma", "USD", True, 120, 140, 0),  # +16.7 % (16.67)
    ("Nova", "USD", False, 1000, 1167, 0),  # +16.7 % too (exactly): by the percentage shown, a tie
    ("Helix", "USD", False, 90, 60, 0),
    ("Iris", "USD", False, 0, 0, 30),  # only a draft: in the chart, not in the growth table
    ("Juno", "USD", False, 700, 1400, 0),
    ("Kite", "USD", False, 10, 20, 0),
    ("Lumen", "USD", False, 5000, 4000, 0),
    ("Zed", "EUR", False, 1000, 3000, 0),
    ("Ynez", "EUR", True, 0, 100, 0),
]


@pytest.fixture
def big_book(world, catalogue, make_plan, subscribe, send):
    usd = make_plan("usage", [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.5"}])
    eur = plan_create(
        actor=world.manager, code="usage-eu", name="Usage EU", currency="EUR",
        charges=[{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.1"}],
    )  # fmt: skip
    subscriptions = []
    events = []
    for index, (name, currency, has_rep, *calls) in enumerate(BOOK):
        customer = factories.CustomerFactory(
            reseller=world.partner_a, name=name, external_id=f"big_{index}", currency=currency,
            assigned_rep=world.rep_a if has_rep else None,
        )  # fmt: skip
        plan = usd if currency == "USD" else eur
        subscriptions.append(subscribe(plan, customer=customer, started_at=M2.start, external_id=f"sub_big_{index}"))
        for period, count in zip((M2, M1, P0), calls, strict=True):
            if count:
                moment = period.start + (min(timezone.now(), period.end) - period.start) / 2
                events.append((f"big_{index}", "api_calls", moment.isoformat(), {"calls": count}))
    send(*events)
    period_close(period=M2)
    period_close(period=M1)
    for subscription in subscriptions:
        invoice_refresh_draft(subscription=subscription, period=P0)
    # A credit note on Cobalt's M1 (100.00 → 40.00 net): revenue is net of credit notes.
    cobalt = Invoice.objects.get(customer__name="Cobalt", period=str(M1))
    credit_note_create(actor=world.manager, invoice=cobalt, amount="60", reason="Goodwill")
    return world


# --- the reference: the dashboard's definitions, read plainly in Python --------------------------


def _figures(world):
    """{(customer, currency): {"name", "rep", "final": {period: net}, "draft": {period: total}}}."""
    chart = _chart_periods()
    figures = {}
    invoices = Invoice.objects.filter(customer__reseller=world.partner_a, period__in=[str(p) for p in chart])
    for invoice in invoices.exclude(status=InvoiceStatus.VOID).select_related("customer__assigned_rep"):
        customer = invoice.customer
        rep = customer.assigned_rep
        row = figures.setdefault(
            (customer.pk, invoice.currency),
            {"name": customer.name, "rep": (rep.full_name or rep.email) if rep else "", "final": {}, "draft": {}},
        )
        if invoice.status == InvoiceStatus.FINALIZED:
            row["final"][invoice.period] = row["final"].get(invoice.period, ZERO) + invoice.total - invoice.credited
        else:
            row["draft"][invoice.period] = row["draft"].get(invoice.period, ZERO) + invoice.total
    return figures


def _chart_periods():
    window = dashboard.figures_of.partner_window()
    return window.chart


def _in_period(row, period) -> Decimal:
    return row["final"].get(str(period), ZERO) + row["draft"].get(str(period), ZERO)


def _expected_chart(world, currency) -> dict[str, list[Decimal]]:
    """{trace name: its amounts, one per chart month} as the chart should draw them."""
    periods = _chart_periods()
    rows = {key: row for key, row in _figures(world).items() if key[1] == currency}
    size = {key: sum((abs(_in_period(row, p)) for p in periods), ZERO) for key, row in rows.items()}
    ordered = sorted(rows, key=lambda key: (-size[key], str(key[0])))
    top, rest = (ordered, []) if len(ordered) <= 9 else (ordered[:8], ordered[8:])
    traces = {rows[key]["name"]: [_in_period(rows[key], p) for p in periods] for key in top}
    if rest:
        traces[f"Others ({len(rest)})"] = [sum((_in_period(rows[key], p) for key in rest), ZERO) for p in periods]
    return traces


def _growth_rows(world) -> list[dict]:
    """The growth table's rows in its own order."""
    trailing = dashboard.figures_of.partner_window().trailing
    rows = []
    for (customer_id, currency), row in _figures(world).items():
        current, previous = row["final"].get(str(M1), ZERO), row["final"].get(str(M2), ZERO)
        if not current and not previous:
            continue
        rows.append(
            {
                "id": customer_id, "name": row["name"], "rep": row["rep"], "currency": currency,
                "previous": previous, "current": current, "change": current - previous,
                "trailing": sum((row["final"].get(str(p), ZERO) for p in trailing), ZERO),
            }
        )  # fmt: skip
    rows.sort(key=lambda row: (-row["change"], row["name"].lower(), row["id"], row["currency"]))
    return rows


def _sorted(rows: list[dict], sort: str) -> list[dict]:
    """`rows` (in the table's own order) sorted by a column, as a stable sort would: ties keep that order."""
    column, descending = sort.lstrip("-"), sort.startswith("-")

    def key(row):
        if column == "growth":  # "new" above every percentage, the rest by the percentage shown
            return (1, ZERO) if not row["previous"] else (0, (row["change"] * 100 / row["previous"]).quantize(TENTH))
        return row[column]

    def compare(a, b):
        ka, kb = key(a), key(b)
        return (ka > kb) - (ka < kb) if not descending else (ka < kb) - (ka > kb)

    return sorted(rows, key=cmp_to_key(compare))


def _csv(user, **query) -> list[list[str]]:
    request = RequestFactory().get("/", {"export": "csv", **query})
    request.user = user
    response = dashboard.export(request)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _home(client, user, query=""):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("home") + query)
    assert response.status_code == 200
    return response


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_chart_names_the_largest_customers_and_adds_up_the_others(big_book, client):
    world = big_book
    response = _home(client, world.admin_a)
    charts = {chart.title: chart for chart in response.context["consumption_charts"]}
    # USD first: more revenue over the chart than EUR.
    assert list(charts) == ["Customers' consumption by customer (USD)", "Customers' consumption by customer (EUR)"]
    for currency, chart in zip(("USD", "EUR"), charts.values(), strict=True):
        drawn = {trace["name"]: [Decimal(str(y)) for y in trace["y"]] for trace in chart.payload["data"]}
        expected = _expected_chart(world, currency)
        assert list(drawn) == list(expected)  # the same customers, largest first
        assert drawn == {
            name: [Decimal(str(float(amount))) for amount in amounts] for name, amounts in expected.items()
        }
    usd = [trace["name"] for trace in charts["Customers' consumption by customer (USD)"].payload["data"]]
    # 14 USD customers: eight named, six added up (Iris, with only a draft, among them).
    assert usd == ["Lumen", "Fjord", "Acme", "Nova", "Juno", "acme labs", "Cobalt", "Delta", "Others (6)"]
    # The others' drill-down is every invoice of the month; a named customer's, its own.
    others = charts["Customers' consumption by customer (USD)"].payload["data"][-1]
    assert others["customdata"][-2] == f"/invoices/?period={M1}&status=finalized"
    # The KPIs read the same totals: M1 in USD is every USD customer's final net.
    m1_usd = sum((row["current"] for row in _growth_rows(world) if row["currency"] == "USD"), ZERO)
    kpis = {kpi.label: [value.text for value in kpi.values] for kpi in response.context["kpis"]}
    assert kpis[f"Revenue {M1.start:%b %Y}"][0] == f"{m1_usd:,.2f}"


@pytest.mark.django_db
def test_growth_table_pages_sorts_and_exports_in_the_database(big_book, client):
    world = big_book
    expected = _growth_rows(world)
    assert len(expected) == 15  # Iris has nothing final
    response = _home(client, world.admin_a)
    table = response.context["growth_table"]
    assert table.paginator.count == 15
    assert [row.record["name"] for row in table.paginated_rows] == [row["name"] for row in expected[:10]]
    # Acme and acme labs both grew by 100.00: by name, case-insensitively, Acme first.
    # (Zed's +200.00 is in EUR: the order compares the amounts as they are.)
    assert [row["name"] for row in expected[:4]] == ["Juno", "Zed", "Bolt", "Acme"]
    assert expected[4]["name"] == "acme labs"

    # The movers: the first three that grew, and the three that declined most.
    context = response.context
    assert [row["name"] for row in context["growing"]] == ["Juno", "Zed", "Bolt"]
    assert [(row["name"], row["change"]) for row in context["declining"]] == [
        ("Lumen", "-500.00 USD"), ("Cobalt", "-360.00 USD"), ("Ember", "-25.00 USD"),
    ]  # fmt: skip

    # Nova and Gamma show the same growth: sorted by it, they keep the table's order (Nova grew more).
    by_growth = [row["name"] for row in _sorted(expected, "growth")]
    assert by_growth.index("Nova") + 1 == by_growth.index("Gamma")
    # Page 2 of a sorted table: rows 11–15 of that order, each with its links.
    page = _home(client, world.admin_a, "?growth-sort=-growth&growth-page=2").context["growth_table"]
    names = [row.record["name"] for row in page.paginated_rows]
    assert names == [row["name"] for row in _sorted(expected, "-growth")[10:]]
    record = next(iter(page.paginated_rows)).record
    assert record["current_url"] == f"/invoices/?period={M1}&customer={record['customer_id']}&status=finalized"

    # Every column, both ways: the CSV (every row) in the order the page would show.
    header = ["Customer", "Rep", f"{M2.start:%b %Y}", f"{M1.start:%b %Y}", "Change", "Growth", "12 months", "Currency"]
    for sort in ("name", "-name", "rep", "-rep", "previous", "-current", "change", "-change", "growth", "-growth",
                 "trailing", "currency", "-currency"):  # fmt: skip
        rows = _csv(world.admin_a, **{"growth-sort": sort})
        assert rows[0] == header
        assert [row[0] for row in rows[1:]] == [row["name"] for row in _sorted(expected, sort)], sort
    rows = _csv(world.admin_a)
    assert rows[1:] == [
        [
            row["name"], row["rep"], _money(row["previous"]), _money(row["current"]), _money(row["change"]),
            "" if not row["previous"] else str((row["change"] * 100 / row["previous"]).quantize(TENTH)),
            _money(row["trailing"]), row["currency"],
        ]
        for row in expected
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_rep_pages_through_their_own_customers_only(big_book, client):
    world = big_book
    mine = [row for row in _growth_rows(world) if row["rep"] == "Rep A"]
    # A1 Corp (the world's) has no invoice here; the book's customers of rep A: Acme, Cobalt, Gamma, Ynez.
    assert [row["name"] for row in mine] == ["Acme", "Gamma", "Ynez", "Cobalt"]
    table = _home(client, world.rep_a).context["growth_table"]
    assert table.paginator.count == 4
    assert [row.record["name"] for row in table.paginated_rows] == [row["name"] for row in mine]
    assert [row[0] for row in _csv(world.rep_a, **{"growth-sort": "name"})[1:]] == ["Acme", "Cobalt", "Gamma", "Ynez"]
