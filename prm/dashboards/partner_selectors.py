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

Aggregation happens in the database — one query over the invoices for the KPIs, the chart and the
growth movers (`partner_revenue`), one for the growth table's page (`customer_growth_rows`), one over
the invoice lines (only for the by-metric chart), one over the ledger, one over the statements — summed
exactly (ExactSum, and `_Minus` for `total − credited`: SQLite's SUM and minus would add floats). The
number of queries, the rows they return and the work done with them do not depend on the number of
customers, invoices or usage events (pinned by tests/dashboards/test_partner_dashboard.py; the
database's choices are checked against a plain reading in test_partner_dashboard_in_database.py).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connections
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    F,
    Func,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceLine, InvoiceStatus, Recommendation, RecommendationStatus
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer
from prm.incentives.models import CommissionEntry, Statement, StatementStatus
from prm.operations.tier_evaluation import last_closed_period, window
from prm.partners.models import Partner, PartnerStageChange, Stage
from prm.usage.models import QUANTITY_DECIMAL_PLACES
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


# --- revenue: the invoices in one query --------------------------------------------------------------
#
# The page needs, of possibly thousands of customers, only: per currency and period the totals (KPIs,
# the "others" of the chart), the largest customers of each currency with their months (the chart's
# named bars), how many customers there are, and the customers that grew or declined most (the growth
# table's first page and its highlights). All of it is aggregated in the database from one grouping of
# the visible invoices per customer · currency · period (`_per_period`, an ORM queryset, so the scope
# is the usual `visible_to`), wrapped in SQL the ORM cannot write (aggregates of aggregates and window
# functions over them). Rows moved and Python work depend on the number of currencies and periods,
# never on the number of customers.


class _Minus(Func):
    """a − b, exactly: NUMERIC on PostgreSQL; on SQLite, whose decimals are REALs, through the exact
    `prm_decimal_add` (prm/usage/rollups.py) of a and −b."""

    arity = 2
    template = "(%(expressions)s)"
    arg_joiner = " - "
    output_field = DecimalField(max_digits=38, decimal_places=QUANTITY_DECIMAL_PLACES)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="prm_decimal_add(%(expressions)s)", arg_joiner=", -")


@dataclass(frozen=True)
class _Sql:
    """The vendor's spelling of what the raw SQL below needs (exact sums and differences, code-point order)."""

    sqlite: bool

    def sum(self, expression: str) -> str:
        return f"prm_decimal_sum({expression})" if self.sqlite else f"SUM({expression})"

    def minus(self, a: str, b: str) -> str:
        return f"prm_decimal_add({a}, -({b}))" if self.sqlite else f"({a} - {b})"

    def growth_percent(self) -> str:
        """The growth column's figure, change · 100 / previous to one decimal place, rounded half to even
        as Python's Decimal.quantize rounds it (PostgreSQL's ROUND goes half away from zero, so an exact
        half is rounded to the even tenth here); NULL when there was nothing to grow from. On SQLite,
        whose decimals are REALs, ROUND's nearest tenth."""
        ratio = "(change * 100.0 / NULLIF(previous, 0))"
        if self.sqlite:
            return f"ROUND({ratio}, 1)"
        tenths = f"TRUNC({ratio} * 10)"
        return (
            f"CASE WHEN ABS({ratio} * 10 - {tenths}) = 0.5 AND MOD({tenths}, 2) = 0 THEN {tenths} / 10 "
            f"ELSE ROUND({ratio}, 1) END"
        )

    def text_order(self, expression: str) -> str:
        """Strings in code-point order, as Python sorts them (SQLite's BINARY collation already is)."""
        return expression if self.sqlite else f'{expression} COLLATE "C"'


def _decimal(value) -> Decimal:
    """A sum as the database hands it back: NUMERIC (a Decimal), or on SQLite an INTEGER or a REAL whose
    repr() is the exact decimal stored (see ExactSum)."""
    if value is None:
        return ZERO
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _per_period(user, periods) -> QuerySet:
    """The visible invoices of `periods`, void ones left out, per customer · currency · period: finalized
    ones net of their credit notes, their credit notes, drafts (and how many), and the period's figure
    (finalized net plus drafts). Columns: PER_PERIOD."""
    finalized = Q(status=InvoiceStatus.FINALIZED)
    net = _Minus("total", "credited")
    return (
        Invoice.objects.visible_to(user)
        .filter(period__in=_names(periods))
        .exclude(status=InvoiceStatus.VOID)
        .order_by()
        .values("customer_id", "currency", "period")
        .annotate(
            final=ExactSum(net, filter=finalized), credit_notes=ExactSum("credited", filter=finalized),
            draft=ExactSum("total", filter=~finalized), drafts=Count("pk", filter=~finalized),
            amount=ExactSum(Case(When(finalized, then=net), default=F("total"))),
        )
    )  # fmt: skip


PER_PERIOD = "per_period (customer_id, currency, period, final, credit_notes, draft, drafts, amount)"


def _customers(user) -> QuerySet:
    """The visible customers' names and reps (the rep's name, else their email, else "": none). Columns:
    CUSTOMERS."""
    rep = Coalesce(
        NullIf("assigned_rep__full_name", Value("")), "assigned_rep__email", Value(""), output_field=CharField()
    )
    return Customer.objects.visible_to(user).order_by().values("pk", "name", rep=rep)


CUSTOMERS = "customers (id, name, rep)"


def _per_customer_sql(sql: _Sql, partner_window: PartnerWindow) -> tuple[str, list]:
    """`per_customer` and `growth`, from `per_period` and `customers`, in one pass over `per_period`:

    - per_customer: per customer · currency, the sum over the periods of |the period's figure| (size) and
      of the figures (chart_total); the finalized revenue, net, of the last closed period (current), of
      the one before (previous) and of the twelve (twelve_months);
    - growth: the customers with revenue in either of the last two closed periods, with their name, rep
      and change."""
    trailing = _names(partner_window.trailing)

    def final_in(condition: str) -> str:
        return f"COALESCE({sql.sum(f'CASE WHEN period {condition} THEN final END')}, 0)"

    # Our own names only; every value is a parameter.
    text = (
        "per_customer AS (SELECT customer_id, currency, "  # noqa: S608
        f"{sql.sum('ABS(amount)')} AS size, {sql.sum('amount')} AS chart_total, "
        f"{final_in('= %s')} AS current, {final_in('= %s')} AS previous, "
        f"{final_in('IN (' + ', '.join(['%s'] * len(trailing)) + ')')} AS twelve_months "
        "FROM per_period GROUP BY customer_id, currency), "
        "growth AS (SELECT per_customer.customer_id, currency, current, previous, twelve_months, "
        f"customers.name, customers.rep, {sql.minus('current', 'previous')} AS change "
        "FROM per_customer JOIN customers ON customers.id = per_customer.customer_id "
        "WHERE current <> 0 OR previous <> 0)"
    )
    return text, [str(partner_window.end), str(partner_window.previous), *trailing]


def _growth_order(sql: _Sql) -> str:
    """The growth table's own order, and every other order's tie-break: the largest increase first, then
    by name (case-insensitive), customer and currency."""
    return f"change DESC, {sql.text_order('LOWER(name)')}, customer_id, currency"


def _execute(user, partner_window: PartnerWindow, periods, template: str, params: list) -> list[tuple]:
    """`template` after the common table expressions `per_period` (of `periods`), `customers`,
    `per_customer` and `growth`, each the user's own through `visible_to`."""
    per_period, customers = _per_period(user, periods), _customers(user)
    connection = connections[per_period.db]
    sql = _Sql(sqlite=connection.vendor == "sqlite")
    per_customer, per_customer_params = _per_customer_sql(sql, partner_window)
    ctes, values = [], []
    for name, queryset in ((PER_PERIOD, per_period), (CUSTOMERS, customers)):
        text, queryset_params = queryset.query.get_compiler(queryset.db).as_sql()
        ctes.append(f"{name} AS ({text})")
        values += queryset_params
    ctes.append(per_customer)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} {template}", [*values, *per_customer_params, *params])
        return cursor.fetchall()


def _vendor_sql() -> _Sql:
    return _Sql(sqlite=connections[Invoice.objects.db].vendor == "sqlite")


@dataclass
class PeriodTotals:
    """One currency's invoices in one period, every visible customer together."""

    final: Decimal = ZERO  # finalized invoices, net of credit notes
    credited: Decimal = ZERO  # credit notes on finalized invoices
    draft: Decimal = ZERO  # live drafts
    drafts: int = 0  # how many drafts

    @property
    def amount(self) -> Decimal:
        """The period's figure: final invoices plus drafts (an estimate while it is open)."""
        return self.final + self.draft


@dataclass
class CustomerSeries:
    """One of a currency's largest customers over the chart's periods, with its figure per period."""

    customer_id: int
    name: str
    currency: str
    amounts: dict[str, Decimal] = field(default_factory=dict)  # period → final (net) plus drafts

    def in_period(self, period) -> Decimal:
        return self.amounts.get(str(period), ZERO)


@dataclass(frozen=True)
class CustomerGrowth:
    """A customer's revenue in the last closed period against the period before (finalized, net)."""

    customer_id: int
    name: str
    currency: str
    previous: Decimal
    current: Decimal
    trailing: Decimal = ZERO  # the twelve periods
    rep: str = ""  # the assigned rep's name ("" when none); read for the growth table only

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def growth_percent(self) -> Decimal | None:
        """None when there was nothing to grow from."""
        if not self.previous:
            return None
        return (self.change * 100 / self.previous).quantize(PERCENT_PLACES)


@dataclass
class PartnerRevenue:
    """The visible customers' revenue over the chart's periods, per currency (see `partner_revenue`)."""

    window: PartnerWindow
    currencies: list[str]  # billed in the chart's periods, the one with the most revenue first (then by code)
    totals: dict[str, dict[str, PeriodTotals]]  # currency → period → every customer's invoices
    largest: dict[str, list[CustomerSeries]]  # currency → its largest customers over the chart, largest first
    customers: dict[str, int]  # currency → how many customers it billed over the chart
    growth_count: int  # customers (· currency) with revenue in either of the last two closed periods
    growth_first: list[CustomerGrowth]  # the first rows of the growth table in its own order
    growing: list[CustomerGrowth]  # the largest increases (change > 0), largest first
    declining: list[CustomerGrowth]  # the largest decreases (change < 0), largest first

    def _in(self, currency: str, period) -> PeriodTotals:
        return self.totals.get(currency, {}).get(str(period)) or PeriodTotals()

    def per_currency(self, amount) -> dict[str, Decimal]:
        """{currency: `amount(totals of the currency)`}, every billed currency listed."""
        return {currency: amount(currency) for currency in self.currencies}

    def final_in(self, period) -> dict[str, Decimal]:
        return self.per_currency(lambda currency: self._in(currency, period).final)

    def draft_in(self, period) -> dict[str, Decimal]:
        return self.per_currency(lambda currency: self._in(currency, period).draft)

    def credited_in(self, period) -> dict[str, Decimal]:
        return self.per_currency(lambda currency: self._in(currency, period).credited)

    def amount_in(self, currency: str, period) -> Decimal:
        """Every customer's figure of the period in `currency`: final invoices (net) plus drafts."""
        return self._in(currency, period).amount

    def trailing(self) -> dict[str, Decimal]:
        """Finalized invoices of the twelve periods, net of credit notes."""
        periods = self.window.trailing
        return self.per_currency(lambda currency: sum((self._in(currency, p).final for p in periods), ZERO))

    def open_drafts(self) -> int:
        return sum(self._in(currency, self.window.open).drafts for currency in self.currencies)


def partner_revenue(user, partner_window: PartnerWindow, *, largest: int, first: int, movers: int) -> PartnerRevenue:
    """The revenue figures of the page in one query (see the section's comment).

    - totals per currency · period (finalized net, credited, drafts);
    - per currency: how many customers, and the order of the currencies: the sum over customers of
      |their revenue over the chart's periods|;
    - the `largest` customers of each currency with their figure per period: by the sum over the periods
      of |the period's figure| (ties by the customer id as text), so a customer with a credit note counts
      by how much it moved;
    - the customers with revenue in either of the last two closed periods: how many, the `first` rows of
      the growth table in its own order (largest increase first: its first page, and those that grew most)
      and the `movers` that declined most.
    """
    sql = _vendor_sql()
    order = _growth_order(sql)
    declining = order.replace("change DESC", "change", 1)

    # Our own names only; every value is a parameter. Rows of six kinds, each row: kind, currency, period,
    # customer, name, rep, three figures, and a count or a place. The first kind types the columns its
    # NULLs stand for (PostgreSQL resolves them in order).
    def growth_rows(kind: str, order: str) -> str:
        # Rows in `order`, each with its place (a UNION ALL need not keep the order of its parts).
        columns = "currency, NULL, customer_id, name, rep, current, previous, twelve_months"
        return (
            f"SELECT '{kind}', {columns}, ROW_NUMBER() OVER (ORDER BY {order}) FROM ("  # noqa: S608
            f"SELECT * FROM growth ORDER BY {order} LIMIT %s) {kind}_rows"
        )

    template = (
        ", largest AS ("  # noqa: S608
        "SELECT * FROM (SELECT customer_id, currency, ROW_NUMBER() OVER (PARTITION BY currency "
        f"ORDER BY size DESC, {sql.text_order('CAST(customer_id AS TEXT)')}) AS place FROM per_customer) ranked "
        "WHERE place <= %s) "
        "SELECT 'period', currency, period, CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), "
        f"{sql.sum('final')}, {sql.sum('credit_notes')}, {sql.sum('draft')}, SUM(drafts) "
        "FROM per_period GROUP BY currency, period "
        f"UNION ALL SELECT 'currency', currency, NULL, NULL, NULL, NULL, {sql.sum('ABS(chart_total)')}, NULL, "
        "NULL, COUNT(*) FROM per_customer GROUP BY currency "
        "UNION ALL SELECT 'largest', per_period.currency, period, per_period.customer_id, customers.name, NULL, "
        "amount, NULL, NULL, place FROM largest JOIN per_period ON per_period.customer_id = largest.customer_id "
        "AND per_period.currency = largest.currency JOIN customers ON customers.id = largest.customer_id "
        f"UNION ALL {growth_rows('first', order)} "
        f"UNION ALL {growth_rows('declining', declining)} "
        "UNION ALL SELECT 'growth', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, COUNT(*) FROM growth"
    )
    rows = _execute(user, partner_window, partner_window.chart, template, [largest, max(first, movers), movers])

    totals: dict[str, dict[str, PeriodTotals]] = defaultdict(dict)
    sizes: dict[str, Decimal] = {}
    customers: dict[str, int] = {}
    series: dict[tuple[str, int], CustomerSeries] = {}
    places: dict[tuple[str, int], int] = {}
    growth: dict[str, list[tuple[int, CustomerGrowth]]] = {"first": [], "declining": []}
    growth_count = 0
    for kind, currency, period, customer_id, name, rep, one, two, three, number in rows:
        if kind == "period":
            totals[currency][period] = PeriodTotals(
                final=_decimal(one), credited=_decimal(two), draft=_decimal(three), drafts=int(number or 0)
            )
        elif kind == "currency":
            sizes[currency], customers[currency] = _decimal(one), int(number)
        elif kind == "largest":
            key = (currency, customer_id)
            each = series.setdefault(key, CustomerSeries(customer_id=customer_id, name=name, currency=currency))
            each.amounts[period] = _decimal(one)
            places[key] = int(number)
        elif kind in growth:
            row = CustomerGrowth(
                customer_id=customer_id, name=name, currency=currency, rep=rep,
                current=_decimal(one), previous=_decimal(two), trailing=_decimal(three),
            )  # fmt: skip
            growth[kind].append((int(number), row))
        else:
            growth_count = int(number)

    def in_order(kind: str) -> list[CustomerGrowth]:
        return [row for _place, row in sorted(growth[kind], key=lambda each: each[0])]

    first_rows = in_order("first")
    largest_of: dict[str, list[CustomerSeries]] = defaultdict(list)
    for key in sorted(series, key=lambda key: places[key]):
        largest_of[key[0]].append(series[key])
    return PartnerRevenue(
        window=partner_window,
        currencies=sorted(sizes, key=lambda currency: (-sizes[currency], currency)),
        totals=dict(totals),
        largest=dict(largest_of),
        customers=customers,
        growth_count=growth_count,
        growth_first=first_rows[:first],
        growing=[row for row in first_rows if row.change > 0][:movers],
        declining=[row for row in in_order("declining") if row.change < 0],
    )


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


def customer_growth_count(user, partner_window: PartnerWindow) -> int:
    """How many rows `customer_growth_rows` has (the page reads it from `partner_revenue` instead)."""
    ((count,),) = _execute(user, partner_window, partner_window.trailing, "SELECT COUNT(*) FROM growth", [])
    return count


# Columns of the growth table → how the database orders them (the tie-break is `_growth_order`).
GROWTH_ORDER = {
    "name": "{name}",
    "rep": "{rep}",
    "previous": "previous",
    "current": "current",
    "change": "change",
    # "new" (nothing to grow from) above every percentage; the percentages as shown (to 0.1).
    "growth": "CASE WHEN previous = 0 THEN 1 ELSE 0 END {direction}, {percent}",
    "trailing": "twelve_months",
    "currency": "currency",
}


def customer_growth_rows(
    user, partner_window: PartnerWindow, *, order: list[str], start: int = 0, stop: int | None = None
) -> list[CustomerGrowth]:
    """Rows `start`–`stop` of the customers by growth (every one with revenue in either of the last two
    closed periods), sorted in the database by `order` (column names, "-" for descending), then in the
    table's own order: largest increase first, by name, customer and currency.

    The growth column sorts by the percentage it shows, "new" above every one; names in code-point order,
    as Python compares strings (on PostgreSQL through the "C" collation)."""
    sql = _vendor_sql()
    terms = []
    for alias in order:
        name = alias.lstrip("-")
        direction = "DESC" if alias.startswith("-") else "ASC"
        expression = GROWTH_ORDER[name].format(
            name=sql.text_order("name"), rep=sql.text_order("rep"), percent=sql.growth_percent(), direction=direction
        )
        terms.append(f"{expression} {direction}")
    terms.append(_growth_order(sql))
    # Our own names and the orders above only; every value is a parameter.
    template = (
        "SELECT customer_id, name, rep, currency, current, previous, twelve_months FROM growth "  # noqa: S608
        f"ORDER BY {', '.join(terms)}"
    )
    params = []
    if stop is not None:
        template += " LIMIT %s"
        params.append(stop - start)
    if start:
        # SQLite takes an OFFSET only after a LIMIT (-1: none).
        template += " LIMIT -1 OFFSET %s" if stop is None and sql.sqlite else " OFFSET %s"
        params.append(start)
    rows = []
    for customer_id, name, rep, currency, current, previous, twelve in _execute(
        user, partner_window, partner_window.trailing, template, params
    ):
        rows.append(
            CustomerGrowth(
                customer_id=customer_id,
                name=name,
                rep=rep,
                currency=currency,
                current=_decimal(current),
                previous=_decimal(previous),
                trailing=_decimal(twelve),
            )  # fmt: skip
        )
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


def the_partner(user) -> Partner:
    """The user's own partner with its tier, and how many of its customers the user sees (a rep: those
    assigned to them) as `customers_total` and `customers_active` (one query, through the scope like
    everything else)."""

    def count(customers) -> Subquery:
        counted = customers.filter(reseller=OuterRef("pk")).order_by().values("reseller").annotate(n=Count("pk"))
        return Coalesce(Subquery(counted.values("n")), 0)

    visible = Customer.objects.visible_to(user)
    return (
        Partner.objects.visible_to(user)
        .select_related("tier")
        .annotate(customers_total=count(visible), customers_active=count(visible.filter(is_active=True)))
        .get(pk=user.membership_or_none.partner_id)
    )


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
