"""Writes of the partners app. Only channel managers configure partners, tiers and tier moves."""

import json
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from prm.partners.models import (
    EvaluationStatus,
    ExchangeRate,
    Partner,
    PartnerStageChange,
    PartnerTierChange,
    Tier,
    TierEvaluation,
)

PARTNER_FIELDS = ("name", "website_domain", "country", "tier", "stage", "channel_manager", "parent")
TIER_FIELDS = (
    "code", "name", "rank", "description", "min_trailing_revenue", "min_active_customers", "min_certified_people",
    "min_growth_percent", "base_commission_rate", "list_discount_percent", "mdf_eligible",
)  # fmt: skip


def _require_manager(actor, what: str = "change partners") -> None:
    if not actor.is_manager:
        raise PermissionDenied(f"Only channel managers may {what}.")


def partner_create(*, actor, reason: str = "Partner created", **fields) -> Partner:
    _require_manager(actor)
    partner = Partner(**{name: value for name, value in fields.items() if name in PARTNER_FIELDS})
    partner.full_clean()
    with transaction.atomic():
        partner.save()
        _record_stage(partner, from_stage="", reason=reason, changed_by=actor)
        _record_tier(partner, from_tier=None, reason=reason, changed_by=actor)
    return partner


def partner_update(*, actor, partner: Partner, reason: str = "Changed by a channel manager", **fields) -> Partner:
    _require_manager(actor)
    with transaction.atomic():
        # Re-read inside the transaction: scope is checked again and concurrent edits queue.
        partner = Partner.objects.locked_for(actor, partner.pk)
        previous_stage, previous_tier = partner.stage, partner.tier
        for name, value in fields.items():
            if name in PARTNER_FIELDS:
                setattr(partner, name, value)
        partner.full_clean()
        partner.save()
        if partner.stage != previous_stage:
            _record_stage(partner, from_stage=previous_stage, reason=reason, changed_by=actor)
        if partner.tier_id != previous_tier.pk:
            _record_tier(partner, from_tier=previous_tier, reason=reason, changed_by=actor)
    return partner


def _record_stage(partner: Partner, *, from_stage: str, reason: str, changed_by) -> PartnerStageChange:
    return PartnerStageChange.objects.create(
        partner=partner,
        from_stage=from_stage,
        to_stage=partner.stage,
        reason=reason,
        changed_by=changed_by,
        changed_at=timezone.now(),
    )


def _record_tier(partner: Partner, *, from_tier: Tier | None, reason: str, changed_by, evaluation=None):
    return PartnerTierChange.objects.create(
        partner=partner,
        from_tier=from_tier,
        to_tier=partner.tier,
        reason=reason[:500],
        evaluation=evaluation,
        changed_by=changed_by,
        changed_at=timezone.now(),
    )


# --- program tiers ----------------------------------------------------------------------------


def tier_create(*, actor, **fields) -> Tier:
    """A new program tier with its criteria and benefits; errors name the field."""
    _require_manager(actor, "configure the program's tiers")
    tier = Tier(**{name: value for name, value in fields.items() if name in TIER_FIELDS})
    with transaction.atomic():
        tier.full_clean()
        tier.save()
    return tier


def tier_update(*, actor, tier: Tier, **fields) -> Tier:
    """Change a tier's criteria or benefits. A partner's tier changes only by a confirmed
    evaluation or a manager's edit of the partner, never because a tier's criteria moved."""
    _require_manager(actor, "configure the program's tiers")
    with transaction.atomic():
        tier = Tier.objects.locked_for(actor, tier.pk)
        for name, value in fields.items():
            if name in TIER_FIELDS:
                setattr(tier, name, value)
        tier.full_clean()
        tier.save()
    return tier


def exchange_rates_load(path: Path | str) -> int:
    """Bring the reference rates to those of a fixture (fixtures/exchange_rates.json, Django's
    fixture shape); idempotent: a rate is written only when it differs. Returns the rows written."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    written = 0
    with transaction.atomic():
        for entry in entries:
            fields = entry["fields"]
            value, updated_at = Decimal(fields["rate"]), parse_datetime(fields["updated_at"])
            rate = ExchangeRate.objects.filter(currency=fields["currency"]).first()
            if rate is not None and (rate.rate, rate.updated_at) == (value, updated_at):
                continue
            rate = rate or ExchangeRate(currency=fields["currency"])
            rate.rate, rate.updated_at = value, updated_at
            rate.full_clean()
            rate.save()
            written += 1
    return written


# --- tier evaluations: a channel manager's decision -------------------------------------------


def tier_evaluation_confirm(*, actor, evaluation: TierEvaluation, note: str = "") -> TierEvaluation:
    """Move the partner to the proposed tier and keep the move in its tier history.

    Only a proposed evaluation, and only while the partner is still in the tier it was evaluated
    in: a tier changed since (by another evaluation or an edit) makes the proposal stale.
    """
    _require_manager(actor, "confirm tier evaluations")
    note = _clean_note(note)
    with transaction.atomic():
        # The partner first, as partner_update locks it: the one order for both writers.
        partner = Partner.objects.locked_for(actor, evaluation.partner_id)
        evaluation = _locked_proposal(actor, evaluation, "confirmed")
        if partner.tier_id != evaluation.current_tier_id:
            raise ValidationError(
                {"current_tier": f"Stale: {partner.name} was evaluated in {evaluation.current_tier.name} but is "
                 f"{partner.tier.name} now; dismiss this proposal (the next evaluation starts from the new tier)."}
            )  # fmt: skip
        previous = partner.tier
        partner.tier = evaluation.proposed_tier
        partner.save(update_fields=["tier", "updated_at"])
        reason = (
            f"{evaluation.get_direction_display()} by the {evaluation.period} evaluation: "
            f"{previous.name} → {evaluation.proposed_tier.name}"
        )
        if note:
            reason += f" — {note}"
        _record_tier(partner, from_tier=previous, reason=reason, changed_by=actor, evaluation=evaluation)
        return _decide(evaluation, EvaluationStatus.CONFIRMED, actor=actor, note=note)


def tier_evaluation_dismiss(*, actor, evaluation: TierEvaluation, note: str = "") -> TierEvaluation:
    """Leave the partner in its tier; the evaluation and its evidence are kept."""
    _require_manager(actor, "dismiss tier evaluations")
    note = _clean_note(note)
    with transaction.atomic():
        evaluation = _locked_proposal(actor, evaluation, "dismissed")
        return _decide(evaluation, EvaluationStatus.DISMISSED, actor=actor, note=note)


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationError({"note": f"At most 500 characters ({len(note)} given)."})
    return note


def _locked_proposal(actor, evaluation: TierEvaluation, verb: str) -> TierEvaluation:
    evaluation = TierEvaluation.objects.locked_for(actor, evaluation.pk)
    if evaluation.status != EvaluationStatus.PROPOSED:
        raise ValidationError(
            {"status": f"Only a proposed evaluation can be {verb}; this one is {evaluation.get_status_display()}."}
        )
    return evaluation


def _decide(evaluation: TierEvaluation, status: str, *, actor, note: str) -> TierEvaluation:
    evaluation.status = status
    evaluation.decided_by = actor
    evaluation.decided_at = timezone.now()
    evaluation.note = note
    evaluation.full_clean()
    evaluation.save(update_fields=["status", "decided_by", "decided_at", "note"])
    return evaluation


def tier_fixture_values(fields: dict) -> dict:
    """A fixtures/tiers.json entry's fields but the code, as the model holds them (Decimal for the
    rates and thresholds), so that an upsert comparing them with the stored tier writes nothing the
    second time."""
    return {
        name: Tier._meta.get_field(name).to_python(value)
        for name, value in fields.items()
        if name in TIER_FIELDS and name != "code"
    }
