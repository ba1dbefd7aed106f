"""Where the open period's spend is heading: the projection the customer dashboard shows and the
price-impact preview of a contract change (prm/billing/price_impact.py) reuses.

Projection (end-of-period spend). The rule is linear: what has been used so far, divided by the
elapsed fraction of the period. Applied to a whole invoice total it would also multiply flat fees,
the minimum-commitment true-up and credits, which do not grow with time, so it is applied where it
is linear, line by line:

- a usage line of a metric that accumulates (sum, count) has its quantity divided by the elapsed
  fraction of its window (the service window, or its phase of a plan change) and is priced again
  by its own charge (free units, tiers and packages stay right); a level metric (max, latest,
  distinct count) keeps its quantity: its level so far is the best guess for the period;
- flat fees are owed whole already and are kept; the minimum commitment still applies (the
  projected charges, or the minimum if higher); credit packs bought are kept; prepaid credits pay
  the projected charges up to what was available.

Each projected line is rounded once (round_money) and the totals are sums of rounded lines, like
an invoice. The elapsed fraction is measured at the draft's `rated_at` (the moment its figures
describe). Less than a day into a window is too early to extrapolate: no projection then.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from prm.billing.credits import CREDIT_LINE, PACK_LINE
from prm.billing.models import Invoice, InvoiceLine
from prm.core.money import parse_decimal, round_money
from prm.plans import pricing
from prm.plans.models import Aggregation

# Quantities that accumulate over time (extrapolated); the others are levels (kept).
ACCUMULATING = frozenset({Aggregation.SUM, Aggregation.COUNT})
MIN_ELAPSED = timedelta(days=1)
# Lines that are not charges of the plan (rating adds them after the charges).
NOT_CHARGES = frozenset({pricing.MINIMUM_COMMITMENT, PACK_LINE, CREDIT_LINE})
ZERO = Decimal(0)
QUANTUM = Decimal("0.000001")  # usage quantities keep six places (QUANTITY_DECIMAL_PLACES)
EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


def seconds(delta: timedelta) -> int:
    return delta.days * 86400 + delta.seconds


def line_window(invoice: Invoice, line: InvoiceLine) -> tuple[datetime, datetime]:
    """The stretch of time a line's usage was read over: its phase of a plan change, or the
    invoice's service window."""
    phase = line.charge.get("phase") or {}
    if phase.get("start") and phase.get("end"):
        return datetime.fromisoformat(phase["start"]), datetime.fromisoformat(phase["end"])
    return invoice.service_start, invoice.service_end


def line_charge(line: InvoiceLine) -> pricing.Charge:
    """The pricing-engine charge of a usage line (its stored definition less the notes rating
    adds to it, "phase" and "prorated")."""
    model = line.charge["model"]
    allowed = ("model", *pricing.MODEL_FIELDS[model])
    return pricing.parse_charge({k: v for k, v in line.charge.items() if k in allowed}, path="charge")


def is_usage_line(line: InvoiceLine) -> bool:
    return line.metric_id is not None and line.model in pricing.USAGE_MODELS


def price_line(line: InvoiceLine, quantity: Decimal, currency: str) -> Decimal:
    amount, _tiers = pricing.charge_amount(line_charge(line), quantity)
    return round_money(amount, currency)


@dataclass
class ProjectedLine:
    line: InvoiceLine
    quantity: Decimal
    amount: Decimal
    extrapolated: bool  # False: kept as it is (a flat fee, a level metric, a finished window)


@dataclass
class Projection:
    lines: list[ProjectedLine]
    charges: Decimal  # the plan's charges projected (the subtotal)
    minimum: Decimal | None  # the minimum the period owes, when the draft shows a true-up
    due: Decimal  # the charges, or the minimum if higher: what prepaid credits pay
    packs: Decimal
    credits: Decimal  # prepaid credits drawn (positive)
    total: Decimal


def elapsed(start: datetime, end: datetime, as_of: datetime) -> tuple[timedelta, timedelta]:
    """(the part of [start, end) elapsed at `as_of`, the whole of it)."""
    return min(max(as_of, start), end) - start, end - start


def extrapolate(quantity: Decimal, so_far: timedelta, whole: timedelta) -> Decimal:
    """quantity ÷ (so_far ÷ whole), to the six places of a usage quantity."""
    exact = EXACT.divide(quantity * seconds(whole), Decimal(seconds(so_far)))
    return exact.quantize(QUANTUM, rounding=decimal.ROUND_HALF_UP)


def project(invoice: Invoice) -> Projection | None:
    """The draft's end-of-period total at the pace so far (see the module docstring); None when
    less than a day of a usage line's window has passed at the draft's `rated_at`."""
    currency, as_of = invoice.currency, invoice.rated_at
    lines = list(invoice.lines.all())
    projected: list[ProjectedLine] = []
    for line in lines:
        if line.model in NOT_CHARGES:
            continue
        if not is_usage_line(line) or line.metric.aggregation not in ACCUMULATING:
            projected.append(ProjectedLine(line, line.quantity, line.amount, extrapolated=False))
            continue
        so_far, whole = elapsed(*line_window(invoice, line), as_of)
        if so_far >= whole:
            projected.append(ProjectedLine(line, line.quantity, line.amount, extrapolated=False))
            continue
        if so_far < MIN_ELAPSED:
            return None
        quantity = extrapolate(line.quantity, so_far, whole)
        projected.append(ProjectedLine(line, quantity, price_line(line, quantity, currency), extrapolated=True))
    charges = sum((each.amount for each in projected), ZERO)
    true_ups = [line.amount for line in lines if line.model == pricing.MINIMUM_COMMITMENT]
    # The true-up brings the subtotal up to the minimum: subtotal + true-up is the minimum owed.
    minimum = invoice.subtotal + sum(true_ups, ZERO) if true_ups else None
    due = max(charges, minimum) if minimum is not None else charges
    packs = sum((line.amount for line in lines if line.model == PACK_LINE), ZERO)
    credits = ZERO
    for line in lines:
        if line.model == CREDIT_LINE:
            available = parse_decimal(line.charge.get("available", "0"))
            credits += round_money(min(available, max(due, ZERO)), currency)
    return Projection(
        lines=projected,
        charges=charges,
        minimum=minimum,
        due=due,
        packs=packs,
        credits=credits,
        total=due + packs - credits,
    )
