"""One way to show figures on every dashboard: money with its currency's decimals and thousands
separators, counts with separators, changes as signed percentages."""

from decimal import Decimal

from prm.core.money import round_money


def format_money(amount, currency: str) -> str:
    """12345.5, "USD" → "12,345.50"; JPY has no decimals, KWD three."""
    return format(round_money(Decimal(amount or 0), currency), ",f")


def format_number(value) -> str:
    """A count or a quantity: 1234567 → "1,234,567"; 12.50 → "12.5"."""
    value = Decimal(value or 0).normalize()
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1)), ",f")
    return format(value, ",f")


def format_change(current, previous) -> tuple[str, str]:
    """(text, css class) for the change from `previous` to `current`: ("+12.5 %", "delta-up");
    ("new", "") when there was nothing before."""
    current, previous = Decimal(current or 0), Decimal(previous or 0)
    if previous == 0:
        return ("new", "") if current else ("—", "")
    change = ((current - previous) * 100 / previous).quantize(Decimal("0.1"))
    return (f"{'+' if change > 0 else ''}{change} %", "delta-up" if change > 0 else "delta-down" if change < 0 else "")
