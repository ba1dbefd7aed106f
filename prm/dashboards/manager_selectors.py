"""Reads for the channel manager's dashboard: the program's revenue and commissions over the trailing
twelve billing periods, the lifecycle funnel, the work waiting for a manager, and program health.

Revenue is read the way the monthly tier evaluation reads it (prm/operations/tier_evaluation.py, whose
rate loading and conversion are reused here): finalized invoices only, net of their credit notes, each
currency converted to the program currency (settings.PRM_PROGRAM_CURRENCY) at its reference
ExchangeRate and rounded once per partner and currency — so a partner's trailing revenue here is the
figure on its tier evaluation, and a stage's revenue is the sum of its partners'. A month's revenue is
converted per partner, month and currency, rounded once each. A currency without a rate is left out
and named (`missing_rates`), never guessed.

Commissions: the ledger's entries of the window's periods (an entry counts in the period it is earned
in, so a clawback made today counts in the open period, outside the window), converted the same way.

The window is the twelve periods ending with the last closed one: only a closed period has
finalized invoices and accrued commissions. With none closed, it ends with last month (all zeros).

Aggregation happens in the database — one GROUP BY partner · period · currency over the invoices and
one over the ledger, summed exactly (ExactSum: SQLite's SUM would add floats) — so the queries and the
rows read in Python grow with partners × periods, never with customers, invoices or events.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, F, Q
from django.utils import timezone

from prm.accounts.models import PARTNER_ROLES, Membership
from prm.billing.models import Invoice, InvoiceStatus
from prm.core.money import round_money
from prm.core.periods import BillingPeriod
from prm.deals.models import DealRegistration, DealStatus
from prm.enablement.models import Certification
from prm.enablement.selectors import _available, _courses_unlocked_by_rank
from prm.incentives.models import CommissionEntry, MdfRequest, MdfStatus, Statement, StatementStatus
from prm.operations.tier_evaluation import _convert, _load_rates, last_closed_period, window
from prm.partners.models import ApplicationStatus, Partner, PartnerApplication, Stage, Tier
from prm.partners.selectors import onboarding_progress_of, partners_in_onboarding, pending_tier_evaluations
from prm.usage.models import QuarantinedEvent, QuarantineStatus
from prm.usage.rollups import ExactSum

PERCENT_PLACES = Decimal("0.1")


# --- the window -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportingWindow:
    """The twelve billing periods the dashboard reports on, oldest first, ending with `period`."""

    period: BillingPeriod
    closed: bool  # False: no period is closed yet, `period` is last month and nothing is final

    @property
    def periods(self) -> list[BillingPeriod]:
        return window(self.period)

    @property
    def names(self) -> list[str]:
        return [str(period) for period in self.periods]

    @property
    def previous(self) -> BillingPeriod:
        return self.period.previous()


def reporting_window(now: datetime | None = None) -> ReportingWindow:
    """The twelve periods ending with the last closed one (one query)."""
    closed = last_closed_period()
    if closed is not None:
        return ReportingWindow(period=closed, closed=True)
    return ReportingWindow(period=BillingPeriod.containing(now or timezone.now()).previous(), closed=False)


def period_label(period: BillingPeriod | str) -> str:
    """2026-10 → "Oct 2026"."""
    period = BillingPeriod.parse(period) if isinstance(period, str) else period
    return period.start.strftime("%b %Y")


# --- revenue and commissions per partner -----------------------------------------------------------


@dataclass
class PartnerFigures:
    """One partner's figures in the program currency."""

    pk: int
    name: str
    stage: str
    tier_id: int
    by_period: dict[str, Decimal] = field(default_factory=dict)  # period name → converted revenue
    trailing: Decimal = Decimal(0)  # the window's revenue (converted once per currency)
    commission: Decimal = Decimal(0)  # commissions earned in the window

    def revenue_in(self, period: BillingPeriod | str) -> Decimal:
        return self.by_period.get(str(period), Decimal(0))


@dataclass(frozen=True)
class StageFigures:
    stage: str
    label: str
    partners: int
    revenue: Decimal
    commission: Decimal


@dataclass(frozen=True)
class GrowthRow:
    """A partner's revenue in the window's last period against the period before."""

    partner: PartnerFigures
    previous: Decimal
    current: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def growth_percent(self) -> Decimal | None:
        """To one decimal place; None when there was nothing to grow from."""
        if self.previous == 0:
            return None
        return (self.change * 100 / self.previous).quantize(PERCENT_PLACES)


@dataclass
class ProgramFigures:
    currency: str
    window: ReportingWindow
    tiers: list[Tier]
    partners: dict[int, PartnerFigures]  # every partner the user sees, in name order
    missing_rates: list[str] = field(default_factory=list)

    # --- totals
    @property
    def trailing_revenue(self) -> Decimal:
        return sum((partner.trailing for partner in self.partners.values()), Decimal(0))

    @property
    def trailing_commission(self) -> Decimal:
        return sum((partner.commission for partner in self.partners.values()), Decimal(0))

    def revenue_in(self, period: BillingPeriod | str) -> Decimal:
        return sum((partner.revenue_in(period) for partner in self.partners.values()), Decimal(0))

    # --- the funnel
    def stages(self) -> list[StageFigures]:
        """Every lifecycle stage in order, with its partners, their trailing revenue and commission."""
        counts: dict[str, int] = defaultdict(int)
        revenue: dict[str, Decimal] = defaultdict(Decimal)
        commission: dict[str, Decimal] = defaultdict(Decimal)
        for partner in self.partners.values():
            counts[partner.stage] += 1
            revenue[partner.stage] += partner.trailing
            commission[partner.stage] += partner.commission
        return [
            StageFigures(stage, label, counts[stage], revenue[stage], commission[stage])
            for stage, label in Stage.choices
        ]

    # --- over time
    def revenue_by_tier(self) -> list[tuple[Tier, list[Decimal]]]:
        """Each tier (by rank) with its partners' revenue in each period of the window, oldest first.
        A partner counts in the tier it is in now."""
        names = self.window.names
        series = {tier.pk: [Decimal(0)] * len(names) for tier in self.tiers}
        for partner in self.partners.values():
            row = series.get(partner.tier_id)
            if row is None:
                continue
            for index, name in enumerate(names):
                row[index] += partner.revenue_in(name)
        return [(tier, series[tier.pk]) for tier in self.tiers]

    def top_partners(self, count: int = 10) -> list[PartnerFigures]:
        """The partners with the most revenue over the window (ties by name), none without revenue."""
        earning = [partner for partner in self.partners.values() if partner.trailing > 0]
        return sorted(earning, key=lambda partner: (-partner.trailing, partner.name, partner.pk))[:count]

    def growth(self) -> list[GrowthRow]:
        """Partners with revenue in the last period or the one before, the largest increase first."""
        current, previous = self.window.period, self.window.previous
        rows = [
            GrowthRow(partner=partner, previous=partner.revenue_in(previous), current=partner.revenue_in(current))
            for partner in self.partners.values()
            if partner.revenue_in(current) or partner.revenue_in(previous)
        ]
        return sorted(rows, key=lambda row: (-row.change, row.partner.name, row.partner.pk))

    # --- program health
    def tier_distribution_counts(self) -> dict[int, int]:
        """{tier id: partners}."""
        counts: dict[int, int] = defaultdict(int)
        for partner in self.partners.values():
            counts[partner.tier_id] += 1
        return counts

    def tier_distribution(self) -> list[tuple[Tier, int]]:
        counts = self.tier_distribution_counts()
        return [(tier, counts.get(tier.pk, 0)) for tier in self.tiers]


def program_figures(user, reporting: ReportingWindow) -> ProgramFigures:
    """Revenue and commissions of every partner `user` sees over `reporting`'s window (see the
    module's docstring): five queries, whatever the number of customers and invoices."""
    currency = settings.PRM_PROGRAM_CURRENCY
    names = reporting.names
    rates = _load_rates()
    tiers = list(Tier.objects.order_by("rank"))
    partners = {
        pk: PartnerFigures(pk=pk, name=name, stage=stage, tier_id=tier_id)
        for pk, name, stage, tier_id in Partner.objects.visible_to(user)
        .order_by("name", "pk")
        .values_list("pk", "name", "stage", "tier_id")
    }
    missing: set[str] = set()

    trailing: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    invoices = (
        Invoice.objects.visible_to(user)
        .filter(status=InvoiceStatus.FINALIZED, period__in=names)
        .order_by()
        .values_list("customer__reseller_id", "period", "currency")
        .annotate(total=ExactSum("total"), credited=ExactSum("credited"))
    )
    # One pass over partners × periods × currencies: a month's revenue is converted per currency as it
    # comes (what `_convert` does for the month's currencies, rounded once each, then added up).
    for partner_id, period, code, total, credited in invoices:
        net = total - credited
        trailing[partner_id][code] += net
        partner, rate = partners.get(partner_id), rates.get(code)
        if partner is not None and rate is not None:
            partner.by_period[period] = partner.by_period.get(period, Decimal(0)) + round_money(
                net * rate.rate, currency
            )
    for partner_id, amounts in trailing.items():
        partner = partners.get(partner_id)
        if partner is None:  # a customer of a partner outside the user's scope (not for managers)
            continue
        converted, without_rate = _convert(amounts, rates, currency)
        missing.update(without_rate)
        partner.trailing = sum(converted.values(), Decimal(0))

    earned: dict[int, dict[str, Decimal]] = defaultdict(dict)
    entries = (
        CommissionEntry.objects.visible_to(user)
        .filter(period__in=names)
        .order_by()
        .values("partner_id", "currency")
        .annotate(amount=ExactSum("amount"))
    )
    for row in entries:
        earned[row["partner_id"]][row["currency"]] = row["amount"]
    for partner_id, amounts in earned.items():
        partner = partners.get(partner_id)
        if partner is not None:
            converted, without_rate = _convert(amounts, rates, currency)
            missing.update(without_rate)
            partner.commission = sum(converted.values(), Decimal(0))

    return ProgramFigures(
        currency=currency, window=reporting, tiers=tiers, partners=partners, missing_rates=sorted(missing)
    )


# --- pending work ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingWork:
    applications: int  # received, waiting for a decision
    deals: int  # submitted, waiting for approval
    mdf_requested: int  # waiting for approval
    mdf_claimed: int  # claimed with proof, waiting for payment
    statements: int  # drafts waiting for approval
    tier_proposals: int  # upgrades and downgrades waiting for a decision
    quarantined: int  # usage events waiting to be re-processed or discarded

    @property
    def total(self) -> int:
        return (
            self.applications + self.deals + self.mdf_requested + self.mdf_claimed + self.statements
            + self.tier_proposals + self.quarantined
        )  # fmt: skip


def pending_work(user) -> PendingWork:
    """What waits for a channel manager, counted in `user`'s scope: six queries."""
    mdf = MdfRequest.objects.visible_to(user).aggregate(
        requested=Count("pk", filter=Q(status=MdfStatus.REQUESTED)),
        claimed=Count("pk", filter=Q(status=MdfStatus.CLAIMED)),
    )
    return PendingWork(
        applications=PartnerApplication.objects.visible_to(user).filter(status=ApplicationStatus.RECEIVED).count(),
        deals=DealRegistration.objects.visible_to(user).filter(status=DealStatus.SUBMITTED).count(),
        mdf_requested=mdf["requested"],
        mdf_claimed=mdf["claimed"],
        statements=Statement.objects.visible_to(user).filter(status=StatementStatus.DRAFT).count(),
        tier_proposals=pending_tier_evaluations(user).count(),
        quarantined=QuarantinedEvent.objects.visible_to(user).filter(status=QuarantineStatus.PENDING).count(),
    )


# --- program health ----------------------------------------------------------------------------


@dataclass
class EnablementRow:
    """Enablement of a group of partners (a tier, or the whole program)."""

    label: str
    partners: int = 0
    people: int = 0  # active partner admins and reps
    certified_people: int = 0  # holding at least one valid certification
    partners_certified: int = 0  # partners with at least one certified person
    certifications: int = 0  # valid ones, on courses the partner's tier unlocks
    possible: int = 0  # people × the published courses their tier unlocks

    @property
    def completion_percent(self) -> Decimal | None:
        """Valid certifications over what the people could hold: prm/enablement/selectors.py's
        PartnerProgress.completion_percent, over a group of partners."""
        if not self.possible:
            return None
        return (Decimal(self.certifications) * 100 / self.possible).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)

    def add(self, other: "EnablementRow") -> None:
        for name in ("partners", "people", "certified_people", "partners_certified", "certifications", "possible"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class EnablementHealth:
    program: EnablementRow
    tiers: list[tuple[Tier, EnablementRow]]


def enablement_health(user, program: ProgramFigures, *, now: datetime | None = None) -> EnablementHealth:
    """Certified people and completion per tier and for the program, by the definitions of
    prm/enablement/selectors.py (partner_progress), but counted per tier in the database: three
    queries of a few rows each, whatever the number of partners and people."""
    now = now or timezone.now()
    partners = Partner.objects.visible_to(user)
    people = dict(
        Membership.objects.filter(partner__in=partners, role__in=PARTNER_ROLES, user__is_active=True)
        .order_by()
        .values_list("partner__tier")
        .annotate(n=Count("pk"))
        .values_list("partner__tier", "n")
    )
    unlocked = Q(course__is_published=True) & (
        Q(course__min_tier__isnull=True) | Q(course__min_tier__rank__lte=F("partner__tier__rank"))
    )
    certified = {
        row["partner__tier"]: row
        for row in Certification.objects.visible_to(user)
        .active(now)
        .filter(person__is_active=True)
        .order_by()
        .values("partner__tier")
        .annotate(
            people=Count("person", distinct=True),
            partners=Count("partner", distinct=True),
            certifications=Count("pk", filter=unlocked),
        )
    }
    course_ranks = _courses_unlocked_by_rank()
    counts = program.tier_distribution_counts()
    rows = []
    total = EnablementRow(label="All partners")
    for tier in program.tiers:
        figures = certified.get(tier.pk, {})
        row = EnablementRow(
            label=tier.name,
            partners=counts.get(tier.pk, 0),
            people=people.get(tier.pk, 0),
            certified_people=figures.get("people", 0),
            partners_certified=figures.get("partners", 0),
            certifications=figures.get("certifications", 0),
            possible=people.get(tier.pk, 0) * _available(course_ranks, tier.rank),
        )
        total.add(row)
        rows.append((tier, row))
    return EnablementHealth(program=total, tiers=rows)


@dataclass(frozen=True)
class OnboardingHealth:
    partners: int  # in the onboard stage
    complete: int  # every checklist item done
    without_checklist: int
    average_percent: int | None  # over the partners with a checklist, whole percent rounded down

    @property
    def in_progress(self) -> int:
        return self.partners - self.complete - self.without_checklist


def onboarding_health(user) -> OnboardingHealth:
    """How far the partners in the onboard stage have come through their checklists (two queries)."""
    partners = partners_in_onboarding(Partner.objects.visible_to(user).filter(stage=Stage.ONBOARD).order_by("pk"))
    progresses = [onboarding_progress_of(partner) for partner in partners]
    with_checklist = [progress for progress in progresses if progress.total]
    average = sum(progress.percent for progress in with_checklist) // len(with_checklist) if with_checklist else None
    return OnboardingHealth(
        partners=len(progresses),
        complete=sum(1 for progress in with_checklist if progress.complete),
        without_checklist=len(progresses) - len(with_checklist),
        average_percent=average,
    )
