"""The customer's dashboard (the landing page of a customer's admins and viewers).

Widgets, top to bottom: KPIs (cost so far this period, its projection, last period, commitment
used, prepaid credits left), usage per metric over a chosen range (hour, day or month; every
bar drills down to the events behind it), the open period's live cost line by line with the
projection of each line, the commitment burn-down, prepaid credits and when they run out, the
latest invoices, alerts. The figures come from `customer_selectors` (read only, from rollups
and draft invoices, in a number of queries that does not depend on the number of customers).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import plotly.graph_objects as go
from django import forms
from django.urls import reverse
from django.utils import timezone

from prm.accounts.models import Invitation, User
from prm.billing.models import Invoice
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer
from prm.dashboards import customer_selectors as selectors
from prm.dashboards.charts import chart, drill_urls
from prm.dashboards.formatting import format_change, format_money, format_number
from prm.plans.models import Aggregation

# The shortest and longest dates the range form takes (a date past them is a typo, and
# date.max + one day would not be a date at all).
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
BUCKET_NOUN = {"hour": "hour", "day": "day", "month": "month"}
# What a bucket of a metric that is not a total shows.
LEVEL_NOTE = {Aggregation.MAX: " (highest)", Aggregation.LATEST: " (latest)", Aggregation.UNIQUE_COUNT: " (distinct)"}


# --- the usage range ----------------------------------------------------------------------------


class UsageRangeForm(forms.Form):
    """The range of the usage charts: dates in UTC, both included ("1 to 30 November")."""

    granularity = forms.ChoiceField(choices=list(selectors.GRANULARITIES.items()), label="Granularity")
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end, granularity = data.get("start"), data.get("end"), data.get("granularity")
        if start is None or end is None or granularity is None:
            return data
        for name, value in (("start", start), ("end", end)):
            if not EARLIEST <= value <= LATEST:
                self.add_error(name, f"Choose a date between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.")
        if self.errors:
            return data
        if end < start:
            self.add_error("end", "The end date must not be before the start date.")
            return data
        days = (end - start).days + 1
        limit = selectors.MAX_RANGE_DAYS[granularity]
        if days > limit:
            label = selectors.GRANULARITIES[granularity].lower()
            self.add_error(
                "end",
                f"A {label} chart shows at most {limit} days; this range has {days}. "
                "Choose a shorter range or a coarser granularity.",
            )
        return data

    def usage_range(self) -> selectors.UsageRange:
        data = self.cleaned_data
        return selectors.UsageRange(
            start=_midnight(data["start"]), end=_midnight(data["end"] + timedelta(days=1)),
            granularity=data["granularity"],
        )  # fmt: skip


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def range_form(request, period: BillingPeriod) -> tuple[UsageRangeForm, selectors.UsageRange]:
    """The form and the range it chose; this period by day when nothing (or nothing valid) was asked."""
    initial = {
        "granularity": "day",
        "start": period.start.date().isoformat(),
        "end": (period.end - timedelta(days=1)).date().isoformat(),
    }
    default = selectors.UsageRange(start=period.start, end=period.end, granularity="day")
    asked = {name: request.GET.get(name) for name in initial if request.GET.get(name) is not None}
    if not asked:
        return UsageRangeForm(initial=initial), default
    form = UsageRangeForm(data={**initial, **asked})
    if form.is_valid():
        return form, form.usage_range()
    return form, default


# --- charts -------------------------------------------------------------------------------------


def _label(moment: datetime, granularity: str) -> str:
    """A bucket's label, which plotly.js reads as a date: 2026-11-05, 2026-11-05 14:00, 2026-11."""
    if granularity == "hour":
        return f"{moment:%Y-%m-%d %H:%M}"
    if granularity == "day":
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m}"


def usage_events_url(customer: Customer, metric_code: str, start: datetime, end: datetime) -> str:
    """The usage events behind a figure: this customer, this metric, counted (active), in [start, end)."""
    return drill_urls(
        reverse("usage_event_list"),
        [
            {
                "customer": customer.external_id, "metric": metric_code, "status": "active",
                "timestamp_after": start.isoformat(), "timestamp_before": end.isoformat(),
            }
        ],
    )[0]  # fmt: skip


def _decimal(value) -> Decimal:
    # plotly keeps what it is given; floats come back as floats, written the shortest way.
    return Decimal(str(value))


def usage_chart(customer: Customer, usage: selectors.MetricUsage, usage_range: selectors.UsageRange):
    metric, granularity = usage.metric, usage_range.granularity
    labels = [_label(bucket.start, granularity) for bucket in usage.buckets]
    values = [float(bucket.value) for bucket in usage.buckets]
    texts = [f"{format_number(bucket.value)} {metric.unit}" for bucket in usage.buckets]
    urls = [usage_events_url(customer, metric.code, bucket.start, bucket.end) for bucket in usage.buckets]
    hover = "%{x}<br>%{text}<extra></extra>"
    if metric.aggregation in (Aggregation.MAX, Aggregation.LATEST):
        # A level (storage, seats): a line reads better than bars that would seem to add up.
        trace = go.Scatter(
            x=labels, y=values, text=texts, customdata=urls, name=metric.name, mode="lines+markers",
            line={"shape": "hv"}, hovertemplate=hover,
        )  # fmt: skip
    else:
        trace = go.Bar(x=labels, y=values, text=texts, customdata=urls, name=metric.name, hovertemplate=hover)
        trace.update(textposition="none")
    fig = go.Figure(trace)
    return chart(
        fig,
        layout={"showlegend": False, "yaxis": {"title": {"text": metric.unit}}, "bargap": 0.15},
        chart_id=f"usage-{metric.code}",
        title=f"{metric.name} per {BUCKET_NOUN[granularity]}{LEVEL_NOTE.get(metric.aggregation, '')}",
        value_format=lambda y: f"{format_number(_decimal(y))} {metric.unit}",
        columns=("Metric", BUCKET_NOUN[granularity].capitalize(), "Usage"),
    )


def burn_down_chart(draft: Invoice, days, commitment, projection, period: BillingPeriod):
    """Cumulative spend by day against the commitment, with the projection to the period's end."""
    currency, url = draft.currency, draft.get_absolute_url()
    last_day = (period.end - timedelta(days=1)).date()
    labels = [f"{each.day:%Y-%m-%d}" for each in days]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=labels, y=[float(each.spend) for each in days], name="Spent so far", mode="lines+markers",
            fill="tozeroy", customdata=[url] * len(days),
            text=[f"{format_money(each.spend, currency)} {currency}" for each in days],
            hovertemplate="%{x}<br>%{text}<extra>Spent so far</extra>",
        )
    )  # fmt: skip
    if projection is not None and days and days[-1].day < last_day:
        ends = [days[-1].spend, projection.charges]
        fig.add_trace(
            go.Scatter(
                x=[labels[-1], f"{last_day:%Y-%m-%d}"], y=[float(each) for each in ends], name="Projected",
                mode="lines", line={"dash": "dash"}, customdata=[url, url],
                text=[f"{format_money(each, currency)} {currency}" for each in ends],
                hovertemplate="%{x}<br>%{text}<extra>Projected</extra>",
            )
        )  # fmt: skip
    first = f"{period.start:%Y-%m-%d}"
    subscription_url = draft.subscription.get_absolute_url()
    fig.add_trace(
        go.Scatter(
            x=[first, f"{last_day:%Y-%m-%d}"], y=[float(commitment.amount)] * 2, name="Commitment", mode="lines",
            line={"dash": "dot", "color": "#dc2626"}, customdata=[subscription_url] * 2,
            text=[f"{format_money(commitment.amount, currency)} {currency}"] * 2,
            hovertemplate="%{text}<extra>Commitment</extra>",
        )
    )  # fmt: skip
    return chart(
        fig,
        layout={"yaxis": {"title": {"text": currency}}, "xaxis": {"range": [first, f"{last_day:%Y-%m-%d}"]}},
        chart_id=f"burn-down-{draft.subscription_id}",
        title=f"Spend against the commitment, {period.start:%B %Y}",
        value_format=lambda y: f"{format_money(_decimal(y), currency)} {currency}",
        columns=("Series", "Day", "Amount"),
    )


# --- widgets ------------------------------------------------------------------------------------


def _money(amount, currency: str) -> str:
    return f"{format_money(amount, currency)} {currency}"


def live_cost(customer: Customer, draft: Invoice, projection) -> dict:
    """One draft of the open period, line by line, with each line's projection."""
    currency = draft.currency
    projected = {each.line.pk: each for each in projection.lines} if projection else {}
    lines = []
    for line in draft.lines.all():
        usage_url = ""
        if line.metric is not None:
            start, end = selectors.line_window(draft, line)
            usage_url = usage_events_url(customer, line.metric.code, start, end)
        ahead = projected.get(line.pk)
        lines.append(
            {
                "description": line.description,
                "quantity": format_number(line.quantity),
                "amount": format_money(line.amount, currency),
                "projected": format_money(ahead.amount, currency) if ahead else "",
                "extrapolated": bool(ahead and ahead.extrapolated),
                "usage_url": usage_url,
            }
        )
    return {
        "invoice": draft,
        "url": draft.get_absolute_url(),
        "plan": draft.plan_version.plan.name,
        "as_of": draft.rated_at,
        "lines": lines,
        "total": format_money(draft.total, currency),
        "projection": (
            {
                "charges": format_money(projection.charges, currency),
                "minimum": format_money(projection.minimum, currency) if projection.minimum is not None else "",
                "credits": format_money(projection.credits, currency) if projection.credits else "",
                "packs": format_money(projection.packs, currency) if projection.packs else "",
                "total": format_money(projection.total, currency),
            }
            if projection
            else None
        ),
    }


def _invoices_url(**query) -> str:
    return f"{reverse('invoice_list')}?{urlencode(query)}"


@dataclass
class Kpi:
    label: str
    value: str
    note: str = ""
    url: str = ""


def context(request) -> dict:
    user = request.user
    now = timezone.now()
    period = BillingPeriod.containing(now)
    customer = Customer.objects.visible_to(user).select_related("reseller", "assigned_rep").first()
    form, usage_range = range_form(request, period)
    if customer is None:  # a customer user always has one; a page rather than a 500 all the same
        return {"customer": None, "form": form}
    currency = customer.currency

    subscriptions = selectors.customer_subscriptions(user, customer)
    metrics = selectors.charged_metrics(subscriptions)
    usage = selectors.usage_over_time(customer.pk, metrics, usage_range)
    usage_charts = [usage_chart(customer, each, usage_range) for each in usage]

    drafts = selectors.open_drafts(user, customer, period)
    projections = {draft.pk: selectors.project(draft) for draft in drafts}
    live = [live_cost(customer, draft, projections[draft.pk]) for draft in drafts]

    commitments = selectors.commitments_now(subscriptions, now)
    burn_downs = []
    for draft in drafts:
        commitment = commitments.get(draft.subscription_id)
        if commitment is None:
            continue
        days = selectors.cumulative_spend(draft)
        projection = projections[draft.pk]
        spent = draft.subtotal
        burn_downs.append(
            {
                "draft": draft,
                "chart": burn_down_chart(draft, days, commitment, projection, period),
                "commitment": _money(commitment.amount, currency),
                "source": commitment.source,
                "spent": _money(spent, currency),
                "used_percent": _percent(spent, commitment.amount),
                "projected": _money(projection.charges, currency) if projection else "",
                "projected_percent": _percent(projection.charges, commitment.amount) if projection else "",
                "short_by": _money(commitment.amount - projection.charges, currency)
                if projection and projection.charges < commitment.amount
                else "",
            }
        )

    grants = selectors.credit_grants(user, customer, now)
    outlook = selectors.credits_outlook(grants, drafts, projections, period)
    invoices = selectors.latest_invoices(user, customer)
    alerts = selectors.recent_alerts(user, customer)
    previous_totals = selectors.finalized_totals(user, customer, period.previous())

    so_far = sum((draft.total for draft in drafts), Decimal(0))
    all_projected = bool(drafts) and all(projections[draft.pk] is not None for draft in drafts)
    projected_total = sum((projections[d.pk].total for d in drafts), Decimal(0)) if all_projected else None
    previous_total = sum(previous_totals, Decimal(0))
    as_of = min((draft.rated_at for draft in drafts), default=None)
    month = f"{period.start:%B %Y}"

    kpis = [
        Kpi(
            label=f"Cost so far, {month}",
            value=_money(so_far, currency),
            note=f"estimate as of {as_of:%-d %b %H:%M} UTC" if as_of else "no usage billed yet",
            url=drafts[0].get_absolute_url() if len(drafts) == 1 else _invoices_url(period=str(period), status="draft"),
        ),
        Kpi(
            label=f"Projected for {month}",
            value=_money(projected_total, currency) if projected_total is not None else "—",
            # No green or red here: spending more is not good or bad news in itself.
            note=_projection_note(projected_total, previous_total),
            url="#live-cost",
        ),
        Kpi(
            label=f"Last month, {period.previous().start:%B}",
            value=_money(previous_total, currency) if previous_totals else "—",
            note=f"{len(previous_totals)} finalized invoice{'s' if len(previous_totals) != 1 else ''}",
            url=_invoices_url(period=str(period.previous()), status="finalized"),
        ),
    ]
    for burn in burn_downs:
        kpis.append(
            Kpi(
                label="Commitment used"
                + (f", {burn['draft'].subscription.external_id}" if len(burn_downs) > 1 else ""),
                value=burn["used_percent"],
                note=f"{burn['spent']} of {burn['commitment']}",
                url=f"#burn-down-{burn['draft'].subscription_id}",
            )
        )
    if outlook is not None:
        kpis.append(
            Kpi(
                label="Prepaid credits left",
                value=_money(outlook.left_after_estimate, currency),
                note=f"run out around {outlook.runs_out_at:%-d %b %Y}" if outlook.runs_out_at else "",
                url="#credits",
            )
        )

    return {
        "customer": customer,
        "period": period,
        "month": month,
        "kpis": kpis,
        "form": form,
        "usage_range": usage_range,
        "usage_range_end": (usage_range.end - timedelta(days=1)).date(),
        "usage_charts": usage_charts,
        "live": live,
        "live_total": _money(so_far, currency),
        "projected_total": _money(projected_total, currency) if projected_total is not None else "",
        "burn_downs": burn_downs,
        "credits": _credits_context(outlook, currency),
        "recommendations": _recommendations_context(selectors.open_recommendations(user, customer)),
        "invoices": [
            {
                "invoice": invoice,
                "url": invoice.get_absolute_url(),
                "total": format_money(invoice.total, invoice.currency),
                "credited": format_money(invoice.credited, invoice.currency) if invoice.credited else "",
            }
            for invoice in invoices
        ],
        "alerts": alerts,
        "currency": currency,
        "people": User.objects.visible_to(user).count(),
        "pending_invitations": Invitation.objects.visible_to(user).pending().count() if user.is_customer_admin else 0,
    }


def _percent(part: Decimal, whole: Decimal) -> str:
    if not whole:
        return "—"
    return f"{(part * 100 / whole).quantize(Decimal(1))} %"


def _projection_note(projected, previous) -> str:
    if projected is None:
        return "at this month's pace, from its second day"
    text, _css = format_change(projected, previous)
    return f"{text} on last month" if previous else "at this month's pace"


def _recommendations_context(recommendations) -> list[dict]:
    """The "You could save …" card: each open recommendation with its figures and where to act."""
    return [
        {
            "recommendation": recommendation,
            "url": recommendation.get_absolute_url(),
            "saving": _money(recommendation.saving, recommendation.currency),
            "actual": _money(recommendation.actual_total, recommendation.currency),
            "alternative": _money(recommendation.alternative_total, recommendation.currency),
            "percent": f"{recommendation.saving_percent.quantize(Decimal('0.1'))} %",
        }
        for recommendation in recommendations
    ]


def _credits_context(outlook, currency: str) -> dict | None:
    if outlook is None:
        return None
    return {
        "balance": _money(outlook.balance, currency),
        "drawn": _money(outlook.drawn_by_estimate, currency),
        "left": _money(outlook.left_after_estimate, currency),
        "monthly_draw": _money(outlook.monthly_draw, currency) if outlook.monthly_draw is not None else "",
        "runs_out_at": outlook.runs_out_at,
        "grants": [
            {
                "grant": grant,
                "url": grant.get_absolute_url(),
                "credits": format_money(grant.credits, grant.currency),
                "balance": format_money(grant.balance, grant.currency),
            }
            for grant in outlook.grants
        ],
    }
