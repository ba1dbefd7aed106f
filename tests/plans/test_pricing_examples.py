"""Worked examples from Stripe's and Lago's published pricing documentation, priced by our engine.

Where a page states the totals, the test asserts the documented numbers. Where a page only gives
the price list, the comment says so and the totals are worked out by hand from the documented
rule; those are marked "derived". The pages were read through a documentation search, and only
what its excerpts showed is cited as documented.
"""

from decimal import Decimal

import pytest

from prm.plans.pricing import charge_amount, parse_charge, parse_charges, price

D = Decimal


def usd(data: dict, quantity) -> Decimal:
    """One charge's line for one quantity, in USD, as the quote would show it."""
    quote = price([parse_charge(data, path="charge")], {data["metric"]: D(quantity)}, currency="USD")
    return quote.lines[0].amount


# Stripe's "Typographic" tiers (fonts per month): 1-5 at 7 USD, 6-10 at 6.5 USD, 11+ at 6 USD.
TYPOGRAPHIC_TIERS = [
    {"up_to": 5, "unit_amount": "7"},
    {"up_to": 10, "unit_amount": "6.5"},
    {"up_to": None, "unit_amount": "6"},
]


# Source: https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing (section "Volume-based
# pricing"): the documented table "Quantity and usage at end of the period / Total monthly cost".
@pytest.mark.parametrize(("fonts", "total"), [(1, "7"), (5, "35"), (6, "39"), (20, "120"), (25, "150")])
def test_stripe_volume_based_pricing_typographic(fonts, total):
    assert usd({"model": "volume", "metric": "fonts", "tiers": TYPOGRAPHIC_TIERS}, fonts) == D(total)


# Source: https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing (section "Graduated
# pricing"): documented: "5 fonts result in the same charge as volume-based pricing: 35 USD total".
# The excerpt available stopped before the page's graduated table, so the other totals are
# derived from the documented rule (each tier prices the units inside it, summed):
# 6 = 5 × 7 + 1 × 6.5; 20 = 35 + 5 × 6.5 + 10 × 6; 25 = 35 + 32.5 + 15 × 6.
@pytest.mark.parametrize(
    ("fonts", "total"),
    [(5, "35"), (1, "7"), (6, "41.50"), (10, "67.50"), (20, "127.50"), (25, "157.50")],
)
def test_stripe_graduated_pricing_typographic(fonts, total):
    assert usd({"model": "graduated", "metric": "fonts", "tiers": TYPOGRAPHIC_TIERS}, fonts) == D(total)


def test_stripe_volume_and_graduated_agree_inside_the_first_tier_and_part_after_it():
    # Same page: "5 fonts result in the same charge ... This changes as usage exceeds the first tier."
    volume = parse_charge({"model": "volume", "metric": "fonts", "tiers": TYPOGRAPHIC_TIERS}, path="v")
    graduated = parse_charge({"model": "graduated", "metric": "fonts", "tiers": TYPOGRAPHIC_TIERS}, path="g")
    assert charge_amount(volume, D(5))[0] == charge_amount(graduated, D(5))[0] == D(35)
    assert charge_amount(volume, D(6))[0] == D(39) < charge_amount(graduated, D(6))[0]


# Source: https://stripe.com/docs/billing/subscriptions/quantity-transformation : "a productivity
# software suite that charges $10 for every 5 users (or portion thereof)", with the documented
# table 1 → $10, 3 → $10, 5 → $10, 6 → $20, 7 → $20 (transform_quantity divide_by=5, round=up).
# Our package model is that transformation: a started package of package_size counts whole.
@pytest.mark.parametrize(("users", "total"), [(1, "10"), (3, "10"), (5, "10"), (6, "20"), (7, "20")])
def test_stripe_quantity_transformation_per_5_users(users, total):
    assert usd({"model": "package", "metric": "users", "package_size": 5, "unit_amount": "10"}, users) == D(total)


# Source: https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities : car rental
# reported in minutes, "Charge 10 USD per hour, and round up"; documented: "If a customer rents the
# car for 150 minutes, that customer is charged 30 USD for 3 hours of rental".
def test_stripe_transform_quantities_car_rental():
    assert usd({"model": "package", "metric": "minutes", "package_size": 60, "unit_amount": "10"}, 150) == D(30)


# Source: https://docs.stripe.com/billing/subscriptions/usage-based-v1/use-cases/flat-fee-and-overages
# ("Hypernian"): rates documented as a licence of 100 USD per user, and usage 0-1000 at 0 USD,
# 1000+ at 0.04 USD. The page's excerpt gives no worked invoice, so this one is derived from those
# rates: 3 users and 1,500 units → 3 × 100 + (1,500 − 1,000) × 0.04 = 320 USD.
def test_stripe_flat_fee_and_overages_hypernian_derived():
    charges = parse_charges(
        [
            {"model": "per_unit", "metric": "users", "unit_amount": "100"},
            {
                "model": "graduated",
                "metric": "tokens",
                "tiers": [{"up_to": 1000, "unit_amount": "0"}, {"up_to": None, "unit_amount": "0.04"}],
            },
        ]
    )
    quote = price(charges, {"users": D(3), "tokens": D(1500)}, currency="USD")
    assert [line.amount for line in quote.lines] == [D("300.00"), D("20.00")]
    assert quote.total == D("320.00")
    # Inside the included 1,000 units only the licences are billed.
    assert price(charges, {"users": D(3), "tokens": D(1000)}, currency="USD").total == D("300.00")


# Source: https://getlago.com/docs/guide/plans/charges/charge-models/graduated : "$1 per unit for the
# first 100 units (first 100 API calls), then $0.50 per unit for the next 100 calls and finally,
# $0.10 for any additional unit." The page states no total; these are derived from that rule:
# 100 → 100; 200 → 100 + 50; 250 → 100 + 50 + 5.
@pytest.mark.parametrize(("calls", "total"), [(0, "0"), (100, "100"), (101, "100.50"), (200, "150"), (250, "155")])
def test_lago_graduated_api_company(calls, total):
    tiers = [
        {"up_to": 100, "unit_amount": "1"},
        {"up_to": 200, "unit_amount": "0.50"},
        {"up_to": None, "unit_amount": "0.10"},
    ]
    assert usd({"model": "graduated", "metric": "api_calls", "tiers": tiers}, calls) == D(total)


# Source: https://getlago.com/docs/guide/plans/charges/charge-models/volume : tiers 0-10,000 at
# $0.0010, 10,001-50,000 at $0.0008, 50,001-100,000 at $0.0006, 100,001-∞ at $0.0004, each with a
# $10 fixed fee; documented: "65,000 API calls would cost 65,000 x $0.0006 + $10 = $49."
# (The 10,000 and 100,001 rows are derived from the same table.)
@pytest.mark.parametrize(("calls", "total"), [(65_000, "49"), (10_000, "20"), (100_001, "50.0004")])
def test_lago_volume_api_calls(calls, total):
    tiers = [
        {"up_to": 10_000, "unit_amount": "0.0010", "flat_amount": "10"},
        {"up_to": 50_000, "unit_amount": "0.0008", "flat_amount": "10"},
        {"up_to": 100_000, "unit_amount": "0.0006", "flat_amount": "10"},
        {"up_to": None, "unit_amount": "0.0004", "flat_amount": "10"},
    ]
    volume = parse_charge({"model": "volume", "metric": "api_calls", "tiers": tiers}, path="charge")
    assert charge_amount(volume, D(calls))[0] == D(total)
    assert usd({"model": "volume", "metric": "api_calls", "tiers": tiers}, 65_000) == D("49.00")


# Source: https://getlago.com/docs/guide/plans/charges/charge-models/package : "charge $5 per 100
# units and offer the first 100 units. In this example, 201 units would cost $0 (first 100 units)
# + $5 (next 100 units) + $5 (last unit) = $10." (The other rows are derived from the same rule.)
@pytest.mark.parametrize(("units", "total"), [(201, "10"), (100, "0"), (101, "5"), (200, "5")])
def test_lago_package_with_free_units(units, total):
    data = {"model": "package", "metric": "units", "package_size": 100, "unit_amount": "5", "free_units": 100}
    assert usd(data, units) == D(total)
