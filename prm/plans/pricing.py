"""The pricing engine: charge definitions and usage in, priced lines out.

Pure on purpose (no ORM, no I/O, no Django): plans, quotes, proposals and invoices all price
through here, and it is tested exhaustively on its own. The JSON shape and the semantics are
the "Pricing contract" of ARCHITECTURE.md; tiers follow Stripe's shape (`up_to` inclusive, the
last tier open). Amounts are Decimals computed exactly and rounded once per line by
`prm.core.money.round_money`; a total is the sum of its rounded lines.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from prm.core.money import UnknownCurrency, minor_unit, parse_decimal, round_money

MODELS = ("per_unit", "graduated", "volume", "package", "flat")

# The fields each model takes, besides "model"; anything else is refused by name.
MODEL_FIELDS: dict[str, tuple[str, ...]] = {
    "per_unit": ("metric", "unit_amount", "free_units"),
    "graduated": ("metric", "tiers"),
    "volume": ("metric", "tiers"),
    "package": ("metric", "package_size", "unit_amount", "free_units"),
    "flat": ("amount",),
}
TIER_FIELDS = ("up_to", "unit_amount", "flat_amount")
USAGE_MODELS = frozenset(MODELS) - {"flat"}
MINIMUM_COMMITMENT = "minimum_commitment"

# Bounds on any number we accept. Far beyond any real price or quantity, they keep a typo or a
# hostile "1e999999" from turning exact arithmetic into an unbounded computation.
MAX_MAGNITUDE_DIGITS = 30  # |value| < 10**30
MAX_DECIMAL_PLACES = 30

# Additions and multiplications of bounded numbers are exact under this context: no digit is
# ever rounded away while computing, only round_money rounds, once per line.
_EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
ZERO = Decimal(0)
ONE = Decimal(1)


class PricingError(Exception):
    """Bad charge definitions or usage; .errors maps a field path to messages."""

    errors: dict[str, list[str]]

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items()))


@dataclass(frozen=True)
class PriceTier:
    up_to: Decimal | None  # inclusive; None = the open last tier
    unit_amount: Decimal
    flat_amount: Decimal


@dataclass(frozen=True)
class Charge:
    model: str
    metric: str | None  # None only for "flat"
    unit_amount: Decimal = Decimal(0)
    free_units: Decimal = Decimal(0)
    package_size: Decimal | None = None
    amount: Decimal = Decimal(0)  # the "flat" fee
    tiers: tuple[PriceTier, ...] = ()


@dataclass(frozen=True)
class TierApplied:
    index: int
    up_to: Decimal | None
    units: Decimal
    unit_amount: Decimal
    flat_amount: Decimal
    amount: Decimal  # unrounded contribution of this tier


@dataclass(frozen=True)
class Line:
    metric: str | None
    model: str  # a charge model, or "minimum_commitment" for the true-up line
    quantity: Decimal
    amount: Decimal  # rounded once, to the currency's minor unit
    tiers: tuple[TierApplied, ...]  # graduated: every tier usage entered; volume: the one tier; else empty
    description: str


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: tuple[Line, ...]
    subtotal: Decimal  # sum of the charge lines (rounded lines)
    total: Decimal  # subtotal + true-up


# --- Parsing and validation -------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    """A decimal as written, without exponent: 0.10 → "0.10", 1E+2 → "100", -0 → "0"."""
    if value == 0 and value.is_signed():
        value = value.copy_abs()
    return format(value, "f")


def _check_number(value, name: str) -> tuple[Decimal | None, str | None]:
    """(the Decimal, None) or (None, a message naming the field)."""
    if isinstance(value, bool):
        return None, f"{name} must be a decimal string or an integer, not a boolean."
    if isinstance(value, float):
        return None, f"{name} must be a decimal string or an integer, not a float (floats are not exact)."
    if not isinstance(value, str | int | Decimal):
        return None, f"{name} must be a decimal string or an integer, not {type(value).__name__}."
    try:
        number = parse_decimal(value)
    except ValueError:
        if isinstance(value, str) and value.strip().lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
            return None, f"{name} must be a finite number, not {value!r}."
        return None, f"{name} must be a decimal number, not {value!r}."
    normal = number.normalize(_EXACT)
    if normal != 0 and (normal.adjusted() >= MAX_MAGNITUDE_DIGITS or -normal.as_tuple().exponent > MAX_DECIMAL_PLACES):
        return None, (
            f"{name} is out of range: use less than 10^{MAX_MAGNITUDE_DIGITS} "
            f"with at most {MAX_DECIMAL_PLACES} decimal places."
        )
    return number, None


def _number(
    data: Mapping, key: str, path: str, errors: dict[str, list[str]], *, default: Decimal | None = None
) -> Decimal | None:
    """data[key] as a finite, non-negative Decimal, or None with the problem recorded at path.key.

    Missing or null → default, or "Required." when there is no default."""
    field_path = f"{path}.{key}"
    if data.get(key) is None:
        if default is None:
            errors.setdefault(field_path, []).append("Required.")
        return default
    number, problem = _check_number(data[key], key)
    if problem is None and number < 0:
        problem = f"{key} must not be negative."
    if problem is not None:
        errors.setdefault(field_path, []).append(problem)
        return None
    return number


def _unexpected_fields(data: Mapping, allowed: tuple[str, ...], path: str, what: str, errors) -> None:
    for key in data:
        if key not in allowed:
            errors.setdefault(f"{path}.{key}", []).append(
                f"Unexpected field {str(key)!r} for {what}; expected: {', '.join(allowed)}."
            )


def _parse_tiers(data, path: str, errors: dict[str, list[str]]) -> tuple[PriceTier, ...] | None:
    if not isinstance(data, list | tuple) or not data:
        errors.setdefault(path, []).append("Required: a non-empty list of tiers, the last one open (up_to null).")
        return None
    tiers: list[PriceTier] = []
    failed = False
    previous: Decimal | None = None  # the last valid bound seen, for the ordering check
    last = len(data) - 1
    for index, tier in enumerate(data):
        tier_path = f"{path}[{index}]"
        if not isinstance(tier, Mapping):
            errors.setdefault(tier_path, []).append("Must be an object with up_to, unit_amount and flat_amount.")
            failed = True
            continue
        before = len(errors)
        _unexpected_fields(tier, TIER_FIELDS, tier_path, "a tier", errors)
        up_to_path = f"{tier_path}.up_to"
        up_to = None
        if "up_to" not in tier:
            errors.setdefault(up_to_path, []).append("Required (null for the open last tier).")
        elif tier["up_to"] is None:
            if index != last:
                errors.setdefault(up_to_path, []).append("Only the last tier may be open (up_to null).")
        else:
            up_to, problem = _check_number(tier["up_to"], "up_to")
            if problem is None and up_to <= 0:
                problem = "up_to must be greater than 0."
            elif problem is None and previous is not None and up_to <= previous:
                problem = f"Must be greater than the previous tier's up_to ({_plain(previous)})."
            elif problem is None and index == last:
                problem = "The last tier must be open (up_to null)."
            if problem is not None:
                errors.setdefault(up_to_path, []).append(problem)
            if up_to is not None and (previous is None or up_to > previous):
                previous = up_to
        unit_amount = _number(tier, "unit_amount", tier_path, errors, default=ZERO)
        flat_amount = _number(tier, "flat_amount", tier_path, errors, default=ZERO)
        if len(errors) != before:
            failed = True
            continue
        tiers.append(PriceTier(up_to=up_to, unit_amount=unit_amount, flat_amount=flat_amount))
    return None if failed else tuple(tiers)


def _package_size(data: Mapping, path: str, errors: dict[str, list[str]]) -> Decimal | None:
    if data.get("package_size") is None:
        errors.setdefault(path, []).append("Required: how many units one package holds.")
        return None
    size, problem = _check_number(data["package_size"], "package_size")
    if problem is None and size <= 0:
        problem = f"package_size must be greater than 0, not {data['package_size']!r}."
    if problem is not None:
        errors.setdefault(path, []).append(problem)
    return size if problem is None else None


def _parse_charge(data, path: str, errors: dict[str, list[str]]) -> Charge | None:
    """The Charge, or None with every problem recorded in errors."""
    if not isinstance(data, Mapping):
        errors.setdefault(path, []).append('Must be an object (a charge), e.g. {"model": "per_unit", …}.')
        return None
    model = data.get("model")
    if model not in MODELS:
        message = "Required." if model is None else f"Unknown model {model!r}; expected one of {', '.join(MODELS)}."
        errors.setdefault(f"{path}.model", []).append(message)
        return None
    before = len(errors)
    # A flat charge may carry "metric": null (forms and older clients send it); checked below.
    allowed = ("model", *MODEL_FIELDS[model]) if model in USAGE_MODELS else ("model", "metric", *MODEL_FIELDS[model])
    _unexpected_fields(data, allowed, path, f"a {model} charge", errors)

    metric = data.get("metric")
    if model in USAGE_MODELS:
        if not isinstance(metric, str) or not metric.strip():
            errors.setdefault(f"{path}.metric", []).append(f"Required: the code of the metric a {model} charge prices.")
    elif metric is not None:
        errors.setdefault(f"{path}.metric", []).append("A flat charge has no metric: leave it out or null.")
        metric = None

    fields: dict = {"model": model, "metric": metric}
    if model in ("per_unit", "package"):
        fields["unit_amount"] = _number(data, "unit_amount", path, errors)
        fields["free_units"] = _number(data, "free_units", path, errors, default=ZERO)
    if model == "package":
        fields["package_size"] = _package_size(data, f"{path}.package_size", errors)
    if model in ("graduated", "volume"):
        fields["tiers"] = _parse_tiers(data.get("tiers"), f"{path}.tiers", errors)
    if model == "flat":
        fields["amount"] = _number(data, "amount", path, errors)
    if len(errors) != before:
        return None
    return Charge(**fields)


def parse_charges(data, *, path: str = "charges") -> list[Charge]:
    """Charges from the contract's JSON shape; every problem of every charge in one PricingError."""
    if not isinstance(data, list | tuple):
        raise PricingError({path: ["Must be a list of charges."]})
    errors: dict[str, list[str]] = {}
    charges = [_parse_charge(item, f"{path}[{index}]", errors) for index, item in enumerate(data)]
    if errors:
        raise PricingError(errors)
    return charges


def parse_charge(data, *, path: str) -> Charge:
    errors: dict[str, list[str]] = {}
    charge = _parse_charge(data, path, errors)
    if errors:
        raise PricingError(errors)
    return charge


def charge_to_dict(charge: Charge) -> dict:
    """The canonical JSON shape: only the fields of the charge's model, numbers as plain decimal strings."""
    result: dict = {"model": charge.model}
    if charge.model != "flat":
        result["metric"] = charge.metric
    if charge.model in ("per_unit", "package"):
        result["unit_amount"] = _plain(charge.unit_amount)
        result["free_units"] = _plain(charge.free_units)
    if charge.model == "package":
        result["package_size"] = _plain(charge.package_size)
    if charge.model in ("graduated", "volume"):
        result["tiers"] = [
            {
                "up_to": None if tier.up_to is None else _plain(tier.up_to),
                "unit_amount": _plain(tier.unit_amount),
                "flat_amount": _plain(tier.flat_amount),
            }
            for tier in charge.tiers
        ]
    if charge.model == "flat":
        result["amount"] = _plain(charge.amount)
    return result


def parse_usage(data, *, path: str = "usage") -> dict[str, Decimal]:
    """{"<metric>": "<quantity>"} → {metric: Decimal}; quantities are finite decimals >= 0."""
    if not isinstance(data, Mapping):
        raise PricingError({path: ["Must be an object mapping metric codes to quantities."]})
    errors: dict[str, list[str]] = {}
    usage: dict[str, Decimal] = {}
    for metric, value in data.items():
        if not isinstance(metric, str) or not metric.strip():
            errors.setdefault(path, []).append(f"Metric codes must be non-empty strings, not {metric!r}.")
            continue
        quantity, problem = _check_number(value, metric)
        if problem is None and quantity < 0:
            problem = f"{metric} must not be negative."
        if problem is not None:
            errors.setdefault(f"{path}.{metric}", []).append(problem)
            continue
        usage[metric] = quantity
    if errors:
        raise PricingError(errors)
    return usage


# --- Pricing ----------------------------------------------------------------------------------


def _graduated(tiers: tuple[PriceTier, ...], quantity: Decimal) -> tuple[TierApplied, ...]:
    applied = []
    lower = ZERO
    for index, tier in enumerate(tiers):
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        units = upper - lower
        if units <= 0:
            break
        amount = units * tier.unit_amount + tier.flat_amount
        applied.append(TierApplied(index, tier.up_to, units, tier.unit_amount, tier.flat_amount, amount))
        if tier.up_to is None or quantity <= tier.up_to:
            break
        lower = tier.up_to
    else:  # every tier was closed and usage went past them all: parse_charges never builds that
        if tiers:
            raise PricingError({"tiers": ["The last tier must be open (up_to null)."]})
    return tuple(applied)


def _volume(tiers: tuple[PriceTier, ...], quantity: Decimal) -> tuple[TierApplied, ...]:
    if quantity <= 0:
        return ()
    for index, tier in enumerate(tiers):
        if tier.up_to is None or quantity <= tier.up_to:
            amount = quantity * tier.unit_amount + tier.flat_amount
            return (TierApplied(index, tier.up_to, quantity, tier.unit_amount, tier.flat_amount, amount),)
    raise PricingError({"tiers": ["The last tier must be open (up_to null)."]})


def _packages(charge: Charge, quantity: Decimal) -> Decimal:
    """Started packages after the free units: ceil(max(q − free, 0) / package_size)."""
    billable = max(quantity - charge.free_units, ZERO)
    whole, rest = divmod(billable, charge.package_size)
    return whole + (ONE if rest else ZERO)


def charge_amount(charge: Charge, quantity: Decimal) -> tuple[Decimal, tuple[TierApplied, ...]]:
    """The unrounded amount of one charge for one period's quantity, and the tiers it used."""
    if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity < 0:
        raise PricingError({"quantity": [f"Must be a finite Decimal >= 0, not {quantity!r}."]})
    with decimal.localcontext(_EXACT):
        if charge.model == "per_unit":
            return max(quantity - charge.free_units, ZERO) * charge.unit_amount, ()
        if charge.model == "package":
            return _packages(charge, quantity) * charge.unit_amount, ()
        if charge.model == "flat":
            return charge.amount, ()
        if charge.model in ("graduated", "volume"):
            tiers = (_graduated if charge.model == "graduated" else _volume)(charge.tiers, quantity)
            return sum((tier.amount for tier in tiers), ZERO), tiers
    raise PricingError({"model": [f"Unknown model {charge.model!r}; expected one of {', '.join(MODELS)}."]})


def _n(value: Decimal) -> str:
    """A number for people: thousands separated, no exponent."""
    return format(value, ",f")


def _describe(charge: Charge, quantity: Decimal, tiers: tuple[TierApplied, ...]) -> str:
    unit = charge.metric
    if charge.model == "flat":
        return f"Flat fee of {_n(charge.amount)} per period"
    if charge.model in ("per_unit", "package"):
        free = min(charge.free_units, quantity)
        parts = [f"{_n(free)} free"] if charge.free_units else []
        if charge.model == "per_unit":
            parts.append(f"{_n(quantity - free)} × {_n(charge.unit_amount)}")
        else:
            packages = _packages(charge, quantity)
            noun = "package" if packages == 1 else "packages"
            parts.append(f"{_n(packages)} {noun} of {_n(charge.package_size)} × {_n(charge.unit_amount)}")
        return f"{_n(quantity)} {unit}: {', '.join(parts)}"
    if not tiers:
        return f"{_n(quantity)} {unit}: no usage, nothing to pay"

    def tier_text(tier: TierApplied) -> str:
        text = f"{_n(tier.units)} × {_n(tier.unit_amount)}"
        return f"{text} + {_n(tier.flat_amount)} flat" if tier.flat_amount else text

    if charge.model == "volume":
        (tier,) = tiers
        bound = "open" if tier.up_to is None else f"up to {_n(tier.up_to)}"
        return f"{_n(quantity)} {unit}, all at tier {tier.index + 1} ({bound}): {tier_text(tier)}"
    return f"{_n(quantity)} {unit}, graduated: " + " + ".join(
        f"tier {tier.index + 1} ({tier_text(tier)})" for tier in tiers
    )


def _usage_quantity(usage: Mapping[str, Decimal], metric: str) -> Decimal:
    value = usage.get(metric, ZERO)
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise PricingError({f"usage.{metric}": [f"{metric} must be a finite Decimal >= 0, not {value!r}."]})
    return value


def minimum_true_up(subtotal: Decimal, minimum_commitment: Decimal | None, *, currency: str) -> Line | None:
    """The line bringing `subtotal` (a sum of rounded lines) up to the minimum, if it falls short.

    The minimum is money too, so it is rounded to the currency like any line: the total stays
    exactly the sum of the rounded lines.
    """
    if not minimum_commitment:
        return None
    minimum = round_money(minimum_commitment, currency)
    if subtotal >= minimum:
        return None
    true_up = minimum - subtotal
    return Line(
        metric=None,
        model=MINIMUM_COMMITMENT,
        quantity=ONE,
        amount=true_up,
        tiers=(),
        description=(
            f"Minimum commitment of {_n(minimum)} {currency}: {_n(true_up)} on top of the {_n(subtotal)} charged"
        ),
    )


def price(
    charges: list[Charge],
    usage: Mapping[str, Decimal],
    *,
    currency: str,
    minimum_commitment: Decimal | None = None,
) -> Quote:
    """Price one period: a line per charge in order (no usage for a metric = quantity 0), each
    rounded once to the currency's minor unit; the subtotal is the sum of those rounded lines.
    A minimum commitment above the subtotal adds a true-up line bringing the total up to it.

    The minimum commitment is money too, so it is rounded to the currency like any line: the
    total stays exactly the sum of the rounded lines (the services only store minimums that
    already fit the currency, for which this changes nothing).
    """
    try:
        minor_unit(currency)
    except (UnknownCurrency, TypeError):
        raise PricingError(
            {"currency": [f"Unknown currency {currency!r}; use an ISO 4217 code such as USD."]}
        ) from None
    if minimum_commitment is not None and (
        not isinstance(minimum_commitment, Decimal) or not minimum_commitment.is_finite() or minimum_commitment < 0
    ):
        raise PricingError({"minimum_commitment": [f"Must be a finite Decimal >= 0, not {minimum_commitment!r}."]})

    with decimal.localcontext(_EXACT):
        lines = []
        for charge in charges:
            quantity = ONE if charge.model == "flat" else _usage_quantity(usage, charge.metric)
            amount, tiers = charge_amount(charge, quantity)
            lines.append(
                Line(
                    metric=charge.metric,
                    model=charge.model,
                    quantity=quantity,
                    amount=round_money(amount, currency),
                    tiers=tiers,
                    description=_describe(charge, quantity, tiers),
                )
            )
        subtotal = round_money(sum((line.amount for line in lines), ZERO), currency)
        total = subtotal
        true_up = minimum_true_up(subtotal, minimum_commitment, currency=currency)
        if true_up is not None:
            lines.append(true_up)
            total = subtotal + true_up.amount
    return Quote(currency=currency, lines=tuple(lines), subtotal=subtotal, total=total)
