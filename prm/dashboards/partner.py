"""The partner's dashboard: the landing page of partner admins (the whole partner) and reps (the
customers assigned to them).

Widgets, top to bottom:
- KPIs: active customers; consumption revenue this month so far (live drafts), in the last closed
  month with its growth on the month before, and over the twelve months (finalized, net of credit
  notes); commissions earned in the last closed month and over the twelve, the open month's forecast,
  and (admins) what was paid out. Every figure per currency, never added across currencies; every
  KPI links to the list behind it.
- customers' consumption over time: stacked monthly bars by customer (top 8 + "others") or by metric
  (`?by=metric`), one chart per currency, the months after the last close as live estimates; each
  segment drills down to the invoices of that customer (or all) and month;
- customers by growth (django-tables2: sort, paginate, `?export=csv` through `export()`), with the
  fastest growing and declining ones named above it;
- commissions per period (the ledger), each bar drilling down to the ledger filtered by period;
- lifecycle progress (the seven stages, each with the date it was reached) and the tier: its benefits
  and what the next tier still needs (from the latest tier evaluation; admins).

Figures come from prm/dashboards/partner_selectors.py (read only) in a number of queries that does
not depend on the number of customers, invoices or usage events; so do the rows they move and the work
done here: the chart's largest customers, the growth table's page and its movers are picked in the
database, and only the rows shown get their drill-down links.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

import plotly.graph_objects as go
from django.conf import settings
from django.urls import reverse
from django_tables2 import RequestConfig

from prm.core.exports import table_csv_response
from prm.core.money import minor_unit
from prm.dashboards import partner_selectors as figures_of
from prm.dashboards.charts import chart, drill_urls
from prm.dashboards.formatting import format_change, format_money, format_number
from prm.dashboards.tables import CustomerGrowthTable, DatabaseRows
from prm.incentives.forecast import forecast_totals
from prm.partners.selectors import partner_tier_progress

TOP_CUSTOMERS = 8
OTHERS = "Others"
GROWTH_PER_PAGE = 10
GROWTH_HIGHLIGHTS = 3
GROWTH_SORT = f"{CustomerGrowthTable._meta.prefix}sort"
GROWTH_PAGE = f"{CustomerGrowthTable._meta.prefix}page"
STACKS = {"customer": "By customer", "metric": "By metric"}
# Months after the last close are live estimates: drawn lighter than final months.
ESTIMATE_OPACITY = 0.55
NEW_GROWTH = Decimal("Infinity")  # sorts a customer with nothing to grow from above every percentage


def context(request) -> dict:
    user = request.user
    stack_by = _stack_by(request)
    window = figures_of.partner_window()
    partner = figures_of.the_partner(user)
    revenue = figures_of.partner_revenue(
        user, window, largest=TOP_CUSTOMERS + 1, first=GROWTH_PER_PAGE, movers=GROWTH_HIGHLIGHTS
    )
    commissions = figures_of.commissions_by_period(user, window.trailing)
    # Statements and payouts are the partner's own money: its admins see them, not its reps.
    statements = figures_of.statement_figures(user, window.trailing) if user.is_partner_admin else None
    forecast = forecast_totals(user=user, period=window.open)
    by_metric = figures_of.revenue_by_metric(user, window) if stack_by == "metric" else None
    labels = [_month_label(window, period) for period in window.chart]
    return {
        "partner": partner,
        "window": window,
        "window_text": f"{figures_of.period_label(window.trailing[0])} – {figures_of.period_label(window.end)}",
        "end_text": figures_of.period_label(window.end),
        "previous_text": figures_of.period_label(window.previous),
        "open_text": figures_of.period_label(window.open),
        "is_rep": user.is_partner_rep,
        "kpis": _kpis(user, partner, window, revenue, commissions, statements, forecast),
        "stack_by": stack_by,
        "top_customers": TOP_CUSTOMERS,
        "stack_links": [
            {"label": label, "url": _query(request, by=value) + "#consumption", "current": value == stack_by}
            for value, label in STACKS.items()
        ],
        "consumption_charts": [
            _consumption_chart(window, revenue, currency, labels, by_metric) for currency in revenue.currencies
        ],
        "growing": [_highlight(row) for row in revenue.growing],
        "declining": [_highlight(row) for row in revenue.declining],
        "growth_table": growth_table(request, window, revenue.growth_count, first=revenue.growth_first),
        "growth_export_url": "?" + urlencode({"export": "csv", **_sorting(request)}),
        "declining_first_url": _query(request, **{GROWTH_SORT: "change", GROWTH_PAGE: None}) + "#growth",
        "growing_first_url": _query(request, **{GROWTH_SORT: "-change", GROWTH_PAGE: None}) + "#growth",
        "commission_charts": _commission_charts(window, commissions),
        "lifecycle": figures_of.lifecycle_track(user, partner),
        "tier": _tier_context(user, partner),
        "recommendations": _recommendations(user),
    }


def export(request):
    """The customers-by-growth table as CSV on `?export=csv` (every row, in the asked order); None otherwise."""
    if request.GET.get("export") != "csv":
        return None
    user = request.user
    window = figures_of.partner_window()
    # Every row, streamed in the asked order: the count is only asked of a paginated table.
    table = _growth_table(user, window, lambda: figures_of.customer_growth_count(user, window))
    RequestConfig(request, paginate=False).configure(table)
    return table_csv_response(table, f"Customers by growth {window.end}")


# --- helpers --------------------------------------------------------------------------------------


def _stack_by(request) -> str:
    value = request.GET.get("by", "customer")
    return value if value in STACKS else "customer"


def _query(request, **changes) -> str:
    """This page's query string with `changes` (None removes a key)."""
    query = request.GET.copy()
    query.pop("export", None)
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return "?" + query.urlencode()


def _sorting(request) -> dict:
    """The growth table's order as the page shows it, for the CSV link."""
    sort = request.GET.get(GROWTH_SORT)
    return {GROWTH_SORT: sort} if sort else {}


def _money(amount, currency: str) -> str:
    return f"{format_money(amount, currency)} {currency}"


def _month_label(window, period) -> str:
    label = figures_of.period_label(period)
    return label if window.is_final(period) else f"{label} (so far)" if period == window.open else f"{label} (draft)"


def _invoices_url(window, *, period=None, customer=None, status=None, trailing=False) -> str:
    """The invoice list behind a figure: a closed period's are finalized, an open one's drafts (or early
    finals); `trailing`: the window's twelve closed months."""
    if status is None and period is not None and window.is_final(period):
        status = "finalized"
    query = {"period": period and str(period), "customer": customer, "status": status, **_months(window, trailing)}
    return drill_urls(reverse("invoice_list"), [query])[0]


def _commissions_url(window=None, *, period=None, currency=None, trailing=False) -> str:
    query = {"period": period and str(period), "currency": currency, **_months(window, trailing)}
    return drill_urls(reverse("commission_list"), [query])[0]


def _months(window, trailing: bool) -> dict:
    return {"period_from": str(window.trailing[0]), "period_to": str(window.end)} if trailing else {}


# --- KPIs ------------------------------------------------------------------------------------------


@dataclass
class KpiValue:
    text: str  # "1,234.50"
    unit: str = ""  # "USD"
    delta: str = ""
    delta_class: str = ""


@dataclass
class Kpi:
    label: str
    url: str
    values: list[KpiValue] = field(default_factory=list)
    note: str = ""


def _amounts(totals: dict[str, Decimal], currencies: list[str]) -> list[KpiValue]:
    """One value per currency, in the order of `currencies` (the main one first; others after, by
    code); zero in the main currency when there is nothing at all."""
    if not totals:
        return [_amount(Decimal(0), currencies[0])]
    order = {currency: index for index, currency in enumerate(currencies)}
    ordered = sorted(totals, key=lambda currency: (order.get(currency, len(order)), currency))
    return [_amount(totals[currency], currency) for currency in ordered]


def _amount(amount: Decimal, currency: str, **delta) -> KpiValue:
    return KpiValue(format_money(amount, currency), currency, **delta)


def _kpis(user, partner, window, revenue, commissions, statements, forecast) -> list[Kpi]:
    currencies = revenue.currencies or [settings.PRM_PROGRAM_CURRENCY]
    end, previous, trailing = window.end, window.previous, window.trailing
    first_text, end_text = figures_of.period_label(trailing[0]), figures_of.period_label(end)
    counts = {"total": partner.customers_total, "active": partner.customers_active}

    current_revenue, previous_revenue = revenue.final_in(end), revenue.final_in(previous)
    last_month = []
    for currency, amount in current_revenue.items():
        delta, css = format_change(amount, previous_revenue.get(currency, 0))
        last_month.append(_amount(amount, currency, delta=delta, delta_class=css))

    open_drafts = revenue.draft_in(window.open)
    earned_last = {currency: by_period.get(str(end), Decimal(0)) for currency, by_period in commissions.items()}
    earned_trailing = {currency: sum(by_period.values(), Decimal(0)) for currency, by_period in commissions.items()}
    kpis = [
        Kpi(
            label="Active customers",
            url=reverse("customer_list") + "?is_active=true",
            values=[KpiValue(format_number(counts["active"]))],
            note=f"of your {format_number(counts['total'])} customers"
            if user.is_partner_rep
            else f"of {format_number(counts['total'])} customers",
        ),
        Kpi(
            label=f"Consumption {figures_of.period_label(window.open)} so far",
            url=_invoices_url(window, period=window.open, status="draft"),
            values=_amounts(open_drafts, currencies),
            note=f"live estimate from {format_number(revenue.open_drafts())} draft invoice"
            f"{'s' if revenue.open_drafts() != 1 else ''}",
        ),
        Kpi(
            label=f"Revenue {end_text}",
            url=_invoices_url(window, period=end),
            values=last_month or _amounts({}, currencies),
            note=f"growth on {figures_of.period_label(previous)}" if window.closed else "no period closed yet",
        ),
        Kpi(
            label="Revenue, 12 months",
            url=_invoices_url(window, status="finalized", trailing=True),
            values=_amounts(revenue.trailing(), currencies),
            note=f"finalized, net of credit notes, {first_text} – {end_text}",
        ),
        Kpi(
            label=f"Commissions {end_text}",
            url=_commissions_url(period=end),
            values=_amounts(earned_last, currencies),
            note="earned on your customers" if user.is_partner_rep else "earned, from the ledger",
        ),
        Kpi(
            label="Commissions, 12 months",
            url=_commissions_url(window, trailing=True),
            values=_amounts(earned_trailing, currencies),
            note=f"{first_text} – {end_text}",
        ),
        Kpi(
            label=f"Forecast {figures_of.period_label(window.open)}",
            url=_commissions_url() + "#forecast-title",
            values=_amounts(forecast.totals, currencies),
            note="if the month closed now",
        ),
    ]
    if statements is not None:
        paid = {each.currency: each.paid for each in statements if each.paid_count}
        waiting = [each for each in statements if each.approved_count]
        note = "; ".join(f"{_money(each.approved, each.currency)} approved, to be paid" for each in waiting)
        kpis.append(
            Kpi(
                label="Paid out, 12 months",
                url=drill_urls(reverse("statement_list"), [{"status": "paid", **_months(window, True)}])[0],
                values=_amounts(paid, currencies),
                note=note or f"statements of {first_text} – {end_text}",
            )
        )
    return kpis


# --- consumption over time ---------------------------------------------------------------------------


def _hover(currency: str) -> str:
    return f"%{{x}}: %{{y:,.{minor_unit(currency)}f}} {currency}<extra>%{{fullData.name}}</extra>"


def _money_format(currency: str):
    return lambda value: _money(Decimal(str(value)), currency)


def _top(series: dict[str, dict[str, Decimal]], periods) -> tuple[list[str], list[str]]:
    """The `TOP_CUSTOMERS` largest series over `periods` (largest first) and the rest."""
    names = [str(period) for period in periods]
    size = {name: sum((abs(values.get(p, Decimal(0))) for p in names), Decimal(0)) for name, values in series.items()}
    ordered = sorted(series, key=lambda name: (-size[name], name))
    if len(ordered) <= TOP_CUSTOMERS + 1:  # "others" of one would just hide a name
        return ordered, []
    return ordered[:TOP_CUSTOMERS], ordered[TOP_CUSTOMERS:]


def _consumption_chart(window, revenue, currency: str, labels: list[str], by_metric):
    periods = window.chart
    opacity = [1 if window.is_final(period) else ESTIMATE_OPACITY for period in periods]
    fig = go.Figure()

    def bar(name, values, urls):
        fig.add_trace(
            go.Bar(
                name=name, x=labels, y=[float(value) for value in values], customdata=urls,
                marker={"opacity": opacity}, hovertemplate=_hover(currency),
            )
        )  # fmt: skip

    if by_metric is None:
        # The database picked the TOP_CUSTOMERS + 1 largest (as `_top` orders them); all of them are
        # named when there are no more ("others" of one would just hide a name).
        customers, largest = revenue.customers.get(currency, 0), revenue.largest.get(currency, [])
        top = largest if customers <= TOP_CUSTOMERS + 1 else largest[:TOP_CUSTOMERS]
        for row in top:
            bar(
                row.name, [row.in_period(p) for p in periods],
                [_invoices_url(window, period=p, customer=row.customer_id) for p in periods],
            )  # fmt: skip
        if customers > len(top):
            # The rest: every customer's figure less the named ones'.
            others = [revenue.amount_in(currency, p) - sum((row.in_period(p) for row in top), Decimal(0))
                      for p in periods]  # fmt: skip
            bar(f"{OTHERS} ({customers - len(top)})", others, [_invoices_url(window, period=p) for p in periods])
        title = f"Customers' consumption by customer ({currency})"
        columns = ("Customer", "Month", f"Revenue ({currency})")
    else:
        series = {name: dict(values) for name, values in by_metric.get(currency, {}).items()}
        credited = {str(p): -revenue.credited_in(p).get(currency, Decimal(0)) for p in periods}
        if any(credited.values()):
            series[figures_of.CREDIT_NOTES] = credited
        top, rest = _top(series, periods)
        for name in top:
            bar(name, [series[name].get(str(p), Decimal(0)) for p in periods],
                [_invoices_url(window, period=p) for p in periods])  # fmt: skip
        if rest:
            others = [sum((series[name].get(str(p), Decimal(0)) for name in rest), Decimal(0)) for p in periods]
            bar(f"{OTHERS} ({len(rest)})", others, [_invoices_url(window, period=p) for p in periods])
        title = f"Customers' consumption by metric ({currency})"
        columns = ("Metric", "Month", f"Revenue ({currency})")
    # "relative": credits applied and credit notes (negative) stack below zero, the rest above.
    result = chart(
        fig, chart_id=f"partner-consumption-{currency.lower()}", title=title,
        value_format=_money_format(currency), columns=columns,
        layout={"barmode": "relative", "yaxis": {"title": {"text": currency}}},
    )  # fmt: skip
    result.empty = not fig.data
    return result


# --- growth --------------------------------------------------------------------------------------------


def growth_table(request, window, count, first=()) -> CustomerGrowthTable:
    """The customers by growth, `count` rows sorted and paginated in the database (see `_growth_table`);
    `first`: its first rows in its own order, already read (its first page, unless sorted otherwise)."""
    table = _growth_table(request.user, window, count, first)
    RequestConfig(request, paginate={"per_page": GROWTH_PER_PAGE}).configure(table)
    return table


def _growth_table(user, window, count, first=()) -> CustomerGrowthTable:
    """The table over `DatabaseRows`: the database sorts and slices; only the rows fetched (a page, or
    every row for the CSV) become records with their links."""

    def fetch(order, start, stop):
        return figures_of.customer_growth_rows(user, window, order=order, start=start, stop=stop)

    def record(row) -> dict:
        return {
            "customer_id": row.customer_id,
            "name": row.name,
            "customer_url": reverse("customer_detail", args=[row.customer_id]),
            "rep": row.rep,
            "currency": row.currency,
            "previous": row.previous,
            "previous_url": _invoices_url(window, period=window.previous, customer=row.customer_id),
            "current": row.current,
            "current_url": _invoices_url(window, period=window.end, customer=row.customer_id),
            "change": row.change,
            "growth": row.growth_percent,
            "growth_key": NEW_GROWTH if row.growth_percent is None else row.growth_percent,
            "trailing": row.trailing,
            "trailing_url": _invoices_url(window, customer=row.customer_id, status="finalized", trailing=True),
        }

    return CustomerGrowthTable(
        DatabaseRows(fetch, count=count, decorate=record, first=first),
        # A rep's customers are all theirs: the column would say their name on every row.
        exclude=("rep",) if user.is_partner_rep else (),
        previous_label=figures_of.period_label(window.previous),
        current_label=figures_of.period_label(window.end),
    )


def _highlight(row) -> dict:
    text, css = format_change(row.current, row.previous)
    return {
        "name": row.name,
        "url": reverse("customer_detail", args=[row.customer_id]),
        "change": f"{'+' if row.change > 0 else ''}{_money(row.change, row.currency)}",
        "percent": text,
        "css": css,
    }


# --- commissions ---------------------------------------------------------------------------------


def _commission_charts(window, commissions) -> list:
    """One bar chart per currency: the ledger's sum per period of the twelve."""
    periods = window.trailing
    labels = [figures_of.period_label(period) for period in periods]
    charts = []
    for currency in sorted(commissions, key=lambda c: (-sum(commissions[c].values(), Decimal(0)), c)):
        by_period = commissions[currency]
        fig = go.Figure(
            go.Bar(
                name=f"Commissions ({currency})",
                x=labels,
                y=[float(by_period.get(str(period), 0)) for period in periods],
                customdata=[_commissions_url(period=period, currency=currency) for period in periods],
                marker={"color": "#16a34a"},
                hovertemplate=_hover(currency),
            )
        )
        charts.append(
            chart(
                fig, chart_id=f"partner-commissions-{currency.lower()}",
                title=f"Commissions earned per month ({currency})", value_format=_money_format(currency),
                columns=("", "Month", f"Commission ({currency})"),
                layout={"showlegend": False, "yaxis": {"title": {"text": currency}}},
            )
        )  # fmt: skip
    return charts


# --- the tier ------------------------------------------------------------------------------------------


def _recommendations(user) -> list[dict]:
    """Customers who could pay less: the largest open savings recommendations, with their figures."""
    rows = []
    for recommendation in figures_of.top_recommendations(user):
        currency = recommendation.currency
        rows.append(
            {
                "recommendation": recommendation,
                "url": recommendation.get_absolute_url(),
                "customer_url": reverse("customer_detail", args=[recommendation.customer_id]),
                "saving": _money(recommendation.saving, currency),
                "actual": _money(recommendation.actual_total, currency),
                "percent": f"{recommendation.saving_percent.quantize(Decimal('0.1'))} %",
            }
        )
    return rows


def _tier_context(user, partner) -> dict:
    """The partner's tier and what the next one still needs (its latest evaluation's figures; tier
    evaluations are admins' reading, so a rep sees the tier and its benefits only)."""
    progress = partner_tier_progress(user, partner)
    checks = []
    if progress.next_tier is not None:
        for check in progress.next_tier.checks:
            checks.append({"text": check.text, "met": check.met, "percent": _progress_percent(check)})
    return {"tier": partner.tier, "progress": progress, "checks": checks}


def _progress_percent(check) -> int | None:
    """How far along a criterion is, 0–100, for its progress bar (None: no meaningful bar)."""
    if check.actual is None or check.met is None:
        return None
    required, actual = Decimal(check.required), Decimal(check.actual)
    if check.met:
        return 100
    if required <= 0 or actual <= 0:
        return 0
    return min(99, int(actual * 100 / required))
