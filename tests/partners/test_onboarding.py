"""Onboard: checklists per tier, tasks per partner, ticked by its admins (or done by evidence), and
the move from onboard to enable once every item is done."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from prm.accounts.services import invitation_accept, invitation_create
from prm.notifications.models import Notification
from prm.partners.models import (
    OnboardingEvidence,
    OnboardingItem,
    OnboardingTask,
    OnboardingTemplate,
    Partner,
    PartnerStageChange,
    Stage,
    Tier,
)
from prm.partners.selectors import onboarding_complete, onboarding_progress
from prm.partners.services import onboarding_ensure, onboarding_task_complete, partner_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def checklist(world):
    """The entry tier's checklist: agreement and payout (by hand), first user invited (by evidence)."""
    template = OnboardingTemplate.objects.create(tier=world.partner_a.tier, name="Registered onboarding")
    for order, (key, evidence) in enumerate(
        [("agreement", ""), ("payout", ""), ("team", OnboardingEvidence.TEAM_INVITED)], start=1
    ):
        OnboardingItem.objects.create(template=template, key=key, title=key.title(), order=order, evidence=evidence)
    return template


@pytest.fixture
def onboarding_a(world, checklist):
    """Partner A in the onboard stage with its three tasks."""
    Partner.objects.filter(pk=world.partner_a.pk).update(stage=Stage.ONBOARD)
    world.partner_a.refresh_from_db()
    onboarding_ensure(world.partner_a)
    return {task.item.key: task for task in OnboardingTask.objects.filter(partner=world.partner_a)}


def _complete(client, task, note=""):
    return client.post(f"/api/v1/onboarding/{task.pk}/complete/", {"note": note}, content_type="application/json")


def test_a_new_partner_gets_its_tiers_checklist_or_the_nearest_lower_ones(world, checklist):
    silver = Tier.objects.create(code="silver", name="Silver", rank=2)  # no checklist of its own
    partner = partner_create(
        actor=world.manager, name="Gamma", website_domain="gamma.example", tier=silver, stage=Stage.ONBOARD
    )

    assert [task.item.key for task in partner.onboarding_tasks.order_by("item__order")] == [
        "agreement", "payout", "team",
    ]  # fmt: skip
    # Idempotent: a second call makes nothing new.
    onboarding_ensure(partner)
    assert partner.onboarding_tasks.count() == 3
    # A partner created already selling gets no checklist; one whose tier has none at all neither.
    seller = partner_create(
        actor=world.manager, name="Delta", website_domain="delta.example", tier=silver, stage="sell"
    )
    assert seller.onboarding_tasks.count() == 0
    trial = Tier.objects.create(code="trial", name="Trial", rank=0)  # below every checklist
    bare = partner_create(
        actor=world.manager, name="Eps", website_domain="eps.example", tier=trial, stage=Stage.ONBOARD
    )
    assert bare.onboarding_tasks.count() == 0 and onboarding_complete(bare) is False


def test_the_partners_admin_ticks_items_and_the_last_one_moves_it_to_enable(world, client, onboarding_a):
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")

    response = _complete(client, onboarding_a["agreement"], note="Signed by the CEO")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["key"], body["done"], body["done_by"], body["note"]) == (
        "agreement", True, "admin-a@test.example", "Signed by the CEO",
    )  # fmt: skip
    progress = onboarding_progress(world.partner_a)
    assert (progress.done, progress.total, progress.percent, progress.complete) == (1, 3, 33, False)
    # Marked twice: refused, naming when.
    again = _complete(client, onboarding_a["agreement"])
    assert again.status_code == 400 and "done_at" in again.json()

    assert _complete(client, onboarding_a["payout"]).status_code == 200
    world.partner_a.refresh_from_db()
    assert world.partner_a.stage == Stage.ONBOARD  # "team" is still to do
    assert _complete(client, onboarding_a["team"], note="Invited our sales lead").status_code == 200

    world.partner_a.refresh_from_db()
    assert world.partner_a.stage == Stage.ENABLE and onboarding_complete(world.partner_a)
    change = PartnerStageChange.objects.get(partner=world.partner_a)
    assert (change.from_stage, change.to_stage, change.reason, change.changed_by) == (
        "onboard", "enable", "Onboarding complete", world.admin_a,
    )  # fmt: skip
    told = Notification.objects.filter(kind="onboarding.completed").values_list("recipient__email", flat=True)
    assert sorted(told) == ["admin-a@test.example", "manager@test.example"]


def test_an_item_is_done_by_its_evidence(world, client, onboarding_a):
    # The vendor's own invitation (the admin invited on approval) is no evidence …
    invitation, token = invitation_create(
        invited_by=world.manager, email="boss@alpha.example", role="partner_admin", partner=world.partner_a
    )
    invitation_accept(token=token, full_name="Boss", password=factories.PASSWORD)
    assert onboarding_progress(world.partner_a).done == 0
    # … a colleague the partner invited who joined is.
    invitation, token = invitation_create(
        invited_by=world.admin_a, email="new-rep@alpha.example", role="partner_rep", partner=world.partner_a
    )
    invitation_accept(token=token, full_name="New Rep", password=factories.PASSWORD)

    progress = onboarding_progress(world.partner_a)

    team = next(row for row in progress.rows if row.task.item.key == "team")
    assert team.done and team.task.done_at is None and team.evidence == "A person invited by the partner has joined."
    assert (progress.done, progress.total) == (1, 3)
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    rows = {row["key"]: row for row in client.get("/api/v1/onboarding/").json()["results"]}
    assert (rows["team"]["done"], rows["team"]["done_at"]) == (True, None)
    assert rows["team"]["evidence"] == "A person invited by the partner has joined."
    assert (rows["agreement"]["done"], rows["agreement"]["evidence"]) == (False, "")
    # With the two others ticked, the checklist is complete and the partner moves on.
    _complete(client, onboarding_a["agreement"])
    _complete(client, onboarding_a["payout"])
    world.partner_a.refresh_from_db()
    assert world.partner_a.stage == Stage.ENABLE


def test_only_the_partners_admins_and_managers_tick_items(world, client, onboarding_a):
    task = onboarding_a["agreement"]
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(f"/api/v1/onboarding/{task.pk}/").status_code == 200  # reps follow it …
    assert _complete(client, task).status_code == 403  # … but do not tick it
    for outsider in (world.admin_b, world.customer_user_a1):
        client.force_login(outsider, backend="django.contrib.auth.backends.ModelBackend")
        assert _complete(client, task).status_code == 404, outsider.email
        assert client.get("/api/v1/onboarding/").json()["count"] == 0
    with pytest.raises(PermissionDenied):
        onboarding_task_complete(actor=world.rep_a, task=task)
    task.refresh_from_db()
    assert task.done_at is None
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert _complete(client, task).status_code == 200
    with pytest.raises(ValidationError):
        onboarding_task_complete(actor=world.manager, task=onboarding_a["payout"], note="x" * 301)


def test_the_checklist_on_the_partner_page_and_the_managers_pipeline(world, client, onboarding_a):
    onboarding_task_complete(actor=world.admin_a, task=onboarding_a["agreement"])
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")

    page = client.get(world.partner_a.get_absolute_url()).content.decode()

    assert "Onboarding checklist" in page and "1 of 3" in page
    assert reverse("onboarding_task_complete", args=[onboarding_a["payout"].pk]) in page
    response = client.post(
        reverse("onboarding_task_complete", args=[onboarding_a["payout"].pk]), {"onboarding-note": "IBAN sent"}
    )
    assert response.status_code == 302
    onboarding_a["payout"].refresh_from_db()
    assert onboarding_a["payout"].note == "IBAN sent" and onboarding_a["payout"].done_by == world.admin_a
    assert client.get(reverse("onboarding_list")).status_code == 403

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    pipeline = client.get(reverse("onboarding_list"))
    body = pipeline.content.decode()
    # Partner A (2 of 3 done) is onboarding; partner B (selling) is not in the pipeline.
    assert "Alpha Partners" in body and "2 of 3 (66 %)" in body and "Beta Partners" not in body
    export = b"".join(client.get(reverse("onboarding_list"), {"export": "csv"}).streaming_content).decode()
    assert "Alpha Partners" in export and "2/3" in export


def test_the_demo_lifecycle_seeds_every_step_once(world):
    from django.utils import timezone

    from prm.operations.demo_lifecycle import seed_applications, seed_onboarding, seed_target_markets
    from prm.partners.models import ApplicationComment, PartnerApplication, TargetMarket

    Tier.objects.create(code="silver", name="Silver", rank=2)
    onboarding = factories.PartnerFactory(
        name="Fjällvik Analytics", website_domain="fjallvik-analytics.se", country="SE", tier=world.partner_a.tier,
        stage=Stage.ONBOARD, industry="healthcare", region="emea_north",
    )  # fmt: skip
    recruit = factories.PartnerFactory(tier=world.partner_a.tier, stage=Stage.RECRUIT)
    configs = [{"website_domain": "alpha.example.com", "industry": "software", "region": "north_america"}]
    now = timezone.now()

    made = (
        seed_applications(actor=world.manager, now=now),
        seed_onboarding(actor=world.manager),
        seed_target_markets(actor=world.manager, partner_configs=configs),
    )

    statuses = sorted(PartnerApplication.objects.values_list("status", flat=True))
    assert statuses == ["approved", "received", "received", "received", "rejected"]
    assert PartnerApplication.objects.get(status="approved").partner == onboarding
    assert ApplicationComment.objects.count() == 4
    # Registered: 4 items, Silver: 5. Selling partners have everything done; the one onboarding two
    # items by hand and its profile by evidence; the recruit nothing.
    assert OnboardingTemplate.objects.get(tier__code="silver").items.count() == 5
    assert onboarding_progress(world.partner_a).complete and onboarding_progress(world.partner_b).complete
    progress = onboarding_progress(onboarding)
    assert (progress.done, progress.total, progress.complete) == (3, 4, False)
    onboarding.refresh_from_db()
    assert onboarding.stage == Stage.ONBOARD
    assert onboarding_progress(recruit).done == 0
    assert TargetMarket.objects.count() == 7
    world.partner_a.refresh_from_db()
    assert (world.partner_a.industry, world.partner_a.region) == ("software", "north_america")
    assert made[0] == 5 and made[2] == 7
    # A second run adds nothing.
    assert seed_applications(actor=world.manager, now=now) == 0
    assert seed_onboarding(actor=world.manager) == 0
    assert seed_target_markets(actor=world.manager, partner_configs=configs) == 0
    assert PartnerApplication.objects.count() == 5 and ApplicationComment.objects.count() == 4
