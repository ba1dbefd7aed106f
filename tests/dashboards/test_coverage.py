"""Strategize: target markets, and the coverage view that sets partners and consumption against them.

Two months (September and October 2026) are billed through the real services and closed by the
period close, so every figure below is computed by hand from the amounts in `market`.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from prm.billing.models import Invoice
from prm.billing.services import credit_note_create
from prm.core.periods import BillingPeriod
from prm.customers.services import subscription_create
from prm.operations.coverage import market_coverage
from prm.operations.period_close import period_close
from prm.partners.models import ExchangeRate, Partner, Stage, TargetMarket
from prm.partners.services import partner_update, target_market_create
from prm.plans.services import plan_create
from tests import factories

pytestmark = pytest.mark.django_db

SEPTEMBER, OCTOBER = BillingPeriod(2026, 9), BillingPeriod(2026, 10)


def _bill(world, customer, currency, amount):
    plan = plan_create(
        actor=world.manager, code=f"flat-{customer.external_id}", name="Flat", currency=currency,
        charges=[{"model": "flat", "amount": amount}],
    )  # fmt: skip
    subscription_create(
        actor=world.manager, plan=plan, customer=customer, external_id=f"sub_{customer.external_id}",
        started_at=datetime(2026, 9, 1, tzinfo=UTC),
    )  # fmt: skip


@pytest.fixture
def market(world):
    """Software × North America holds A and B (selling) and C (still marketing):

      A: cus_a1 USD 1000.00 in September and October, October credited 100.00 → 1900.00 USD
      B: cus_b_eur EUR 500.50 a month from September                          → 1001.00 EUR
         at 1.085: 1086.085 → 1086.09 USD (rounded once)
      C: cus_c_gbp GBP 300.00 a month: no GBP rate, left out and named
      cell: 1900.00 + 1086.09 = 2986.09 USD; 2 selling partners (C is not selling yet)

    Manufacturing × APAC holds D (selling, no revenue); E sells but has no region.
    """
    for partner in (world.partner_a, world.partner_b):
        Partner.objects.filter(pk=partner.pk).update(industry="software", region="north_america")
    tier = world.partner_a.tier
    partner_c = factories.PartnerFactory(name="Gamma", tier=tier, stage=Stage.MARKET, industry="software",
                                         region="north_america")  # fmt: skip
    factories.PartnerFactory(name="Delta", tier=tier, stage=Stage.SELL, industry="manufacturing", region="apac")
    factories.PartnerFactory(name="Eps", tier=tier, stage=Stage.ACCELERATE, industry="software", region="")
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("1.085"), updated_at=datetime(2026, 11, 2, tzinfo=UTC))
    _bill(world, world.customer_a1, "USD", "1000")
    _bill(world, factories.CustomerFactory(reseller=world.partner_b, external_id="cus_b_eur", currency="EUR"),
          "EUR", "500.50")  # fmt: skip
    _bill(world, factories.CustomerFactory(reseller=partner_c, external_id="cus_c_gbp", currency="GBP"), "GBP", "300")
    for period in (SEPTEMBER, OCTOBER):
        period_close(period=period)
    # The close moved C forward on its evidence (a billed customer); its manager holds it at market.
    partner_update(actor=world.manager, partner=partner_c, stage=Stage.MARKET, reason="Still ramping up")
    october_a1 = Invoice.objects.get(customer=world.customer_a1, period=str(OCTOBER))
    credit_note_create(actor=world.manager, invoice=october_a1, amount="100", reason="goodwill")
    target_market_create(actor=world.manager, industry="software", region="north_america", goal_partners=3,
                         goal_consumption=Decimal("3000"), notes="Home market")  # fmt: skip
    target_market_create(actor=world.manager, industry="manufacturing", region="apac", goal_partners=1,
                         goal_consumption=Decimal("0"))  # fmt: skip


def test_coverage_figures_are_exact(world, market):
    coverage = market_coverage()

    assert (coverage.currency, coverage.period_from, coverage.period_to) == ("USD", "2025-11", "2026-10")
    software = coverage.cell("software", "north_america")
    assert software.partners == 2  # A and B sell; C is still in the market stage
    assert software.consumption == Decimal("2986.09")  # 1900.00 + 1086.09
    assert (software.target.goal_partners, software.target.goal_consumption) == (3, Decimal("3000"))
    assert software.partner_shortfall == 1  # 3 − 2
    assert software.consumption_shortfall == Decimal("13.91")  # 3000 − 2986.09
    assert software.short and software.consumption_text == "2,986.09"
    manufacturing = coverage.cell("manufacturing", "apac")
    assert (manufacturing.partners, manufacturing.consumption) == (1, Decimal(0))
    assert (manufacturing.partner_shortfall, manufacturing.consumption_shortfall, manufacturing.short) == (
        0, Decimal(0), False,
    )  # fmt: skip
    # A cell without a target is shown, never short.
    assert coverage.cell("retail", "latam").target is None and not coverage.cell("retail", "latam").short
    assert coverage.missing_rates == ["GBP"]
    assert coverage.unplaced_partners == 1  # Eps: selling, no region
    assert [(cell.industry, cell.region) for cell in coverage.targets] == [
        ("software", "north_america"), ("manufacturing", "apac"),
    ]  # fmt: skip
    assert coverage.short_targets == 1


def test_only_finalized_revenue_of_a_closed_window_counts(world, market):
    # The window ending with September: A 1000.00 + B 500.50 × 1.085 = 543.0425 → 543.04.
    september = market_coverage(period=SEPTEMBER)
    assert september.cell("software", "north_america").consumption == Decimal("1543.04")
    assert september.period_from == "2025-10"


def test_the_coverage_page_is_the_managers(world, client, market):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")

    body = client.get(reverse("coverage")).content.decode()

    assert "Market coverage" in body and "2,986.09" in body and "13.91" in body and "3,000" in body
    assert "No reference exchange rate for GBP" in body
    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get(reverse("coverage")).status_code == 403, user.email


def test_target_markets_through_the_api_for_managers_only(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    created = client.post(
        "/api/v1/target-markets/",
        {"industry": "healthcare", "region": "emea_north", "goal_partners": 2, "goal_consumption": "12500.50"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["goal_consumption"], body["currency"], body["goal_partners"]) == ("12500.5", "USD", 2)
    duplicate = client.post(
        "/api/v1/target-markets/",
        {"industry": "healthcare", "region": "emea_north", "goal_partners": 1, "goal_consumption": "1"},
        content_type="application/json",
    )
    assert duplicate.status_code == 400 and "region" in duplicate.json()
    negative = client.post(
        "/api/v1/target-markets/",
        {"industry": "retail", "region": "apac", "goal_partners": 1, "goal_consumption": "-5"},
        content_type="application/json",
    )
    assert negative.status_code == 400 and "goal_consumption" in negative.json()
    url = f"/api/v1/target-markets/{body['id']}/"
    assert client.patch(url, {"goal_partners": 4}, content_type="application/json").json()["goal_partners"] == 4

    for user in (world.admin_a, world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get("/api/v1/target-markets/").json()["count"] == 0
        assert client.get(url).status_code == 404
        fields = {"industry": "retail", "region": "apac", "goal_partners": 1, "goal_consumption": "1"}
        post = client.post("/api/v1/target-markets/", fields, content_type="application/json")
        assert post.status_code == 403
    with pytest.raises(PermissionDenied):
        target_market_create(actor=world.admin_a, industry="retail", region="apac", goal_partners=1,
                             goal_consumption=Decimal(1))  # fmt: skip

    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert client.delete(url).status_code == 204
    assert not TargetMarket.objects.exists()


def test_target_markets_in_the_portal(world, client):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        reverse("target_market_create"),
        {"industry": "retail", "region": "latam", "goal_partners": "2", "goal_consumption": "15000", "notes": ""},
    )
    market = TargetMarket.objects.get()
    assert response.status_code == 302 and response["Location"] == market.get_absolute_url()
    again = client.post(
        reverse("target_market_create"),
        {"industry": "retail", "region": "latam", "goal_partners": "1", "goal_consumption": "1", "notes": ""},
    )
    assert again.status_code == 200 and "already has a target" in again.content.decode()
    with pytest.raises(ValidationError):
        target_market_create(actor=world.manager, industry="retail", region="mars", goal_partners=1,
                             goal_consumption=Decimal(1))  # fmt: skip
    edit = reverse("target_market_edit", args=[market.pk])
    assert client.get(edit).status_code == 200
    client.post(edit, {"industry": "retail", "region": "latam", "goal_partners": "5", "goal_consumption": "9.99"})
    market.refresh_from_db()
    assert (market.goal_partners, market.goal_consumption) == (5, Decimal("9.99"))
    client.post(reverse("target_market_delete", args=[market.pk]))
    assert not TargetMarket.objects.exists()
