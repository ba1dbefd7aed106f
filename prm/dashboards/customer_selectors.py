"""Reads for the customer's dashboard: usage over time, the open period's live cost and where it
is heading, the commitment burn-down, prepaid credits and the latest invoices.

Everything starts from the customer the signed-in user may see (`visible_to`) and reads rollups,
draft invoices and grants, never raw events: the number of queries grows with the customer's
metrics and subscriptions, not with its events nor with the number of customers. Nothing here
writes: a draft is shown as rated (with its "as of"), never refreshed.

Projection (end-of-period spend). The rule is linear: what has been used so far, divided by the
elapsed fraction of the period. Applied to a whole invoice total it would also multiply flat fees,
the minimum-commitment true-up and credits, which do not grow with time, so it is applied where it
is linear, line by line:

- a usage line of a metric that accumulates (sum, count) has its quantity divided by the elapsed
  fraction of its window (the service window, or its phase of a plan change) and is priced again
  by its own charge (free units, tiers and packages stay right); a level metric (max, latest,
  distinct count) keeps its quantity: its level so far is the best guess for the period;
- flat fees are owed whole already and are kept; the minimum commitment still applies (the
  projected charges, or the minimum if higher); credit packs bought are kept; prepaid credits pay
  the projected charges up to what was available.

Each projected line is rounded once (round_money) and the totals are sums of rounded lines, like
an invoice. The elapsed fraction is measured at the draft's `rated_at` (the moment its figures
describe). Less than a day into a window is too early to extrapolate: no projection then.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, F, Prefetch, Q

from prm.billing.credits import CREDIT_LINE, PACK_LINE
from prm.billing.models import CreditGrant, Invoice, InvoiceLine, InvoiceStatus
from prm.core.money import parse_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, SubscriptionChange
from prm.plans import pricing
from prm.plans.models import Aggregation, Metric, PlanVersion
from prm.usage.models import UsageDistinctKey
from prm.usage.selectors import usage_buckets

GRANULARITIES = {"hour": "Hourly", "day": "Daily", "month": "Monthly"}
# The longest range each granularity may show, in days: enough points to read, bounded work.
MAX_RANGE_DAYS = {"hour": 31, "day": 400, "month": 1830}
# Quantities that accumulate over time (extrapolated); the others are levels (kept).
ACCUMULATING = frozenset({Aggregation.SUM, Aggregation.COUNT})
MIN_ELAPSED = timedelta(days=1)
# Lines that are not charges of the plan (rating adds them after the charges).
NOT_CHARGES = frozenset({pricing.MINIMUM_COMMITMENT, PACK_LINE, CREDIT_LINE})
ZERO = Decimal(0)
_QUANTUM = Decimal("0.000001")  # usage quantities keep six places (QUANTITY_DECIMAL_PLACES)
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


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


def line_window(invoice: Invoice, line: InvoiceLine) -> tuple[datetime, datetime]:
    """The stretch of time a line's usage was read over: its phase of a plan change, or the
    invoice's service window."""
    phase = line.charge.get("phase") or {}
    if phase.get("start") and phase.get("end"):
        return datetime.fromisoformat(phase["start"]), datetime.fromisoformat(phase["end"])
    return invoice.service_start, invoice.service_end


def line_charge(line: InvoiceLine) -> pricing.Charge:
    """The pricing-engine charge of a usage line (its stored definition less the notes rating
    adds to it, "phase" and "prorated")."""
    model = line.charge["model"]
    allowed = ("model", *pricing.MODEL_FIELDS[model])
    return pricing.parse_charge({k: v for k, v in line.charge.items() if k in allowed}, path="charge")


def is_usage_line(line: InvoiceLine) -> bool:
    return line.metric_id is not None and line.model in pricing.USAGE_MODELS


def price_line(line: InvoiceLine, quantity: Decimal, currency: str) -> Decimal:
    amount, _tiers = pricing.charge_amount(line_charge(line), quantity)
    return round_money(amount, currency)


@dataclass
class ProjectedLine:
    line: InvoiceLine
    quantity: Decimal
    amount: Decimal
    extrapolated: bool  # False: kept as it is (a flat fee, a level metric, a finished window)


@dataclass
class Projection:
    lines: list[ProjectedLine]
    charges: Decimal  # the plan's charges projected (the subtotal)
    minimum: Decimal | None  # the minimum the period owes, when the draft shows a true-up
    due: Decimal  # the charges, or the minimum if higher: what prepaid credits pay
    packs: Decimal
    credits: Decimal  # prepaid credits drawn (positive)
    total: Decimal


def elapsed(start: datetime, end: datetime, as_of: datetime) -> tuple[timedelta, timedelta]:
    """(the part of [start, end) elapsed at `as_of`, the whole of it)."""
    return min(max(as_of, start), end) - start, end - start


def extrapolate(quantity: Decimal, so_far: timedelta, whole: timedelta) -> Decimal:
    """quantity ÷ (so_far ÷ whole), to the six places of a usage quantity."""
    exact = _EXACT.divide(quantity * _seconds(whole), Decimal(_seconds(so_far)))
    return exact.quantize(_QUANTUM, rounding=decimal.ROUND_HALF_UP)


def project(invoice: Invoice) -> Projection | None:
    """The draft's end-of-period total at the pace so far (see the module docstring); None when
    less than a day of a usage line's window has passed at the draft's `rated_at`."""
    currency, as_of = invoice.currency, invoice.rated_at
    lines = list(invoice.lines.all())
    projected: list[ProjectedLine] = []
    for line in lines:
        if line.model in NOT_CHARGES:
            continue
        if not is_usage_line(line) or line.metric.aggregation not in ACCUMULATING:
            projected.append(ProjectedLine(line, line.quantity, line.amount, extrapolated=False))
            continue
        so_far, whole = elapsed(*line_window(invoice, line), as_of)
        if so_far >= whole:
            projected.append(ProjectedLine(line, line.quantity, line.amount, extrapolated=False))
            continue
        if so_far < MIN_ELAPSED:
            return None
        quantity = extrapolate(line.quantity, so_far, whole)
        projected.append(ProjectedLine(line, quantity, price_line(line, quantity, currency), extrapolated=True))
    charges = sum((each.amount for each in projected), ZERO)
    true_ups = [line.amount for line in lines if line.model == pricing.MINIMUM_COMMITMENT]
    # The true-up brings the subtotal up to the minimum: subtotal + true-up is the minimum owed.
    minimum = invoice.subtotal + sum(true_ups, ZERO) if true_ups else None
    due = max(charges, minimum) if minimum is not None else charges
    packs = sum((line.amount for line in lines if line.model == PACK_LINE), ZERO)
    credits = ZERO
    for line in lines:
        if line.model == CREDIT_LINE:
            available = parse_decimal(line.charge.get("available", "0"))
            credits += round_money(min(available, max(due, ZERO)), currency)
    return Projection(
        lines=projected,
        charges=charges,
        minimum=minimum,
        due=due,
        packs=packs,
        credits=credits,
        total=due + packs - credits,
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
        length = Decimal(_seconds(period.end - period.start))
        runs_out_at = period.start + timedelta(seconds=int(_EXACT.divide(balance * length, monthly)))
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


def _seconds(delta: timedelta) -> int:
    return delta.days * 86400 + delta.seconds


def finalized_totals(user, customer, period: BillingPeriod) -> list[Decimal]:
    """The totals of a period's finalized invoices (summed by the caller: SQLite sums decimals as floats)."""
    return list(
        Invoice.objects.visible_to(user)
        .filter(customer=customer, period=str(period), status=InvoiceStatus.FINALIZED)
        .values_list("total", flat=True)
    )
