"""Writes of the partners app. Only channel managers configure partners."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from prm.partners.models import Partner, PartnerStageChange

PARTNER_FIELDS = ("name", "website_domain", "country", "tier", "stage", "channel_manager", "parent")


def _require_manager(actor) -> None:
    if not actor.is_manager:
        raise PermissionDenied("Only channel managers may change partners.")


def partner_create(*, actor, reason: str = "Partner created", **fields) -> Partner:
    _require_manager(actor)
    partner = Partner(**{name: value for name, value in fields.items() if name in PARTNER_FIELDS})
    partner.full_clean()
    with transaction.atomic():
        partner.save()
        _record_stage(partner, from_stage="", reason=reason, changed_by=actor)
    return partner


def partner_update(*, actor, partner: Partner, reason: str = "Changed by a channel manager", **fields) -> Partner:
    _require_manager(actor)
    with transaction.atomic():
        # Re-read inside the transaction: scope is checked again and concurrent edits queue.
        partner = Partner.objects.locked_for(actor, partner.pk)
        previous_stage = partner.stage
        for name, value in fields.items():
            if name in PARTNER_FIELDS:
                setattr(partner, name, value)
        partner.full_clean()
        partner.save()
        if partner.stage != previous_stage:
            _record_stage(partner, from_stage=previous_stage, reason=reason, changed_by=actor)
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
