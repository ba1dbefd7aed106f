"""Reads for the partner's dashboard: its customers' consumption revenue month by month, the
commission ledger, statements and payouts, the lifecycle track and the tier standing.

Everything starts from `visible_to(user)`: a partner admin reads the whole partner, a rep the
customers assigned to them (and the ledger entries of those customers); statements, payouts and tier
evaluations are the partner's own money and standing, which the tenancy gives admins only.

Periods. The reporting window is the one the channel manager's dashboard and the monthly tier
evaluation use: the twelve billing periods ending with the last closed one, so "12 months", "last
month" and "growth" mean the same figures on every screen. The chart adds the periods after it up to
the open one (the current calendar month), whose invoices are live drafts (estimates). With no
period closed yet, the window ends with last month.

Revenue is the invoices' totals net of their credit notes (`total − credited`), void invoices left
out. A period's figure is its finalized invoices plus its drafts: a closed period has no drafts left,
an open one has nothing but drafts (a manager may finalize one invoice early; it then counts as
final). Money is never added across currencies: every figure is kept per currency.

Aggregation happens in the database — one GROUP BY customer · period · currency · status over the
invoices, one over the invoice lines (only for the by-metric chart), one over the ledger, one over the
statements — summed exactly (ExactSum: SQLite's SUM would add floats; `total − credited` is
subtracted here, in Decimal, for the same reason). The number of queries does not depend on the
number of customers, invoices or usage events (pinned by tests/dashboards/test_partner_dashboard.py).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Q
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceLine, InvoiceStatus, Recommendation, RecommendationStatus
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer
from prm.incentives.models import CommissionEntry, Statement, StatementStatus
from prm.operations.tier_evaluation import last_closed_period, window
from prm.partners.models import Partner, PartnerStageChange, Stage
from prm.usage.rollups import ExactSum

ZERO = Decimal(0)
PERCENT_PLACES = Decimal("0.1")
# The names of invoice lines that no metric produced, for the by-metric chart.
LINE_KINDS = {
    "flat": "Subscription fees",
    "minimum_commitment": "Commitment true-ups",
    "credit_pack": "Credit packs bought",
    "prepaid_credit": "Prepaid credits applied",
}
CREDIT_NOTES = "Credit notes"


# --- the periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerWindow:
    """The periods the dashboard reports on (see the module docstring)."""

    open: BillingPeriod  # the current calendar month: live drafts
    closed: BillingPeriod | None  # the last closed period, None before the first close

    @property
    def end(self) -> BillingPeriod:
        """The last period of the twelve: the last closed one (or last month before any close)."""
        return self.closed or self.open.previous()

    @property
    def previous(self) -> BillingPeriod:
        return self.end.previous()

    @property
    def trailing(self) -> list[BillingPeriod]:
        """The twelve periods ending with `end`, oldest first."""
        return window(self.end)

    @property
    def chart(self) -> list[BillingPeriod]:
        """The trailing twelve, then every period after them up to the open one."""
        periods = self.trailing
        while periods[-1] < self.open:
            periods.append(periods[-1].next())
        return periods

    def is_final(self, period: BillingPeriod | str) -> bool:
        """True for a closed period (its invoices are final); the rest are estimates."""
        period = BillingPeriod.parse(period) if isinstance(period, str) else period
        return self.closed is not None and period <= self.closed


def partner_window(now: datetime | None = None) -> PartnerWindow:
    """One query: the last closed period."""
    return PartnerWindow(open=BillingPeriod.containing(now or timezone.now()), closed=last_closed_period())


def period_label(period: BillingPeriod | str) -> str:
    """2026-10 → "Oct 2026"."""
    period = BillingPeriod.parse(period) if isinstance(period, str) else period
    return period.start.strftime("%b %Y")


def _names(periods) -> list[str]:
    return [str(period) for period in periods]


# --- revenue per customer --------------------------------------------------------------------------


@dataclass
class CustomerRevenue:
    """One customer's revenue in one currency, per period."""

    customer_id: int
    name: str
    currency: str
    rep: str  # the assigned rep's name, "" when none
    final: dict[str, Decimal] = field(default_factory=dict)  # finalized invoices, net of credit notes
    draft: dict[str, Decimal] = field(default_factory=dict)  # live drafts
    credited: dict[str, Decimal] = field(default_factory=dict)  # credit notes on finalized invoices
    drafts: int = 0  # draft invoices of the open period

    def final_in(self, period) -> Decimal:
        return self.final.get(str(period), ZERO)

    def in_period(self, period) -> Decimal:
        """The period's figure: final invoices plus drafts (an estimate while it is open)."""
        return self.final.get(str(period), ZERO) + self.draft.get(str(period), ZERO)

    def over(self, periods) -> Decimal:
        return sum((self.in_period(period) for period in periods), ZERO)


@dataclass
class PartnerRevenue:
    """Every visible customer's revenue over the chart's periods, per currency."""

    window: PartnerWindow
    customers: list[CustomerRevenue]

    @property
    def currencies(self) -> list[str]:
        """The currencies billed, the one with the most revenue over the chart first (then by code)."""
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for row in self.customers:
            totals[row.currency] += abs(row.over(self.window.chart))
        return sorted(totals, key=lambda currency: (-totals[currency], currency))

    def of_currency(self, currency: str) -> list[CustomerRevenue]:
        return [row for row in self.customers if row.currency == currency]

    def per_currency(self, amount) -> dict[str, Decimal]:
        """{currency: sum of `amount(row)`} over the customers, every billed currency listed."""
        totals: dict[str, Decimal] = dict.fromkeys(self.currencies, ZERO)
        for row in self.customers:
            totals[row.currency] += amount(row)
        return totals

    def final_in(self, period) -> dict[str, Decimal]:
        return self.per_currency(lambda row: row.final_in(period))

    def draft_in(self, period) -> dict[str, Decimal]:
        return self.per_currency(lambda row: row.draft.get(str(period), ZERO))

    def trailing(self) -> dict[str, Decimal]:
        """Finalized invoices of the twelve periods, net of credit notes."""
        periods = self.window.trailing
        return self.per_currency(lambda row: sum((row.final_in(period) for period in periods), ZERO))

    def open_drafts(self) -> int:
        return sum(row.drafts for row in self.customers)

    def credited_in(self, period) -> dict[str, Decimal]:
        return self.per_currency(lambda row: row.credited.get(str(period), ZERO))


def partner_revenue(user, partner_window: PartnerWindow) -> PartnerRevenue:
    """One GROUP BY over the visible invoices of the chart's periods."""
    rows = (
        Invoice.objects.visible_to(user)
        .filter(period__in=_names(partner_window.chart))
        .exclude(status=InvoiceStatus.VOID)
        .order_by()
        .values(
            "customer_id", "customer__name", "customer__assigned_rep__full_name", "customer__assigned_rep__email",
            "currency", "period", "status",
        )
        .annotate(total=ExactSum("total"), credited=ExactSum("credited"), invoices=Count("pk"))
    )  # fmt: skip
    open_name = str(partner_window.open)
    customers: dict[tuple[int, str], CustomerRevenue] = {}
    for row in rows:
        key = (row["customer_id"], row["currency"])
        customer = customers.get(key)
        if customer is None:
            rep = row["customer__assigned_rep__full_name"] or row["customer__assigned_rep__email"] or ""
            customer = customers[key] = CustomerRevenue(
                customer_id=row["customer_id"], name=row["customer__name"], currency=row["currency"], rep=rep
            )
        period, total, credited = row["period"], Decimal(row["total"] or 0), Decimal(row["credited"] or 0)
        if row["status"] == InvoiceStatus.FINALIZED:
            customer.final[period] = customer.final.get(period, ZERO) + total - credited
            customer.credited[period] = customer.credited.get(period, ZERO) + credited
        else:
            customer.draft[period] = customer.draft.get(period, ZERO) + total
            if period == open_name:
                customer.drafts += row["invoices"]
    ordered = sorted(customers.values(), key=lambda row: (row.name.lower(), row.customer_id, row.currency))
    return PartnerRevenue(window=partner_window, customers=ordered)


def revenue_by_metric(user, partner_window: PartnerWindow) -> dict[str, dict[str, dict[str, Decimal]]]:
    """{currency: {series name: {period: amount}}} from the visible invoice lines (one GROUP BY).

    A line priced on a metric counts under the metric's name; the others under what they are
    (subscription fees, true-ups, packs bought, credits applied — negative). Credit notes are not
    lines: the caller adds them from `PartnerRevenue.credited_in` so each month's stack adds up to
    the same revenue as the by-customer chart.
    """
    rows = (
        InvoiceLine.objects.visible_to(user)
        .filter(invoice__period__in=_names(partner_window.chart))
        .exclude(invoice__status=InvoiceStatus.VOID)
        .order_by()
        .values("invoice__currency", "invoice__period", "metric__name", "model")
        .annotate(amount=ExactSum("amount"))
    )
    series: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        name = row["metric__name"] or LINE_KINDS.get(row["model"], row["model"].replace("_", " ").capitalize())
        by_period = series[row["invoice__currency"]][name]
        period = row["invoice__period"]
        by_period[period] = by_period.get(period, ZERO) + Decimal(row["amount"] or 0)
    return {currency: dict(names) for currency, names in series.items()}


# --- growth -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerGrowth:
    """A customer's revenue in the last closed period against the period before (finalized, net)."""

    revenue: CustomerRevenue
    previous: Decimal
    current: Decimal
    trailing: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def growth_percent(self) -> Decimal | None:
        """None when there was nothing to grow from."""
        if not self.previous:
            return None
        return (self.change * 100 / self.previous).quantize(PERCENT_PLACES)


def customer_growth(revenue: PartnerRevenue) -> list[CustomerGrowth]:
    """Customers with revenue in either of the last two closed periods, largest increase first.

    Two complete, final months are compared (not the open month's estimate against a whole month,
    which would read as a decline every morning of the 1st); the same comparison as the manager's
    partners-by-growth table and the tier evaluation's growth criterion.
    """
    window = revenue.window
    rows = []
    for row in revenue.customers:
        current, previous = row.final_in(window.end), row.final_in(window.previous)
        if not current and not previous:
            continue
        trailing = sum((row.final_in(period) for period in window.trailing), ZERO)
        rows.append(CustomerGrowth(revenue=row, previous=previous, current=current, trailing=trailing))
    rows.sort(key=lambda each: (-each.change, each.revenue.name.lower(), each.revenue.customer_id))
    return rows


# --- commissions ---------------------------------------------------------------------------------


def commissions_by_period(user, periods) -> dict[str, dict[str, Decimal]]:
    """{currency: {period: the ledger's sum}} of the visible entries earned in `periods` (one GROUP BY).
    A rep's ledger holds the entries of their customers only (the tenancy's rule)."""
    rows = (
        CommissionEntry.objects.visible_to(user)
        .filter(period__in=_names(periods))
        .order_by()
        .values("currency", "period")
        .annotate(amount=ExactSum("amount"))
    )
    result: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in rows:
        result[row["currency"]][row["period"]] = Decimal(row["amount"] or 0)
    return dict(result)


@dataclass
class StatementFigures:
    """The window's statements in one currency: paid out, and approved but not paid yet."""

    currency: str
    paid: Decimal = ZERO
    paid_count: int = 0
    approved: Decimal = ZERO
    approved_count: int = 0


def statement_figures(user, periods) -> list[StatementFigures]:
    """Statements of `periods` per currency with their payouts (one GROUP BY; admins only by tenancy)."""
    rows = (
        Statement.objects.visible_to(user)
        .filter(period__in=_names(periods), status__in=[StatementStatus.APPROVED, StatementStatus.PAID])
        .order_by()
        .values("currency", "status")
        .annotate(total=ExactSum("total"), paid=ExactSum("payout__amount"), n=Count("pk"))
    )
    figures: dict[str, StatementFigures] = {}
    for row in rows:
        each = figures.setdefault(row["currency"], StatementFigures(currency=row["currency"]))
        if row["status"] == StatementStatus.PAID:
            each.paid += Decimal(row["paid"] or 0)
            each.paid_count += row["n"]
        else:
            each.approved += Decimal(row["total"] or 0)
            each.approved_count += row["n"]
    return [figures[currency] for currency in sorted(figures)]


# --- customers, lifecycle --------------------------------------------------------------------------


def customer_counts(user) -> dict[str, int]:
    return Customer.objects.visible_to(user).aggregate(total=Count("pk"), active=Count("pk", filter=Q(is_active=True)))


def the_partner(user) -> Partner:
    """The user's own partner with its tier (one query, through the scope like everything else)."""
    return Partner.objects.visible_to(user).select_related("tier").get(pk=user.membership_or_none.partner_id)


@dataclass(frozen=True)
class LifecycleStep:
    stage: str
    label: str
    state: str  # "done", "current" or "ahead"
    reached_at: datetime | None  # the latest move into this stage (None: no move recorded)


def lifecycle_track(user, partner: Partner) -> list[LifecycleStep]:
    """The seven stages, each done, current or ahead, with the date it was reached (one query)."""
    reached = dict(
        PartnerStageChange.objects.visible_to(user)
        .filter(partner=partner)
        .order_by()
        .values("to_stage")
        .annotate(at=Max("changed_at"))
        .values_list("to_stage", "at")
    )
    current = Stage.values.index(partner.stage)
    steps = []
    for index, (value, label) in enumerate(Stage.choices):
        state = "done" if index < current else "current" if index == current else "ahead"
        # A stage ahead was perhaps reached once, before a move back: it is not reached now.
        steps.append(LifecycleStep(value, label, state, reached.get(value) if state != "ahead" else None))
    return steps


# Customers who could pay less: how many the dashboard names.
TOP_RECOMMENDATIONS = 5


def top_recommendations(user, limit: int = TOP_RECOMMENDATIONS) -> list[Recommendation]:
    """The open savings recommendations of the partner's customers (a rep's: their own customers'),
    largest saving first (one query). Savings in different currencies are ordered by amount as they
    are; each is shown in its own currency."""
    return list(
        Recommendation.objects.visible_to(user)
        .filter(status=RecommendationStatus.OPEN)
        .select_related("customer", "current_plan_version__plan", "target_plan_version__plan")
        .order_by("-saving", "pk")[:limit]
    )
