"""Properties of the pricing engine that must hold for every charge and every usage (hypothesis)."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from prm.core.money import MINOR_UNITS, round_money
from prm.plans.pricing import Charge, PriceTier, charge_amount, charge_to_dict, parse_charge, price

METRICS = ("calls", "gb", "seats")
CURRENCIES = ("USD", "EUR", "JPY", "CLP", "KWD", "BHD")  # 2, 0 and 3 decimal places

amounts = st.decimals(min_value=0, max_value=1000, places=4)
quantities = st.decimals(min_value=0, max_value=10**6, places=3)
bounds = st.decimals(min_value=Decimal("0.001"), max_value=10**5, places=3)


@st.composite
def tier_lists(draw, min_closed=0):
    """Strictly increasing positive bounds, then the open last tier, as parse_charges requires."""
    ups = sorted(draw(st.lists(bounds, min_size=min_closed, max_size=4, unique=True)))
    return tuple(PriceTier(up, draw(amounts), draw(amounts)) for up in [*ups, None])


metrics = st.sampled_from(METRICS)


def per_unit_charges():
    return st.builds(Charge, model=st.just("per_unit"), metric=metrics, unit_amount=amounts, free_units=quantities)


def package_charges():
    return st.builds(
        Charge,
        model=st.just("package"),
        metric=metrics,
        unit_amount=amounts,
        free_units=quantities,
        package_size=st.decimals(min_value=Decimal("0.01"), max_value=10**4, places=2),
    )


def tiered_charges(model):
    return st.builds(Charge, model=st.just(model), metric=metrics, tiers=tier_lists())


charges = st.one_of(
    per_unit_charges(),
    package_charges(),
    tiered_charges("graduated"),
    tiered_charges("volume"),
    st.builds(Charge, model=st.just("flat"), metric=st.none(), amount=amounts),
)
usages = st.dictionaries(metrics, quantities)


def half_minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS[currency]) / 2


@settings(deadline=None)
@given(
    charge_list=st.lists(charges, max_size=6),
    usage=usages,
    currency=st.sampled_from(CURRENCIES),
    minimum=st.none() | st.decimals(min_value=0, max_value=10**5, places=3),
)
def test_a_quote_total_is_the_sum_of_its_lines(charge_list, usage, currency, minimum):
    quote = price(charge_list, usage, currency=currency, minimum_commitment=minimum)
    charge_lines = quote.lines[: len(charge_list)]
    assert quote.subtotal == sum((line.amount for line in charge_lines), Decimal(0))
    assert quote.total == sum((line.amount for line in quote.lines), Decimal(0))
    # Every line is already money in that currency: rounding it again changes nothing.
    assert all(round_money(line.amount, currency) == line.amount for line in quote.lines)
    if minimum is not None and quote.subtotal < round_money(minimum, currency):
        assert quote.lines[-1].model == "minimum_commitment"
        assert quote.total == round_money(minimum, currency)
    else:
        assert len(quote.lines) == len(charge_list)
        assert quote.total == quote.subtotal


@given(charge=charges, usage=usages, currency=st.sampled_from(CURRENCIES))
def test_rounding_moves_a_line_by_at_most_half_a_minor_unit(charge, usage, currency):
    (line,) = price([charge], usage, currency=currency).lines
    unrounded, _ = charge_amount(charge, line.quantity)
    assert abs(line.amount - unrounded) <= half_minor_unit(currency)


@given(charge=package_charges(), q1=quantities, q2=quantities)
def test_package_pricing_is_monotonic_in_quantity(charge, q1, q2):
    low, high = sorted((q1, q2))
    assert charge_amount(charge, low)[0] <= charge_amount(charge, high)[0]


@given(charge=tiered_charges("graduated"), q1=quantities, q2=quantities)
def test_graduated_pricing_never_decreases_as_usage_grows(charge, q1, q2):
    # Holds because every unit_amount and flat_amount is >= 0 (which parse_charges enforces).
    low, high = sorted((q1, q2))
    assert charge_amount(charge, low)[0] <= charge_amount(charge, high)[0]


@given(tiers=tier_lists(min_closed=1), data=st.data())
def test_volume_and_graduated_agree_within_the_first_tier(tiers, data):
    # Exact condition tested: the same tiers, any amounts (the first tier's flat_amount included),
    # and 0 <= quantity <= the first tier's up_to. Both then charge quantity × first unit_amount
    # plus the first flat_amount once, or nothing at zero usage, and report the same tier.
    quantity = data.draw(st.decimals(min_value=0, max_value=tiers[0].up_to, places=3))
    graduated = charge_amount(Charge(model="graduated", metric="m", tiers=tiers), quantity)
    volume = charge_amount(Charge(model="volume", metric="m", tiers=tiers), quantity)
    assert graduated == volume


@given(
    unit_amount=amounts,
    free=quantities,
    extra=quantities,
)
def test_free_units_shift_per_unit_pricing(unit_amount, free, extra):
    # For quantity >= free: price(q) with free units == price(q − free) without them.
    with_free = Charge(model="per_unit", metric="m", unit_amount=unit_amount, free_units=free)
    without = Charge(model="per_unit", metric="m", unit_amount=unit_amount)
    quantity = free + extra
    assert charge_amount(with_free, quantity)[0] == charge_amount(without, quantity - free)[0]


@given(charge=charges)
def test_the_canonical_dict_parses_back_to_the_same_charge(charge):
    assert parse_charge(charge_to_dict(charge), path="charge") == charge


@given(tiers=tier_lists(), quantity=quantities)
def test_graduated_tiers_cover_the_quantity_exactly_once(tiers, quantity):
    amount, applied = charge_amount(Charge(model="graduated", metric="m", tiers=tiers), quantity)
    assert sum((tier.units for tier in applied), Decimal(0)) == quantity
    assert all(tier.units > 0 for tier in applied)
    assert amount == sum((tier.amount for tier in applied), Decimal(0))
