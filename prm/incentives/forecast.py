"""The commission forecast: what the open period's live invoice drafts would earn if it closed now.

    commission_forecast(user=partner_admin, period=BillingPeriod(2026, 11))

The same rule logic as the accrual (`accrual.prospective_entries`, the caps, the growth
accelerator) runs over the period's DRAFT invoices; nothing is stored. A partner sees what it
would earn: on its own customers' drafts (a rep: the customers assigned to them) and, for a
distributor, its override on its resellers' customers' drafts (whose invoices it does not see;
only its own projected commission on them is shown). Customers see nothing.

The partner dashboard shows only the forecast's totals, on every view, and a partner with 10,000
customers has as many drafts: reading them all costs about 0.45 ms each. `forecast_totals` keeps
the totals in the cache under the state of their inputs, so a view between two changes reads them
and a change is seen on the next view (see its docstring for what counts as a change).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Max
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceStatus
from prm.core.models import AuditEntry
from prm.core.periods import BillingPeriod
from prm.core.tenancy import ScopeKind, scope_of
from prm.incentives import accrual
from prm.incentives import rules as rule_book
from prm.incentives.accrual import Prospect
from prm.incentives.models import RuleKind


@dataclass
class CurrencyForecast:
    currency: str
    total: Decimal = Decimal(0)
    entries: list[Prospect] = field(default_factory=list)


@dataclass
class CommissionForecast:
    period: str
    drafts: int = 0  # live invoice drafts the projection read
    currencies: list[CurrencyForecast] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.currencies


def _drafts(user, period: BillingPeriod):
    """The drafts whose commission `user` may see, and whose earnings are theirs to see."""
    scope = scope_of(user)
    drafts = Invoice.objects.filter(period=str(period), status=InvoiceStatus.DRAFT)
    if scope.kind is ScopeKind.VENDOR:
        return drafts, lambda prospect: True
    if scope.kind is not ScopeKind.PARTNER:
        return drafts.none(), lambda prospect: False
    visible = drafts & Invoice.objects.visible_to(user)
    if scope.rep_user_id is None:
        # A distributor's override is earned on its resellers' customers' invoices.
        visible = visible | drafts.filter(customer__reseller__parent_id=scope.partner_id)
    return visible, lambda prospect: prospect.partner.pk == scope.partner_id


def commission_forecast(*, user, period: BillingPeriod) -> CommissionForecast:
    """Projected commission of `period` for `user`, per currency (entries not stored)."""
    forecast = CommissionForecast(period=str(period))
    drafts, earns = _drafts(user, period)
    rules = rule_book.rules_in_force(period)
    if not rules:
        return forecast
    per_invoice = [rule for rule in rules if rule.kind != RuleKind.GROWTH_ACCELERATOR]
    growth_rules = [rule for rule in rules if rule.kind == RuleKind.GROWTH_ACCELERATOR]
    facts = accrual.load_invoice_facts(drafts.values_list("pk", flat=True), drafts=True)
    forecast.drafts = len(facts)
    prospects = [p for each in facts for p in accrual.prospective_entries(each, per_invoice) if earns(p)]
    scope = scope_of(user)
    if growth_rules and scope.rep_user_id is None and facts:
        # Growth is the partner's whole revenue (the drafts just read), measured against the previous
        # period's final figures: those of the partners with drafts, the only ones growth is asked of
        # (not every partner's invoices, which a partner's dashboard would read on every view).
        now = accrual.partner_revenue(drafts)
        before = accrual.partner_revenue(
            Invoice.objects.filter(
                period=str(period.previous()),
                status=InvoiceStatus.FINALIZED,
                customer__reseller_id__in={partner_id for partner_id, _currency in now},
            )
        )
        prospects += [
            p
            for p in accrual.growth_prospects(period, growth_rules, now, before)
            if earns(p) and (p.partner.pk, p.currency) in now
        ]
    prospects = accrual.apply_caps(prospects, accrual.cap_usage(prospects))
    by_currency: dict[str, CurrencyForecast] = defaultdict(lambda: CurrencyForecast(currency=""))
    for prospect in prospects:
        bucket = by_currency[prospect.currency]
        bucket.currency = prospect.currency
        bucket.total += prospect.amount
        bucket.entries.append(prospect)
    forecast.currencies = [by_currency[currency] for currency in sorted(by_currency)]
    return forecast


# What an input the key below does not see (the commissions catch-up's bonus entries, a customer
# moved between two partners with as many drafts) may leave a copy stale for at most this long.
FORECAST_TOTALS_SECONDS = 15 * 60


@dataclass(frozen=True)
class ForecastTotals:
    """The forecast's projected commission per currency, as the dashboards show it."""

    period: str
    drafts: int
    totals: dict[str, Decimal]
    computed_at: datetime


def forecast_totals(*, user, period: BillingPeriod) -> ForecastTotals:
    """`commission_forecast`'s totals for `user`, computed once per state of their inputs.

    The key holds who is asking (their scope), the period, the visible drafts (how many, the
    newest rating, the newest id: a draft re-rated, added, finalized or removed changes it) and
    the newest audit entry, since every change to commission rules, tiers, partners, contract
    changes' approvals and every period close writes one. Two queries when the copy is there.
    """
    scope = scope_of(user)
    drafts, _earns = _drafts(user, period)
    state = drafts.order_by().aggregate(count=Count("pk"), rated=Max("rated_at"), newest=Max("pk"))
    configuration = AuditEntry.objects.aggregate(newest=Max("pk"))["newest"]
    rated = state["rated"].isoformat() if state["rated"] else ""
    key = (
        f"prm:forecast-totals:{scope.kind.value}:{scope.partner_id}:{scope.rep_user_id}:{period}:"
        f"{state['count']}:{rated}:{state['newest']}:{configuration}"
    )
    totals = cache.get(key)
    if totals is None:
        forecast = commission_forecast(user=user, period=period)
        totals = ForecastTotals(
            period=forecast.period,
            drafts=forecast.drafts,
            totals={bucket.currency: bucket.total for bucket in forecast.currencies},
            computed_at=timezone.now(),
        )
        cache.set(key, totals, FORECAST_TOTALS_SECONDS)
    return totals
