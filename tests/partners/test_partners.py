import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from prm.partners.models import Partner, PartnerStageChange, Stage
from prm.partners.services import partner_create, partner_update


@pytest.mark.django_db
def test_a_stage_change_is_kept_with_reason_and_author(world):
    partner_update(actor=world.manager, partner=world.partner_a, stage=Stage.ACCELERATE, reason="Top growth")
    change = PartnerStageChange.objects.filter(partner=world.partner_a).first()
    assert (change.from_stage, change.to_stage, change.reason, change.changed_by) == (
        Stage.SELL,
        Stage.ACCELERATE,
        "Top growth",
        world.manager,
    )
    # Saving without a stage change adds no history.
    partner_update(actor=world.manager, partner=world.partner_a, name="Alpha Partners Ltd")
    assert PartnerStageChange.objects.filter(partner=world.partner_a).count() == 1


@pytest.mark.django_db
def test_only_managers_change_partners(world):
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        with pytest.raises(PermissionDenied):
            partner_update(actor=user, partner=world.partner_a, name="Mine now")
        with pytest.raises(PermissionDenied):
            partner_create(actor=user, name="X", website_domain="x.example", tier=world.partner_a.tier)
    world.partner_a.refresh_from_db()
    assert world.partner_a.name == "Alpha Partners"


@pytest.mark.django_db
def test_partner_validation(world):
    with pytest.raises(ValidationError) as error:
        partner_create(actor=world.manager, name="Dup", website_domain="ALPHA.example.com", tier=world.partner_a.tier)
    assert "website_domain" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        partner_update(actor=world.manager, partner=world.partner_a, channel_manager=world.admin_b)
    assert "channel_manager" in error.value.message_dict
    partner_update(actor=world.manager, partner=world.partner_b, parent=world.partner_a)
    with pytest.raises(ValidationError) as error:
        partner_update(actor=world.manager, partner=world.partner_a, parent=world.partner_b)
    assert "parent" in error.value.message_dict


@pytest.mark.django_db
def test_manager_creates_a_partner_in_the_portal(world, login):
    client = login(world.manager)
    response = client.post(
        reverse("partner_create"),
        {"name": "Gamma", "website_domain": "gamma.example", "country": "de", "tier": world.partner_a.tier.pk,
         "stage": "onboard", "channel_manager": world.manager.pk},
    )  # fmt: skip
    partner = Partner.objects.get(name="Gamma")
    assert response.status_code == 302 and partner.country == "DE"
    assert partner.stage_changes.get().to_stage == "onboard"


@pytest.mark.django_db
def test_partner_api_for_managers_and_partners(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    created = client.post(
        "/api/v1/partners/",
        {"name": "Delta", "website_domain": "delta.example", "tier": "registered", "stage": "recruit"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["tier"] == "registered" and created.json()["stage"] == "recruit"
    bad = client.post(
        "/api/v1/partners/",
        {"name": "E", "website_domain": "e.example", "tier": "platinum", "stage": "dreaming"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and {"tier", "stage"} <= set(bad.json())
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    listing = client.get("/api/v1/partners/").json()
    assert [row["name"] for row in listing["results"]] == ["Alpha Partners"]
    assert (
        client.patch(
            f"/api/v1/partners/{world.partner_a.pk}/", {"stage": "accelerate"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.post("/api/v1/partners/", {}, content_type="application/json").status_code == 403
