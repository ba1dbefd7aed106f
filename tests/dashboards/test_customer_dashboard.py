"""The customer's dashboard: figures exact against a small known dataset, the usage range form,
drill-downs to the events behind a figure, scope, and a query count that does not grow with the
number of customers.

The clock is fixed at 11 October 2026 00:00 UTC: ten whole days of October (31 days) are over.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prm.billing.credits import credit_grant_create
from prm.billing.models import Invoice
from prm.billing.services import invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.dashboards import customer_selectors as selectors
from prm.operations.period_close import period_close
from tests import factories
from tests.billing.conftest import OCTOBER, at
from tests.dashboards.conftest import warm_unread_counts

NOW = datetime(2026, 10, 11, tzinfo=UTC)
SEPTEMBER = BillingPeriod(2026, 9)

# A1's plan: calls beyond 1,000 free at 0.01, the most storage of the month at 2.00 a GB, a flat
# fee of 50; A1 committed to 300 a month.
METERED = [
    {"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01", "free_units": "1000"},
    {"model": "per_unit", "metric": "storage", "unit_amount": "2"},
    {"model": "flat", "amount": "50"},
]
# A2's plan: units at 0.10; A2 has 500 of goodwill credits.
UNITS = [{"model": "per_unit", "metric": "units", "unit_amount": "0.10"}]


@pytest.fixture
def clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def dataset(world, clock, make_plan, subscribe, send):
    metered = make_plan("metered", METERED)
    a1 = subscribe(metered, started_at="2026-09-01T00:00:00Z", commitment=Decimal("300"))
    # September: 11,000 calls → (11,000 − 1,000) × 0.01 = 100.00 + 50.00 flat = 150.00, trued up to 300.00.
    send(("cus_a1", "api_calls", "2026-09-15T10:00:00Z", {"calls": 11000}))
    period_close(period=SEPTEMBER)
    send(
        ("cus_a1", "api_calls", at(2), {"calls": 3000}),
        ("cus_a1", "api_calls", at(5, 9), {"calls": 1500}),
        ("cus_a1", "api_calls", at(5, 14), {"calls": 500}),
        ("cus_a1", "api_calls", at(9), {"calls": 1000}),
        ("cus_a1", "storage", at(3), {"gb": 40}),
        ("cus_a1", "storage", at(6), {"gb": 25}),
        # Other customers' usage of the same metrics must show nowhere on A1's page.
        ("cus_a2", "api_calls", at(5, 9), {"calls": 777}),
        ("cus_b1", "api_calls", at(5, 9), {"calls": 888}),
        ("cus_a2", "units", at(3), {"n": 1000}),
    )
    units = make_plan("units", UNITS)
    a2 = subscribe(units, customer=world.customer_a2)
    credit_grant_create(
        actor=world.manager, subscription=a2, credits=Decimal("500"), reason="Launch goodwill",
        granted_at=datetime(2026, 10, 1, tzinfo=UTC),
    )  # fmt: skip
    draft_a1 = invoice_refresh_draft(subscription=a1, period=OCTOBER)
    draft_a2 = invoice_refresh_draft(subscription=a2, period=OCTOBER)
    return {"a1": a1, "a2": a2, "draft_a1": draft_a1, "draft_a2": draft_a2, "metered": metered}


def _page(client, user, query=""):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("home") + query)
    assert response.status_code == 200
    return response


def _rows(chart):
    return [(label, value) for _series, label, value, _url in chart.rows]


# --- the live cost and its projection ---------------------------------------------------------


def test_the_live_cost_is_the_draft_line_by_line_and_its_projection_is_exact(world, dataset, client):
    draft = dataset["draft_a1"]
    # The draft: 6,000 calls → (6,000 − 1,000) × 0.01 = 50.00; storage max 40 GB × 2 = 80.00;
    # flat 50.00; subtotal 180.00; true-up to the 300 commitment 120.00; total 300.00.
    assert [line.amount for line in draft.lines.order_by("position")] == [
        Decimal("50.00"), Decimal("80.00"), Decimal("50.00"), Decimal("120.00"),
    ]  # fmt: skip
    assert draft.rated_at == NOW

    projection = selectors.project(Invoice.objects.prefetch_related("lines__metric").get(pk=draft.pk))
    # 10 of 31 days elapsed: calls add up, 6,000 ÷ (10/31) = 18,600 → (18,600 − 1,000) × 0.01 = 176.00;
    # storage is a level (the most GB): kept at 80.00; the flat fee is owed whole: 50.00.
    assert [(line.quantity, line.amount, line.extrapolated) for line in projection.lines] == [
        (Decimal("18600.000000"), Decimal("176.00"), True),
        (Decimal(40), Decimal("80.00"), False),
        (Decimal(1), Decimal("50.00"), False),
    ]
    # Charges 306.00 are above the minimum of 180.00 + 120.00 = 300.00: no true-up, total 306.00
    # (the whole total ÷ 10/31 would have said 930.00).
    assert (projection.charges, projection.minimum, projection.due, projection.total) == (
        Decimal("306.00"), Decimal("300.00"), Decimal("306.00"), Decimal("306.00"),
    )  # fmt: skip

    context = _page(client, world.customer_user_a1).context
    (live,) = context["live"]
    assert live["invoice"].pk == draft.pk and live["total"] == "300.00" and live["as_of"] == NOW
    assert [(line["amount"], line["projected"]) for line in live["lines"]] == [
        ("50.00", "176.00"), ("80.00", "80.00"), ("50.00", "50.00"), ("120.00", ""),
    ]  # fmt: skip
    assert live["projection"]["total"] == "306.00" and live["projection"]["minimum"] == "300.00"
    kpis = {kpi.label: kpi for kpi in context["kpis"]}
    assert kpis["Cost so far, October 2026"].value == "300.00 USD"
    assert kpis["Cost so far, October 2026"].url == draft.get_absolute_url()
    # Last month: September's finalized 300.00; 306.00 against it is +2.0 %.
    assert kpis["Last month, September"].value == "300.00 USD"
    assert kpis["Projected for October 2026"].value == "306.00 USD"
    assert kpis["Projected for October 2026"].note == "+2.0 % on last month"
    assert kpis["Commitment used"].value == "60 %"  # 180.00 of 300.00
    assert "Prepaid credits left" not in kpis


def test_each_line_links_to_the_usage_behind_it(world, dataset, client):
    context = _page(client, world.customer_user_a1).context
    calls = context["live"][0]["lines"][0]
    response = client.get(calls["usage_url"])
    events = [row.record for row in response.context["table"].paginated_rows]
    assert sorted(event.value for event in events) == [500, 1000, 1500, 3000]
    assert {event.customer_id for event in events} == {world.customer_a1.pk}


def test_no_projection_before_a_day_has_passed(world, dataset, monkeypatch):
    draft = Invoice.objects.prefetch_related("lines__metric").get(pk=dataset["draft_a1"].pk)
    draft.rated_at = datetime(2026, 10, 1, 23, tzinfo=UTC)  # 23 hours into the month
    assert selectors.project(draft) is None
    draft.rated_at = datetime(2026, 10, 2, tzinfo=UTC)
    assert selectors.project(draft) is not None


def test_a_subscription_started_mid_month_is_projected_over_its_own_days(world, clock, make_plan, subscribe, send):
    subscription = subscribe(make_plan("units", UNITS), customer=world.customer_b1, started_at="2026-10-06T00:00:00Z")
    send(("cus_b1", "units", at(8), {"n": 500}))
    draft = invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    draft = Invoice.objects.prefetch_related("lines__metric").get(pk=draft.pk)
    # 500 units in the 5 of its 26 days of October: 500 × 26 / 5 = 2,600 units × 0.10 = 260.00.
    projection = selectors.project(draft)
    assert (projection.lines[0].quantity, projection.total) == (Decimal("2600.000000"), Decimal("260.00"))
    # Its spend starts on its first day: 500 × 0.10 = 50.00 from 8 October.
    days = [(day.day.day, day.spend) for day in selectors.cumulative_spend(draft)]
    assert days == [(6, 0), (7, 0), (8, Decimal("50.00")), (9, Decimal("50.00")), (10, Decimal("50.00"))]


# --- commitment burn-down ----------------------------------------------------------------------


def test_the_commitment_burn_down_is_the_cumulative_spend_by_day(world, dataset, client):
    draft = Invoice.objects.prefetch_related("lines__metric").get(pk=dataset["draft_a1"].pk)
    days = selectors.cumulative_spend(draft)
    # Flat 50.00 from day 1; 2 Oct: 3,000 calls → 20.00; 3 Oct: 40 GB → 80.00; 5 Oct: 5,000 calls
    # → 40.00; 9 Oct: 6,000 calls → 50.00. The last day is the draft's subtotal, 180.00.
    assert [(day.day.day, day.spend) for day in days] == [
        (1, Decimal("50.00")), (2, Decimal("70.00")), (3, Decimal("150.00")), (4, Decimal("150.00")),
        (5, Decimal("170.00")), (6, Decimal("170.00")), (7, Decimal("170.00")), (8, Decimal("170.00")),
        (9, Decimal("180.00")), (10, Decimal("180.00")),
    ]  # fmt: skip

    (burn,) = _page(client, world.customer_user_a1).context["burn_downs"]
    assert (burn["commitment"], burn["source"], burn["spent"], burn["used_percent"]) == (
        "300.00 USD", "subscription", "180.00 USD", "60 %",
    )  # fmt: skip
    assert (burn["projected"], burn["projected_percent"], burn["short_by"]) == ("306.00 USD", "102 %", "")
    rows = {(series, label): value for series, label, value, _url in burn["chart"].rows}
    assert rows[("Spent so far", "2026-10-03")] == "150.00 USD"
    assert rows[("Projected", "2026-10-31")] == "306.00 USD"
    assert rows[("Commitment", "2026-10-31")] == "300.00 USD"
    spent_urls = {url for series, _label, _value, url in burn["chart"].rows if series == "Spent so far"}
    assert spent_urls == {dataset["draft_a1"].get_absolute_url()}


# --- prepaid credits -----------------------------------------------------------------------------


def test_prepaid_credits_left_and_when_they_run_out(world, dataset, client):
    context = _page(client, world.customer_user_a2).context
    # 1,000 units × 0.10 = 100.00, all paid by credits: the draft owes 0.00.
    assert context["live"][0]["total"] == "0.00"
    credits = context["credits"]
    assert (credits["balance"], credits["drawn"], credits["left"]) == ("500.00 USD", "100.00 USD", "400.00 USD")
    # Projected: 1,000 ÷ (10/31) = 3,100 units → 310.00 a month. 500 of credits last 500/310 of a
    # 31-day month = 50 days from 1 October: 20 November 2026.
    assert credits["monthly_draw"] == "310.00 USD"
    assert credits["runs_out_at"] == datetime(2026, 11, 20, tzinfo=UTC)
    kpis = {kpi.label: kpi for kpi in context["kpis"]}
    assert kpis["Prepaid credits left"].value == "400.00 USD"
    assert kpis["Prepaid credits left"].note == "run out around 20 Nov 2026"
    # Credits pay the projected 310.00: the month is projected at 0.00.
    assert kpis["Projected for October 2026"].value == "0.00 USD"
    assert context["burn_downs"] == []


# --- usage over time and its drill-downs ---------------------------------------------------------


def test_usage_per_day_this_month_by_default(world, dataset, client):
    context = _page(client, world.customer_user_a1).context
    usage_range = context["usage_range"]
    assert (usage_range.start, usage_range.end, usage_range.granularity) == (
        OCTOBER.start, OCTOBER.end, "day",
    )  # fmt: skip
    charts = {chart.id: chart for chart in context["usage_charts"]}
    assert list(charts) == ["usage-api_calls", "usage-storage"]  # the metrics the plan charges
    assert _rows(charts["usage-api_calls"]) == [
        ("2026-10-02", "3,000 unit"), ("2026-10-05", "2,000 unit"), ("2026-10-09", "1,000 unit"),
    ]  # fmt: skip
    assert _rows(charts["usage-storage"]) == [("2026-10-03", "40 unit"), ("2026-10-06", "25 unit")]


def test_a_usage_bar_drills_down_to_its_events(world, dataset, client):
    context = _page(client, world.customer_user_a1).context
    chart = next(chart for chart in context["usage_charts"] if chart.id == "usage-api_calls")
    url = next(url for _series, label, _value, url in chart.rows if label == "2026-10-05")
    assert url == (
        "/usage/events/?customer=cus_a1&metric=api_calls&status=active"
        "&timestamp_after=2026-10-05T00%3A00%3A00%2B00%3A00&timestamp_before=2026-10-06T00%3A00%3A00%2B00%3A00"
    )
    assert chart.payload["data"][0]["customdata"][1] == url  # what a click on the bar follows
    response = client.get(url)
    events = [row.record for row in response.context["table"].paginated_rows]
    # The 1,500 and 500 of 5 October; not A2's 777 nor B1's 888 of the same hour.
    assert sorted(event.value for event in events) == [500, 1500]


def test_hourly_and_monthly_ranges(world, dataset, client):
    context = _page(client, world.customer_user_a1, "?granularity=hour&start=2026-10-05&end=2026-10-05").context
    chart = context["usage_charts"][0]
    assert _rows(chart) == [("2026-10-05 09:00", "1,500 unit"), ("2026-10-05 14:00", "500 unit")]
    assert chart.rows[1][3].endswith(
        "timestamp_after=2026-10-05T14%3A00%3A00%2B00%3A00&timestamp_before=2026-10-05T15%3A00%3A00%2B00%3A00"
    )

    context = _page(client, world.customer_user_a1, "?granularity=month&start=2026-09-10&end=2026-10-31").context
    chart = context["usage_charts"][0]
    assert _rows(chart) == [("2026-09", "11,000 unit"), ("2026-10", "6,000 unit")]
    # September's bucket drills down to the part of September in the range only.
    assert "timestamp_after=2026-09-10T00%3A00%3A00%2B00%3A00" in chart.rows[0][3]


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("?granularity=day&start=2026-10-10&end=2026-10-09", "end", "must not be before the start"),
        ("?granularity=hour&start=2026-09-01&end=2026-10-02", "end", "at most 31 days; this range has 32"),
        ("?granularity=day&start=2025-01-01&end=2026-02-05", "end", "at most 400 days"),
        ("?granularity=week&start=2026-10-01&end=2026-10-05", "granularity", "Select a valid choice"),
        ("?granularity=day&start=2026-13-01&end=2026-10-05", "start", "Enter a valid date"),
        ("?granularity=day&start=1999-12-31&end=2026-10-05", "start", "between 2000-01-01 and 2099-12-31"),
        ("?granularity=day&start=2026-10-01&end=9999-12-31", "end", "between 2000-01-01 and 2099-12-31"),
    ],
)
def test_a_bad_range_says_why_and_shows_this_month(world, dataset, client, query, field, message):
    response = _page(client, world.customer_user_a1, query)
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    assert message in response.content.decode()
    assert response.context["usage_range"].start == OCTOBER.start  # the default range instead


def test_31_days_by_hour_and_400_by_day_are_allowed(world, dataset, client):
    for query in (
        "?granularity=hour&start=2026-10-01&end=2026-10-31",
        "?granularity=day&start=2025-09-07&end=2026-10-10",
    ):
        form = _page(client, world.customer_user_a1, query).context["form"]
        assert form.is_valid(), form.errors


# --- scope ---------------------------------------------------------------------------------------


def test_a_customer_never_sees_another_customers_data(world, dataset, client):
    html = _page(client, world.customer_user_a1).content.decode()
    assert "cus_a2" not in html and "cus_b1" not in html and "Goodwill" not in html
    context = _page(client, world.customer_user_a2).context
    assert [chart.id for chart in context["usage_charts"]] == ["usage-units"]  # not A1's metrics
    assert [row["invoice"].customer_id for row in context["invoices"]] == [world.customer_a2.pk]
    assert [row["invoice"].customer_id for row in context["live"]] == [world.customer_a2.pk]
    # A1's drill-down URL, opened by A2, lists nothing (the event list is scoped too).
    a1_url = _page(client, world.customer_user_a1).context["live"][0]["lines"][0]["usage_url"]
    _page(client, world.customer_user_a2)
    assert list(client.get(a1_url).context["table"].page.object_list) == []  # events are not counted: the page


def test_a_customer_without_subscriptions_gets_a_calm_page(world, clock, client):
    response = _page(client, world.customer_user_b1)
    context = response.context
    assert context["usage_charts"] == [] and context["live"] == [] and context["burn_downs"] == []
    assert context["credits"] is None and context["invoices"] == []
    html = response.content.decode()
    assert "No live estimate yet for October 2026" in html and "No alerts." in html


def test_the_page_draws_its_charts_with_our_own_plotly(world, dataset, client):
    html = _page(client, world.customer_user_a1).content.decode()
    assert html.count('class="chart" id="') == 3  # two metrics and the burn-down
    assert "/static/vendor/plotly.min.js" in html and "/static/js/charts.js" in html
    assert '<label for="id_granularity">Granularity</label>' in html


# --- query count ----------------------------------------------------------------------------------


def _queries(client, user) -> int:
    warm_unread_counts()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("home"))
    assert response.status_code == 200
    return len(captured)


def test_queries_are_pinned_whatever_the_number_of_customers(world, dataset, client, subscribe, send):
    before = _queries(client, world.customer_user_a1)
    # Session, user, membership; the customer; subscriptions + their changes; metrics; usage by
    # day: 2 metrics; drafts + lines; cumulative spend by hour: 2 metrics; grants (no balances to
    # prefetch when there is none); latest invoices; last month's totals; people; invitations;
    # the navigation's customer name; the open savings recommendations (the "You could save" card);
    # the alerts card's alerts.
    assert before == 21

    for index in range(20):
        other = factories.CustomerFactory(reseller=world.partner_a, external_id=f"cus_more_{index}")
        subscription = subscribe(dataset["metered"], customer=other, external_id=f"sub_more_{index}")
        send((other.external_id, "api_calls", at(4), {"calls": 100 + index}))
        invoice_refresh_draft(subscription=subscription, period=OCTOBER)
    assert _queries(client, world.customer_user_a1) == before
