"""`manage.py seed_demo`: a plan for each use case and currency, a subscription for every demo
customer, and that seeding again creates neither."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.accounts.models import User
from prm.billing.models import Invoice
from prm.core.money import round_money
from prm.customers.models import Customer, Subscription, SubscriptionStatus
from prm.operations import demo
from prm.operations.demo_usage import usage_start
from prm.plans import pricing
from prm.plans.models import Plan, PlanVersion
from prm.plans.services import plan_update
from prm.usage.models import UsageEvent
from tests.operations.seeding import seed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("three_days_of_usage")]

USE_CASE_METRICS = demo.load_metric_fixture()["use_cases"]
PLAN_CODES = {
    "saas-team", "saas-team-eur", "saas-team-gbp",
    "api-growth", "api-growth-eur", "api-growth-gbp",
    "storage-volume", "storage-volume-eur", "storage-volume-gbp",
    "factory-hours", "factory-hours-eur", "factory-hours-gbp", "factory-hours-jpy",
    "iot-events", "iot-events-eur", "iot-events-gbp",
}  # fmt: skip


def snapshot() -> dict:
    return {
        "plans": list(Plan.objects.order_by("pk").values()),
        "versions": list(PlanVersion.objects.order_by("pk").values()),
        "subscriptions": list(Subscription.objects.order_by("pk").values()),
    }


def first_of_month(day) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def test_every_customer_has_one_active_subscription_to_its_use_cases_plan_in_its_currency():
    seed()
    customers = list(Customer.objects.all())
    assert len(customers) == 60
    for customer in customers:
        subscriptions = list(
            customer.subscriptions.filter(status=SubscriptionStatus.ACTIVE).select_related("plan_version__plan")
        )
        assert len(subscriptions) == 1, customer.external_id
        (subscription,) = subscriptions
        plan = subscription.plan_version.plan
        assert subscription.external_id == "sub_" + customer.external_id.removeprefix("cus_")
        assert plan.currency == customer.currency, customer.external_id
        metrics = {charge["metric"] for charge in subscription.plan_version.charges if charge["model"] != "flat"}
        assert metrics, plan.code
        assert metrics <= set(USE_CASE_METRICS[customer.use_case]), (customer.external_id, plan.code)
        assert subscription.plan_version == plan.current_version
        assert subscription.ended_at is None
    assert Subscription.objects.count() == 60


def test_subscriptions_start_on_the_first_of_the_month_of_the_first_usage():
    seed()
    for subscription in Subscription.objects.select_related("customer"):
        first = UsageEvent.objects.filter(customer=subscription.customer).order_by("timestamp").first()
        assert first is not None
        assert subscription.started_at == first_of_month(first.timestamp.astimezone(UTC).date())
        assert subscription.started_at <= first.timestamp


def test_a_customer_without_usage_starts_with_the_demos_usage_months():
    now = timezone.now()
    demo.seed_demo(usage_customers=["cus_acme_robotics"])

    acme = Subscription.objects.get(external_id="sub_acme_robotics")
    assert acme.started_at == first_of_month(now.date() - timedelta(days=3))
    six_months_back = usage_start(now, 6)
    others = Subscription.objects.exclude(pk=acme.pk)
    assert others.count() == 59
    assert set(others.values_list("started_at", flat=True)) == {first_of_month(six_months_back)}


def test_a_plan_for_each_use_case_and_currency_of_the_demo_customers():
    seed()
    plans = {plan.code: plan for plan in Plan.objects.prefetch_related("versions")}
    assert set(plans) == PLAN_CODES
    for plan in plans.values():
        assert plan.is_active
        assert plan.currency == ("USD" if plan.code.count("-") == 1 else plan.code.rsplit("-", 1)[1].upper())
        assert [version.version for version in plan.versions.all()] == [1]
        assert plan.current_version.entitlements, plan.code
        assert plan.current_version.created_by.email == "manager@demo.test"
    served = {
        (subscription.customer.use_case, subscription.customer.currency): subscription.plan_version.plan.code
        for subscription in Subscription.objects.select_related("customer", "plan_version__plan")
    }
    assert len(set(served.values())) == len(served) == len(PLAN_CODES)  # every plan has customers, one per pair


def test_fixed_amounts_fit_the_plans_currency():
    """Flat fees, package prices, tier flat amounts, minimums and credit packs are money: whole yen in JPY."""
    seed()
    for version in PlanVersion.objects.select_related("plan"):
        currency = version.plan.currency
        amounts = [version.minimum_commitment] if version.minimum_commitment is not None else []
        for charge in version.charges:
            if charge["model"] == "flat":
                amounts.append(Decimal(charge["amount"]))
            if charge["model"] == "package":
                amounts.append(Decimal(charge["unit_amount"]))
            amounts.extend(Decimal(tier["flat_amount"]) for tier in charge.get("tiers", []))
        for pack in version.credit_packs:
            amounts += [Decimal(pack["price"]), Decimal(pack["credits"])]
        for amount in amounts:
            assert round_money(amount, currency) == amount, (version.plan.code, amount)


@pytest.mark.parametrize(
    ("code", "usage", "expected"),
    [
        # 49 platform fee + 25 seats × 12 = 49 + 300 = 349.00
        ("saas-team", {"active_seats": 25}, "349.00"),
        # Graduated: 1,000,000 free; the next 9,000,000 × 0.0004 = 3,600; the last 2,500,000 in the
        # third tier × 0.00025 = 625; 3,600 + 625 = 4,225.00 (above the 500 minimum).
        ("api-growth", {"api_calls": 12_500_000}, "4225.00"),
        # 800,000 calls are inside the free million: 0 charged, the 500 minimum commitment trues it up.
        ("api-growth", {"api_calls": 800_000}, "500.00"),
        # Volume: 12,000 GB fall in the third tier (10,001-50,000 GB), so all of them at 0.048: 576.00
        ("storage-volume-gbp", {"storage_gb": 12_000}, "576.00"),
        # 1,000 GB is the top of the first tier: 1,000 × 0.08 = 80.00 …
        ("storage-volume-gbp", {"storage_gb": 1_000}, "80.00"),
        # … 1,001 GB are all in the second: 1,001 × 0.065 = 65.065, rounded half up to 65.07.
        ("storage-volume-gbp", {"storage_gb": 1_001}, "65.07"),
        # 1,234.5 machine-hours = 124 started packages of 10 × 1,200 = 148,800 yen; 250,000 units, the
        # first 10,000 free: 240,000 × 0.3 = 72,000; 148,800 + 72,000 = 220,800 (above the 150,000 minimum).
        ("factory-hours-jpy", {"machine_hours": Decimal("1234.5"), "units_produced": 250_000}, "220800"),
        # 95 hours = 10 packages × 8 = 80; 8,000 units are inside the free 10,000; 80 < 1,000 minimum: 1,000.00
        ("factory-hours", {"machine_hours": 95, "units_produced": 8_000}, "1000.00"),
        # 1,234,567 events = 1,235 started thousands × 0.46 = 568.10; 150 devices × 2.75 = 412.50;
        # 568.10 + 412.50 = 980.60
        ("iot-events-eur", {"sensor_events": 1_234_567, "active_devices": 150}, "980.60"),
    ],
)
def test_plans_price_as_worked_out_by_hand(code, usage, expected):
    seed()
    plan = Plan.objects.get(code=code)
    version = plan.current_version
    quote = pricing.price(
        pricing.parse_charges(version.charges),
        {metric: Decimal(quantity) for metric, quantity in usage.items()},
        currency=plan.currency,
        minimum_commitment=version.minimum_commitment,
    )
    assert str(quote.total) == expected


def test_seeding_twice_creates_no_plans_versions_or_subscriptions():
    first_output = seed()
    first = snapshot()
    output = seed()
    second = snapshot()

    assert len(first["plans"]) == len(first["versions"]) == 16
    assert len(first["subscriptions"]) == 60
    assert second == first
    assert "Plans: 16 plans, 60 subscriptions (new this run: 16 plans, 60 subscriptions).\n" in first_output
    assert "Plans: 16 plans, 60 subscriptions (new this run: 0 plans, 0 subscriptions).\n" in output


def test_an_edited_plan_is_left_as_it_is_and_a_missing_subscription_comes_back():
    seed()
    manager = User.objects.get(email="manager@demo.test")
    plan = Plan.objects.get(code="saas-team")
    # In use, so the new price goes into version 2; the seed must not undo it or add a version.
    plan_update(actor=manager, plan=plan, name="Team (renamed)", charges=[{"model": "flat", "amount": "99"}])
    # Its invoices go first (they protect it), as they would have to in any real deletion.
    Invoice.objects.filter(subscription__external_id="sub_cedar_health").delete()
    Subscription.objects.filter(external_id="sub_cedar_health").delete()

    output = seed()

    plan.refresh_from_db()
    assert plan.name == "Team (renamed)"
    assert list(plan.versions.values_list("version", flat=True)) == [2, 1]
    cedar = Subscription.objects.get(external_id="sub_cedar_health")
    assert cedar.plan_version == plan.current_version  # new subscriptions take the current version
    assert Subscription.objects.count() == 60
    assert "(new this run: 0 plans, 1 subscriptions)" in output


def test_the_plans_line_comes_before_the_demo_logins_which_come_last():
    lines = seed().splitlines()
    plans_line = next(index for index, line in enumerate(lines) if line.startswith("Plans: "))
    logins_line = lines.index("Demo logins (password: prm-demo-2026):")
    assert plans_line < logins_line
    assert len(lines) == logins_line + 5  # the heading and the four logins end the output
