"""Writes of the customers app."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from prm.customers.models import Customer, Subscription
from prm.customers.permissions import can_create_customers, can_edit_customer
from prm.partners.models import Partner

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
    subscription.save()
    return subscription
