"""Prepaid credits: packs bought from a plan version, goodwill grants, and drawing them down.

Credits are money in one currency (1 credit pays 1 USD of a USD invoice). A customer gets them
by buying one of its plan version's `credit_packs` (`credit_pack_purchase`), or as a channel
manager's goodwill (`credit_grant_create`). Rating an invoice (`credit_lines`, called by
`services._rate_into`) adds, after the plan's charges and the minimum-commitment true-up:

1. a `credit_pack` line for each pack its subscription bought in the period (the purchase is
   billed on that period's invoice, at the pack's price);
2. one `prepaid_credit` line, negative, drawing the customer's credits down against the
   charges and the true-up — never against pack purchases, never below zero — first from the
   grants that expire soonest, then from the oldest.

A draft only shows the estimate. Finalizing writes the drawdowns (`CreditDrawdown`) from the
invoice's last rating, with the customer's grants locked (`grants_lock`), so two finalizations
can never spend the same credits. A grant's balance counts only finalized invoices' drawdowns:
voiding an invoice gives its credits back.
"""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.money import MINOR_UNITS, parse_decimal, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription
from prm.plans import pricing

from .models import CreditDrawdown, CreditGrant, CreditGrantSource, Invoice, InvoiceLine, InvoiceStatus

PACK_LINE = "credit_pack"
CREDIT_LINE = "prepaid_credit"
GOODWILL_NAME = "Goodwill credit"
ZERO = Decimal(0)


# --- who may buy ------------------------------------------------------------------------------


def can_buy_credits(user) -> bool:
    """Whether `user` may buy credit packs for some customer (the page and the API ask this)."""
    return bool(user.is_authenticated and (user.is_manager or user.is_partner_admin or user.is_customer_admin))


def can_buy_credits_for(user, customer) -> bool:
    """Managers, the customer's partner admin and the customer's own admins buy its packs."""
    if not can_buy_credits(user):
        return False
    if user.is_manager:
        return True
    if user.is_partner_admin:
        return customer.reseller_id == user.partner.pk
    return customer.pk == user.customer.pk


# --- granting ---------------------------------------------------------------------------------


def _subscription_in_scope(actor, subscription) -> Subscription:
    """The subscription re-read through the actor's scope and locked (purchases on it queue up)."""
    try:
        return (
            Subscription.objects.visible_to(actor)
            .select_related("customer", "plan_version__plan")
            .select_for_update(of=("self",))
            .get(pk=getattr(subscription, "pk", None))
        )
    except Subscription.DoesNotExist:
        raise ValidationError({"subscription": "No such subscription among those you manage."}) from None


def _currency_of(subscription: Subscription, currency: str | None) -> str:
    billed_in = subscription.plan_version.plan.currency
    if currency not in (None, "") and currency != billed_in:
        raise ValidationError(
            {"currency": f"{subscription.external_id} is billed in {billed_in}, not {currency}: credits are "
             "in the currency of the invoices they pay."}
        )  # fmt: skip
    return billed_in


def _granted_at(subscription: Subscription, granted_at: datetime | None) -> datetime:
    """When the grant takes effect: now, or (for imports and the demo) an earlier moment of an
    open period — a pack bought in a closed period could never be billed."""
    now = timezone.now()
    moment = now if granted_at is None else granted_at
    if timezone.is_naive(moment):
        raise ValidationError({"granted_at": "Give a timezone-aware moment (UTC)."})
    if moment > now:
        raise ValidationError({"granted_at": "Must not be in the future."})
    if moment < subscription.started_at or (subscription.ended_at is not None and moment >= subscription.ended_at):
        raise ValidationError(
            {"subscription": f"{subscription.external_id} is not active on {moment:%Y-%m-%d %H:%M} UTC."}
        )
    period = BillingPeriod.containing(moment)
    if ClosedBillingPeriod.objects.filter(period=str(period)).exists():
        raise ValidationError(
            {"granted_at": f"The billing period {period} is closed: its invoices are final and could not bill it."}
        )
    return moment


def _positive_money(value, currency: str, field: str) -> Decimal:
    try:
        amount = parse_decimal(value)
    except ValueError as error:
        raise ValidationError({field: f"{field} must be a decimal number: {error}."}) from None
    if amount <= 0:
        raise ValidationError({field: f"{field} must be greater than 0."})
    if round_money(amount, currency) != amount:
        raise ValidationError({field: f"{currency} has {MINOR_UNITS[currency]} decimal places; {amount} has more."})
    return amount


def _save(grant: CreditGrant) -> CreditGrant:
    grant.full_clean()
    grant.save()
    # Show it on the subscription's live estimate now rather than at the next refresh.
    from prm.billing.services import invoice_refresh_draft  # services imports this module

    period = BillingPeriod.containing(grant.granted_at)
    drafts = Invoice.objects.filter(subscription=grant.subscription, period=str(period), status=InvoiceStatus.DRAFT)
    if drafts.exists():
        invoice_refresh_draft(subscription=grant.subscription, period=period)
    return grant


def credit_pack_purchase(
    *, actor, subscription, pack: str, currency: str | None = None, reason: str = "", granted_at=None
) -> CreditGrant:
    """Buy one of the subscription's plan-version packs by name; its price is billed on the
    subscription's invoice for the period bought in. Managers, the customer's partner admin and
    the customer's admins may."""
    with transaction.atomic():
        subscription = _subscription_in_scope(actor, subscription)
        if not can_buy_credits_for(actor, subscription.customer):
            raise PermissionDenied(
                "Only channel managers, the customer's partner admin and the customer's admins buy credit packs."
            )
        version = subscription.plan_version
        offered = {offer["name"]: offer for offer in version.credit_packs}
        name = (pack or "").strip()
        if name not in offered:
            choices = ", ".join(repr(known) for known in offered) or "none: it offers no credit packs"
            raise ValidationError({"pack": f"{version} offers no pack named {name!r}; its packs: {choices}."})
        currency = _currency_of(subscription, currency)
        offer = offered[name]
        credits, price = parse_decimal(offer["credits"]), parse_decimal(offer["price"])
        if credits <= 0:
            raise ValidationError({"pack": f"The pack {name!r} gives no credits."})
        return _save(
            CreditGrant(
                customer=subscription.customer,
                subscription=subscription,
                source=CreditGrantSource.PURCHASE,
                name=name,
                currency=currency,
                credits=credits,
                price=price,
                granted_at=_granted_at(subscription, granted_at),
                granted_by=actor,
                reason=(reason or "").strip(),
            )
        )


def credit_grant_create(
    *, actor, subscription, credits, reason: str, currency: str | None = None, expires_at=None, granted_at=None
) -> CreditGrant:
    """Grant credits for free (goodwill, a service-level credit …) to the subscription's customer,
    in its currency. Channel managers only; the reason is kept for audit."""
    if actor is None or not actor.is_authenticated or not actor.is_manager:
        raise PermissionDenied("Only channel managers grant goodwill credits.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Required: say why the credits are granted, it is kept for audit."})
    with transaction.atomic():
        subscription = _subscription_in_scope(actor, subscription)
        currency = _currency_of(subscription, currency)
        amount = _positive_money(credits, currency, "credits")
        moment = _granted_at(subscription, granted_at)
        if expires_at is not None and expires_at <= moment:
            raise ValidationError({"expires_at": "Must be after the moment the credits are granted."})
        return _save(
            CreditGrant(
                customer=subscription.customer,
                subscription=subscription,
                source=CreditGrantSource.GOODWILL,
                name=GOODWILL_NAME,
                currency=currency,
                credits=amount,
                price=ZERO,
                granted_at=moment,
                expires_at=expires_at,
                granted_by=actor,
                reason=reason,
            )
        )


# --- rating -----------------------------------------------------------------------------------


def _n(amount: Decimal, currency: str) -> str:
    return format(round_money(amount, currency), ",f")


def _grants_for(invoice: Invoice, subscription: Subscription, period: BillingPeriod) -> list[CreditGrant]:
    """The customer's grants an invoice of `period` may see: granted before the period ends and
    not expired when it starts, soonest to expire first, then oldest (the order they are drawn)."""
    return list(
        CreditGrant.objects.filter(customer_id=subscription.customer_id, granted_at__lt=period.end)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=period.start))
        .order_by(F("expires_at").asc(nulls_last=True), "granted_at", "pk")
    )


def _balances(grants: list[CreditGrant], invoice: Invoice) -> dict[int, Decimal]:
    """What each grant has left for `invoice`: its credits less what other finalized invoices drew."""
    left = {grant.pk: grant.credits for grant in grants}
    drawn = (
        CreditDrawdown.objects.filter(grant__in=left, invoice__status=InvoiceStatus.FINALIZED)
        .exclude(invoice_id=invoice.pk)
        .values_list("grant_id", "amount")
    )
    for grant_id, amount in drawn:
        left[grant_id] -= amount
    return left


def credit_lines(
    invoice: Invoice, subscription: Subscription, period: BillingPeriod, quote: pricing.Quote, *, first_position: int
) -> list[InvoiceLine]:
    """The invoice's credit pack purchases and prepaid credits, as unsaved lines numbered from
    `first_position` (see the module's docstring). The invoice's total is the quote's total plus
    their amounts. No grant at all: no line."""
    currency = quote.currency
    grants = _grants_for(invoice, subscription, period)
    lines: list[InvoiceLine] = []

    bought = sorted(
        (
            grant
            for grant in grants
            if grant.source == CreditGrantSource.PURCHASE
            and grant.subscription_id == subscription.pk
            and grant.granted_at in period
            and grant.price > 0
        ),
        key=lambda grant: (grant.granted_at, grant.pk),
    )
    for grant in bought:
        lines.append(
            InvoiceLine(
                invoice=invoice,
                position=first_position + len(lines),
                metric=None,
                model=PACK_LINE,
                quantity=Decimal(1),
                amount=round_money(grant.price, grant.currency),
                description=(
                    f"Credit pack “{grant.name}” bought {grant.granted_at:%Y-%m-%d}: "
                    f"{_n(grant.credits, grant.currency)} {grant.currency} of prepaid credits"
                ),
                charge={
                    "model": PACK_LINE,
                    "grant": grant.pk,
                    "name": grant.name,
                    "price": plain_decimal(grant.price),
                    "credits": plain_decimal(grant.credits),
                    "granted_at": grant.granted_at.isoformat(),
                },
                tiers=[],
            )
        )

    usable = [grant for grant in grants if grant.currency == currency]
    left = _balances(usable, invoice)
    usable = [grant for grant in usable if left[grant.pk] > 0]
    if not usable:
        return lines
    available = sum((left[grant.pk] for grant in usable), ZERO)
    # Credits pay the charges and the true-up (the quote's total), never the packs bought.
    due = max(quote.total, ZERO)
    drawn = []
    for grant in usable:
        if due <= 0:
            break
        take = min(left[grant.pk], due)
        due -= take
        drawn.append((grant, take))
    applied = round_money(sum((take for _grant, take in drawn), ZERO), currency)
    lines.append(
        InvoiceLine(
            invoice=invoice,
            position=first_position + len(lines),
            metric=None,
            model=CREDIT_LINE,
            quantity=applied,
            amount=-applied if applied else applied,  # never "-0.00"
            description=f"Prepaid credits applied: {_n(applied, currency)} of {_n(available, currency)} available",
            charge={
                "model": CREDIT_LINE,
                "available": plain_decimal(available),
                "applied": plain_decimal(applied),
                "grants": [
                    {
                        "grant": grant.pk,
                        "name": grant.name,
                        "available": plain_decimal(left[grant.pk]),
                        "applied": plain_decimal(take),
                    }
                    for grant, take in drawn
                ],
            },
            tiers=[],
        )
    )
    return lines


# --- finalizing -------------------------------------------------------------------------------


def grants_lock(*, customer_id: int) -> None:
    """Lock the customer's grants until the transaction ends. Finalizing takes this lock before
    its last rating: a second finalization for the same customer waits, then sees the first's
    drawdowns, so the same credits are never spent twice."""
    list(CreditGrant.objects.select_for_update().filter(customer_id=customer_id).order_by("pk").values_list("pk"))


def drawdowns_record(invoice: Invoice) -> list[CreditDrawdown]:
    """Write the drawdowns of a finalized invoice from its prepaid-credit line (call with
    `grants_lock` held, in the transaction that finalizes it)."""
    CreditDrawdown.objects.filter(invoice=invoice).delete()
    line = invoice.lines.filter(model=CREDIT_LINE).first()
    if line is None:
        return []
    rows = [
        CreditDrawdown(grant_id=drawn["grant"], invoice=invoice, amount=parse_decimal(drawn["applied"]))
        for drawn in line.charge["grants"]
        if parse_decimal(drawn["applied"]) > 0
    ]
    return CreditDrawdown.objects.bulk_create(rows)
