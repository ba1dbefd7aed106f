"""Writes of the customers app."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.money import MINOR_UNITS, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import ChangeKind, Customer, Subscription, SubscriptionChange, SubscriptionStatus
from prm.customers.permissions import can_change_subscription, can_create_customers, can_edit_customer
from prm.partners.models import Partner
from prm.plans import pricing
from prm.plans.models import PlanVersion

CUSTOMER_FIELDS = ("reseller", "external_id", "name", "domain", "use_case", "currency", "assigned_rep", "is_active")


def customer_create(*, actor, **fields) -> Customer:
    if not can_create_customers(actor):
        raise PermissionDenied("Only channel managers and partner admins may add customers.")
    if actor.is_partner_admin:
        # A partner admin's customers always belong to their own partner.
        fields["reseller"] = actor.partner
    reseller = fields.get("reseller")
    if reseller is not None and not Partner.objects.visible_to(actor).filter(pk=reseller.pk).exists():
        raise ValidationError({"reseller": "Choose a partner you manage."})
    customer = Customer(**{name: value for name, value in fields.items() if name in CUSTOMER_FIELDS})
    customer.full_clean()
    customer.save()
    return customer


def customer_update(*, actor, customer: Customer, **fields) -> Customer:
    with transaction.atomic():
        # Re-read under lock and through the actor's scope: the write is checked where it happens.
        customer = Customer.objects.locked_for(actor, customer.pk)
        if not can_edit_customer(actor, customer):
            raise PermissionDenied("You may not change this customer.")
        if not actor.is_manager:
            fields.pop("reseller", None)  # moving a customer to another partner is the vendor's call
        for name, value in fields.items():
            if name in CUSTOMER_FIELDS:
                setattr(customer, name, value)
        customer.full_clean()
        customer.save()
    return customer


SUBSCRIPTION_FIELDS = ("customer", "external_id", "started_at", "ended_at", "commitment", "status")


def subscription_create(*, actor, plan, **fields) -> Subscription:
    """Subscribe a customer to a plan's current version (managers, or the customer's partner admin)."""
    customer = fields.get("customer")
    if customer is None or not Customer.objects.visible_to(actor).filter(pk=customer.pk).exists():
        raise ValidationError({"customer": "Choose a customer you manage."})
    if not can_edit_customer(actor, customer):
        raise PermissionDenied("Only channel managers and the customer's partner admin subscribe customers.")
    if not plan.is_active:
        raise ValidationError({"plan": f"The plan {plan.code} takes no new subscriptions."})
    subscription = Subscription(
        plan_version=plan.current_version,
        **{name: value for name, value in fields.items() if name in SUBSCRIPTION_FIELDS},
    )
    subscription.full_clean()
    if subscription.commitment is not None:
        _check_commitment(subscription.commitment, customer.currency)
    with transaction.atomic():
        Customer.objects.select_for_update().get(pk=customer.pk)  # one subscription decision at a time
        _check_metrics_not_billed_twice(subscription, subscription.plan_version, field="plan")
        subscription.save()
    return subscription


# --- changes of terms -------------------------------------------------------------------------
#
# The subscription's own plan_version and commitment are its latest terms; each change keeps
# what it replaced, so the terms at any moment are known (Subscription.terms_at) and rating
# splits the period where they changed. Changes of one kind are kept in time order: a change
# cannot be slipped in before a scheduled one of its kind (cancel that one first).

# A person's "now" may be a little behind ours by the time the request arrives.
NOW_TOLERANCE = timedelta(minutes=5)


def _plan_metrics(version) -> set[str]:
    return {charge.metric for charge in pricing.parse_charges(version.charges) if charge.metric}


def _check_metrics_not_billed_twice(subscription: Subscription, version, *, field: str) -> None:
    """Usage is the customer's, not a subscription's: two of a customer's subscriptions charging
    the same metric at the same time would bill that usage twice, so it is refused."""
    others = Subscription.objects.filter(customer_id=subscription.customer_id).exclude(pk=subscription.pk)
    others = others.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=subscription.started_at))
    if subscription.ended_at is not None:
        others = others.filter(started_at__lt=subscription.ended_at)
    metrics = _plan_metrics(version)
    for other in others.select_related("plan_version"):
        shared = metrics & _plan_metrics(other.plan_version)
        if shared:
            raise ValidationError(
                {field: f"{other.external_id} already bills {', '.join(sorted(shared))} for this customer over the "
                 "same time; a customer's usage of a metric is billed by one subscription. End that one, or change "
                 "its plan, instead."}
            )  # fmt: skip


def _check_commitment(value: Decimal, currency: str) -> None:
    if value < 0:
        raise ValidationError({"commitment": "The commitment must be 0 or more."})
    if round_money(value, currency) != value:
        raise ValidationError(
            {"commitment": f"{plain_decimal(value)} has more decimals than {currency} has (a minor unit of "
             f"{MINOR_UNITS.get(currency, 2)} places)."}
        )  # fmt: skip


def _check_moment(actor, subscription: Subscription, kind: str, effective_at: datetime, now: datetime) -> None:
    """Where a change may take effect: inside the subscription's life, in an open billing period,
    not before a change of its kind already made; people other than managers only from now on."""
    if effective_at <= subscription.started_at:
        raise ValidationError(
            {"effective_at": f"The subscription started {subscription.started_at:%Y-%m-%d %H:%M} UTC; a change takes "
             "effect after that."}
        )  # fmt: skip
    if subscription.ended_at is not None and effective_at >= subscription.ended_at:
        raise ValidationError(
            {"effective_at": f"The subscription ends {subscription.ended_at:%Y-%m-%d %H:%M} UTC; nothing changes "
             "after that."}
        )  # fmt: skip
    period = BillingPeriod.containing(effective_at)
    if ClosedBillingPeriod.objects.filter(period=str(period)).exists():
        raise ValidationError(
            {"effective_at": f"The billing period {period} is closed and its invoices final; a change can take effect "
             "in an open period only."}
        )  # fmt: skip
    if not actor.is_manager and effective_at < now - NOW_TOLERANCE:
        raise ValidationError({"effective_at": "A change takes effect now or later; only channel managers backdate."})
    later = subscription.changes.filter(kind=kind, cancelled_at__isnull=True, effective_at__gte=effective_at)
    if scheduled := later.order_by("effective_at").first():
        raise ValidationError(
            {"effective_at": f"A {scheduled.get_kind_display().lower()} already takes effect "
             f"{scheduled.effective_at:%Y-%m-%d %H:%M} UTC ({scheduled.summary}); changes of a kind follow each other "
             "in time, so cancel it first or choose a later moment."}
        )  # fmt: skip


def _locked_subscription(actor, subscription: Subscription) -> Subscription:
    subscription = Subscription.objects.select_related("customer", "plan_version__plan").get(
        pk=Subscription.objects.locked_for(actor, subscription.pk).pk
    )
    if not can_change_subscription(actor, subscription):
        raise PermissionDenied("Only channel managers and the customer's partner admin change subscriptions.")
    if subscription.status == SubscriptionStatus.ENDED:
        raise ValidationError({"status": f"{subscription.external_id} has ended; nothing about it changes now."})
    return subscription


def subscription_change_plan(
    *, actor, subscription: Subscription, plan, effective_at=None, reason=""
) -> SubscriptionChange:
    """Move the subscription to `plan`'s current version from `effective_at` (default: now).

    The period it happens in is rated in two parts: flat fees prorated by time on each side,
    usage split at the moment itself, each side priced by its own version.
    """
    now = timezone.now()
    effective_at = effective_at or now
    with transaction.atomic():
        subscription = _locked_subscription(actor, subscription)
        if not plan.is_active:
            raise ValidationError({"plan": f"The plan {plan.code} takes no new subscriptions."})
        version = plan.current_version
        if version is None:
            raise ValidationError({"plan": f"The plan {plan.code} has no prices yet."})
        if plan.currency != subscription.customer.currency:
            raise ValidationError(
                {"plan": f"The plan is priced in {plan.currency}; {subscription.customer} is billed in "
                 f"{subscription.customer.currency}."}
            )  # fmt: skip
        _check_moment(actor, subscription, ChangeKind.PLAN, effective_at, now)
        current = subscription.terms_at(effective_at).plan_version_id
        if current == version.pk:
            raise ValidationError({"plan": f"{subscription.external_id} is already on {version} at that moment."})
        _check_metrics_not_billed_twice(subscription, version, field="plan")
        change = SubscriptionChange.objects.create(
            subscription=subscription,
            kind=ChangeKind.PLAN,
            effective_at=effective_at,
            from_plan_version_id=current,
            to_plan_version=version,
            reason=reason.strip(),
            requested_by=actor,
        )
        subscription.plan_version = version
        subscription.save(update_fields=["plan_version"])
    return change


def effective_commitment(commitment: Decimal | None, version) -> Decimal:
    """What the customer is held to: its own commitment, else the plan version's minimum, else 0."""
    if commitment is not None:
        return commitment
    return version.minimum_commitment or Decimal(0)


def subscription_change_commitment(
    *, actor, subscription: Subscription, commitment: Decimal | None, effective_at=None, reason=""
) -> SubscriptionChange:
    """Raise the commitment (from `effective_at`, default now) or lower it (at the end of a billing
    period: the next period's start unless a later period start is asked for). None removes the
    subscription's own commitment, leaving the plan's minimum."""
    now = timezone.now()
    with transaction.atomic():
        subscription = _locked_subscription(actor, subscription)
        if commitment is not None:
            _check_commitment(commitment, subscription.customer.currency)
        probe = effective_at or now
        terms = subscription.terms_at(probe)
        version = PlanVersion.objects.get(pk=terms.plan_version_id)
        before = effective_commitment(terms.commitment, version)
        after = effective_commitment(commitment, version)
        if commitment == terms.commitment:
            raise ValidationError({"commitment": f"The commitment is already {_shown(commitment)} at that moment."})
        lowering = after < before
        if lowering:
            earliest = BillingPeriod.containing(now).end if not actor.is_manager else None
            if effective_at is None:
                effective_at = BillingPeriod.containing(now).end
            elif BillingPeriod.containing(effective_at).start != effective_at or (earliest and effective_at < earliest):
                raise ValidationError(
                    {"effective_at": f"A commitment is lowered at the end of a billing period: from "
                     f"{(earliest or BillingPeriod.containing(effective_at).end):%Y-%m-%d} 00:00 UTC at the "
                     "earliest, or the start of a later period."}
                )  # fmt: skip
        else:
            effective_at = effective_at or now
        _check_moment(actor, subscription, ChangeKind.COMMITMENT, effective_at, now)
        change = SubscriptionChange.objects.create(
            subscription=subscription,
            kind=ChangeKind.COMMITMENT,
            effective_at=effective_at,
            from_commitment=subscription.terms_at(effective_at).commitment,
            to_commitment=commitment,
            reason=reason.strip(),
            requested_by=actor,
        )
        subscription.commitment = commitment
        subscription.save(update_fields=["commitment"])
    return change


def _shown(commitment) -> str:
    return "the plan's minimum" if commitment is None else plain_decimal(commitment)


def subscription_change_cancel(*, actor, change: SubscriptionChange) -> SubscriptionChange:
    """Withdraw a change that has not taken effect yet; it stays in the history, marked cancelled."""
    with transaction.atomic():
        change = SubscriptionChange.objects.locked_for(actor, change.pk)
        subscription = _locked_subscription(actor, change.subscription)
        if change.is_cancelled:
            raise ValidationError({"change": "This change is already cancelled."})
        if change.effective_at <= timezone.now():
            raise ValidationError(
                {"change": f"This change took effect {change.effective_at:%Y-%m-%d %H:%M} UTC; make a new change "
                 "instead."}
            )  # fmt: skip
        if subscription.changes.filter(
            kind=change.kind, cancelled_at__isnull=True, effective_at__gt=change.effective_at
        ).exists():
            raise ValidationError({"change": "A later change of the same kind follows it; cancel that one first."})
        change.cancelled_at = timezone.now()
        change.cancelled_by = actor
        change.save(update_fields=["cancelled_at", "cancelled_by"])
        if change.kind == ChangeKind.PLAN:
            subscription.plan_version_id = change.from_plan_version_id
            subscription.save(update_fields=["plan_version"])
        else:
            subscription.commitment = change.from_commitment
            subscription.save(update_fields=["commitment"])
    return change


def subscription_end(*, actor, subscription: Subscription, ended_at=None, reason="") -> Subscription:
    """End the subscription at `ended_at` (default now): billed up to then, flat fees prorated."""
    now = timezone.now()
    ended_at = ended_at or now
    with transaction.atomic():
        subscription = _locked_subscription(actor, subscription)
        if ended_at <= subscription.started_at:
            raise ValidationError({"ended_at": "A subscription ends after it starts."})
        period = BillingPeriod.containing(ended_at)
        if ClosedBillingPeriod.objects.filter(period=str(period)).exists():
            raise ValidationError({"ended_at": f"The billing period {period} is closed; end it in an open period."})
        if not actor.is_manager and ended_at < now - NOW_TOLERANCE:
            raise ValidationError({"ended_at": "A subscription ends now or later; only channel managers backdate."})
        subscription.ended_at = ended_at
        if ended_at <= now:
            subscription.status = SubscriptionStatus.ENDED
        subscription.save(update_fields=["ended_at", "status"])
    return subscription
