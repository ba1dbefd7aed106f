"""Lifecycle stages from evidence: forward only, a manager's override holds until newer evidence."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from prm.operations.lifecycle import partner_stages_refresh, stage_evidence
from prm.operations.period_close import period_close
from prm.partners.models import (
    ApplicationStatus,
    OnboardingItem,
    OnboardingTask,
    OnboardingTemplate,
    Partner,
    PartnerApplication,
    Stage,
)
from prm.partners.services import partner_update
from tests.billing.conftest import OCTOBER, at, catalogue, make_plan, send, subscribe  # noqa: F401

CHARGES = [{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}]


def _approved_application(partner, decided_at):
    return PartnerApplication.objects.create(
        company=partner.name, website=partner.website_domain, country="DE", industry="software",
        region="emea_north", specialties="integration", expected_customers=3, contact_name="Ann",
        contact_email="ann@example.com", status=ApplicationStatus.APPROVED, decided_at=decided_at, partner=partner,
    )  # fmt: skip


def _checklist(partner, *, done: int, total: int = 2):
    template, _ = OnboardingTemplate.objects.get_or_create(tier=partner.tier, defaults={"name": "Checklist"})
    for index in range(total):
        item, _ = OnboardingItem.objects.get_or_create(
            template=template, key=f"item-{index}", defaults={"title": f"Item {index}", "order": index}
        )
        OnboardingTask.objects.update_or_create(
            partner=partner, item=item,
            defaults={"done_at": timezone.now() - timedelta(days=1) if index < done else None},
        )  # fmt: skip


@pytest.mark.django_db
def test_a_partner_moves_forward_to_the_stage_its_evidence_shows(world):
    partner = world.partner_a
    Partner.objects.filter(pk=partner.pk).update(stage=Stage.RECRUIT)
    _approved_application(partner, datetime(2026, 9, 1, tzinfo=UTC))
    _checklist(partner, done=1)  # onboarding not complete yet

    summary = partner_stages_refresh([partner.pk])
    partner.refresh_from_db()
    assert (summary.advanced, partner.stage) == (1, Stage.ONBOARD)
    change = partner.stage_changes.first()
    assert (change.from_stage, change.to_stage, change.reason) == (
        Stage.RECRUIT, Stage.ONBOARD, "Evidence: application approved (2026-09-01)",
    )  # fmt: skip

    _checklist(partner, done=2)
    partner_stages_refresh([partner.pk])
    partner.refresh_from_db()
    assert partner.stage == Stage.ENABLE
    # Nothing new: running again moves nobody and records nothing.
    count = partner.stage_changes.count()
    assert partner_stages_refresh([partner.pk]).advanced == 0 and partner.stage_changes.count() == count


@pytest.mark.django_db
def test_a_billed_customer_puts_the_partner_in_incentivize_but_never_demotes(world, make_plan, subscribe, send):  # noqa: F811
    subscribe(make_plan("api", CHARGES))
    send(("cus_a1", "api_calls", at(2), {"calls": 1000}))
    Partner.objects.filter(pk=world.partner_a.pk).update(stage=Stage.ENABLE)
    Partner.objects.filter(pk=world.partner_b.pk).update(stage=Stage.ACCELERATE)
    period_close(period=OCTOBER)  # the close refreshes stages itself
    world.partner_a.refresh_from_db()
    world.partner_b.refresh_from_db()
    assert world.partner_a.stage == Stage.INCENTIVIZE
    assert world.partner_a.stage_changes.first().reason.startswith("Evidence: a billed customer")
    assert world.partner_b.stage == Stage.ACCELERATE  # its evidence says less: it is not moved back
    kinds = {item.what for item in stage_evidence([world.partner_a.pk])[world.partner_a.pk]}
    assert "a billed customer" in kinds


@pytest.mark.django_db
def test_a_managers_override_holds_until_newer_evidence(world):
    partner = world.partner_a
    _approved_application(partner, datetime(2026, 9, 1, tzinfo=UTC))
    _checklist(partner, done=2)  # evidence for enable, a day old
    partner_update(actor=world.manager, partner=partner, stage=Stage.RECRUIT, reason="Paused: contract review")
    assert partner.stage_changes.first().is_override
    assert partner_stages_refresh([partner.pk]).advanced == 0
    partner.refresh_from_db()
    assert partner.stage == Stage.RECRUIT

    # New evidence after the override moves the partner again.
    task = OnboardingTask.objects.filter(partner=partner).first()
    task.done_at = timezone.now() + timedelta(seconds=1)
    task.save()
    partner_stages_refresh([partner.pk], now=timezone.now() + timedelta(seconds=2))
    partner.refresh_from_db()
    assert partner.stage == Stage.ENABLE
