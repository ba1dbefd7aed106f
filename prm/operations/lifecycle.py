"""A partner's lifecycle stage, derived from evidence (with a channel manager's override).

    recruit      the application was received (every partner starts here)
    onboard      the application was approved
    enable       onboarding is complete (every checklist item done)
    market       a first certification
    sell         a first marketing activity (an MDF request) or a deal registration
    incentivize  a first billed customer (a finalized invoice) or a first commission
    accelerate   a tier above the program's entry tier

A partner is at the highest stage it has evidence for. The derivation only ever moves a
partner forward; a manager may set any stage (an override, recorded as such), and from then
on only evidence newer than the override moves the partner again. Every move is kept in
PartnerStageChange with the evidence that caused it.

It spans apps (partners, enablement, deals, incentives, billing), so it lives here; the period
close and a periodic task run `partner_stages_refresh`, and it is cheap: one query per kind of
evidence for all partners at once.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from prm.billing.models import Invoice, InvoiceStatus
from prm.deals.models import DealRegistration
from prm.enablement.models import Certification
from prm.incentives.models import CommissionEntry, MdfRequest
from prm.partners.models import (
    ApplicationStatus,
    OnboardingTask,
    Partner,
    PartnerApplication,
    PartnerStageChange,
    PartnerTierChange,
    Stage,
    Tier,
)

STAGE_ORDER = [
    Stage.RECRUIT,
    Stage.ONBOARD,
    Stage.ENABLE,
    Stage.MARKET,
    Stage.SELL,
    Stage.INCENTIVIZE,
    Stage.ACCELERATE,
]
RANK = {stage: index for index, stage in enumerate(STAGE_ORDER)}
EVIDENCE_PREFIX = "Evidence: "


@dataclass(frozen=True)
class Evidence:
    stage: str
    what: str  # a sentence for the history: "first billed customer"
    at: datetime  # the latest such evidence


@dataclass
class StageRefreshSummary:
    partners: int = 0
    advanced: int = 0
    moves: list[tuple[str, str, str]] = field(default_factory=list)  # (partner, from, to)

    def as_dict(self) -> dict:
        return {"partners": self.partners, "advanced": self.advanced}


def _latest(rows, partner_path: str, moment: str) -> dict[int, datetime]:
    return {
        row["key"]: row["at"]
        for row in rows.values(key=F(partner_path)).annotate(at=Max(moment)).order_by()
        if row["key"] is not None and row["at"] is not None
    }


def stage_evidence(partner_ids) -> dict[int, list[Evidence]]:
    """Every partner's evidence, per stage, with the moment of its latest occurrence."""
    ids = list(partner_ids)
    found: dict[int, list[Evidence]] = {pk: [] for pk in ids}

    def add(stage, what, latest: dict[int, datetime]):
        for pk, at in latest.items():
            if pk in found:
                found[pk].append(Evidence(stage, what, at))

    add(Stage.ONBOARD, "application approved", _latest(
        PartnerApplication.objects.filter(partner_id__in=ids, status=ApplicationStatus.APPROVED), "partner_id",
        "decided_at",
    ))  # fmt: skip
    tasks = (
        OnboardingTask.objects.filter(partner_id__in=ids)
        .values("partner_id")
        .annotate(total=Count("pk"), done=Count("pk", filter=Q(done_at__isnull=False)), at=Max("done_at"))
        .order_by()
    )
    add(Stage.ENABLE, "onboarding complete", {
        row["partner_id"]: row["at"] for row in tasks if row["total"] and row["total"] == row["done"]
    })  # fmt: skip
    add(
        Stage.MARKET,
        "a certification",
        _latest(Certification.objects.filter(partner_id__in=ids), "partner_id", "issued_at"),
    )
    add(Stage.SELL, "a deal registration", _latest(
        DealRegistration.objects.filter(partner_id__in=ids), "partner_id", "created_at"
    ))  # fmt: skip
    add(Stage.SELL, "a marketing activity (MDF request)", _latest(
        MdfRequest.objects.filter(partner_id__in=ids), "partner_id", "created_at"
    ))  # fmt: skip
    add(Stage.INCENTIVIZE, "a billed customer", _latest(
        Invoice.objects.filter(customer__reseller_id__in=ids, status=InvoiceStatus.FINALIZED, total__gt=0),
        "customer__reseller_id", "finalized_at",
    ))  # fmt: skip
    add(Stage.INCENTIVIZE, "a commission earned", _latest(
        CommissionEntry.objects.filter(partner_id__in=ids, amount__gt=0), "partner_id", "created_at"
    ))  # fmt: skip
    entry_rank = Tier.objects.order_by("rank").values_list("rank", flat=True).first()
    if entry_rank is not None:
        above = Partner.objects.filter(pk__in=ids, tier__rank__gt=entry_rank)
        since = _latest(PartnerTierChange.objects.filter(partner__in=above), "partner_id", "changed_at")
        add(Stage.ACCELERATE, "a tier above the entry tier", {
            pk: since.get(pk) or created for pk, created in above.values_list("pk", "created_at")
        })  # fmt: skip
    return found


def derived_stage(evidence: list[Evidence], *, since: datetime | None = None) -> Evidence | None:
    """The highest stage with evidence (newer than `since`, a manager's override, when given)."""
    usable = [item for item in evidence if since is None or item.at > since]
    return max(usable, key=lambda item: (RANK[item.stage], item.at), default=None)


def partner_stages_refresh(partner_ids=None, *, now: datetime | None = None) -> StageRefreshSummary:
    """Move every partner (or those given) forward to the stage its evidence shows; idempotent."""
    now = now or timezone.now()
    partners = Partner.objects.all() if partner_ids is None else Partner.objects.filter(pk__in=partner_ids)
    ids = list(partners.values_list("pk", flat=True))
    evidence = stage_evidence(ids)
    overrides = _latest(
        PartnerStageChange.objects.filter(partner_id__in=ids, is_override=True), "partner_id", "changed_at"
    )
    summary = StageRefreshSummary(partners=len(ids))
    for pk in ids:
        best = derived_stage(evidence[pk], since=overrides.get(pk))
        if best is None:
            continue
        with transaction.atomic():
            partner = Partner.objects.select_for_update().get(pk=pk)
            if RANK[best.stage] <= RANK[partner.stage]:
                continue
            previous = partner.stage
            partner.stage = best.stage
            partner.save(update_fields=["stage", "updated_at"])
            PartnerStageChange.objects.create(
                partner=partner, from_stage=previous, to_stage=best.stage,
                reason=f"{EVIDENCE_PREFIX}{best.what} ({best.at:%Y-%m-%d})", changed_by=None, changed_at=now,
            )  # fmt: skip
        summary.advanced += 1
        summary.moves.append((partner.name, previous, best.stage))
    return summary
