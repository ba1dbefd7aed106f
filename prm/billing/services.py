"""Writes of billing: rating a subscription for a period, drafts, finalizing, voiding, crediting.

Money flows one way here: usage rollups → `subscription_rate` (the pure pricing engine) → the
draft invoice's lines → finalized (numbered, immutable) → corrected only by credit notes or void.
"""

import decimal
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.money import parse_decimal, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import ChangeKind, Subscription
from prm.notifications.webhooks import portal_url, publish_event
from prm.plans import pricing
from prm.plans.models import Metric, PlanVersion
from prm.usage.selectors import period_usage

from . import credits
from .models import CreditNote, DocumentSequence, Invoice, InvoiceLine, InvoiceStatus
from .signals import invoice_corrected

INVOICE_SEQUENCE = ("invoice", "INV")
CREDIT_NOTE_SEQUENCE = ("credit_note", "CN")

# Proration divides by the period's length; 60 significant digits decide the rounding of any
# realistic amount exactly (a quotient that is exactly on a half cent terminates well before).
_PRORATION = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


# --- rating -----------------------------------------------------------------------------------


def service_window(subscription: Subscription, period: BillingPeriod) -> tuple[datetime, datetime] | None:
    """The part of `period` the subscription was active, [start, end), or None if it was not.

    The start is floored to the hour because usage is read from hourly rollups: the hour the
    subscription started in counts whole (an event at 10:05 for a subscription started at
    10:30 is that customer's usage all the same).
    """
    started = subscription.started_at.replace(minute=0, second=0, microsecond=0)
    start = max(period.start, started)
    end = min(period.end, subscription.ended_at or period.end)
    return (start, end) if start < end else None


@dataclass(frozen=True)
class Phase:
    """A stretch of the period on one plan version: a plan change mid-period makes two."""

    start: datetime  # exact, for prorating flat fees
    end: datetime
    usage_start: datetime  # the first phase reads usage from the hour the subscription started
    version: PlanVersion

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def as_dict(self) -> dict:
        return {
            "plan": self.version.plan.code,
            "version": self.version.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


@dataclass(frozen=True)
class CommitmentSegment:
    """A stretch of the period under one commitment (a raise takes effect mid-period)."""

    start: datetime
    end: datetime
    amount: Decimal | None  # what the customer is held to; None: no minimum
    source: str  # "subscription" (its own commitment) or "plan" (the version's minimum)

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def _active_changes(subscription: Subscription) -> list:
    """The changes rating reads: not cancelled, and not pending or rejected approval."""
    return list(subscription.changes.in_force())


def _exact_window(subscription: Subscription, period: BillingPeriod) -> tuple[datetime, datetime]:
    return max(period.start, subscription.started_at), min(period.end, subscription.ended_at or period.end)


def rating_phases(subscription: Subscription, period: BillingPeriod, changes=None, versions=None) -> list[Phase]:
    """The plan versions the subscription was on during `period`, cut where its plan changed.

    `versions` ({pk: PlanVersion with its plan}) may hold them already loaded (the period close's
    batches load every version once); any missing is read."""
    start, end = _exact_window(subscription, period)
    if start >= end:
        return []
    changes = _active_changes(subscription) if changes is None else changes
    cuts = sorted({c.effective_at for c in changes if c.kind == ChangeKind.PLAN and start < c.effective_at < end})
    bounds = [start, *cuts, end]
    version_ids = [subscription.terms_at(moment, changes).plan_version_id for moment in bounds[:-1]]
    known = versions or {}
    missing = set(version_ids) - set(known)
    versions = {**known, **PlanVersion.objects.select_related("plan").in_bulk(missing)} if missing else known
    usage_start = service_window(subscription, period)[0]
    return [
        Phase(start=a, end=b, usage_start=usage_start if index == 0 else a, version=versions[version_id])
        for index, (a, b, version_id) in enumerate(zip(bounds, bounds[1:], version_ids, strict=False))
    ]


def commitment_segments(
    subscription: Subscription, period: BillingPeriod, changes=None, phases=None
) -> list[CommitmentSegment]:
    """The minimum owed over each stretch of `period`: cut wherever the plan or the commitment changed
    (a plan's minimum applies while the subscription has no commitment of its own)."""
    start, end = _exact_window(subscription, period)
    if start >= end:
        return []
    changes = _active_changes(subscription) if changes is None else changes
    phases = rating_phases(subscription, period, changes) if phases is None else phases
    cuts = sorted({c.effective_at for c in changes if start < c.effective_at < end})
    bounds = [start, *cuts, end]
    segments = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        commitment = subscription.terms_at(a, changes).commitment
        version = next(phase.version for phase in phases if phase.start <= a < phase.end)
        if commitment is not None:
            segments.append(CommitmentSegment(a, b, commitment, "subscription"))
        else:
            segments.append(CommitmentSegment(a, b, version.minimum_commitment, "plan"))
    return segments


def _prorate(amount: Decimal, active: int, whole: int) -> Decimal:
    if active == whole:
        return amount
    return _PRORATION.divide(amount * active, Decimal(whole))


def _owed_minimum(segments: list[CommitmentSegment], whole: int) -> Decimal | None:
    """The period's minimum: each segment's commitment for the share of the period it covers,
    summed exactly (rounded once, by the engine's true-up)."""
    if not any(segment.amount for segment in segments):
        return None
    if len(segments) == 1:
        return _prorate(segments[0].amount, segments[0].seconds, whole)
    total = sum((segment.amount or Decimal(0)) * segment.seconds for segment in segments)
    return _PRORATION.divide(total, Decimal(whole))


def _tidy(quantity: Decimal) -> Decimal:
    """The same number without the storage's trailing zeros (PostgreSQL gives 12345.000000), so
    lines read the same on every database: 12345, 0.5."""
    normal = quantity.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day{'s' if seconds != 86400 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds:,} seconds"


def _moment(moment: datetime) -> str:
    return f"{moment:%-d %b %H:%M}"


def _phase_quote(subscription: Subscription, phase: Phase, whole: int, metrics: dict, usage_of=None) -> pricing.Quote:
    """Price one phase: its version's charges over its usage, flat fees for its share of the period."""
    charges = pricing.parse_charges(phase.version.charges)
    usage_of = usage_of or partial(period_usage, customer_id=subscription.customer_id)
    usage = {
        charge.metric: _tidy(usage_of(metric=metrics[charge.metric], start=phase.usage_start, end=phase.end))
        for charge in charges
        if charge.metric
    }
    prorated = [
        replace(charge, amount=_prorate(charge.amount, phase.seconds, whole)) if charge.model == "flat" else charge
        for charge in charges
    ]
    quote = pricing.price(prorated, usage, currency=phase.version.plan.currency)
    if phase.seconds == whole:
        return quote
    # Say on the line how a prorated fee was reached (the engine only sees the prorated amount).
    share = f"{_duration(phase.seconds)} of {_duration(whole)}"
    lines = tuple(
        replace(line, description=f"Flat fee of {plain_decimal(charge.amount)} per period, prorated for {share}")
        if line.model == "flat"
        else line
        for line, charge in zip(quote.lines, charges, strict=True)
    )
    return replace(quote, lines=lines)


def subscription_rate(
    *, subscription: Subscription, period: BillingPeriod, changes=None, usage_of=None, versions=None, metrics=None
) -> pricing.Quote:
    """Price the subscription for `period` from its customer's usage.

    - each phase (a stretch on one plan version; a plan change mid-period makes two) prices its
      version's usage charges over its own usage — split at the moment of the change — and its
      flat fees prorated by its seconds / the period's seconds, computed exactly and rounded once;
    - the minimum commitment (the subscription's own if set, else the version's) is owed for
      the time each applied, summed exactly, and a true-up line brings the total up to it.
    A subscription active the whole month on one plan pays its fees and minimum whole.

    The price-impact preview (prm/billing/price_impact.py) rates the same way what has not happened
    yet: `changes` with a proposed one added, and `usage_of(metric=, start=, end=)` projecting usage.
    The period close's batches (prm/billing/batch.py) pass `usage_of` reading usage they loaded for
    the whole batch, and `versions` ({pk: PlanVersion}) and `metrics` ({code: Metric}) loaded once.
    """
    changes = _active_changes(subscription) if changes is None else changes
    phases = rating_phases(subscription, period, changes, versions)
    return _rate_phases(subscription, period, changes, phases, metrics=metrics, usage_of=usage_of)


def _rate_phases(
    subscription: Subscription, period: BillingPeriod, changes: list, phases: list[Phase], *, metrics, usage_of
) -> pricing.Quote:
    if not phases:
        raise ValidationError({"period": f"{subscription.external_id} was not active in {period}."})
    currency = phases[0].version.plan.currency
    whole = int((period.end - period.start).total_seconds())
    if metrics is None:
        codes = {c["metric"] for phase in phases for c in phase.version.charges if c.get("metric")}
        metrics = {m.code: m for m in Metric.objects.filter(code__in=codes)}
    lines: list[pricing.Line] = []
    for phase in phases:
        quote = _phase_quote(subscription, phase, whole, metrics, usage_of)
        if len(phases) > 1:
            label = f"{phase.version} from {_moment(phase.start)} to {_moment(phase.end)}: "
            lines.extend(replace(line, description=label + line.description) for line in quote.lines)
        else:
            lines.extend(quote.lines)
    subtotal = round_money(sum((line.amount for line in lines), Decimal(0)), currency)
    segments = commitment_segments(subscription, period, changes, phases)
    true_up = pricing.minimum_true_up(subtotal, _owed_minimum(segments, whole), currency=currency)
    if true_up is not None:
        lines.append(replace(true_up, description=true_up.description + _minimum_explained(segments, whole)))
    total = subtotal + (true_up.amount if true_up else Decimal(0))
    return pricing.Quote(currency=currency, lines=tuple(lines), subtotal=subtotal, total=total)


def _minimum_explained(segments: list[CommitmentSegment], whole: int) -> str:
    if len(segments) == 1:
        segment = segments[0]
        if segment.seconds == whole:
            return ""
        share = f"{_duration(segment.seconds)} of {_duration(whole)}"
        return f" (minimum of {plain_decimal(segment.amount)} prorated for {share})"
    parts = ", then ".join(
        f"{plain_decimal(segment.amount or Decimal(0))} for {_duration(segment.seconds)}" for segment in segments
    )
    return f" (commitment {parts}, of {_duration(whole)})"


def _line_charges(
    subscription: Subscription, period: BillingPeriod, quote: pricing.Quote, changes: list, phases: list[Phase]
) -> list[dict]:
    """The charge definition behind each line of `quote` (lines follow the phases' charges, then
    the true-up); a prorated fee says by how much, a phase's line which phase it belongs to."""
    whole = int((period.end - period.start).total_seconds())
    charges = []
    for phase in phases:
        for charge in pricing.parse_charges(phase.version.charges):
            definition = pricing.charge_to_dict(charge)
            if charge.model == "flat" and phase.seconds != whole:
                definition["prorated"] = {"active_seconds": phase.seconds, "period_seconds": whole}
            if len(phases) > 1:
                definition["phase"] = phase.as_dict()
            charges.append(definition)
    if len(quote.lines) > len(charges):
        segments = commitment_segments(subscription, period, changes, phases)
        if len(segments) == 1:
            segment = segments[0]
            true_up = {"model": pricing.MINIMUM_COMMITMENT, "amount": plain_decimal(segment.amount)}
            true_up["source"] = segment.source
            if segment.seconds != whole:
                true_up["prorated"] = {"active_seconds": segment.seconds, "period_seconds": whole}
        else:
            true_up = {
                "model": pricing.MINIMUM_COMMITMENT,
                "amount": plain_decimal(_owed_minimum(segments, whole)),
                "segments": [
                    {
                        "start": s.start.isoformat(),
                        "end": s.end.isoformat(),
                        "source": s.source,
                        "amount": None if s.amount is None else plain_decimal(s.amount),
                    }
                    for s in segments
                ],  # fmt: skip
                "period_seconds": whole,
            }
        charges.append(true_up)
    return charges


def _tiers_json(line: pricing.Line) -> list[dict]:
    return [
        {
            "tier": tier.index + 1,
            "up_to": None if tier.up_to is None else plain_decimal(tier.up_to),
            "units": plain_decimal(tier.units),
            "unit_amount": plain_decimal(tier.unit_amount),
            "flat_amount": plain_decimal(tier.flat_amount),
            "amount": plain_decimal(tier.amount),
        }
        for tier in line.tiers
    ]


# --- drafts -----------------------------------------------------------------------------------


def _immutable(invoice: Invoice) -> ValidationError:
    return ValidationError(
        {"status": f"Invoice {invoice.number} is {invoice.status}: finalized invoices are immutable; "
         "correct one with a credit note or void it."}
    )  # fmt: skip


@dataclass(frozen=True)
class InvoiceRating:
    """What rating gives an invoice: the quote, the charge behind each of its lines, the version
    the period ended on (the subscription's own may be a change scheduled later), and the window."""

    quote: pricing.Quote
    charges: list[dict]
    plan_version: PlanVersion
    service_start: datetime
    service_end: datetime

    def lines(self, invoice: Invoice, metric_ids: dict[str, int]) -> list[InvoiceLine]:
        """The quote's lines as unsaved invoice lines (`metric_ids`: {code: pk})."""
        return [
            InvoiceLine(
                invoice=invoice,
                position=position,
                metric_id=metric_ids.get(line.metric) if line.metric else None,
                model=line.model,
                quantity=line.quantity,
                amount=line.amount,
                description=line.description,
                charge=self.charges[position],
                tiers=_tiers_json(line),
            )
            for position, line in enumerate(self.quote.lines)
        ]

    def apply(self, invoice: Invoice, extra: list[InvoiceLine], rated_at: datetime) -> Invoice:
        """Set the invoice's rated fields (not saved); `extra`: its credit pack and credit lines."""
        invoice.plan_version = self.plan_version
        invoice.currency = self.quote.currency
        invoice.service_start, invoice.service_end = self.service_start, self.service_end
        invoice.subtotal = self.quote.subtotal
        invoice.total = self.quote.total + sum((line.amount for line in extra), Decimal(0))
        invoice.rated_at = rated_at
        return invoice


def invoice_rating(
    *, subscription: Subscription, period: BillingPeriod, changes=None, versions=None, metrics=None, usage_of=None
) -> InvoiceRating:
    """Rate subscription · period for its invoice: the one rating both the per-subscription path
    (`_rate_into`) and the period close's batches (prm/billing/batch.py) use; they differ only in
    where usage and the already-loaded rows (`changes`, `versions`, `metrics`) come from."""
    changes = _active_changes(subscription) if changes is None else changes
    phases = rating_phases(subscription, period, changes, versions)
    quote = _rate_phases(subscription, period, changes, phases, metrics=metrics, usage_of=usage_of)
    start, end = service_window(subscription, period)
    charges = _line_charges(subscription, period, quote, changes, phases)
    return InvoiceRating(quote, charges, phases[-1].version, start, end)


def _rate_into(invoice: Invoice, subscription: Subscription, period: BillingPeriod) -> Invoice:
    """Recompute a locked draft's lines and totals from usage (replacing its lines)."""
    rating = invoice_rating(subscription=subscription, period=period)
    quote = rating.quote
    codes = {line.metric for line in quote.lines if line.metric}
    metrics = dict(Metric.objects.filter(code__in=codes).values_list("code", "pk"))
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(rating.lines(invoice, metrics))
    # Credit packs bought in the period, then the prepaid credits drawn (see credits.py).
    extra = credits.credit_lines(invoice, subscription, period, quote, first_position=len(quote.lines))
    InvoiceLine.objects.bulk_create(extra)
    rating.apply(invoice, extra, timezone.now())
    invoice.save()
    return invoice


def invoice_refresh_draft(*, subscription: Subscription, period: BillingPeriod) -> Invoice:
    """Create or recompute the draft invoice of subscription · period (the live estimate).

    Refused once the invoice is finalized or void: those never change.
    """
    with transaction.atomic():
        subscription, invoice = _locked_draft(subscription, period)
        return _rate_into(invoice, subscription, period)


def invoice_draft_ensure(*, subscription: Subscription, period: BillingPeriod) -> Invoice:
    """The draft of subscription · period, created empty if there is none yet (not rated: for the
    period close, whose finalizing rates it once, from the closed period's usage)."""
    with transaction.atomic():
        return _locked_draft(subscription, period)[1]


def _locked_draft(subscription: Subscription, period: BillingPeriod) -> tuple[Subscription, Invoice]:
    subscription = Subscription.objects.select_related("plan_version__plan").get(pk=subscription.pk)
    window = service_window(subscription, period)
    if window is None:
        raise ValidationError({"period": f"{subscription.external_id} was not active in {period}."})
    invoice, _created = Invoice.objects.get_or_create(
        subscription=subscription,
        period=str(period),
        defaults={
            "customer_id": subscription.customer_id,
            "plan_version_id": subscription.plan_version_id,
            "period_start": period.start,
            "period_end": period.end,
            "service_start": window[0],
            "service_end": window[1],
            "currency": subscription.plan_version.plan.currency,
            "rated_at": timezone.now(),
        },
    )
    invoice = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
    if not invoice.is_draft:
        raise _immutable(invoice)
    return subscription, invoice


# --- numbering --------------------------------------------------------------------------------


def _next_number(sequence: tuple[str, str], moment: datetime) -> str:
    """The next number of a sequence; call inside the transaction that issues the document."""
    return numbers_reserve(sequence, 1, moment)[0]


def numbers_reserve(sequence: tuple[str, str], count: int, moment: datetime) -> list[str]:
    """The next `count` numbers of a sequence, in order, taken in one update of its row; call
    inside the transaction that issues the documents (a rollback gives them back: no gaps)."""
    name, prefix = sequence
    DocumentSequence.objects.get_or_create(name=name)
    row = DocumentSequence.objects.select_for_update().get(name=name)
    first = row.last_number + 1
    row.last_number += count
    row.save(update_fields=["last_number"])
    # The year is a label for people; the counter never resets, so numbers only ever increase.
    return [f"{prefix}-{moment.year:04d}-{number:06d}" for number in range(first, row.last_number + 1)]


# --- finalize, void, credit -------------------------------------------------------------------


def _require_manager(actor, what: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_manager:
        raise PermissionDenied(f"Only channel managers {what}.")


def invoice_finalize(*, invoice: Invoice, actor=None) -> Invoice:
    """Rate the draft one last time, number it and make it final.

    Only for a closed period (the usage it counts can no longer change: late events are
    quarantined); normally called by the period close. Finalizing a finalized invoice returns
    it unchanged. `actor` None is the system (the period close); a person must be a manager.
    """
    if actor is not None:
        _require_manager(actor, "finalize invoices")
    with transaction.atomic():
        rows = Invoice.objects if actor is None else Invoice.objects.visible_to(actor)
        invoice = rows.select_for_update(of=("self",)).get(pk=invoice.pk)
        if invoice.status == InvoiceStatus.FINALIZED:
            return invoice
        if invoice.status == InvoiceStatus.VOID:
            raise _immutable(invoice)
        if not ClosedBillingPeriod.objects.filter(period=invoice.period).exists():
            raise ValidationError(
                {"period": f"The billing period {invoice.period} is not closed: invoices are finalized when it is "
                 f"(manage.py close_period {invoice.period})."}
            )  # fmt: skip
        subscription = Subscription.objects.select_related("plan_version__plan").get(pk=invoice.subscription_id)
        # Locked before the last rating, so no other finalization spends the credits it draws.
        credits.grants_lock(customer_id=invoice.customer_id)
        _rate_into(invoice, subscription, BillingPeriod.parse(invoice.period))
        now = timezone.now()
        invoice.number = _next_number(INVOICE_SEQUENCE, now)
        invoice.status = InvoiceStatus.FINALIZED
        invoice.finalized_at = now
        invoice.finalized_by = actor
        invoice.full_clean()
        invoice.save()
        credits.drawdowns_record(invoice)
        # Partners' and the vendor's systems hear of it once this commits; a slow receiver never delays it.
        # (The payload is built only if an endpoint listens.)
        publish_event(
            type="invoice.finalized", data=partial(finalized_event_data, invoice, subscription),
            customer_id=invoice.customer_id,  # its partner is looked up only if a partner's endpoint listens
        )  # fmt: skip
    return invoice


def finalized_event_data(invoice: Invoice, subscription: Subscription) -> dict:
    """The `invoice.finalized` webhook payload: ids, amounts as strings in the currency's minor unit."""
    currency = invoice.currency
    return {
        "invoice": {
            "id": invoice.pk,
            "number": invoice.number,
            "period": invoice.period,
            "currency": currency,
            "subtotal": str(round_money(Decimal(invoice.subtotal), currency)),
            "total": str(round_money(Decimal(invoice.total), currency)),
            "finalized_at": invoice.finalized_at.isoformat(),
            "url": portal_url(invoice.get_absolute_url()),
        },
        "customer": {"id": invoice.customer_id, "external_id": invoice.customer.external_id},
        "subscription": {"id": subscription.pk, "external_id": subscription.external_id},
    }


def _required_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Required: say why, it is kept with the invoice for audit."})
    return reason


def invoice_void(*, actor, invoice: Invoice, reason: str) -> Invoice:
    """Cancel a finalized invoice whole (its number stays taken). Managers only."""
    _require_manager(actor, "void invoices")
    reason = _required_reason(reason)
    with transaction.atomic():
        invoice = Invoice.objects.locked_for(actor, invoice.pk)
        if invoice.status == InvoiceStatus.DRAFT:
            raise ValidationError(
                {"status": "A draft cannot be voided: it is an estimate until its period closes, and then it is "
                 "finalized from the usage; correct the usage instead."}
            )  # fmt: skip
        if invoice.status == InvoiceStatus.VOID:
            raise ValidationError({"status": f"Invoice {invoice.number} is already void."})
        if invoice.credited:
            # Voiding would give back what the credit notes already gave back.
            raise ValidationError(
                {"status": f"Invoice {invoice.number} has credit notes of {invoice.credited} {invoice.currency}; "
                 "credit the rest with a credit note instead of voiding it."}
            )  # fmt: skip
        invoice.status = InvoiceStatus.VOID
        invoice.voided_at = timezone.now()
        invoice.voided_by = actor
        invoice.void_reason = reason
        invoice.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
        # Listeners (the commission clawback) run once the void is committed, never on a rollback.
        transaction.on_commit(lambda: invoice_corrected.send(sender=Invoice, invoice=invoice, credit_note=None))
    return invoice


def credit_note_create(*, actor, invoice: Invoice, amount, reason: str) -> CreditNote:
    """Give back part or all of a finalized invoice. Managers only; never more than remains."""
    _require_manager(actor, "issue credit notes")
    reason = _required_reason(reason)
    try:
        value = parse_decimal(amount)
    except ValueError as error:
        raise ValidationError({"amount": f"amount must be a decimal number: {error}."}) from None
    with transaction.atomic():
        try:
            invoice = Invoice.objects.locked_for(actor, invoice.pk)
        except Invoice.DoesNotExist:
            raise ValidationError({"invoice": "This invoice does not exist."}) from None
        if invoice.status != InvoiceStatus.FINALIZED:
            what = "a draft" if invoice.is_draft else "void"
            raise ValidationError({"invoice": f"Credit notes are issued on finalized invoices; this one is {what}."})
        value = round_money(value, invoice.currency)
        if value <= 0:
            raise ValidationError({"amount": "amount must be greater than 0."})
        remaining = invoice.total - invoice.credited
        if value > remaining:
            raise ValidationError(
                {"amount": f"amount {value} {invoice.currency} is more than remains creditable on {invoice.number}: "
                 f"{round_money(remaining, invoice.currency)} (total {round_money(invoice.total, invoice.currency)}, "
                 f"already credited {round_money(invoice.credited, invoice.currency)})."}
            )  # fmt: skip
        note = CreditNote(
            invoice=invoice,
            number=_next_number(CREDIT_NOTE_SEQUENCE, timezone.now()),
            amount=value,
            reason=reason,
            created_by=actor,
        )
        note.full_clean()
        note.save()
        invoice.credited += value
        invoice.save(update_fields=["credited"])
        transaction.on_commit(lambda: invoice_corrected.send(sender=Invoice, invoice=invoice, credit_note=note))
    return note
