"""Writes of the partners app. Only channel managers configure partners, tiers and tier moves."""

import json
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from prm.accounts.models import Role, User
from prm.accounts.services import invitation_create
from prm.notifications.services import notify, notify_managers
from prm.partners.models import (
    ApplicationComment,
    ApplicationStatus,
    EvaluationStatus,
    ExchangeRate,
    OnboardingTask,
    Partner,
    PartnerApplication,
    PartnerStageChange,
    PartnerTierChange,
    Stage,
    TargetMarket,
    Tier,
    TierEvaluation,
)
from prm.partners.selectors import onboarding_complete, onboarding_template_for

PARTNER_FIELDS = (
    "name", "website_domain", "country", "tier", "stage", "channel_manager", "parent", "industry", "region",
)  # fmt: skip
TIER_FIELDS = (
    "code", "name", "rank", "description", "min_trailing_revenue", "min_active_customers", "min_certified_people",
    "min_growth_percent", "base_commission_rate", "list_discount_percent", "mdf_eligible",
)  # fmt: skip


def _require_manager(actor, what: str = "change partners") -> None:
    if not actor.is_manager:
        raise PermissionDenied(f"Only channel managers may {what}.")


def partner_create(*, actor, reason: str = "Partner created", from_stage: str = "", **fields) -> Partner:
    """A new partner with the first entries of its stage and tier histories; one that starts in
    recruit or onboard gets its tier's onboarding checklist."""
    _require_manager(actor)
    partner = Partner(**{name: value for name, value in fields.items() if name in PARTNER_FIELDS})
    partner.full_clean()
    with transaction.atomic():
        partner.save()
        _record_stage(partner, from_stage=from_stage, reason=reason, changed_by=actor)
        _record_tier(partner, from_tier=None, reason=reason, changed_by=actor)
        if partner.stage in (Stage.RECRUIT, Stage.ONBOARD):
            onboarding_ensure(partner)
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
            # A manager's edit of the stage overrides what the evidence says (see operations/lifecycle.py).
            _record_stage(partner, from_stage=previous_stage, reason=reason, changed_by=actor, is_override=True)
        if partner.tier_id != previous_tier.pk:
            _record_tier(partner, from_tier=previous_tier, reason=reason, changed_by=actor)
    return partner


def _record_stage(
    partner: Partner, *, from_stage: str, reason: str, changed_by, is_override: bool = False
) -> PartnerStageChange:
    return PartnerStageChange.objects.create(
        partner=partner,
        from_stage=from_stage,
        to_stage=partner.stage,
        reason=reason,
        changed_by=changed_by,
        changed_at=timezone.now(),
        is_override=is_override,
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


# --- recruit: applications ---------------------------------------------------------------------

APPLICATION_FIELDS = (
    "company", "website", "country", "industry", "region", "specialties", "expected_customers", "contact_name",
    "contact_email", "message",
)  # fmt: skip


def partner_application_submit(**fields) -> PartnerApplication:
    """Record an application from the public form (no account: the applicant is anonymous).

    Refused, nothing stored, with the message on `website`: a domain that is already a partner's,
    or one with an application still waiting for a decision (also a database constraint, for two
    submissions racing). The applicant gets a confirmation email and the channel managers a
    notification, once the row is committed. Spam protection (honeypot, rate limit) is the view's.
    """
    application = PartnerApplication(**{name: fields.get(name) for name in APPLICATION_FIELDS})
    application.message = application.message or ""
    application.status = ApplicationStatus.RECEIVED
    application.full_clean(validate_constraints=False)
    _check_domain_free(application.website)
    try:
        with transaction.atomic():
            application.save()
            transaction.on_commit(lambda: _application_email(application, "received"))
            notify_managers(
                kind="application.received",
                title=f"New partner application: {application.company}",
                body=f"{application.company} ({application.website}, {application.country}) applied to join the "
                f"program: {application.get_industry_display()}, {application.get_region_display()}.",
                url=application.get_absolute_url(),
            )
    except IntegrityError:
        # Another submission for the same domain won the race; its row stands, this one is refused.
        raise ValidationError({"website": _PENDING_MESSAGE}) from None
    return application


_PENDING_MESSAGE = (
    "An application for this domain is already waiting for a decision; we will answer it by email. "
    "There is no need to apply again."
)


def _check_domain_free(domain: str) -> None:
    if Partner.objects.filter(website_domain=domain).exists():
        raise ValidationError(
            {"website": f"{domain} is already a partner of the program. Ask your partner admin to invite you instead."}
        )
    if PartnerApplication.objects.filter(website=domain, status=ApplicationStatus.RECEIVED).exists():
        raise ValidationError({"website": _PENDING_MESSAGE})


def partner_application_comment(*, actor, application: PartnerApplication, text: str) -> ApplicationComment:
    _require_manager(actor, "review applications")
    comment = ApplicationComment(author=actor, text=(text or "").strip())
    with transaction.atomic():
        comment.application = PartnerApplication.objects.locked_for(actor, application.pk)
        comment.full_clean()
        comment.save()
    return comment


def partner_application_approve(*, actor, application: PartnerApplication, note: str = "") -> PartnerApplication:
    """Create the partner (entry tier, stage onboard, its onboarding checklist), invite the contact
    as its admin, and tell the applicant. Refused, nothing written, when the application is decided
    already, the domain became a partner's meanwhile, or the contact already has an account."""
    _require_manager(actor, "decide applications")
    note = _clean_reason(note, field="note")
    with transaction.atomic():
        application = _locked_received(actor, application, "approved")
        entry_tier = Tier.objects.order_by("rank").first()
        if entry_tier is None:
            raise ValidationError({"status": "The program has no tiers yet: create the entry tier first."})
        try:
            partner = partner_create(
                actor=actor,
                reason="Application approved",
                from_stage=Stage.RECRUIT,
                name=application.company,
                website_domain=application.website,
                country=application.country,
                industry=application.industry,
                region=application.region,
                tier=entry_tier,
                stage=Stage.ONBOARD,
                channel_manager=actor,
            )
            invitation_create(
                invited_by=actor, email=application.contact_email, role=Role.PARTNER_ADMIN, partner=partner
            )
        except ValidationError as error:
            raise _on_application_fields(error) from None
        application.status = ApplicationStatus.APPROVED
        application.partner = partner
        _decide_application(application, actor=actor, reason=note)
        transaction.on_commit(lambda: _application_email(application, "approved"))
        _notify_other_managers(actor, application, "approved")
    return application


def partner_application_reject(*, actor, application: PartnerApplication, reason: str) -> PartnerApplication:
    """Decline with a reason, which the applicant receives by email."""
    _require_manager(actor, "decide applications")
    reason = _clean_reason(reason, field="reason")
    if not reason:
        raise ValidationError({"reason": "Say why the application is rejected: the applicant receives the reason."})
    with transaction.atomic():
        application = _locked_received(actor, application, "rejected")
        application.status = ApplicationStatus.REJECTED
        _decide_application(application, actor=actor, reason=reason)
        transaction.on_commit(lambda: _application_email(application, "rejected"))
        _notify_other_managers(actor, application, "rejected")
    return application


def _clean_reason(text: str, *, field: str) -> str:
    text = (text or "").strip()
    if len(text) > 500:
        raise ValidationError({field: f"At most 500 characters ({len(text)} given)."})
    return text


def _locked_received(actor, application: PartnerApplication, verb: str) -> PartnerApplication:
    application = PartnerApplication.objects.locked_for(actor, application.pk)
    if application.status != ApplicationStatus.RECEIVED:
        raise ValidationError(
            {"status": f"Only a received application can be {verb}; this one is {application.get_status_display()}."}
        )
    return application


def _decide_application(application: PartnerApplication, *, actor, reason: str) -> None:
    application.decided_by = actor
    application.decided_at = timezone.now()
    application.decision_reason = reason
    application.full_clean()
    application.save()


def _on_application_fields(error: ValidationError) -> ValidationError:
    """The partner's and the invitation's field names, as the application calls them."""
    if not hasattr(error, "error_dict"):
        return error
    names = {"website_domain": "website", "email": "contact_email", "name": "company"}
    return ValidationError({names.get(field, field): messages for field, messages in error.message_dict.items()})


def _notify_other_managers(actor, application: PartnerApplication, verb: str) -> None:
    managers = User.objects.filter(membership__role=Role.MANAGER, is_active=True).exclude(pk=actor.pk)
    notify(
        users=managers,
        kind="application.decided",
        title=f"Application {verb}: {application.company}",
        body=f"{actor.display_name} {verb} the application of {application.company} ({application.website})."
        + (f" Reason: {application.decision_reason}" if application.decision_reason else ""),
        url=application.get_absolute_url(),
        email=False,
    )


def _application_email(application: PartnerApplication, event: str) -> None:
    """The applicant has no account yet: they hear from us by email only."""
    subjects = {
        "received": f"We received your application to the {settings.PRM_VENDOR_NAME} partner program",
        "approved": f"Welcome to the {settings.PRM_VENDOR_NAME} partner program",
        "rejected": f"Your application to the {settings.PRM_VENDOR_NAME} partner program",
    }
    send_mail(
        subject=subjects[event],
        message=render_to_string(
            f"partners/email/application_{event}.txt",
            {"application": application, "vendor_name": settings.PRM_VENDOR_NAME},
        ),
        from_email=None,
        recipient_list=[application.contact_email],
    )


# --- onboard: checklists -----------------------------------------------------------------------


def onboarding_ensure(partner: Partner) -> list[OnboardingTask]:
    """Give `partner` a task for every item of its tier's checklist it does not have yet; then, if
    every item is done (marked, or by its evidence) and the partner is in the onboard stage, move it
    to enable. Needs no actor and is idempotent: any flow may call it again."""
    template = onboarding_template_for(partner.tier)
    with transaction.atomic():
        if template is not None:
            have = set(OnboardingTask.objects.filter(partner=partner).values_list("item_id", flat=True))
            OnboardingTask.objects.bulk_create(
                [OnboardingTask(partner=partner, item=item) for item in template.items.all() if item.pk not in have],
                ignore_conflicts=True,  # a concurrent call made them: the constraint keeps one each
            )
        _advance_when_onboarded(partner.pk, actor=None)
    return list(OnboardingTask.objects.filter(partner=partner).select_related("item"))


def onboarding_task_complete(*, actor, task: OnboardingTask, note: str = "") -> OnboardingTask:
    """Mark an item done: the partner's admins or a channel manager. The last one moves the partner
    from onboard to enable ("Onboarding complete")."""
    note = (note or "").strip()
    if len(note) > 300:
        raise ValidationError({"note": f"At most 300 characters ({len(note)} given)."})
    with transaction.atomic():
        # Scope first (another partner's task is not found), then the role.
        task = OnboardingTask.objects.locked_for(actor, task.pk)
        if not (actor.is_manager or (actor.is_partner_admin and actor.partner.pk == task.partner_id)):
            raise PermissionDenied("Only the partner's admins and channel managers mark onboarding items done.")
        if task.done_at is not None:
            raise ValidationError({"done_at": f"“{task.item.title}” was marked done on {task.done_at:%Y-%m-%d}."})
        task.done_at, task.done_by, task.note = timezone.now(), actor, note
        task.full_clean()
        task.save(update_fields=["done_at", "done_by", "note"])
        _advance_when_onboarded(task.partner_id, actor=actor)
    return task


def _advance_when_onboarded(partner_id: int, *, actor) -> bool:
    partner = Partner.objects.select_for_update().select_related("tier").get(pk=partner_id)
    if partner.stage != Stage.ONBOARD or not onboarding_complete(partner):
        return False
    partner.stage = Stage.ENABLE
    partner.save(update_fields=["stage", "updated_at"])
    _record_stage(partner, from_stage=Stage.ONBOARD, reason="Onboarding complete", changed_by=actor)
    admins = User.objects.filter(membership__partner=partner, membership__role=Role.PARTNER_ADMIN, is_active=True)
    managers = User.objects.filter(membership__role=Role.MANAGER, is_active=True)
    notify(
        users=[*admins, *managers],
        kind="onboarding.completed",
        title=f"Onboarding complete: {partner.name}",
        body=f"Every onboarding item of {partner.name} is done; the partner moves on to enablement.",
        url=partner.get_absolute_url(),
        email=False,
    )
    return True


# --- strategize: target markets ----------------------------------------------------------------

TARGET_MARKET_FIELDS = ("industry", "region", "goal_partners", "goal_consumption", "notes")


def target_market_create(*, actor, **fields) -> TargetMarket:
    _require_manager(actor, "set target markets")
    market = TargetMarket(**{name: value for name, value in fields.items() if name in TARGET_MARKET_FIELDS})
    with transaction.atomic():
        _clean_market(market)
        market.save()
    return market


def target_market_update(*, actor, market: TargetMarket, **fields) -> TargetMarket:
    _require_manager(actor, "set target markets")
    with transaction.atomic():
        market = TargetMarket.objects.locked_for(actor, market.pk)
        for name, value in fields.items():
            if name in TARGET_MARKET_FIELDS:
                setattr(market, name, value)
        _clean_market(market)
        market.save()
    return market


def target_market_delete(*, actor, market: TargetMarket) -> None:
    _require_manager(actor, "set target markets")
    with transaction.atomic():
        TargetMarket.objects.locked_for(actor, market.pk).delete()


def _clean_market(market: TargetMarket) -> None:
    market.notes = (market.notes or "").strip()
    market.full_clean(validate_constraints=False)
    taken = TargetMarket.objects.filter(industry=market.industry, region=market.region).exclude(pk=market.pk)
    if taken.exists():
        raise ValidationError(
            {"region": f"{market.get_industry_display()} in {market.get_region_display()} already has a target; "
             "change that one."}
        )  # fmt: skip
