"""The price impact of a contract change, shown before it is confirmed.

For a proposed plan or commitment change (a `ChangeProposal`, already checked by the customers
services) two comparisons, each line by line in Decimal, "as is" against "with the change":

1. The open billing period, projected to its end. Usage so far is extrapolated by the rule the
   customer dashboard uses (prm/billing/projection.py): a metric that accumulates (sum, count)
   continues at its pace so far over the service window, a level metric (max, latest, distinct)
   stays at its level so far; usage already measured is used as measured. Both sides are then
   rated exactly as billing rates the period (`subscription_rate`): the change cuts the period at
   its moment, flat fees are prorated on each side, usage is split there, the minimum commitment
   is owed for the time each applied. A change taking effect after the period changes nothing in
   it. Less than a day into the service window is too early to extrapolate: no figures then.

2. A full period at last period's usage: the plan's charges priced by the quote engine
   (prm/plans/pricing.py) over the usage the customer had in the previous billing period, under
   the latest terms (a scheduled change included) and under those terms with the change; flat fees
   and the minimum whole.

Prepaid credits and credit packs are left out of both: they pay for what is charged, whatever
the terms, and do not change what the change costs. Nothing here writes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.utils import timezone

from prm.billing.projection import ACCUMULATING, MIN_ELAPSED, ZERO, elapsed, extrapolate
from prm.billing.services import _tidy, service_window, subscription_rate
from prm.core.money import money_string, plain_decimal
from prm.core.periods import BillingPeriod
from prm.customers.models import ChangeKind, Subscription, SubscriptionChange
from prm.customers.services import ChangeProposal, effective_commitment
from prm.plans import pricing
from prm.plans.models import Metric, PlanVersion
from prm.usage.selectors import period_usage

FLAT_FEES = "Flat fees"
TRUE_UP = "Minimum commitment true-up"


@dataclass(frozen=True)
class ImpactRow:
    """One item of the bill on both sides: a metric's usage charges, the flat fees, the true-up."""

    item: str
    metric: str | None
    as_is: Decimal
    with_change: Decimal

    @property
    def difference(self) -> Decimal:
        return self.with_change - self.as_is


@dataclass(frozen=True)
class Comparison:
    title: str
    period: BillingPeriod  # the period priced
    usage_period: BillingPeriod  # whose usage prices it
    usage: dict[str, Decimal]  # metric code → the quantity priced (projected, for the open period)
    as_is: pricing.Quote
    with_change: pricing.Quote
    rows: tuple[ImpactRow, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def difference(self) -> Decimal:
        return self.with_change.total - self.as_is.total

    @property
    def usage_shown(self) -> list[tuple[str, str]]:
        return [(code, plain_decimal(quantity)) for code, quantity in self.usage.items()]


@dataclass(frozen=True)
class PriceImpact:
    currency: str
    as_of: datetime
    open_period: BillingPeriod
    current: Comparison | None  # the open period projected; None when it cannot be (see note)
    current_note: str
    full_period: Comparison

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "open_period": _comparison_dict(self.current, self.currency) if self.current else None,
            "open_period_note": self.current_note,
            "full_period": _comparison_dict(self.full_period, self.currency),
        }


def change_impact(*, proposal: ChangeProposal, as_of: datetime | None = None) -> PriceImpact:
    """What the proposed change does to the open period's projected cost and to a full period at
    last period's usage (see the module docstring)."""
    subscription = proposal.subscription
    as_of = as_of or timezone.now()
    period = BillingPeriod.containing(as_of)
    changes = list(subscription.changes.in_force())
    changed, changed_changes = _with_change(subscription, proposal, changes)
    currency = subscription.customer.currency
    current, note = _open_period(subscription, changes, changed, changed_changes, period, as_of)
    return PriceImpact(
        currency=currency,
        as_of=as_of,
        open_period=period,
        current=current,
        current_note=note,
        full_period=_full_period(subscription, proposal, period),
    )


def _with_change(subscription: Subscription, proposal: ChangeProposal, changes: list):
    """The subscription and its changes as they would be with the proposal made (in memory only).

    The proposal is the latest change of its kind (the services refuse one slipped in before a
    scheduled one), so the latest terms become its target and `terms_at` walks back through it.
    """
    changed = copy.copy(subscription)
    if proposal.kind == ChangeKind.PLAN:
        changed.plan_version = proposal.to_plan_version
    else:
        changed.commitment = proposal.to_commitment
    proposed = SubscriptionChange(
        subscription=changed,
        kind=proposal.kind,
        effective_at=proposal.effective_at,
        from_plan_version=proposal.from_plan_version if proposal.kind == ChangeKind.PLAN else None,
        to_plan_version=proposal.to_plan_version if proposal.kind == ChangeKind.PLAN else None,
        from_commitment=proposal.from_commitment,
        to_commitment=proposal.to_commitment,
    )
    return changed, [*changes, proposed]


# --- the open period, projected -----------------------------------------------------------------


class _ProjectedUsage:
    """`usage_of(metric=, start=, end=)` for rating: measured where [start, end) has passed at
    `as_of`, projected beyond it at the pace of the service window so far."""

    def __init__(self, customer_id: int, window_start: datetime, as_of: datetime):
        self.actual = partial(period_usage, customer_id=customer_id)
        self.window_start, self.as_of = window_start, as_of
        self._so_far: dict[int, Decimal] = {}

    def so_far(self, metric: Metric) -> Decimal:
        """The metric's usage over the service window up to as_of."""
        if metric.pk not in self._so_far:
            self._so_far[metric.pk] = self.actual(metric=metric, start=self.window_start, end=self.as_of)
        return self._so_far[metric.pk]

    def __call__(self, *, metric: Metric, start: datetime, end: datetime) -> Decimal:
        if end <= self.as_of:
            return self.actual(metric=metric, start=start, end=end)
        if metric.aggregation not in ACCUMULATING:  # a level: as it stands so far
            return (
                self.actual(metric=metric, start=start, end=self.as_of) if start < self.as_of else self.so_far(metric)
            )
        measured = self.actual(metric=metric, start=start, end=self.as_of) if start < self.as_of else ZERO
        # The rest of [start, end) at the window's pace: extrapolating the usage so far over the
        # elapsed time plus the time to come, less what is already there.
        so_far, total = self.as_of - self.window_start, self.so_far(metric)
        to_come = end - max(start, self.as_of)
        return measured + extrapolate(total, so_far, so_far + to_come) - total


def _open_period(subscription, changes, changed, changed_changes, period, as_of):
    window = service_window(subscription, period)
    if window is None:
        return None, f"{subscription.external_id} is not active in {period}."
    so_far, whole = elapsed(*window, as_of)
    if so_far < min(MIN_ELAPSED, whole):
        return None, (
            f"Less than a day of {period} has passed for {subscription.external_id}: too early to project its usage "
            "to the end of the period."
        )
    usage_of = _ProjectedUsage(subscription.customer_id, window[0], as_of)
    as_is = subscription_rate(subscription=subscription, period=period, changes=changes, usage_of=usage_of)
    with_change = subscription_rate(subscription=changed, period=period, changes=changed_changes, usage_of=usage_of)
    codes = {line.metric for line in (*as_is.lines, *with_change.lines) if line.metric}
    metrics = Metric.objects.filter(code__in=codes).order_by("code") if codes else []
    usage = {metric.code: _tidy(usage_of(metric=metric, start=window[0], end=window[1])) for metric in metrics}
    projected = so_far < whole
    title = f"{period.start:%B %Y}, projected to its end" if projected else f"{period.start:%B %Y}, as measured"
    notes = []
    if projected:
        notes.append(
            f"Usage measured up to {as_of:%Y-%m-%d %H:%M} UTC ({_days(so_far)} of {_days(whole)} days); usage "
            "that adds up continues at that pace, levels (the most, the latest, distinct counts) stay as they are."
        )
    return Comparison(
        title=title, period=period, usage_period=period, usage=usage, as_is=as_is, with_change=with_change,
        rows=_rows(as_is, with_change), notes=tuple(notes),
    ), ""  # fmt: skip


def _days(delta) -> str:
    return plain_decimal(Decimal(delta.days * 86400 + delta.seconds) / Decimal(86400))


# --- a full period at last period's usage -------------------------------------------------------


def _full_period(subscription: Subscription, proposal: ChangeProposal, period: BillingPeriod) -> Comparison:
    usage_period = period.previous()
    currency = subscription.customer.currency
    as_is_terms = (subscription.plan_version, subscription.commitment)
    if proposal.kind == ChangeKind.PLAN:
        with_terms = (proposal.to_plan_version, subscription.commitment)
    else:
        with_terms = (subscription.plan_version, proposal.to_commitment)
    metrics = _metrics(as_is_terms[0], with_terms[0])
    usage = {
        metric.code: _tidy(
            period_usage(
                customer_id=subscription.customer_id, metric=metric, start=usage_period.start, end=usage_period.end
            )
        )
        for metric in metrics
    }

    def quote(version: PlanVersion, commitment: Decimal | None) -> pricing.Quote:
        return pricing.price(
            pricing.parse_charges(version.charges),
            usage,
            currency=currency,
            minimum_commitment=effective_commitment(commitment, version) or None,
        )

    as_is, with_change = quote(*as_is_terms), quote(*with_terms)
    notes = []
    if subscription.started_at > usage_period.start:
        notes.append(
            f"{subscription.external_id} started {subscription.started_at:%Y-%m-%d}: {usage_period}'s usage covers "
            "only part of that period."
        )
    return Comparison(
        title=f"A full period at {usage_period.start:%B %Y}'s usage", period=period.next(), usage_period=usage_period,
        usage=usage, as_is=as_is, with_change=with_change, rows=_rows(as_is, with_change), notes=tuple(notes),
    )  # fmt: skip


# --- shared -------------------------------------------------------------------------------------


def _metrics(*versions: PlanVersion) -> list[Metric]:
    codes = {charge["metric"] for version in versions for charge in version.charges if charge.get("metric")}
    return list(Metric.objects.filter(code__in=codes).order_by("code")) if codes else []


def _item(line: pricing.Line) -> tuple[str, str | None]:
    if line.model == pricing.MINIMUM_COMMITMENT:
        return TRUE_UP, None
    if line.metric:
        return f"{line.metric} usage", line.metric
    return FLAT_FEES, None


def _rows(as_is: pricing.Quote, with_change: pricing.Quote) -> tuple[ImpactRow, ...]:
    """Both sides' lines summed by item (a plan change mid-period prices an item in two phases),
    in the order the bill shows them, the true-up last."""
    items: dict[str, dict] = {}
    for side, quote in (("as_is", as_is), ("with_change", with_change)):
        for line in quote.lines:
            item, metric = _item(line)
            row = items.setdefault(item, {"metric": metric, "as_is": ZERO, "with_change": ZERO})
            row[side] += line.amount
    ordered = sorted(items.items(), key=lambda entry: entry[0] == TRUE_UP)
    return tuple(
        ImpactRow(item=item, metric=row["metric"], as_is=row["as_is"], with_change=row["with_change"])
        for item, row in ordered
    )


def _quote_dict(quote: pricing.Quote, currency: str) -> dict:
    return {
        "lines": [
            {
                "metric": line.metric,
                "model": line.model,
                "quantity": plain_decimal(line.quantity),
                "amount": money_string(line.amount, currency),
                "description": line.description,
            }
            for line in quote.lines
        ],
        "subtotal": money_string(quote.subtotal, currency),
        "total": money_string(quote.total, currency),
    }


def _comparison_dict(comparison: Comparison, currency: str) -> dict:
    return {
        "title": comparison.title,
        "period": str(comparison.period),
        "usage_period": str(comparison.usage_period),
        "usage": {code: plain_decimal(quantity) for code, quantity in comparison.usage.items()},
        "rows": [
            {
                "item": row.item,
                "metric": row.metric,
                "as_is": money_string(row.as_is, currency),
                "with_change": money_string(row.with_change, currency),
                "difference": money_string(row.difference, currency),
            }
            for row in comparison.rows
        ],
        "as_is": _quote_dict(comparison.as_is, currency),
        "with_change": _quote_dict(comparison.with_change, currency),
        "difference": money_string(comparison.difference, currency),
        "notes": list(comparison.notes),
    }
