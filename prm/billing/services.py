"""Writes of billing: rating a subscription for a period, drafts, finalizing, voiding, crediting.

Money flows one way here: usage rollups → `subscription_rate` (the pure pricing engine) → the
draft invoice's lines → finalized (numbered, immutable) → corrected only by credit notes or void.
"""

import decimal
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.money import parse_decimal, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription
from prm.plans import pricing
from prm.plans.models import Metric
from prm.usage.selectors import period_usage

from .models import CreditNote, DocumentSequence, Invoice, InvoiceLine, InvoiceStatus

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


def active_fraction(subscription: Subscription, period: BillingPeriod) -> tuple[int, int]:
    """(active seconds, period seconds): the share of the period a flat fee or a minimum is owed for.

    Measured from the exact start and end (not the hour floor used for reading usage), and
    kept as two integers so the prorated amount is computed exactly and rounded only once.
    """
    start = max(period.start, subscription.started_at)
    end = min(period.end, subscription.ended_at or period.end)
    active = max(int((end - start).total_seconds()), 0)
    return active, int((period.end - period.start).total_seconds())


def _prorate(amount: Decimal, active: int, whole: int) -> Decimal:
    if active == whole:
        return amount
    return _PRORATION.divide(amount * active, Decimal(whole))


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


def subscription_rate(*, subscription: Subscription, period: BillingPeriod) -> pricing.Quote:
    """Price the subscription's plan version for `period` from its customer's usage.

    - usage charges: each metric's quantity over the service window (see `service_window`);
    - flat charges and the minimum commitment (the subscription's own commitment if set, else
      the version's): prorated by active seconds / period seconds, computed exactly and rounded
      once, by the engine, like every line. A subscription active the whole month pays them whole.
    """
    window = service_window(subscription, period)
    if window is None:
        raise ValidationError({"period": f"{subscription.external_id} was not active in {period}."})
    version = subscription.plan_version
    currency = version.plan.currency
    charges = pricing.parse_charges(version.charges)
    active, whole = active_fraction(subscription, period)
    metrics = {m.code: m for m in Metric.objects.filter(code__in={c.metric for c in charges if c.metric})}
    usage = {
        code: _tidy(period_usage(customer_id=subscription.customer_id, metric=metric, start=window[0], end=window[1]))
        for code, metric in metrics.items()
    }
    prorated = [
        replace(charge, amount=_prorate(charge.amount, active, whole)) if charge.model == "flat" else charge
        for charge in charges
    ]
    minimum = subscription.commitment if subscription.commitment is not None else version.minimum_commitment
    quote = pricing.price(
        prorated,
        usage,
        currency=currency,
        minimum_commitment=None if minimum is None else _prorate(minimum, active, whole),
    )
    if active == whole:
        return quote
    # Say on the line how a prorated fee was reached (the engine only sees the prorated amount).
    share = f"{_duration(active)} of {_duration(whole)}"
    lines = []
    for index, line in enumerate(quote.lines):
        if line.model == "flat":
            full = charges[index].amount
            line = replace(line, description=f"Flat fee of {plain_decimal(full)} per period, prorated for {share}")
        elif line.model == pricing.MINIMUM_COMMITMENT:
            described = f"{line.description} (minimum of {plain_decimal(minimum)} prorated for {share})"
            line = replace(line, description=described)
        lines.append(line)
    return replace(quote, lines=tuple(lines))


def _line_charges(subscription: Subscription, period: BillingPeriod, quote: pricing.Quote) -> list[dict]:
    """The charge definition behind each line of `quote` (lines follow the charges, then the true-up)."""
    version = subscription.plan_version
    charges = [pricing.charge_to_dict(charge) for charge in pricing.parse_charges(version.charges)]
    active, whole = active_fraction(subscription, period)
    for charge in charges:
        if charge["model"] == "flat" and active != whole:
            charge["prorated"] = {"active_seconds": active, "period_seconds": whole}
    minimum = subscription.commitment if subscription.commitment is not None else version.minimum_commitment
    if len(quote.lines) > len(charges):
        true_up = {"model": pricing.MINIMUM_COMMITMENT, "amount": plain_decimal(minimum or Decimal(0))}
        true_up["source"] = "subscription" if subscription.commitment is not None else "plan"
        if active != whole:
            true_up["prorated"] = {"active_seconds": active, "period_seconds": whole}
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


def _rate_into(invoice: Invoice, subscription: Subscription, period: BillingPeriod) -> Invoice:
    """Recompute a locked draft's lines and totals from usage (replacing its lines)."""
    quote = subscription_rate(subscription=subscription, period=period)
    start, end = service_window(subscription, period)
    charges = _line_charges(subscription, period, quote)
    codes = {line.metric for line in quote.lines if line.metric}
    metrics = dict(Metric.objects.filter(code__in=codes).values_list("code", "pk"))
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            metric_id=metrics.get(line.metric) if line.metric else None,
            model=line.model,
            quantity=line.quantity,
            amount=line.amount,
            description=line.description,
            charge=charges[position],
            tiers=_tiers_json(line),
        )
        for position, line in enumerate(quote.lines)
    )
    invoice.plan_version = subscription.plan_version
    invoice.currency = quote.currency
    invoice.service_start, invoice.service_end = start, end
    invoice.subtotal = quote.subtotal
    invoice.total = quote.total
    invoice.rated_at = timezone.now()
    invoice.save()
    return invoice


def invoice_refresh_draft(*, subscription: Subscription, period: BillingPeriod) -> Invoice:
    """Create or recompute the draft invoice of subscription · period (the live estimate).

    Refused once the invoice is finalized or void: those never change.
    """
    with transaction.atomic():
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
        return _rate_into(invoice, subscription, period)


# --- numbering --------------------------------------------------------------------------------


def _next_number(sequence: tuple[str, str], moment: datetime) -> str:
    """The next number of a sequence; call inside the transaction that issues the document."""
    name, prefix = sequence
    DocumentSequence.objects.get_or_create(name=name)
    row = DocumentSequence.objects.select_for_update().get(name=name)
    row.last_number += 1
    row.save(update_fields=["last_number"])
    # The year is a label for people; the counter never resets, so numbers only ever increase.
    return f"{prefix}-{moment.year:04d}-{row.last_number:06d}"


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
        _rate_into(invoice, subscription, BillingPeriod.parse(invoice.period))
        now = timezone.now()
        invoice.number = _next_number(INVOICE_SEQUENCE, now)
        invoice.status = InvoiceStatus.FINALIZED
        invoice.finalized_at = now
        invoice.finalized_by = actor
        invoice.full_clean()
        invoice.save()
    return invoice


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
    return note
