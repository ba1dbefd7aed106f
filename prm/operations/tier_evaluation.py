"""The monthly tier evaluation: each partner measured against the program's tier criteria.

    tier_evaluations_propose(period=BillingPeriod(2026, 10))

For every partner in the program (past the recruit stage), from the FINALIZED invoices of its
customers (void ones and drafts never count; an invoice counts for its total less its credit
notes), for the 12 billing periods ending with `period`:

- trailing revenue: the 12 periods' revenue per currency, each currency converted to the
  program currency (settings.PRM_PROGRAM_CURRENCY) at its reference ExchangeRate and rounded
  once; the converted total is the sum of those. A currency without a rate is left out and
  named in the evidence;
- active customers: customers whose finalized invoices of `period` come to more than zero;
- certified people: the partner's active people holding a certification valid at the period's end
  (prm/enablement/selectors.py), each counted once;
- growth: `period`'s converted revenue against the previous period's, in percent to 2 places
  (not measurable when the previous period had none: a growth criterion is then missed).

The proposed tier is the highest-ranked one whose every set criterion is met (the entry tier is
the floor). An upgrade or a downgrade is stored as a `proposed` TierEvaluation for a channel
manager to confirm or dismiss (prm/partners/services.py: tier_evaluation_confirm / _dismiss); a
partner that stays gets a `recorded` one, so its page can say what the next tier still needs.
One evaluation per partner and period: running again leaves existing evaluations as they are.
A new evaluation supersedes the partner's undecided proposals of earlier periods (dismissed, with
a note): its figures are newer, so the managers' queue holds at most one proposal per partner.

Money is summed in Python as Decimal (SQLite's SUM would add floats).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceStatus
from prm.core.audit import audit_update
from prm.core.models import ClosedBillingPeriod
from prm.core.money import money_string, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.enablement.selectors import certified_people, certified_people_by_partner
from prm.partners.models import (
    EvaluationDirection,
    EvaluationStatus,
    ExchangeRate,
    Partner,
    Stage,
    Tier,
    TierEvaluation,
)
from prm.partners.selectors import TierFigures, qualifying_tier, tier_standings

# The decisions are the partners app's writes; importable from here too, next to the proposal.
from prm.partners.services import tier_evaluation_confirm, tier_evaluation_dismiss  # noqa: F401

WINDOW = 12  # billing periods of trailing revenue, ending with the evaluated one
BATCH_SIZE = 500
CENT = Decimal("0.01")


@dataclass
class TierEvaluationSummary:
    period: str
    partners: int = 0  # evaluated by this run
    upgrades: int = 0
    downgrades: int = 0
    unchanged: int = 0
    already_evaluated: int = 0  # had an evaluation for the period from an earlier run
    superseded: int = 0  # earlier undecided proposals dismissed by a new one

    def as_dict(self) -> dict:
        return {
            "period": self.period,
            "partners": self.partners,
            "upgrades": self.upgrades,
            "downgrades": self.downgrades,
            "unchanged": self.unchanged,
            "already_evaluated": self.already_evaluated,
            "superseded": self.superseded,
        }

    def __str__(self) -> str:
        return (
            f"Tier evaluation {self.period}: {self.partners} partners evaluated now ({self.upgrades} upgrades and "
            f"{self.downgrades} downgrades proposed, {self.unchanged} unchanged), {self.already_evaluated} evaluated "
            f"before, {self.superseded} earlier proposals superseded."
        )


@dataclass
class _Revenue:
    """One partner's finalized revenue, net of credit notes, as loaded for one evaluation."""

    trailing: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # currency → amount
    by_period: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    customers: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # in the period


@dataclass(frozen=True)
class _Rate:
    rate: Decimal
    updated_at: str | None  # None: the program currency itself


def window(period: BillingPeriod) -> list[BillingPeriod]:
    """The 12 billing periods ending with `period`, oldest first."""
    periods = [period]
    while len(periods) < WINDOW:
        periods.append(periods[-1].previous())
    return periods[::-1]


def _load_revenue(period: BillingPeriod, partner_ids=None) -> dict[int, _Revenue]:
    """Every partner's revenue in the window, in one pass over the finalized invoices."""
    evaluated, previous = str(period), str(period.previous())
    invoices = Invoice.objects.filter(status=InvoiceStatus.FINALIZED, period__in=[str(each) for each in window(period)])
    if partner_ids is not None:
        invoices = invoices.filter(customer__reseller_id__in=partner_ids)
    revenue: dict[int, _Revenue] = defaultdict(_Revenue)
    rows = invoices.values_list("customer__reseller_id", "customer_id", "period", "currency", "total", "credited")
    for partner_id, customer_id, invoice_period, currency, total, credited in rows.iterator(chunk_size=2000):
        net = total - credited
        partner = revenue[partner_id]
        partner.trailing[currency] += net
        if invoice_period in (evaluated, previous):
            partner.by_period[(invoice_period, currency)] += net
        if invoice_period == evaluated:
            partner.customers[customer_id] += net
    return revenue


def _load_rates() -> dict[str, _Rate]:
    rates = {rate.currency: _Rate(rate.rate, rate.updated_at.isoformat()) for rate in ExchangeRate.objects.all()}
    rates[settings.PRM_PROGRAM_CURRENCY] = _Rate(Decimal(1), None)
    return rates


def _convert(amounts: dict[str, Decimal], rates: dict[str, _Rate], currency: str):
    """Each currency's amount in the program currency, rounded once; the currencies without a rate."""
    converted, missing = {}, []
    for code, amount in sorted(amounts.items()):
        if code in rates:
            converted[code] = round_money(amount * rates[code].rate, currency)
        else:
            missing.append(code)
    return converted, missing


def partner_tier_evidence(
    partner: Partner,
    period: BillingPeriod,
    *,
    tiers: list[Tier] | None = None,
    rates: dict[str, _Rate] | None = None,
    revenue: _Revenue | None = None,
    certified: int | None = None,
) -> tuple[dict, TierFigures, Tier]:
    """The evidence for `partner` in `period`, its figures, and the tier they qualify for.

    Also what a dashboard calls for a live view of one partner (the loads are then made here).
    """
    tiers = list(Tier.objects.order_by("rank")) if tiers is None else tiers
    rates = _load_rates() if rates is None else rates
    if revenue is None:
        revenue = _load_revenue(period, partner_ids=[partner.pk]).get(partner.pk, _Revenue())
    currency = settings.PRM_PROGRAM_CURRENCY
    evaluated, previous = str(period), str(period.previous())

    converted, missing = _convert(revenue.trailing, rates, currency)
    trailing_total = sum(converted.values(), Decimal(0))

    def period_revenue(name: str) -> Decimal:
        amounts = {code: amount for (each, code), amount in revenue.by_period.items() if each == name}
        return sum(_convert(amounts, rates, currency)[0].values(), Decimal(0))

    current, before = period_revenue(evaluated), period_revenue(previous)
    growth = ((current - before) * 100 / before).quantize(CENT, rounding=ROUND_HALF_UP) if before > 0 else None
    active = sum(1 for amount in revenue.customers.values() if amount > 0)
    if certified is None:
        certified = certified_people(partner, at=period.end)

    figures = TierFigures(
        currency=currency,
        trailing_revenue=trailing_total,
        active_customers=active,
        certified_people=certified,
        certifications_known=True,
        growth_percent=growth,
    )
    standings = tier_standings(tiers, figures)
    proposed = qualifying_tier(standings)
    periods = window(period)
    used = sorted(set(revenue.trailing) | {currency})
    evidence = {
        "period": evaluated,
        "periods": {"from": str(periods[0]), "to": str(periods[-1]), "count": WINDOW},
        "program_currency": currency,
        "trailing_revenue": {
            "by_currency": {code: money_string(amount, code) for code, amount in sorted(revenue.trailing.items())},
            "converted": {code: money_string(amount, currency) for code, amount in converted.items()},
            "total": money_string(trailing_total, currency),
        },
        "rates": {
            code: {"rate": plain_decimal(rates[code].rate), "updated_at": rates[code].updated_at}
            for code in used
            if code in rates
        },
        "missing_rates": missing,
        "period_revenue": money_string(current, currency),
        "previous_period": previous,
        "previous_period_revenue": money_string(before, currency),
        "growth_percent": None if growth is None else str(growth),
        "active_customers": active,
        "certified_people": certified,
        "certifications_known": True,
        "certified_at": period.end.isoformat(),
        "current_tier": partner.tier.code,
        "proposed_tier": proposed.code,
        "tiers": [standing.as_dict() for standing in standings],
    }
    return evidence, figures, proposed


def tier_evaluations_propose(*, period: BillingPeriod | str, actor=None) -> TierEvaluationSummary:
    """Evaluate every partner for a closed `period` (see the module's docstring).

    `actor` None is the system (the period close, the monthly task); a person must be a manager.
    """
    if actor is not None and not actor.is_manager:
        raise PermissionDenied("Only channel managers run the tier evaluation.")
    if isinstance(period, str):
        try:
            period = BillingPeriod.parse(period)
        except ValueError as error:
            raise ValidationError({"period": str(error)}) from None
    if not ClosedBillingPeriod.objects.filter(period=str(period)).exists():
        raise ValidationError(
            {"period": f"The billing period {period} is not closed: its invoices are not final, so its revenue is "
             "not known yet. Tiers are evaluated once the period is closed."}
        )  # fmt: skip
    summary = TierEvaluationSummary(period=str(period))
    tiers = list(Tier.objects.order_by("rank"))
    if not tiers:
        return summary
    rates, revenue = _load_rates(), _load_revenue(period)
    certified = certified_people_by_partner(at=period.end)
    done = set(TierEvaluation.objects.filter(period=str(period)).values_list("partner_id", flat=True))
    summary.already_evaluated = len(done)
    partners = Partner.objects.exclude(stage=Stage.RECRUIT).exclude(pk__in=done).select_related("tier").order_by("pk")
    last_pk = 0
    while True:
        batch = list(partners.filter(pk__gt=last_pk)[:BATCH_SIZE])
        if not batch:
            break
        last_pk = batch[-1].pk
        for partner in batch:
            evidence, _figures, proposed = partner_tier_evidence(
                partner,
                period,
                tiers=tiers,
                rates=rates,
                revenue=revenue.get(partner.pk, _Revenue()),
                certified=certified.get(partner.pk, 0),
            )
            _propose(partner, period, evidence, proposed, summary)
    return summary


def _propose(partner: Partner, period: BillingPeriod, evidence: dict, proposed: Tier, summary) -> None:
    current = partner.tier
    if proposed.rank == current.rank:
        direction, status = EvaluationDirection.STAY, EvaluationStatus.RECORDED
    else:
        direction = EvaluationDirection.UP if proposed.rank > current.rank else EvaluationDirection.DOWN
        status = EvaluationStatus.PROPOSED
    with transaction.atomic():
        _evaluation, created = TierEvaluation.objects.get_or_create(
            partner=partner,
            period=str(period),
            defaults={
                "current_tier": current,
                "proposed_tier": proposed,
                "direction": direction,
                "evidence": evidence,
                "status": status,
            },
        )
        if not created:  # another run made it meanwhile
            summary.already_evaluated += 1
            return
        # Its figures are newer than those of an earlier proposal still waiting for a decision;
        # dismissing that is a decision, so the update is audited.
        summary.superseded += audit_update(
            TierEvaluation.objects.filter(partner=partner, status=EvaluationStatus.PROPOSED, period__lt=str(period)),
            status=EvaluationStatus.DISMISSED,
            decided_at=timezone.now(),
            note=f"Superseded by the {period} evaluation.",
        )
    summary.partners += 1
    if direction == EvaluationDirection.UP:
        summary.upgrades += 1
    elif direction == EvaluationDirection.DOWN:
        summary.downgrades += 1
    else:
        summary.unchanged += 1


def last_closed_period() -> BillingPeriod | None:
    closed = ClosedBillingPeriod.objects.order_by("-period").values_list("period", flat=True).first()
    return BillingPeriod.parse(closed) if closed else None
