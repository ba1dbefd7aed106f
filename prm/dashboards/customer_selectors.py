"""Reads for the customer's dashboard: usage over time, the open period's live cost and where it
is heading, the commitment burn-down, prepaid credits and the latest invoices.

Everything starts from the customer the signed-in user may see (`visible_to`) and reads rollups,
draft invoices and grants, never raw events: the number of queries grows with the customer's
metrics and subscriptions, not with its events nor with the number of customers. Nothing here
writes: a draft is shown as rated (with its "as of"), never refreshed.

Projection (end-of-period spend): the rule lives in billing (prm/billing/projection.py), where
the price-impact preview of a contract change extrapolates usage the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q

from prm.billing.credits import CREDIT_LINE
from prm.billing.models import CreditGrant, Invoice, InvoiceLine, InvoiceStatus, Recommendation, RecommendationStatus
from prm.billing.projection import (  # noqa: F401 (project, line_window: the dashboard's, re-exported)
    ACCUMULATING,
    EXACT,
    NOT_CHARGES,
    ZERO,
    Projection,
    is_usage_line,
    line_window,
    price_line,
    project,
    seconds,
)
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, SubscriptionChange
from prm.plans.models import Aggregation, Metric, PlanVersion
from prm.usage.models import Alert, UsageDistinctKey
from prm.usage.selectors import usage_buckets

GRANULARITIES = {"hour": "Hourly", "day": "Daily", "month": "Monthly"}
# The longest range each granularity may show, in days: enough points to read, bounded work.
MAX_RANGE_DAYS = {"hour": 31, "day": 400, "month": 1830}


# --- usage over time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRange:
    start: datetime  # inclusive
    end: datetime  # exclusive
    granularity: str


@dataclass(frozen=True)
class Bucket:
    start: datetime  # the bucket's part of the range, [start, end): what its drill-down lists
    end: datetime
    value: Decimal


@dataclass
class MetricUsage:
    metric: Metric
    buckets: list[Bucket]


def step(moment: datetime, granularity: str) -> datetime:
    """The start of the bucket after the one starting at `moment`."""
    if granularity == "hour":
        return moment + timedelta(hours=1)
    if granularity == "day":
        return moment + timedelta(days=1)
    return BillingPeriod.containing(moment).next().start


def charged_metrics(subscriptions: list[Subscription]) -> list[Metric]:
    """The metrics the customer's subscriptions charge for (their current plan versions), by code."""
    codes = {
        charge["metric"]
        for subscription in subscriptions
        for charge in subscription.plan_version.charges
        if charge.get("metric")
    }
    return list(Metric.objects.filter(code__in=codes).order_by("code")) if codes else []


def usage_over_time(customer_id: int, metrics: list[Metric], usage_range: UsageRange) -> list[MetricUsage]:
    """Each metric's usage per bucket of the range, from the hourly rollups (one query a metric)."""
    result = []
    for metric in metrics:
        buckets = usage_buckets(
            customer_id=customer_id, metric=metric, start=usage_range.start, end=usage_range.end,
            granularity=usage_range.granularity,
        )  # fmt: skip
        result.append(
            MetricUsage(
                metric=metric,
                buckets=[
                    Bucket(
                        start=max(bucket.start, usage_range.start),
                        end=min(step(bucket.start, usage_range.granularity), usage_range.end),
                        value=bucket.value,
                    )
                    for bucket in buckets
                ],
            )
        )
    return result


# --- subscriptions and their terms --------------------------------------------------------------


def customer_subscriptions(user, customer) -> list[Subscription]:
    """The customer's subscriptions with their plan and active changes (two queries)."""
    active_changes = SubscriptionChange.objects.filter(cancelled_at__isnull=True)
    return list(
        Subscription.objects.visible_to(user)
        .filter(customer=customer)
        .select_related("plan_version__plan")
        .prefetch_related(Prefetch("changes", queryset=active_changes))
        .order_by("started_at", "pk")
    )


@dataclass(frozen=True)
class Commitment:
    amount: Decimal
    source: str  # "subscription" (agreed with the customer) or "plan" (the plan's minimum)


def commitments_now(subscriptions: list[Subscription], now: datetime) -> dict[int, Commitment]:
    """The commitment in force now of each subscription that has one: its own (Subscription.terms_at,
    so a lowered commitment scheduled for later does not show yet), else its plan version's minimum."""
    terms = {sub.pk: sub.terms_at(now, sub.changes.all()) for sub in subscriptions}
    known = {sub.plan_version_id: sub.plan_version for sub in subscriptions}
    missing = {t.plan_version_id for t in terms.values() if t.plan_version_id not in known}
    if missing:  # a plan change scheduled for later: the version in force now is another one
        known.update(PlanVersion.objects.in_bulk(missing))
    result = {}
    for sub in subscriptions:
        now_terms = terms[sub.pk]
        if now_terms.commitment is not None:
            result[sub.pk] = Commitment(now_terms.commitment, "subscription")
        elif known[now_terms.plan_version_id].minimum_commitment:
            result[sub.pk] = Commitment(known[now_terms.plan_version_id].minimum_commitment, "plan")
    return result


# --- the open period's live cost and its projection ---------------------------------------------


def open_drafts(user, customer, period: BillingPeriod) -> list[Invoice]:
    """The drafts (live estimates) of the period, with their lines (two queries)."""
    lines = InvoiceLine.objects.select_related("metric").order_by("position")
    return list(
        Invoice.objects.visible_to(user)
        .filter(customer=customer, period=str(period), status=InvoiceStatus.DRAFT)
        .select_related("subscription", "plan_version__plan")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("subscription__external_id", "pk")
    )


# --- commitment burn-down: cumulative spend by day ------------------------------------------------


@dataclass
class SpendDay:
    day: date
    spend: Decimal  # the plan's charges from the start of the period to the end of this day


def cumulative_spend(invoice: Invoice) -> list[SpendDay]:
    """The draft's charges (before the true-up, packs and credits) as they stood at the end of each
    day of the period up to its `rated_at`: each usage line priced by its own charge on the usage of
    its window up to then (from the hourly rollups, one query a metric), flat fees whole from the
    first day of service. The last day is the draft's own subtotal, so the chart ends on the live cost."""
    as_of = min(invoice.rated_at, invoice.period_end)
    day_start = max(invoice.period_start, invoice.service_start).replace(hour=0, minute=0, second=0, microsecond=0)
    cuts: list[tuple[date, datetime]] = []
    while day_start < as_of:
        cuts.append((day_start.date(), min(day_start + timedelta(days=1), as_of)))
        day_start += timedelta(days=1)
    if not cuts:
        return []
    lines = [line for line in invoice.lines.all() if line.model not in NOT_CHARGES]
    fixed = sum((line.amount for line in lines if not is_usage_line(line)), ZERO)
    usage_lines = [line for line in lines if is_usage_line(line)]
    hourly = {
        line.metric_id: _hourly(invoice.customer_id, line.metric, invoice.period_start, invoice.period_end)
        for line in usage_lines
        if line.metric.aggregation != Aggregation.UNIQUE_COUNT
    }
    totals = [fixed] * len(cuts)
    for line in usage_lines:
        start, end = line_window(invoice, line)
        if line.metric.aggregation == Aggregation.UNIQUE_COUNT:
            quantities = _distinct_until(invoice.customer_id, line.metric, start, end, [cut for _d, cut in cuts])
        else:
            quantities = [_level_until(line.metric, hourly[line.metric_id], start, min(cut, end)) for _d, cut in cuts]
        totals = [
            total + price_line(line, quantity, invoice.currency)
            for total, quantity in zip(totals, quantities, strict=True)
        ]
    days = [SpendDay(day, total) for (day, _cut), total in zip(cuts, totals, strict=True)]
    days[-1] = SpendDay(days[-1].day, invoice.subtotal)
    return days


def _hourly(customer_id: int, metric: Metric, start: datetime, end: datetime) -> list[tuple[datetime, Decimal]]:
    buckets = usage_buckets(customer_id=customer_id, metric=metric, start=start, end=end, granularity="hour")
    return [(bucket.start, bucket.value) for bucket in buckets]


def _level_until(metric: Metric, hours, start: datetime, until: datetime) -> Decimal:
    """The metric's quantity over the hours of [start, until) (zero: no usage in it yet)."""
    values = [value for hour, value in hours if start <= hour < until]
    if not values:
        return ZERO
    if metric.aggregation in ACCUMULATING:
        return sum(values, ZERO)
    if metric.aggregation == Aggregation.MAX:
        return max(values)
    return values[-1]  # latest: the hours come in order


def _distinct_until(customer_id: int, metric: Metric, start: datetime, end: datetime, cuts) -> list[Decimal]:
    """Distinct keys from `start` to each cut, in one query (one filtered count per cut)."""
    rows = UsageDistinctKey.objects.filter(customer_id=customer_id, metric=metric, hour__gte=start, hour__lt=end)
    counts = rows.aggregate(
        **{f"until_{index}": Count("key", distinct=True, filter=Q(hour__lt=cut)) for index, cut in enumerate(cuts)}
    )
    return [Decimal(counts[f"until_{index}"]) for index in range(len(cuts))]


# --- prepaid credits ----------------------------------------------------------------------------


@dataclass
class CreditsOutlook:
    grants: list[CreditGrant]
    balance: Decimal  # left after finalized invoices (what the grants' pages say)
    drawn_by_estimate: Decimal  # what this period's drafts draw (an estimate until they are final)
    left_after_estimate: Decimal
    monthly_draw: Decimal | None  # what a period at this one's projected pace draws; None: unknown yet
    runs_out_at: datetime | None  # None: no draw, or too early in the period to tell


def credit_grants(user, customer, now: datetime) -> list[CreditGrant]:
    """The customer's unexpired grants in its currency, with their balances (two queries)."""
    return list(
        CreditGrant.objects.visible_to(user)
        .filter(customer=customer, currency=customer.currency, granted_at__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .with_balance()
        .order_by(F("expires_at").asc(nulls_last=True), "granted_at", "pk")
    )


def credits_outlook(
    grants: list[CreditGrant], drafts: list[Invoice], projections: dict[int, Projection | None], period: BillingPeriod
) -> CreditsOutlook | None:
    """Prepaid credits left, and when they run out at the current burn rate.

    Credits pay what an invoice owes before packs: its charges, or its minimum commitment when
    higher. The burn rate is this period's projected amount of that (`Projection.due`, summed over
    the drafts) per period, so a customer held to a minimum burns at least the minimum. The credits
    run out when that pace, from the start of this period, has spent the balance left after the
    finalized invoices: period start + balance ÷ monthly draw × the period's length. (Later months
    are taken as long as this one: the date is an estimate, shown as "around".)
    """
    if not grants:
        return None
    balance = sum((grant.balance for grant in grants), ZERO)
    drawn = -sum((line.amount for draft in drafts for line in draft.lines.all() if line.model == CREDIT_LINE), ZERO)
    known = bool(drafts) and all(projections.get(draft.pk) is not None for draft in drafts)
    monthly = sum((projections[draft.pk].due for draft in drafts), ZERO) if known else None
    runs_out_at = None
    if monthly and monthly > 0 and balance > 0:
        length = Decimal(seconds(period.end - period.start))
        runs_out_at = period.start + timedelta(seconds=int(EXACT.divide(balance * length, monthly)))
    return CreditsOutlook(
        grants=grants, balance=balance, drawn_by_estimate=drawn, left_after_estimate=balance - drawn,
        monthly_draw=monthly, runs_out_at=runs_out_at,
    )  # fmt: skip


# --- invoices -----------------------------------------------------------------------------------


def latest_invoices(user, customer, limit: int = 6) -> list[Invoice]:
    """The last invoices, finalized and drafts (voided ones are on the invoice list)."""
    return list(
        Invoice.objects.visible_to(user)
        .filter(customer=customer, status__in=[InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED])
        .select_related("subscription")
        .order_by("-period", "-pk")[:limit]
    )


def finalized_totals(user, customer, period: BillingPeriod) -> list[Decimal]:
    """The totals of a period's finalized invoices (summed by the caller: SQLite sums decimals as floats)."""
    return list(
        Invoice.objects.visible_to(user)
        .filter(customer=customer, period=str(period), status=InvoiceStatus.FINALIZED)
        .values_list("total", flat=True)
    )


# --- savings recommendations --------------------------------------------------------------------


def open_recommendations(user, customer) -> list[Recommendation]:
    """The customer's open savings recommendations, largest saving first (one query)."""
    return list(
        Recommendation.objects.visible_to(user)
        .filter(customer=customer, status=RecommendationStatus.OPEN)
        .select_related("subscription", "current_plan_version__plan", "target_plan_version__plan")
        .order_by("-saving", "pk")
    )


# --- alerts -------------------------------------------------------------------------------------


def recent_alerts(user, customer, limit: int = 5) -> list[Alert]:
    """The customer's latest alerts, newest first (one query; the rest are on the alerts list)."""
    return list(
        Alert.objects.visible_to(user)
        .filter(customer=customer)
        .select_related("metric")
        .order_by("-fired_at", "-pk")[:limit]
    )
