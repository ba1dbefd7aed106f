"""Program tiers (criteria and benefits), tier evaluations in the API and the portal, tier history."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from prm.partners.models import ExchangeRate, Partner, PartnerTierChange, Tier, TierEvaluation
from prm.partners.selectors import TierFigures, next_tier_standing, qualifying_tier, tier_standings
from prm.partners.services import (
    exchange_rates_load,
    partner_create,
    partner_update,
    tier_fixture_values,
    tier_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiers(world):
    registered = world.partner_a.tier
    registered.base_commission_rate = Decimal("10")
    registered.save()
    return {
        "registered": registered,
        "silver": Tier.objects.create(
            code="silver", name="Silver", rank=2, min_trailing_revenue=50000, min_active_customers=3,
            base_commission_rate=15, list_discount_percent=5,
        ),
        "gold": Tier.objects.create(
            code="gold", name="Gold", rank=3, min_trailing_revenue=120000, min_active_customers=10,
            min_growth_percent=10, base_commission_rate=20, list_discount_percent=10, mdf_eligible=True,
        ),
    }  # fmt: skip


def _evidence(total: str, active: int, growth: str | None = "4.5") -> dict:
    """The parts of an evaluation's evidence that the pages and the selector read."""
    return {
        "period": "2026-10", "periods": {"from": "2025-11", "to": "2026-10", "count": 12},
        "program_currency": "USD", "active_customers": active, "growth_percent": growth,
        "trailing_revenue": {"by_currency": {"EUR": total}, "converted": {"EUR": total}, "total": total},
        "rates": {"EUR": {"rate": "1", "updated_at": None}}, "missing_rates": [],
        "period_revenue": "0.00", "previous_period": "2026-09", "previous_period_revenue": "0.00",
        "certified_people": 0, "certifications_known": False,
        "certified_people_note": "certifications arrive with enablement", "tiers": [],
    }  # fmt: skip


def _proposal(partner, to_tier, *, period="2026-10", evidence=None) -> TierEvaluation:
    return TierEvaluation.objects.create(
        partner=partner, period=period, current_tier=partner.tier, proposed_tier=to_tier,
        direction="up" if to_tier.rank > partner.tier.rank else "down", status="proposed",
        evidence=evidence or _evidence("60000.00", 4),
    )  # fmt: skip


# --- what the next tier needs (the selector) --------------------------------------------------


def test_next_tier_says_what_is_still_missing(tiers):
    figures = TierFigures(currency="USD", trailing_revenue=Decimal("84300"), active_customers=7,
                          growth_percent=Decimal("12.5"))  # fmt: skip
    standing = next_tier_standing(tiers["silver"], figures)
    assert standing.tier == tiers["gold"]
    assert standing.summary == "Gold needs 120,000 USD trailing revenue: 84,300 so far; 10 active customers: 7"
    assert [check.criterion for check in standing.checks if check.met] == ["min_growth_percent"]
    assert next_tier_standing(tiers["gold"], figures) is None  # the top tier


def test_the_highest_tier_with_every_criterion_met_is_proposed(tiers):
    def proposed(total, active, growth):
        figures = TierFigures("USD", Decimal(total), active, growth_percent=None if growth is None else Decimal(growth))
        return qualifying_tier(tier_standings(list(tiers.values()), figures)).code

    assert proposed("120000", 10, "10") == "gold"
    assert proposed("120000", 10, "9.99") == "silver"  # growth missed by 0.01 %
    assert proposed("120000", 10, None) == "silver"  # no previous revenue: growth not measurable
    assert proposed("49999.99", 30, "50") == "registered"
    assert proposed("0", 0, None) == "registered"  # the entry tier is the floor


# --- tiers: configuration and validation ------------------------------------------------------


def test_everyone_signed_in_reads_tiers_with_criteria_and_benefits(world, tiers, client):
    client.force_login(world.customer_user_a1, backend="django.contrib.auth.backends.ModelBackend")
    rows = {row["code"]: row for row in client.get("/api/v1/tiers/").json()["results"]}
    assert rows["gold"] == {
        "id": tiers["gold"].pk, "code": "gold", "name": "Gold", "rank": 3, "description": "",
        "min_trailing_revenue": "120000", "min_active_customers": 10, "min_certified_people": None,
        "min_growth_percent": "10", "base_commission_rate": "20", "list_discount_percent": "10", "mdf_eligible": True,
    }  # fmt: skip
    assert rows["registered"]["min_trailing_revenue"] is None


def test_managers_create_and_change_tiers(world, tiers, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    created = client.post(
        "/api/v1/tiers/",
        {"code": "platinum", "name": "Platinum", "rank": 4, "min_trailing_revenue": "500000",
         "min_active_customers": 20, "base_commission_rate": "25", "list_discount_percent": "15", "mdf_eligible": True},
        content_type="application/json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    platinum = Tier.objects.get(code="platinum")
    assert (platinum.min_trailing_revenue, platinum.base_commission_rate) == (Decimal("500000"), Decimal("25"))
    changed = client.patch(
        f"/api/v1/tiers/{platinum.pk}/", {"base_commission_rate": "27.5"}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["base_commission_rate"] == "27.5"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_commission_rate", "120"),
        ("base_commission_rate", "-1"),
        ("list_discount_percent", "100.5"),
        ("min_trailing_revenue", "-1"),
        ("min_active_customers", -3),
        ("min_growth_percent", "-150"),
    ],
)
def test_bad_tier_input_names_the_field_and_changes_nothing(world, tiers, client, field, value):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    gold = tiers["gold"]
    response = client.patch(f"/api/v1/tiers/{gold.pk}/", {field: value}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {field}
    fresh = Tier.objects.get(pk=gold.pk)
    assert [getattr(fresh, name) for name in ("base_commission_rate", "list_discount_percent", "min_trailing_revenue",
                                              "min_active_customers", "min_growth_percent")] == [
        Decimal("20"), Decimal("10"), Decimal("120000"), 10, Decimal("10"),
    ]  # fmt: skip


def test_the_service_refuses_bad_rates_by_field(world, tiers):
    with pytest.raises(ValidationError) as error:
        tier_update(actor=world.manager, tier=tiers["gold"], base_commission_rate=Decimal("120"))
    assert set(error.value.message_dict) == {"base_commission_rate"}
    assert Tier.objects.get(pk=tiers["gold"].pk).base_commission_rate == Decimal("20")


def test_the_database_refuses_out_of_range_values(tiers):
    for field, value in [("base_commission_rate", 101), ("list_discount_percent", -1), ("min_trailing_revenue", -5)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Tier.objects.filter(pk=tiers["gold"].pk).update(**{field: value})


def test_only_managers_configure_tiers(world, tiers, client):
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        with pytest.raises(PermissionDenied):
            tier_update(actor=user, tier=tiers["gold"], base_commission_rate=Decimal("50"))
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.patch(f"/api/v1/tiers/{tiers['gold'].pk}/", {"name": "Mine"},
                            content_type="application/json").status_code == 403  # fmt: skip
        assert client.post("/api/v1/tiers/", {"code": "x", "name": "X", "rank": 9},
                           content_type="application/json").status_code == 403  # fmt: skip
        assert client.get(reverse("tier_edit", args=[tiers["gold"].pk])).status_code == 403
        assert client.get(reverse("tier_create")).status_code == 403
    assert Tier.objects.get(pk=tiers["gold"].pk).name == "Gold"
    assert not Tier.objects.filter(code="x").exists()


def test_tier_pages(world, tiers, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(reverse("tier_list")).content.decode()
    assert "120,000 USD" in body and "Partners" in body and reverse("tier_edit", args=[tiers["gold"].pk]) in body
    response = client.post(
        reverse("tier_edit", args=[tiers["silver"].pk]),
        {"code": "silver", "name": "Silver", "rank": 2, "min_trailing_revenue": "60000", "min_active_customers": "3",
         "base_commission_rate": "120", "list_discount_percent": "5"},
    )  # fmt: skip
    assert response.status_code == 200 and "base_commission_rate" in response.context["form"].errors
    assert Tier.objects.get(pk=tiers["silver"].pk).min_trailing_revenue == Decimal("50000")
    response = client.post(
        reverse("tier_edit", args=[tiers["silver"].pk]),
        {"code": "silver", "name": "Silver", "rank": 2, "min_trailing_revenue": "60000", "min_active_customers": "3",
         "base_commission_rate": "16", "list_discount_percent": "5"},
    )  # fmt: skip
    assert response.status_code == 302
    assert Tier.objects.get(pk=tiers["silver"].pk).min_trailing_revenue == Decimal("60000")
    # A partner reads the criteria and benefits, not how many partners each tier holds.
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("tier_list"))
    assert "120,000 USD" in response.content.decode()
    assert "partner_count" not in [column.name for column in response.context["table"].columns]


# --- tier history -----------------------------------------------------------------------------


def test_partner_create_and_edit_keep_the_tier_history(world, tiers, client):
    partner = partner_create(actor=world.manager, name="Eta", website_domain="eta.example", tier=tiers["registered"])
    partner_update(actor=world.manager, partner=partner, tier=tiers["silver"], reason="Strategic")
    partner_update(actor=world.manager, partner=partner, name="Eta Ltd")  # no tier change, no history row
    history = [(c.from_tier, c.to_tier, c.reason) for c in PartnerTierChange.objects.filter(partner=partner)]
    assert history == [
        (tiers["registered"], tiers["silver"], "Strategic"),
        (None, tiers["registered"], "Partner created"),
    ]
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    api = client.get(f"/api/v1/partners/{partner.pk}/").json()
    assert [(row["from_tier"], row["to_tier"]) for row in api["tier_history"]] == [
        ("registered", "silver"), (None, "registered"),
    ]  # fmt: skip


# --- tier evaluations: API ----------------------------------------------------------------------


def test_evaluations_are_scoped(world, tiers, client):
    mine, theirs = _proposal(world.partner_a, tiers["silver"]), _proposal(world.partner_b, tiers["silver"])
    client.force_login(world.admin_b, backend="django.contrib.auth.backends.ModelBackend")
    assert [row["id"] for row in client.get("/api/v1/tier-evaluations/").json()["results"]] == [theirs.pk]
    assert client.get(f"/api/v1/tier-evaluations/{mine.pk}/").status_code == 404
    assert client.post(f"/api/v1/tier-evaluations/{mine.pk}/confirm/").status_code == 404
    # Reps (the evidence sums every customer of the partner) and customers see none.
    for user in (world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get("/api/v1/tier-evaluations/").json()["count"] == 0
        assert client.get(f"/api/v1/tier-evaluations/{mine.pk}/").status_code == 404
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    row = client.get(f"/api/v1/tier-evaluations/{mine.pk}/").json()
    assert (row["partner"], row["current_tier"], row["proposed_tier"], row["direction"], row["status"]) == (
        world.partner_a.pk, "registered", "silver", "up", "proposed",
    )  # fmt: skip
    assert row["evidence"]["trailing_revenue"]["total"] == "60000.00"
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/v1/tier-evaluations/", {"status": "proposed"}).json()["count"] == 2


def test_a_partner_cannot_confirm_or_dismiss(world, tiers, client):
    evaluation = _proposal(world.partner_a, tiers["silver"])
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    for verb in ("confirm", "dismiss"):
        assert client.post(f"/api/v1/tier-evaluations/{evaluation.pk}/{verb}/").status_code == 403
        assert client.post(reverse(f"tier_evaluation_{verb}", args=[evaluation.pk])).status_code == 403
    evaluation.refresh_from_db()
    assert evaluation.status == "proposed"
    assert Partner.objects.get(pk=world.partner_a.pk).tier == tiers["registered"]


def test_a_manager_confirms_through_the_api(world, tiers, client):
    evaluation = _proposal(world.partner_a, tiers["silver"])
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        f"/api/v1/tier-evaluations/{evaluation.pk}/confirm/", {"note": "Checked"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["decided_by"], response.json()["note"]) == (
        "confirmed", "manager@test.example", "Checked",
    )  # fmt: skip
    assert Partner.objects.get(pk=world.partner_a.pk).tier == tiers["silver"]
    assert PartnerTierChange.objects.get(partner=world.partner_a).evaluation == evaluation
    for verb in ("confirm", "dismiss"):
        again = client.post(f"/api/v1/tier-evaluations/{evaluation.pk}/{verb}/")
        assert again.status_code == 400 and "status" in again.json()
    assert PartnerTierChange.objects.filter(partner=world.partner_a).count() == 1


def test_dismissing_leaves_the_tier(world, tiers, client):
    evaluation = _proposal(world.partner_a, tiers["silver"])
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(f"/api/v1/tier-evaluations/{evaluation.pk}/dismiss/", {}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    assert Partner.objects.get(pk=world.partner_a.pk).tier == tiers["registered"]
    assert not PartnerTierChange.objects.exists()
    confirm = client.post(f"/api/v1/tier-evaluations/{evaluation.pk}/confirm/")
    assert confirm.status_code == 400 and "dismissed" in confirm.json()["status"][0].lower()


# --- tier evaluations: portal -------------------------------------------------------------------


def test_the_queue_is_for_managers_and_partner_admins(world, tiers, client):
    _proposal(world.partner_a, tiers["silver"])
    _proposal(world.partner_b, tiers["gold"])
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(reverse("tier_evaluation_list"), {"status": "proposed", "period": "2026-10"}).content.decode()
    assert "Alpha Partners" in body and "Beta Partners" in body and "60,000 USD" in body
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(reverse("tier_evaluation_list")).content.decode()
    assert "Alpha Partners" in body and "Beta Partners" not in body
    for user in (world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get(reverse("tier_evaluation_list")).status_code == 403


def test_a_manager_confirms_from_the_evidence_page(world, tiers, client):
    evaluation = _proposal(world.partner_a, tiers["silver"])
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("tier_evaluation_detail", args=[evaluation.pk])).content.decode()
    assert "60000.00 USD" in page and "certifications arrive with enablement" in page
    assert reverse("tier_evaluation_confirm", args=[evaluation.pk]) in page
    response = client.post(reverse("tier_evaluation_confirm", args=[evaluation.pk]), {"decision-note": "ok"})
    assert response.status_code == 302
    assert Partner.objects.get(pk=world.partner_a.pk).tier == tiers["silver"]
    # Decided: no more forms; a second post reports the status and changes nothing.
    response = client.post(reverse("tier_evaluation_dismiss", args=[evaluation.pk]), follow=True)
    assert "Only a proposed evaluation can be dismissed" in response.content.decode()
    evaluation.refresh_from_db()
    assert evaluation.status == "confirmed"


def test_the_partner_page_shows_tier_history_and_what_the_next_tier_needs(world, tiers, client):
    partner_update(actor=world.manager, partner=world.partner_a, tier=tiers["silver"], reason="Welcome to Silver")
    TierEvaluation.objects.create(
        partner=world.partner_a, period="2026-10", current_tier=tiers["silver"], proposed_tier=tiers["silver"],
        direction="stay", status="recorded", evidence=_evidence("84300.00", 7, "12.5"),
    )  # fmt: skip
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(reverse("partner_detail", args=[world.partner_a.pk])).content.decode()
    assert "What Gold still needs" in body
    assert "120,000 USD trailing revenue: 84,300 so far" in body and "10 active customers: 7" in body
    assert "Welcome to Silver" in body and "15 %" in body  # the history, and Silver's base commission
    # A rep sees the tier and its history, not the partner-wide revenue figures.
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    body = client.get(reverse("partner_detail", args=[world.partner_a.pk])).content.decode()
    assert "Welcome to Silver" in body and "84,300" not in body


# --- program configuration fixtures -----------------------------------------------------------


def test_the_demo_tiers_fixture_is_valid():
    entries = json.loads((Path(settings.BASE_DIR) / "fixtures" / "tiers.json").read_text(encoding="utf-8"))
    for entry in entries:
        Tier(**entry["fields"]).full_clean()
    by_code = {entry["fields"]["code"]: entry["fields"] for entry in entries}
    assert [by_code[code]["base_commission_rate"] for code in ("registered", "silver", "gold", "platinum")] == [
        "10", "15", "20", "25",
    ]  # fmt: skip
    assert by_code["gold"]["min_growth_percent"] == "10" and by_code["gold"]["mdf_eligible"] is True


def test_exchange_rates_load_is_idempotent():
    path = Path(settings.BASE_DIR) / "fixtures" / "exchange_rates.json"
    written = exchange_rates_load(path)
    assert written == ExchangeRate.objects.count() >= 3
    assert ExchangeRate.objects.get(currency="EUR").rate == Decimal("1.08")
    assert exchange_rates_load(path) == 0
    ExchangeRate.objects.filter(currency="EUR").update(rate=Decimal("2"), updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert exchange_rates_load(path) == 1
    assert ExchangeRate.objects.get(currency="EUR").rate == Decimal("1.08")


def test_a_rate_is_above_zero():
    with pytest.raises(ValidationError) as error:
        ExchangeRate(currency="EUR", rate=Decimal("0"), updated_at=datetime(2026, 1, 1, tzinfo=UTC)).full_clean()
    assert set(error.value.message_dict) == {"rate"}


def test_tier_fixture_values_compare_equal_to_the_stored_tier():
    entries = json.loads((Path(settings.BASE_DIR) / "fixtures" / "tiers.json").read_text(encoding="utf-8"))
    gold = next(entry["fields"] for entry in entries if entry["fields"]["code"] == "gold")
    values = tier_fixture_values(gold)
    assert values["min_trailing_revenue"] == Decimal("150000") and values["min_active_customers"] == 8
    tier = Tier.objects.create(code="gold", **values)
    stored = Tier.objects.get(pk=tier.pk)
    assert {name: getattr(stored, name) for name in values} == values
