"""`manage.py seed_demo`: the demo data people sign in to, and that seeding it again changes nothing."""

from collections import Counter
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.sites.models import Site

from prm.accounts.models import Membership, Role, User
from prm.customers.models import Customer, UseCase
from prm.operations.demo import DEMO_PASSWORD
from prm.partners.models import Partner, PartnerStageChange, Stage, Tier
from prm.plans.models import Metric
from prm.usage.models import Alert, AlertRule, UsageDistinctKey, UsageEvent, UsageRollup
from tests.operations.seeding import seed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("three_days_of_usage")]

STAGE_ORDER = list(Stage)


def database_snapshot() -> dict:
    """Every row the seed writes, as plain values, to compare one run with the next."""
    return {
        "tiers": list(Tier.objects.order_by("pk").values()),
        "partners": list(Partner.objects.order_by("pk").values()),
        "stage_changes": list(PartnerStageChange.objects.order_by("pk").values()),
        "customers": list(Customer.objects.order_by("pk").values()),
        "users": list(User.objects.order_by("pk").values()),
        "memberships": list(Membership.objects.order_by("pk").values()),
        "email_addresses": list(EmailAddress.objects.order_by("pk").values()),
        "sites": list(Site.objects.order_by("pk").values()),
        "metrics": list(Metric.objects.order_by("pk").values()),
        "usage_events": list(UsageEvent.objects.order_by("pk").values()),
        "usage_rollups": list(UsageRollup.objects.order_by("pk").values()),
        "usage_distinct_keys": list(UsageDistinctKey.objects.order_by("pk").values()),
        "alert_rules": list(AlertRule.objects.order_by("pk").values()),
        "alerts": list(Alert.objects.order_by("pk").values()),
    }


def test_seeding_twice_changes_nothing():
    seed()
    first = database_snapshot()
    output = seed()
    second = database_snapshot()

    assert len(first["partners"]) == 12
    assert len(first["metrics"]) == 7
    assert len(first["usage_events"]) > 200
    assert len(second["customers"]) == len(first["customers"])
    assert len(second["stage_changes"]) == len(first["stage_changes"])
    assert second == first  # not even a password hash or an updated_at moved
    assert "new this run: 0 partners, 0 customers, 0 users" in output
    # The default commitment alerts were evaluated once: what crossed fired, and fires only once a period.
    assert first["alert_rules"] and first["alerts"]
    assert f"Alerts: {len(first['alerts'])} fired in all (this run: 0)." in output


def test_reseeding_restores_a_changed_password_and_stage():
    seed()
    partner_user = User.objects.get(email="partner@demo.test")
    partner_user.set_password("something-else-2026")
    partner_user.save()
    Partner.objects.filter(website_domain="brightpath-consulting.com").update(stage=Stage.MARKET)

    seed()

    partner_user.refresh_from_db()
    assert partner_user.check_password(DEMO_PASSWORD)
    brightpath = Partner.objects.get(website_domain="brightpath-consulting.com")
    assert brightpath.stage == Stage.SELL
    assert brightpath.stage_changes.first().to_stage == Stage.SELL


def test_four_tiers_from_the_fixture_with_criteria_and_benefits():
    seed()
    assert list(Tier.objects.values_list("code", "name", "rank", "base_commission_rate")) == [
        ("registered", "Registered", 1, Decimal("10")),
        ("silver", "Silver", 2, Decimal("15")),
        ("gold", "Gold", 3, Decimal("20")),
        ("platinum", "Platinum", 4, Decimal("25")),
    ]
    assert all(tier.description for tier in Tier.objects.all())
    assert Tier.objects.get(code="gold").min_active_customers == 8


def test_twelve_partners_cover_every_lifecycle_stage():
    seed()
    partners = list(Partner.objects.select_related("channel_manager"))
    assert len(partners) == 12
    assert {partner.stage for partner in partners} == set(Stage.values)
    assert len({partner.country for partner in partners}) == 12
    assert {partner.channel_manager.email for partner in partners} == {"manager@demo.test"}


def test_partners_not_yet_selling_have_no_customers():
    seed()
    early = Partner.objects.filter(stage__in=[Stage.RECRUIT, Stage.ONBOARD])
    assert early.count() == 2
    assert not Customer.objects.filter(reseller__in=early).exists()
    accelerating = Partner.objects.filter(stage=Stage.ACCELERATE)
    assert all(partner.customers.count() >= 8 for partner in accelerating)


def test_one_distributor_with_two_resellers():
    seed()
    distributors = Partner.objects.filter(resellers__isnull=False).distinct()
    assert [distributor.website_domain for distributor in distributors] == ["meridian-distribution.nl"]
    resellers = distributors.get().resellers.all()
    assert sorted(reseller.website_domain for reseller in resellers) == [
        "alpenwerk-systems.de",
        "lumiere-numerique.fr",
    ]


def test_every_partner_history_walks_from_recruit_to_its_stage():
    seed()
    for partner in Partner.objects.all():
        changes = list(partner.stage_changes.order_by("changed_at"))
        reached = STAGE_ORDER[: STAGE_ORDER.index(partner.stage) + 1]
        assert [change.to_stage for change in changes] == reached, partner.name
        assert [change.from_stage for change in changes] == ["", *reached[:-1]], partner.name
        assert {change.changed_by.email for change in changes} == {"manager@demo.test"}
        assert changes[0].reason == "Demo: application received"
    assert PartnerStageChange.objects.filter(reason="Demo: application approved").count() == 11


def test_about_sixty_customers_over_all_use_cases():
    seed()
    assert 55 <= Customer.objects.count() <= 70
    use_cases = Counter(Customer.objects.values_list("use_case", flat=True))
    assert set(use_cases) == set(UseCase.values)
    assert min(use_cases.values()) >= 10
    currencies = Counter(Customer.objects.values_list("currency", flat=True))
    assert currencies.most_common(1)[0][0] == "USD"
    assert {"EUR", "GBP", "JPY"} <= set(currencies)


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("manager@demo.test", Role.MANAGER),
        ("partner@demo.test", Role.PARTNER_ADMIN),
        ("rep@demo.test", Role.PARTNER_REP),
        ("customer@demo.test", Role.CUSTOMER_ADMIN),
    ],
)
def test_demo_login_signs_in_with_its_role(email, role):
    seed()
    user = authenticate(email=email, password=DEMO_PASSWORD)
    assert user is not None
    assert user.email == email
    assert user.role == role
    assert authenticate(email=email, password="wrong-password") is None
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (email, True, True)


def test_demo_partner_is_selling_with_about_eight_customers():
    seed()
    partner = User.objects.get(email="partner@demo.test").partner
    assert partner.name == "BrightPath Consulting"
    assert partner.stage in {Stage.SELL, Stage.INCENTIVIZE}
    assert partner.customers.count() == 8
    assert partner.customers.values("use_case").distinct().count() >= 4
    assert User.objects.get(email="rep@demo.test").partner == partner


def test_rep_is_assigned_some_but_not_all_of_the_partners_customers():
    seed()
    rep = User.objects.get(email="rep@demo.test")
    partner_customers = Customer.objects.filter(reseller=rep.partner)
    assigned = partner_customers.filter(assigned_rep=rep)
    assert 0 < assigned.count() < partner_customers.count()
    assert assigned.count() == 4
    assert Customer.objects.filter(assigned_rep=rep).count() == 4  # none at another partner
    # The scoping rule shows the rep exactly those customers.
    assert set(Customer.objects.visible_to(rep)) == set(assigned)


def test_customer_user_belongs_to_a_customer_of_the_demo_partner():
    seed()
    customer_user = User.objects.get(email="customer@demo.test")
    partner = User.objects.get(email="partner@demo.test").partner
    customer = customer_user.customer
    assert customer.name == "Acme Robotics"
    assert customer.reseller == partner
    assert customer.assigned_rep.email == "rep@demo.test"
    assert list(Customer.objects.visible_to(customer_user)) == [customer]


def test_every_other_partner_with_customers_has_its_own_admin():
    seed()
    for partner in Partner.objects.filter(customers__isnull=False).distinct():
        admins = User.objects.filter(membership__partner=partner, membership__role=Role.PARTNER_ADMIN)
        expected = "partner@demo.test" if partner.name == "BrightPath Consulting" else f"admin@{partner.website_domain}"
        assert [admin.email for admin in admins] == [expected]
        assert admins.get().check_password(DEMO_PASSWORD)


def test_site_is_named_after_the_vendor():
    seed()
    site = Site.objects.get(pk=settings.SITE_ID)
    assert (site.name, site.domain) == ("Northwind Cloud", "127.0.0.1:8000")


def test_command_prints_the_demo_logins():
    output = seed()
    assert (
        "Demo logins (password: prm-demo-2026):\n"
        "  manager@demo.test   channel manager\n"
        "  partner@demo.test   partner admin of BrightPath Consulting\n"
        "  rep@demo.test       partner rep of BrightPath Consulting\n"
        "  customer@demo.test  customer admin of Acme Robotics\n"
    ) in output
    assert output.startswith("Northwind Cloud demo: 4 tiers, 12 partners, 60 customers, 13 demo users")
