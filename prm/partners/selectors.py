"""Reads of the partners app: a partner's standing against the program's tier criteria.

The figures a partner is judged on (trailing revenue, active customers …) are computed from
finalized invoices by the monthly evaluation (prm/operations/tier_evaluation.py) and stored with
it as evidence. The checks of those figures against a tier's criteria live here, once: the
evaluation uses them to choose the proposed tier, the partner page and the dashboards use them to
say what the next tier still needs.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch

from prm.accounts.models import Invitation
from prm.core.money import plain_decimal, round_money
from prm.partners.models import (
    ApplicationStatus,
    EvaluationStatus,
    Industry,
    OnboardingEvidence,
    OnboardingTask,
    OnboardingTemplate,
    Partner,
    PartnerTierChange,
    Tier,
    TierEvaluation,
)

CERTIFICATIONS_NOTE = "certifications arrive with enablement"


@dataclass(frozen=True)
class TierFigures:
    """What a partner reached in an evaluated period, revenue in the program currency."""

    currency: str
    trailing_revenue: Decimal
    active_customers: int
    certified_people: int = 0
    # False until the enablement app records certifications: the criterion is then not evaluated.
    certifications_known: bool = False
    # None when the previous period had no revenue to grow from.
    growth_percent: Decimal | None = None

    @classmethod
    def from_evidence(cls, evidence: dict) -> "TierFigures":
        growth = evidence.get("growth_percent")
        return cls(
            currency=evidence["program_currency"],
            trailing_revenue=Decimal(evidence["trailing_revenue"]["total"]),
            active_customers=int(evidence["active_customers"]),
            certified_people=int(evidence.get("certified_people") or 0),
            certifications_known=bool(evidence.get("certifications_known", False)),
            growth_percent=None if growth is None else Decimal(growth),
        )


@dataclass(frozen=True)
class CriterionCheck:
    criterion: str  # the Tier field: "min_trailing_revenue" …
    required: Decimal | int
    actual: Decimal | int | None
    met: bool | None  # None: not evaluated (yet), so it neither qualifies nor blocks
    text: str  # "120,000 USD trailing revenue: 84,300 so far"

    def as_dict(self) -> dict:
        return {
            "criterion": self.criterion,
            "required": _plain(self.required),
            "actual": None if self.actual is None else _plain(self.actual),
            "met": self.met,
            "text": self.text,
        }


@dataclass(frozen=True)
class TierStanding:
    tier: Tier
    checks: list[CriterionCheck]

    @property
    def qualifies(self) -> bool:
        """Every set criterion met; one not evaluated yet does not block."""
        return all(check.met is not False for check in self.checks)

    @property
    def missing(self) -> list[CriterionCheck]:
        return [check for check in self.checks if check.met is False]

    @property
    def summary(self) -> str:
        """ "Gold needs 120,000 USD trailing revenue: 84,300 so far; 10 active customers: 7"."""
        if not self.missing:
            return f"{self.tier.name}: every criterion met."
        return f"{self.tier.name} needs " + "; ".join(check.text for check in self.missing)

    def as_dict(self) -> dict:
        return {
            "code": self.tier.code,
            "name": self.tier.name,
            "rank": self.tier.rank,
            "qualifies": self.qualifies,
            "criteria": [check.as_dict() for check in self.checks],
        }


def tier_checks(tier: Tier, figures: TierFigures) -> TierStanding:
    """`figures` checked against each criterion `tier` sets (an empty criterion is no requirement)."""
    checks = []
    currency = figures.currency
    if tier.min_trailing_revenue is not None:
        required, actual = _decimal(tier.min_trailing_revenue), figures.trailing_revenue
        text = f"{amount_text(required, currency)} {currency} trailing revenue: {amount_text(actual, currency)} so far"
        checks.append(CriterionCheck("min_trailing_revenue", required, actual, actual >= required, text))
    if tier.min_active_customers is not None:
        required, actual = tier.min_active_customers, figures.active_customers
        noun = "active customer" if required == 1 else "active customers"
        checks.append(
            CriterionCheck("min_active_customers", required, actual, actual >= required, f"{required} {noun}: {actual}")
        )
    if tier.min_certified_people is not None:
        required = tier.min_certified_people
        if figures.certifications_known:
            actual = figures.certified_people
            check = CriterionCheck(
                "min_certified_people", required, actual, actual >= required, f"{required} certified people: {actual}"
            )
        else:
            check = CriterionCheck(
                "min_certified_people",
                required,
                None,
                None,
                f"{required} certified people: not evaluated yet ({CERTIFICATIONS_NOTE})",
            )
        checks.append(check)
    if tier.min_growth_percent is not None:
        required, actual = _decimal(tier.min_growth_percent), figures.growth_percent
        if actual is None:
            check = CriterionCheck(
                "min_growth_percent",
                required,
                None,
                False,
                f"{_plain(required)} % growth: not measurable (no revenue in the previous month)",
            )
        else:
            check = CriterionCheck(
                "min_growth_percent",
                required,
                actual,
                actual >= required,
                f"{_plain(required)} % growth: {_plain(actual)} %",
            )
        checks.append(check)
    return TierStanding(tier=tier, checks=checks)


def tier_standings(tiers: list[Tier], figures: TierFigures) -> list[TierStanding]:
    return [tier_checks(tier, figures) for tier in sorted(tiers, key=lambda tier: tier.rank)]


def qualifying_tier(standings: list[TierStanding]) -> Tier:
    """The highest-ranked tier qualified for; the entry tier (lowest rank) is the floor."""
    ordered = sorted(standings, key=lambda standing: standing.tier.rank)
    qualified = [standing.tier for standing in ordered if standing.qualifies]
    return qualified[-1] if qualified else ordered[0].tier


def next_tier_standing(current: Tier, figures: TierFigures, tiers: list[Tier] | None = None) -> TierStanding | None:
    """The tier just above `current` and how `figures` measure up to it; None at the top tier.

    Checked against the tiers' criteria as they are now (a stored evaluation's figures stay the
    figures, but a criterion changed since is read as it stands).
    """
    tiers = list(Tier.objects.order_by("rank")) if tiers is None else tiers
    above = sorted((tier for tier in tiers if tier.rank > current.rank), key=lambda tier: tier.rank)
    return tier_checks(above[0], figures) if above else None


@dataclass(frozen=True)
class TierProgress:
    """A partner's tier standing for its page and the dashboards."""

    evaluation: TierEvaluation | None
    figures: TierFigures | None
    next_tier: TierStanding | None


def partner_tier_progress(user, partner: Partner, tiers: list[Tier] | None = None) -> TierProgress:
    """The partner's latest evaluation that `user` may see, and what the next tier still needs
    by its figures (nothing when the user may not see evaluations or none was made yet)."""
    evaluation = (
        TierEvaluation.objects.visible_to(user)
        .filter(partner=partner)
        .select_related("current_tier", "proposed_tier", "decided_by")
        .order_by("-period", "-pk")
        .first()
    )
    if evaluation is None:
        return TierProgress(evaluation=None, figures=None, next_tier=None)
    figures = TierFigures.from_evidence(evaluation.evidence)
    return TierProgress(
        evaluation=evaluation, figures=figures, next_tier=next_tier_standing(partner.tier, figures, tiers)
    )


def partner_tier_history(user, partner: Partner):
    """The partner's tier moves that `user` may see, newest first."""
    return (
        PartnerTierChange.objects.visible_to(user)
        .filter(partner=partner)
        .select_related("from_tier", "to_tier", "changed_by", "evaluation")
    )


def pending_tier_evaluations(user):
    """Evaluations waiting for a channel manager's decision, in `user`'s scope."""
    return TierEvaluation.objects.visible_to(user).filter(status=EvaluationStatus.PROPOSED)


def program_currency() -> str:
    return settings.PRM_PROGRAM_CURRENCY


def amount_text(value: Decimal, currency: str) -> str:
    """120000 → "120,000"; 84300.5 → "84,300.50" (to the currency's minor unit when not whole)."""
    rounded = round_money(value, currency)
    if rounded == rounded.to_integral_value():
        return f"{int(rounded):,}"
    return format(rounded, ",f")


def _decimal(value) -> Decimal:
    # A tier made in this request may still hold the int or str it was given.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _plain(value: Decimal | int) -> str:
    return str(value) if isinstance(value, int) else plain_decimal(value)


# --- onboarding: a partner's checklist and how far it has come ----------------------------------


def onboarding_template_for(tier: Tier) -> OnboardingTemplate | None:
    """The checklist of `tier`, or of the nearest lower tier that has one (None: no checklist)."""
    return (
        OnboardingTemplate.objects.filter(tier__rank__lte=tier.rank)
        .select_related("tier")
        .order_by("-tier__rank")
        .first()
    )


def team_invited(partner_ref) -> Exists:
    """True when someone the partner itself invited has joined (an accepted invitation sent by one
    of its own people; the admin invited by the vendor on approval does not count)."""
    return Exists(
        Invitation.objects.filter(
            partner=partner_ref, accepted_at__isnull=False, invited_by__membership__partner=partner_ref
        )
    )


def evidence_text(kind: str, partner: Partner, has_team: bool) -> str:
    """Why an item is done by itself ("" when its evidence is not there, or it has none)."""
    if kind == OnboardingEvidence.TEAM_INVITED and has_team:
        return "A person invited by the partner has joined."
    if (
        kind == OnboardingEvidence.PROFILE_COMPLETED
        and partner.country
        and partner.region
        and partner.industry != Industry.OTHER
    ):
        return "Country, region and industry are set."
    return ""


@dataclass(frozen=True)
class OnboardingRow:
    task: OnboardingTask
    evidence: str  # why it is done by itself, or ""

    @property
    def done(self) -> bool:
        return self.task.done_at is not None or bool(self.evidence)


@dataclass(frozen=True)
class OnboardingProgress:
    rows: list[OnboardingRow]

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def done(self) -> int:
        return sum(1 for row in self.rows if row.done)

    @property
    def percent(self) -> int:
        """Whole percent, rounded down: 100 only when every item is done."""
        return self.done * 100 // self.total if self.total else 0

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done == self.total


def onboarding_tasks(user=None):
    """Tasks with what their display and their evidence need, in `user`'s scope (None: all)."""
    tasks = OnboardingTask.objects.all() if user is None else OnboardingTask.objects.visible_to(user)
    return tasks.select_related("item", "partner", "done_by").annotate(has_team=team_invited(OuterRef("partner")))


def onboarding_progress(partner: Partner, user=None) -> OnboardingProgress:
    """`partner`'s checklist (its tasks `user` may see; None: all), each item done when marked or when
    its evidence is there. Two queries, whatever the number of items."""
    tasks = onboarding_tasks(user).filter(partner=partner).order_by("item__order", "pk")
    return OnboardingProgress(rows=[OnboardingRow(task, evidence_text(task.item.evidence, partner, task.has_team))
                                    for task in tasks])  # fmt: skip


def onboarding_progress_of(partner: Partner) -> OnboardingProgress:
    """From a partner of `partners_in_onboarding()`: its prefetched tasks, no further query."""
    has_team = getattr(partner, "has_team", False)
    return OnboardingProgress(
        rows=[OnboardingRow(task, evidence_text(task.item.evidence, partner, has_team))
              for task in partner.onboarding_tasks.all()]
    )  # fmt: skip


def partners_in_onboarding(queryset):
    """`queryset` of partners with what `onboarding_progress_of` needs, prefetched in two queries."""
    tasks = OnboardingTask.objects.select_related("item", "done_by").order_by("item__order", "pk")
    return queryset.annotate(has_team=team_invited(OuterRef("pk"))).prefetch_related(
        Prefetch("onboarding_tasks", queryset=tasks)
    )


def onboarding_complete(partner: Partner) -> bool:
    """Every item of the partner's checklist is done (marked, or by its evidence). False when the
    partner has no checklist: there is nothing to have completed. The stage logic reuses this."""
    return onboarding_progress(partner).complete


# --- recruit: the application queue ------------------------------------------------------------


def application_counts(queryset) -> dict[str, int]:
    """How many applications of `queryset` are in each status (every status named, zeros included)."""
    counts = dict.fromkeys(ApplicationStatus.values, 0)
    for row in queryset.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts
