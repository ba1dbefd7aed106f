"""Money: Decimal amounts rounded once, in one place, to the currency's minor unit."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units of the currencies the portal bills in. A currency missing here is
# refused rather than guessed: rounding JPY to cents or KWD to cents would be wrong money.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2,
    "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2,
    "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2,
    "TND": 3, "TRY": 2, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip

CURRENCY_CHOICES = [(code, code) for code in sorted(MINOR_UNITS)]

# Wide enough for any invoice total; amounts keep more places than money while being computed.
MONEY_MAX_DIGITS = 20
MONEY_DECIMAL_PLACES = 6


class UnknownCurrency(ValueError):
    pass


def minor_unit(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}") from None


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half away from zero (ROUND_HALF_UP)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def parse_decimal(value) -> Decimal:
    """A finite Decimal from a str, int or Decimal; floats are refused (they are not exact)."""
    if isinstance(value, bool | float):
        raise ValueError("must be a decimal string or an integer, not a float")
    try:
        result = Decimal(value) if isinstance(value, (str, int, Decimal)) else None
    except InvalidOperation:
        result = None
    if result is None or not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def plain_decimal(value: Decimal) -> str:
    """A decimal as a plain string without trailing zeros or exponent: 1.500000 → "1.5", 1E+2 → "100"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def money_string(amount: Decimal, currency: str) -> str:
    """An amount as the API shows money: exactly the currency's minor unit, "12.50", "1200" (JPY)."""
    return str(round_money(amount, currency))
