"""The pricing engine, by hand-computed values: every model, its boundaries, per-line rounding in
currencies with 0, 2 and 3 decimals, the minimum commitment true-up, the canonical JSON shape,
and every validation error at its exact path. Pure functions: no database."""

from decimal import Decimal

import pytest

from prm.plans.pricing import (
    MODELS,
    Charge,
    Line,
    PriceTier,
    PricingError,
    Quote,
    TierApplied,
    charge_amount,
    charge_to_dict,
    parse_charge,
    parse_charges,
    parse_usage,
    price,
)

D = Decimal

# Entering tier 1 costs 5, tier 2 costs 10, tier 3 nothing extra: flat fees make boundaries visible.
TIERS = [
    {"up_to": 10, "unit_amount": "1", "flat_amount": "5"},
    {"up_to": 100, "unit_amount": "0.5", "flat_amount": "10"},
    {"up_to": None, "unit_amount": "0.1", "flat_amount": "0"},
]


def charge(**data) -> Charge:
    return parse_charge(data, path="charge")


def amount_of(data: dict, quantity) -> Decimal:
    return charge_amount(charge(**data), D(quantity))[0]


def errors_of(function, *args, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(PricingError) as caught:
        function(*args, **kwargs)
    return caught.value.errors


def one_line(data: dict, quantity, currency="USD") -> Line:
    quote = price([charge(**data)], {"m": D(quantity)}, currency=currency)
    (line,) = quote.lines
    return line


# --- per_unit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),  # zero usage costs zero
        ("999", "0"),  # inside the free units
        ("1000", "0"),  # exactly all free
        ("1001", "0.002"),  # one unit over
        ("1200", "0.400"),  # 200 × 0.002
        ("1000.5", "0.001"),  # fractional quantities are priced exactly
    ],
)
def test_per_unit_charges_what_exceeds_the_free_units(quantity, expected):
    data = {"model": "per_unit", "metric": "calls", "unit_amount": "0.002", "free_units": "1000"}
    assert amount_of(data, quantity) == D(expected)


def test_per_unit_without_free_units_is_quantity_times_unit_amount():
    assert amount_of({"model": "per_unit", "metric": "seats", "unit_amount": "1.25"}, 7) == D("8.75")
    assert amount_of({"model": "per_unit", "metric": "seats", "unit_amount": "1.25"}, 0) == 0


def test_per_unit_line_explains_itself():
    data = {"model": "per_unit", "metric": "calls", "unit_amount": "0.002", "free_units": "1000"}
    quote = price([charge(**data)], {"calls": D(1200)}, currency="USD")
    assert quote.lines[0].description == "1,200 calls: 1,000 free, 200 × 0.002"
    assert quote.lines[0].amount == D("0.40")
    assert quote.lines[0].tiers == ()


# --- graduated ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected", "units_per_tier"),
    [
        ("0", "0", []),  # zero usage costs zero, no flat fee
        ("1", "6", ["1"]),  # 1 × 1 + 5 for entering tier 1
        ("10", "15", ["10"]),  # exactly at up_to: tier 2 not entered, its flat fee not charged
        ("11", "25.5", ["10", "1"]),  # one unit over: 15 + 1 × 0.5 + 10
        ("10.5", "25.25", ["10", "0.5"]),  # half a unit into tier 2
        ("100", "70", ["10", "90"]),  # 15 + 90 × 0.5 + 10
        ("101", "70.1", ["10", "90", "1"]),  # 70 + 1 × 0.1 + 0
        ("1000", "160", ["10", "90", "900"]),  # 70 + 900 × 0.1
    ],
)
def test_graduated_prices_each_tier_for_the_units_inside_it(quantity, expected, units_per_tier):
    amount, tiers = charge_amount(charge(model="graduated", metric="gb", tiers=TIERS), D(quantity))
    assert amount == D(expected)
    assert [tier.units for tier in tiers] == [D(units) for units in units_per_tier]
    assert [tier.index for tier in tiers] == list(range(len(units_per_tier)))
    assert sum(tier.amount for tier in tiers) == amount


def test_graduated_reports_each_tier_it_used():
    _, tiers = charge_amount(charge(model="graduated", metric="gb", tiers=TIERS), D(11))
    assert tiers == (
        TierApplied(index=0, up_to=D(10), units=D(10), unit_amount=D(1), flat_amount=D(5), amount=D(15)),
        TierApplied(index=1, up_to=D(100), units=D(1), unit_amount=D("0.5"), flat_amount=D(10), amount=D("10.5")),
    )


# --- volume -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected", "tier_index"),
    [
        ("0", "0", None),  # zero usage costs zero, not the first tier's flat fee
        ("1", "6", 0),  # 1 × 1 + 5
        ("10", "15", 0),  # exactly at up_to: still tier 1
        ("11", "15.5", 1),  # one over: all 11 at 0.5, + 10
        ("10.5", "15.25", 1),
        ("100", "60", 1),  # 100 × 0.5 + 10
        ("101", "10.1", 2),  # all 101 at 0.1: volume pricing can drop as usage grows
    ],
)
def test_volume_prices_all_units_at_the_tier_the_total_lands_in(quantity, expected, tier_index):
    amount, tiers = charge_amount(charge(model="volume", metric="gb", tiers=TIERS), D(quantity))
    assert amount == D(expected)
    if tier_index is None:
        assert tiers == ()
    else:
        (tier,) = tiers
        assert (tier.index, tier.units, tier.amount) == (tier_index, D(quantity), D(expected))


def test_volume_line_names_its_tier():
    quote = price([charge(model="volume", metric="gb", tiers=TIERS)], {"gb": D(11)}, currency="USD")
    assert quote.lines[0].description == "11 gb, all at tier 2 (up to 100): 11 × 0.5 + 10 flat"


# --- package ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),
        ("100", "0"),  # the free units
        ("101", "5"),  # one unit over starts a package
        ("200", "5"),  # exactly one package
        ("201", "10"),  # a started package counts whole
        ("300", "10"),
        ("300.5", "15"),
    ],
)
def test_package_charges_every_started_package_after_the_free_units(quantity, expected):
    data = {"model": "package", "metric": "calls", "package_size": 100, "unit_amount": "5", "free_units": 100}
    assert amount_of(data, quantity) == D(expected)


def test_package_without_free_units():
    data = {"model": "package", "metric": "calls", "package_size": "100", "unit_amount": "5"}
    assert [amount_of(data, q) for q in ("0", "1", "100", "100.001")] == [D(0), D(5), D(5), D(10)]


def test_package_with_a_fractional_package_size():
    data = {"model": "package", "metric": "gb", "package_size": "0.5", "unit_amount": "2"}
    assert amount_of(data, "1.2") == D(6)  # 3 started half-GB packages


# --- flat ---------------------------------------------------------------------------------------


def test_flat_is_charged_whatever_the_usage():
    flat = charge(model="flat", amount="49")
    for usage in ({}, {"calls": D(0)}, {"calls": D(10**6)}):
        quote = price([flat], usage, currency="USD")
        assert quote.lines == (
            Line(
                metric=None,
                model="flat",
                quantity=D(1),
                amount=D("49.00"),
                tiers=(),
                description="Flat fee of 49 per period",
            ),
        )


# --- price(): lines, rounding, totals -----------------------------------------------------------


def test_one_line_per_charge_in_order_and_missing_usage_is_zero():
    charges = parse_charges(
        [
            {"model": "flat", "amount": "10"},
            {"model": "per_unit", "metric": "calls", "unit_amount": "0.01"},
            {"model": "graduated", "metric": "gb", "tiers": TIERS},
        ]
    )
    quote = price(charges, {"calls": D(250), "unused": D(5)}, currency="USD")
    assert [(line.model, line.metric, line.quantity, line.amount) for line in quote.lines] == [
        ("flat", None, D(1), D("10.00")),
        ("per_unit", "calls", D(250), D("2.50")),
        ("graduated", "gb", D(0), D("0.00")),
    ]
    assert quote.subtotal == quote.total == D("12.50")
    assert quote.currency == "USD"


def test_no_charges_is_a_zero_quote():
    assert price([], {}, currency="EUR") == Quote(currency="EUR", lines=(), subtotal=D("0.00"), total=D("0.00"))


@pytest.mark.parametrize(
    ("currency", "unit_amount", "expected"),
    [
        ("USD", "0.005", "0.01"),  # ROUND_HALF_UP: half a cent rounds up
        ("USD", "0.004999", "0.00"),
        ("USD", "0.025", "0.03"),  # half-up, not banker's rounding (which gives 0.02)
        ("JPY", "2.5", "3"),  # no minor unit (banker's rounding would give 2)
        ("JPY", "0.49", "0"),
        ("KWD", "1.0005", "1.001"),  # three decimals (banker's rounding would give 1.000)
        ("KWD", "0.0004", "0.000"),
    ],
)
def test_each_line_is_rounded_once_to_the_currency_minor_unit(currency, unit_amount, expected):
    line = one_line({"model": "per_unit", "metric": "m", "unit_amount": unit_amount}, 1, currency)
    assert line.amount == D(expected)
    assert str(line.amount) == expected  # quantized to exactly the currency's places


def test_the_total_is_the_sum_of_the_rounded_lines_not_the_rounded_sum():
    # Three lines of 0.005 each round to 0.01: the subtotal is 0.03. Summing first (0.015) and
    # rounding would give 0.02, a total that no longer matches the lines on the invoice.
    charges = [charge(model="per_unit", metric=metric, unit_amount="0.005") for metric in ("a", "b", "c")]
    quote = price(charges, {"a": D(1), "b": D(1), "c": D(1)}, currency="USD")
    assert [line.amount for line in quote.lines] == [D("0.01")] * 3
    assert quote.subtotal == quote.total == D("0.03")
    unrounded = sum(charge_amount(c, D(1))[0] for c in charges)
    assert unrounded == D("0.015")


def test_rounding_happens_per_line_not_per_tier():
    # Two tiers of 0.005 each: per tier they would round to 0.01 + 0.01; the line is 0.01.
    tiers = [{"up_to": 1, "unit_amount": "0.005"}, {"up_to": None, "unit_amount": "0.005"}]
    line = one_line({"model": "graduated", "metric": "m", "tiers": tiers}, 2)
    assert [tier.amount for tier in line.tiers] == [D("0.005"), D("0.005")]
    assert line.amount == D("0.01")


# --- minimum commitment -------------------------------------------------------------------------


def _quote_with_minimum(usage_calls, minimum, currency="USD") -> Quote:
    charges = [charge(model="per_unit", metric="calls", unit_amount="1")]
    return price(charges, {"calls": D(usage_calls)}, currency=currency, minimum_commitment=minimum)


def test_minimum_commitment_below_adds_a_true_up_line():
    quote = _quote_with_minimum(40, D(100))
    assert quote.subtotal == D("40.00")
    assert quote.total == D("100.00")
    true_up = quote.lines[-1]
    assert (true_up.metric, true_up.model, true_up.quantity, true_up.amount) == (
        None,
        "minimum_commitment",
        D(1),
        D("60.00"),
    )
    assert true_up.tiers == ()
    assert "100.00 USD" in true_up.description
    assert quote.total == sum(line.amount for line in quote.lines)


def test_minimum_commitment_reached_exactly_adds_nothing():
    quote = _quote_with_minimum(100, D(100))
    assert [line.model for line in quote.lines] == ["per_unit"]
    assert quote.subtotal == quote.total == D("100.00")


def test_minimum_commitment_exceeded_adds_nothing():
    quote = _quote_with_minimum(150, D(100))
    assert [line.model for line in quote.lines] == ["per_unit"]
    assert quote.subtotal == quote.total == D("150.00")


@pytest.mark.parametrize("minimum", [None, D(0)])
def test_no_minimum_commitment(minimum):
    quote = _quote_with_minimum(0, minimum)
    assert [line.model for line in quote.lines] == ["per_unit"]
    assert quote.total == D("0.00")


def test_minimum_commitment_is_rounded_to_the_currency_like_any_amount():
    # Stored minimums carry 3 places (KWD needs them); in USD 99.995 is 100.00.
    quote = _quote_with_minimum(40, D("99.995"))
    assert quote.lines[-1].amount == D("60.00")
    assert quote.total == D("100.00") == sum(line.amount for line in quote.lines)
    jpy = _quote_with_minimum(40, D("100.000"), currency="JPY")
    assert (jpy.lines[-1].amount, jpy.total) == (D(60), D(100))


def test_negative_minimum_commitment_is_refused():
    assert list(errors_of(_quote_with_minimum, 1, D(-1))) == ["minimum_commitment"]


@pytest.mark.parametrize("currency", ["XXX", "usd", "", None])
def test_unknown_currency_is_refused(currency):
    errors = errors_of(price, [charge(model="flat", amount="1")], {}, currency=currency)
    assert list(errors) == ["currency"]
    assert "Unknown currency" in errors["currency"][0]


@pytest.mark.parametrize("quantity", [1.5, D(-1), D("NaN"), "3"])
def test_price_refuses_usage_that_is_not_a_non_negative_decimal(quantity):
    errors = errors_of(
        price, [charge(model="per_unit", metric="calls", unit_amount="1")], {"calls": quantity}, currency="USD"
    )
    assert list(errors) == ["usage.calls"]


def test_price_accepts_integer_usage():
    quote = price([charge(model="per_unit", metric="calls", unit_amount="0.5")], {"calls": 3}, currency="USD")
    assert quote.total == D("1.50")


def test_charge_amount_refuses_negative_quantities():
    assert list(errors_of(charge_amount, charge(model="flat", amount="1"), D(-1))) == ["quantity"]


def test_tiers_that_are_not_open_at_the_end_cannot_price_past_them():
    # parse_charges never builds such tiers; a hand-built Charge must not silently undercharge.
    closed = (PriceTier(up_to=D(10), unit_amount=D(1), flat_amount=D(0)),)
    for model in ("graduated", "volume"):
        assert charge_amount(Charge(model=model, metric="m", tiers=closed), D(10))[0] == D(10)
        assert list(errors_of(charge_amount, Charge(model=model, metric="m", tiers=closed), D(11))) == ["tiers"]


# --- canonical JSON shape -----------------------------------------------------------------------


ONE_OF_EACH = [
    {"model": "per_unit", "metric": "calls", "unit_amount": "0.002", "free_units": "1000"},
    {"model": "graduated", "metric": "gb", "tiers": TIERS},
    {"model": "volume", "metric": "gb", "tiers": TIERS},
    {"model": "package", "metric": "calls", "package_size": 100, "unit_amount": "5", "free_units": 100},
    {"model": "flat", "amount": "49.90"},
]


@pytest.mark.parametrize("data", ONE_OF_EACH, ids=MODELS)
def test_charge_to_dict_round_trips(data):
    parsed = charge(**data)
    assert parse_charge(charge_to_dict(parsed), path="charge") == parsed
    assert charge_to_dict(parse_charge(charge_to_dict(parsed), path="charge")) == charge_to_dict(parsed)


def test_charge_to_dict_is_the_canonical_shape():
    assert [charge_to_dict(charge(**data)) for data in ONE_OF_EACH] == [
        {"model": "per_unit", "metric": "calls", "unit_amount": "0.002", "free_units": "1000"},
        {
            "model": "graduated",
            "metric": "gb",
            "tiers": [
                {"up_to": "10", "unit_amount": "1", "flat_amount": "5"},
                {"up_to": "100", "unit_amount": "0.5", "flat_amount": "10"},
                {"up_to": None, "unit_amount": "0.1", "flat_amount": "0"},
            ],
        },
        {
            "model": "volume",
            "metric": "gb",
            "tiers": [
                {"up_to": "10", "unit_amount": "1", "flat_amount": "5"},
                {"up_to": "100", "unit_amount": "0.5", "flat_amount": "10"},
                {"up_to": None, "unit_amount": "0.1", "flat_amount": "0"},
            ],
        },
        {"model": "package", "metric": "calls", "unit_amount": "5", "free_units": "100", "package_size": "100"},
        {"model": "flat", "amount": "49.90"},  # no metric: only the fields of its model
    ]


def test_charge_to_dict_writes_plain_decimals_without_exponent():
    parsed = charge(model="per_unit", metric="calls", unit_amount="1E-7", free_units="1E+3")
    assert charge_to_dict(parsed) == {
        "model": "per_unit",
        "metric": "calls",
        "unit_amount": "0.0000001",
        "free_units": "1000",
    }
    assert charge_to_dict(charge(model="flat", amount="0.10")) == {"model": "flat", "amount": "0.10"}
    assert charge_to_dict(charge(model="flat", amount="-0")) == {"model": "flat", "amount": "0"}


def test_optional_fields_default_to_zero():
    assert charge(model="per_unit", metric="calls", unit_amount="1").free_units == 0
    parsed = charge(model="volume", metric="gb", tiers=[{"up_to": None, "unit_amount": "2"}])
    assert parsed.tiers == (PriceTier(up_to=None, unit_amount=D(2), flat_amount=D(0)),)


def test_flat_accepts_a_null_metric():
    assert charge(model="flat", metric=None, amount="5") == Charge(model="flat", metric=None, amount=D(5))


# --- validation: every problem at its exact path --------------------------------------------------


def per_unit(**overrides) -> dict:
    return {"model": "per_unit", "metric": "calls", "unit_amount": "0.01", **overrides}


def tiered(tiers, model="graduated") -> dict:
    return {"model": model, "metric": "gb", "tiers": tiers}


OPEN = {"up_to": None, "unit_amount": "0.1"}

INVALID_CHARGES = [
    # (charge, the one path with a problem, a piece of its message)
    pytest.param(3, "charges[0]", "Must be an object", id="not-an-object"),
    pytest.param(["per_unit"], "charges[0]", "Must be an object", id="a-list-is-not-a-charge"),
    pytest.param({"metric": "calls"}, "charges[0].model", "Required.", id="model-missing"),
    pytest.param({"model": "tiered"}, "charges[0].model", "Unknown model 'tiered'", id="unknown-model"),
    pytest.param(per_unit(metric=None), "charges[0].metric", "Required", id="metric-null"),
    pytest.param({"model": "per_unit", "unit_amount": "1"}, "charges[0].metric", "Required", id="metric-missing"),
    pytest.param(per_unit(metric=""), "charges[0].metric", "Required", id="metric-empty"),
    pytest.param(per_unit(metric="  "), "charges[0].metric", "Required", id="metric-blank"),
    pytest.param(per_unit(metric=5), "charges[0].metric", "Required", id="metric-not-a-string"),
    pytest.param(
        {"model": "flat", "metric": "calls", "amount": "1"}, "charges[0].metric", "no metric", id="flat-with-metric"
    ),
    pytest.param({"model": "per_unit", "metric": "calls"}, "charges[0].unit_amount", "Required.", id="unit-missing"),
    pytest.param(per_unit(unit_amount="-0.01"), "charges[0].unit_amount", "must not be negative", id="unit-negative"),
    pytest.param(per_unit(free_units=-1), "charges[0].free_units", "must not be negative", id="free-negative"),
    pytest.param(per_unit(unit_amount=0.1), "charges[0].unit_amount", "unit_amount must be a decimal", id="float"),
    pytest.param(per_unit(unit_amount=True), "charges[0].unit_amount", "not a boolean", id="bool"),
    pytest.param(
        per_unit(unit_amount="abc"),
        "charges[0].unit_amount",
        "unit_amount must be a decimal number, not 'abc'",
        id="abc",
    ),
    pytest.param(
        per_unit(unit_amount="NaN"), "charges[0].unit_amount", "unit_amount must be a finite number", id="nan"
    ),
    pytest.param(per_unit(free_units="Infinity"), "charges[0].free_units", "free_units must be a finite", id="inf"),
    pytest.param(per_unit(unit_amount=[1]), "charges[0].unit_amount", "not list", id="list-as-number"),
    pytest.param(per_unit(unit_amount="1e999999"), "charges[0].unit_amount", "out of range", id="huge"),
    pytest.param(
        per_unit(tiers=[OPEN]), "charges[0].tiers", "Unexpected field 'tiers' for a per_unit charge", id="extra-field"
    ),
    pytest.param(
        {"model": "flat", "amount": "1", "unit_amount": "1"},
        "charges[0].unit_amount",
        "Unexpected field 'unit_amount' for a flat charge",
        id="flat-extra-field",
    ),
    pytest.param({"model": "flat"}, "charges[0].amount", "Required.", id="flat-amount-missing"),
    pytest.param({"model": "flat", "amount": "-5"}, "charges[0].amount", "must not be negative", id="flat-negative"),
    pytest.param(
        {"model": "package", "metric": "calls", "unit_amount": "5"},
        "charges[0].package_size",
        "Required",
        id="package-size-missing",
    ),
    pytest.param(
        {"model": "package", "metric": "calls", "unit_amount": "5", "package_size": 0},
        "charges[0].package_size",
        "must be greater than 0",
        id="package-size-zero",
    ),
    pytest.param(
        {"model": "package", "metric": "calls", "unit_amount": "5", "package_size": "-100"},
        "charges[0].package_size",
        "must be greater than 0",
        id="package-size-negative",
    ),
    pytest.param({"model": "graduated", "metric": "gb"}, "charges[0].tiers", "non-empty list", id="tiers-missing"),
    pytest.param(tiered([]), "charges[0].tiers", "non-empty list", id="tiers-empty"),
    pytest.param(tiered("abc", model="volume"), "charges[0].tiers", "non-empty list", id="tiers-not-a-list"),
    pytest.param(tiered([{"up_to": 10}, 5, OPEN]), "charges[0].tiers[1]", "Must be an object", id="tier-not-an-object"),
    pytest.param(
        tiered([{"up_to": 10}, {"up_to": 10}, OPEN]),
        "charges[0].tiers[1].up_to",
        "Must be greater than the previous tier's up_to (10).",
        id="up-to-equal",
    ),
    pytest.param(
        tiered([{"up_to": 10}, {"up_to": 5}, OPEN], model="volume"),
        "charges[0].tiers[1].up_to",
        "Must be greater than the previous tier's up_to (10).",
        id="up-to-decreasing",
    ),
    pytest.param(tiered([{"up_to": 0}, OPEN]), "charges[0].tiers[0].up_to", "greater than 0", id="up-to-zero"),
    pytest.param(tiered([{"up_to": "-5"}, OPEN]), "charges[0].tiers[0].up_to", "greater than 0", id="up-to-negative"),
    pytest.param(
        tiered([{"up_to": 1.5}, OPEN]), "charges[0].tiers[0].up_to", "up_to must be a decimal", id="up-to-float"
    ),
    pytest.param(
        tiered([{"up_to": None}, {"up_to": 10}, OPEN]),
        "charges[0].tiers[0].up_to",
        "Only the last tier may be open",
        id="open-tier-not-last",
    ),
    pytest.param(
        tiered([{"up_to": 10}, {"up_to": 20}]),
        "charges[0].tiers[1].up_to",
        "The last tier must be open",
        id="last-tier-closed",
    ),
    pytest.param(tiered([{"unit_amount": "1"}]), "charges[0].tiers[0].up_to", "Required", id="up-to-missing"),
    pytest.param(
        tiered([{"up_to": None, "unit_amount": "-1"}]),
        "charges[0].tiers[0].unit_amount",
        "must not be negative",
        id="tier-unit-negative",
    ),
    pytest.param(
        tiered([{"up_to": None, "flat_amount": "-1"}], model="volume"),
        "charges[0].tiers[0].flat_amount",
        "must not be negative",
        id="tier-flat-negative",
    ),
    pytest.param(
        tiered([{"up_to": None, "flat_amount": "x"}]),
        "charges[0].tiers[0].flat_amount",
        "flat_amount must be a decimal number, not 'x'",
        id="tier-flat-abc",
    ),
    pytest.param(
        tiered([{"up_to": None, "price": "1"}]),
        "charges[0].tiers[0].price",
        "Unexpected field 'price' for a tier",
        id="tier-extra-field",
    ),
]


@pytest.mark.parametrize(("data", "path", "message"), INVALID_CHARGES)
def test_each_invalid_charge_is_reported_at_its_path(data, path, message):
    errors = errors_of(parse_charges, [data])
    assert list(errors) == [path]
    assert any(message in text for text in errors[path]), errors


@pytest.mark.parametrize("data", [None, {"model": "flat", "amount": "1"}, "[]", 5])
def test_charges_must_be_a_list(data):
    assert errors_of(parse_charges, data) == {"charges": ["Must be a list of charges."]}


def test_every_problem_of_every_charge_is_reported_at_once():
    errors = errors_of(
        parse_charges,
        [
            per_unit(),
            {"model": "graduated", "metric": "", "tiers": [{"up_to": 10}, {"up_to": 5}, {"up_to": 20}]},
            per_unit(unit_amount="abc", free_units=-1, extra=1),
        ],
    )
    assert set(errors) == {
        "charges[1].metric",
        "charges[1].tiers[1].up_to",
        "charges[1].tiers[2].up_to",
        "charges[2].unit_amount",
        "charges[2].free_units",
        "charges[2].extra",
    }
    assert errors["charges[1].tiers[1].up_to"] == ["Must be greater than the previous tier's up_to (10)."]
    assert errors["charges[1].tiers[2].up_to"] == ["The last tier must be open (up_to null)."]


def test_paths_start_from_the_given_path():
    assert list(errors_of(parse_charges, [{"model": "x"}], path="plan.charges")) == ["plan.charges[0].model"]
    assert list(errors_of(parse_charge, per_unit(metric=None), path="charge")) == ["charge.metric"]
    assert parse_charges([]) == []


def test_the_error_message_lists_the_problems():
    with pytest.raises(PricingError, match=r"charges\[0\]\.model: Unknown model 'x'"):
        parse_charges([{"model": "x"}])


# --- usage --------------------------------------------------------------------------------------


def test_parse_usage_reads_strings_and_integers():
    assert parse_usage({"calls": 1200, "gb": "12.5", "seats": "0"}) == {
        "calls": D(1200),
        "gb": D("12.5"),
        "seats": D(0),
    }
    assert parse_usage({}) == {}


@pytest.mark.parametrize(
    ("usage", "path", "message"),
    [
        ({"calls": "-1"}, "usage.calls", "calls must not be negative"),
        ({"calls": 1.5}, "usage.calls", "not a float"),
        ({"calls": False}, "usage.calls", "not a boolean"),
        ({"calls": None}, "usage.calls", "not NoneType"),
        ({"calls": "abc"}, "usage.calls", "calls must be a decimal number, not 'abc'"),
        ({"calls": "NaN"}, "usage.calls", "calls must be a finite number"),
        ({"calls": "-Infinity"}, "usage.calls", "calls must be a finite number"),
        ({"": "1"}, "usage", "Metric codes must be non-empty strings"),
    ],
)
def test_parse_usage_refuses_bad_quantities(usage, path, message):
    errors = errors_of(parse_usage, usage)
    assert list(errors) == [path]
    assert message in errors[path][0]


@pytest.mark.parametrize("usage", [[], "calls=1", None, 3])
def test_usage_must_be_an_object(usage):
    assert list(errors_of(parse_usage, usage, path="body.usage")) == ["body.usage"]


def test_parse_usage_reports_every_bad_quantity():
    errors = errors_of(parse_usage, {"a": "-1", "b": "1", "c": 0.5})
    assert set(errors) == {"usage.a", "usage.c"}
