"""The channel manager's dashboard: the program at a glance.

- KPIs: the trailing twelve months' consumption revenue and commissions (program currency), the last
  closed period's revenue and its change, partners, customers, the work waiting;
- the lifecycle funnel: partners per stage with their revenue and commissions, each stage drilling
  down to the partner list filtered by it;
- revenue over time, stacked by tier, and the ten partners with the most revenue (each point drills
  down to the finalized invoices of that period, tier or partner);
- partners by growth (a django-tables2 table: sort, paginate, `?export=csv` through `export()`);
- pending work (applications, deals, MDF, statements, tier proposals, quarantined usage) and program
  health (tier distribution, enablement and onboarding completion).

Figures come from prm/dashboards/manager_selectors.py in a fixed number of queries, whatever the
number of partners' customers, invoices or usage events (pinned in tests/dashboards/).
"""

from decimal import Decimal
from functools import partial
from urllib.parse import urlencode

import plotly.graph_objects as go
from django.db.models import Count, Q
from django.urls import reverse
from django_tables2 import RequestConfig

from prm.core.exports import table_csv_response
from prm.core.money import minor_unit
from prm.customers.models import Customer
from prm.dashboards import manager_selectors as figures_of
from prm.dashboards.charts import chart, drill_urls
from prm.dashboards.formatting import format_change, format_money, format_number
from prm.dashboards.tables import PartnerGrowthTable
from prm.partners.models import Stage

GROWTH_PER_PAGE = 10
NEW = Decimal("Infinity")  # how a partner without revenue the period before sorts by growth
GROWTH_SORT = f"{PartnerGrowthTable._meta.prefix}sort"
TOP_PARTNERS = 10
SELLING_STAGES = (Stage.SELL, Stage.INCENTIVIZE, Stage.ACCELERATE)
# The funnel's stages, from the first contact (light) to the partners that accelerate (dark).
STAGE_COLOURS = ["#bfdbfe", "#93c5fd", "#60a5fa", "#3b82f6", "#2563eb", "#1d4ed8", "#1e3a8a"]


def context(request) -> dict:
    user = request.user
    reporting = figures_of.reporting_window()
    program = figures_of.program_figures(user, reporting)
    pending = figures_of.pending_work(user)
    currency = program.currency
    labels = [figures_of.period_label(period) for period in reporting.periods]
    stages = program.stages()
    links = Links()
    return {
        "currency": currency,
        "reporting": reporting,
        "window_text": f"{labels[0]} – {labels[-1]}",
        "period_text": labels[-1],
        "missing_rates": program.missing_rates,
        "kpis": _kpis(user, program, pending, links),
        "funnel_chart": _funnel_chart(stages, currency, links),
        "stages": [_stage_row(stage, currency, links) for stage in stages],
        "tier_chart": _tier_revenue_chart(program, labels, links),
        "top_chart": _top_partners_chart(program, labels, links),
        "growth_table": growth_table(request, program, links),
        "growth_export_url": "?" + urlencode({"export": "csv", **_sorting(request)}),
        "pending": _pending_items(pending),
        "pending_total": pending.total,
        "tier_distribution_chart": _tier_distribution_chart(program, links),
        "enablement": figures_of.enablement_health(user, program),
        "onboarding": figures_of.onboarding_health(user),
    }


def export(request):
    """The partners-by-growth table as CSV on `?export=csv` (every row, in the asked order); None otherwise."""
    if request.GET.get("export") != "csv":
        return None
    program = figures_of.program_figures(request.user, figures_of.reporting_window())
    table = _growth_table(program, Links())
    RequestConfig(request, paginate=False).configure(table)
    return table_csv_response(table, f"Partners by growth {program.window.period}")


def growth_table(request, program, links: "Links") -> PartnerGrowthTable:
    table = _growth_table(program, links)
    RequestConfig(request, paginate={"per_page": GROWTH_PER_PAGE}).configure(table)
    return table


def _growth_table(program, links: "Links") -> PartnerGrowthTable:
    current, previous = program.window.period, program.window.previous
    tier_names = {tier.pk: tier.name for tier in program.tiers}
    stage_labels = dict(Stage.choices)
    rows = []
    for row in program.growth():
        partner = row.partner
        rows.append(
            {
                "partner_id": partner.pk,
                "name": partner.name,
                "tier": tier_names.get(partner.tier_id, ""),
                "stage": stage_labels[partner.stage],
                "currency": program.currency,
                "previous": row.previous,
                # Links of the rows shown only (a program has hundreds of partners, a page shows ten).
                "previous_url": partial(links.invoices, period=previous, reseller=partner.pk),
                "current": row.current,
                "current_url": partial(links.invoices, period=current, reseller=partner.pk),
                "change": row.change,
                "growth": row.growth_percent,
                "growth_key": NEW if row.growth_percent is None else row.growth_percent,
                "trailing": partner.trailing,
            }
        )
    return PartnerGrowthTable(
        rows,
        previous_label=figures_of.period_label(previous),
        current_label=figures_of.period_label(current),
    )


def _sorting(request) -> dict:
    """The growth table's order as the page shows it, for the CSV link (the table's prefix is "growth-")."""
    sort = request.GET.get(GROWTH_SORT)
    return {GROWTH_SORT: sort} if sort else {}


# --- KPIs ------------------------------------------------------------------------------------------


def _kpis(user, program, pending, links: "Links") -> list[dict]:
    currency = program.currency
    window = program.window
    current, previous = program.revenue_in(window.period), program.revenue_in(window.previous)
    change, change_class = format_change(current, previous)
    customers = Customer.objects.visible_to(user).aggregate(
        total=Count("pk"), active=Count("pk", filter=Q(is_active=True))
    )
    partners = len(program.partners)
    selling = sum(1 for partner in program.partners.values() if partner.stage in SELLING_STAGES)
    first = figures_of.period_label(window.periods[0])
    last = figures_of.period_label(window.period)
    return [
        {
            "label": "Consumption revenue, 12 months",
            "value": format_money(program.trailing_revenue, currency),
            "unit": currency,
            "note": f"Finalized invoices, {first} – {last}",
            "url": links.invoices(),
        },
        {
            "label": f"Revenue {last}",
            "value": format_money(current, currency),
            "unit": currency,
            "delta": change,
            "delta_class": change_class,
            "note": f"vs {figures_of.period_label(window.previous)}",
            "url": links.invoices(period=window.period),
        },
        {
            "label": "Commissions earned, 12 months",
            "value": format_money(program.trailing_commission, currency),
            "unit": currency,
            "note": f"Partners' ledger, {first} – {last}",
            "url": reverse("commission_list"),
        },
        {
            "label": "Partners",
            "value": format_number(partners),
            "note": f"{format_number(selling)} selling",
            "url": links.partner_list,
        },
        {
            "label": "Active customers",
            "value": format_number(customers["active"]),
            "note": f"of {format_number(customers['total'])} customers",
            "url": reverse("customer_list") + "?is_active=true",
        },
        {
            "label": "Waiting for you",
            "value": format_number(pending.total),
            "note": "applications, deals, MDF, statements …",
            "url": "#pending-work",
        },
    ]


class Links:
    """The lists the dashboard drills down to; their paths are resolved once per page, not once per point."""

    def __init__(self):
        self.invoice_list = reverse("invoice_list")
        self.partner_list = reverse("partner_list")

    def invoices(self, *, period=None, reseller=None, tier=None) -> str:
        """Finalized invoices, of a period, a partner's customers or a tier's partners' customers."""
        query = {"status": "finalized", "period": period and str(period), "reseller": reseller, "reseller_tier": tier}
        return drill_urls(self.invoice_list, [query])[0]

    def partners(self, **query) -> str:
        return drill_urls(self.partner_list, [query])[0]


# --- the funnel ------------------------------------------------------------------------------------


def _stage_row(stage, currency: str, links: Links) -> dict:
    return {
        "stage": stage.stage,
        "label": stage.label,
        "partners": format_number(stage.partners),
        "revenue": format_money(stage.revenue, currency),
        "commission": format_money(stage.commission, currency),
        "url": links.partners(stage=stage.stage),
    }


def _funnel_chart(stages, currency: str, links: Links):
    details = [
        f"{format_money(stage.revenue, currency)} {currency} revenue · "
        f"{format_money(stage.commission, currency)} {currency} commission"
        for stage in stages
    ]
    urls = [links.partners(stage=stage.stage) for stage in stages]
    fig = go.Figure(
        go.Funnel(
            name="Partners",
            y=[stage.label for stage in stages],
            x=[stage.partners for stage in stages],
            text=details,
            customdata=urls,
            textinfo="value",
            textposition="inside",
            marker={"color": STAGE_COLOURS[: len(stages)]},
            connector={"fillcolor": "#eef2ff"},
            hovertemplate="<b>%{y}</b>: %{x} partners<br>%{text}<extra></extra>",
        )
    )
    result = chart(
        fig, chart_id="manager-funnel", title="Partners by lifecycle stage (12 months)",
        layout={"yaxis": {"automargin": True}},
    )  # fmt: skip
    # The accessible table: one row per stage with its figures (a funnel's axes are the other way round).
    result.columns = ("Stage", "Partners", f"Revenue · commission ({currency})")
    result.rows = [(stage.label, format_number(stage.partners), detail, url)
                   for stage, detail, url in zip(stages, details, urls, strict=True)]  # fmt: skip
    result.empty = not any(stage.partners for stage in stages)
    return result


# --- over time -------------------------------------------------------------------------------------


def _money_format(currency: str):
    return lambda value: f"{format_money(Decimal(str(value)), currency)} {currency}"


def _hover(currency: str) -> str:
    return f"%{{x}}: %{{y:,.{minor_unit(currency)}f}} {currency}<extra>%{{fullData.name}}</extra>"


def _tier_revenue_chart(program, labels: list[str], links: Links):
    currency, names = program.currency, program.window.names
    fig = go.Figure()
    for tier, values in program.revenue_by_tier():
        fig.add_trace(
            go.Bar(
                name=tier.name,
                x=labels,
                y=[float(value) for value in values],
                customdata=[links.invoices(period=name, tier=tier.code) for name in names],
                hovertemplate=_hover(currency),
            )
        )
    result = chart(
        fig, chart_id="manager-revenue-by-tier", title=f"Consumption revenue by tier ({currency})",
        value_format=_money_format(currency), columns=("Tier", "Month", f"Revenue ({currency})"),
        layout={"barmode": "stack", "yaxis": {"title": {"text": currency}}},
    )  # fmt: skip
    result.empty = program.trailing_revenue == 0
    return result


def _top_partners_chart(program, labels: list[str], links: Links):
    currency, names = program.currency, program.window.names
    fig = go.Figure()
    for partner in program.top_partners(TOP_PARTNERS):
        fig.add_trace(
            go.Scatter(
                name=partner.name,
                x=labels,
                y=[float(partner.revenue_in(name)) for name in names],
                mode="lines+markers",
                customdata=[links.invoices(period=name, reseller=partner.pk) for name in names],
                hovertemplate=_hover(currency),
            )
        )
    result = chart(
        fig, chart_id="manager-top-partners", title=f"Top {TOP_PARTNERS} partners by revenue ({currency})",
        value_format=_money_format(currency), columns=("Partner", "Month", f"Revenue ({currency})"),
        # Ten names read better beside the lines than in rows under the months.
        layout={"yaxis": {"title": {"text": currency}},
                "legend": {"orientation": "v", "x": 1.02, "y": 1, "xanchor": "left"}},
    )  # fmt: skip
    return result


# --- pending work and program health ---------------------------------------------------------------


def _pending_items(pending) -> list[dict]:
    def item(label, count, url_name, status=None, note=""):
        url = reverse(url_name) + (f"?status={status}" if status else "")
        return {"label": label, "count": count, "url": url, "note": note}

    return [
        item("Partner applications to review", pending.applications, "application_list", "received"),
        item("Deal registrations to approve", pending.deals, "deal_list", "submitted"),
        item("MDF requests to approve", pending.mdf_requested, "mdf_request_list", "requested"),
        item("MDF claims to pay", pending.mdf_claimed, "mdf_request_list", "claimed"),
        item("Commission statements to approve", pending.statements, "statement_list", "draft"),
        item("Tier changes to decide", pending.tier_proposals, "tier_evaluation_list", "proposed"),
        item("Quarantined usage events", pending.quarantined, "quarantine_list", "pending"),
    ]


def _tier_distribution_chart(program, links: Links):
    distribution = program.tier_distribution()
    fig = go.Figure(
        go.Pie(
            name="Partners",
            labels=[tier.name for tier, _count in distribution],
            values=[count for _tier, count in distribution],
            customdata=[links.partners(tier=tier.code) for tier, _count in distribution],
            hole=0.55,
            sort=False,
            direction="clockwise",
            textinfo="label+value",
            hovertemplate="%{label}: %{value} partners (%{percent})<extra></extra>",
        )
    )
    result = chart(
        fig, chart_id="manager-tier-distribution", title="Partners by tier",
        value_format=format_number, columns=("", "Tier", "Partners"),
        # A donut needs neither the axes' margins nor a legend (its labels are on it).
        layout={"showlegend": False, "height": 280, "margin": {"l": 16, "r": 16, "t": 16, "b": 16}},
    )  # fmt: skip
    result.empty = not program.partners
    return result
