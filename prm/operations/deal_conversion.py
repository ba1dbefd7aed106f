"""Deal conversion: an approved deal registration is won, and becomes a customer with a subscription.

    deal_convert(actor=admin, deal=deal, external_id="cus_acme")

in one transaction, top to bottom:

1. the deal (prm/deals) is locked through the actor's scope and must be approved, its domain not a
   customer yet (rechecked here: a customer may have been added since the approval);
2. the customer (prm/customers) is made from the deal without retyping: the deal's partner as its
   reseller, its company and domain, its use case (or the one given now), the plan's currency, and
   the rep who registered the deal as its assigned rep;
3. the subscription: the deal's plan (its current version), from `started_at` (default now);
4. the deal records it is won, with the customer and subscription it became;

then, once committed, the partner's people and the channel managers are told. A usage-free draft
invoice of the subscription can be rated at once (its flat fees, its minimum).

Who: the deal's partner admin or a channel manager (the same people who may add customers).
"""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import external_id_validator
from prm.customers.services import customer_create, subscription_create
from prm.deals.models import DealRegistration
from prm.deals.permissions import can_convert
from prm.deals.services import deal_lock_for_conversion, deal_record_won, deal_won_notify


def default_subscription_id(external_id: str) -> str:
    """cus_acme → sub_acme; another id gets the prefix: acme → sub_acme."""
    return f"sub_{external_id.removeprefix('cus_')}"[:100]


def deal_convert(
    *,
    actor,
    deal: DealRegistration,
    external_id: str,
    started_at: datetime | None = None,
    subscription_external_id: str = "",
    use_case: str = "",
    currency: str = "",
) -> DealRegistration:
    """Mark `deal` won: create its customer and subscription. Errors name the field (400)."""
    now = timezone.now()
    started_at = started_at or now
    external_id = (external_id or "").strip()
    if not external_id:
        raise ValidationError({"external_id": "The customer's id as your metering will send it, e.g. cus_acme."})
    subscription_external_id = (subscription_external_id or "").strip() or default_subscription_id(external_id)
    with transaction.atomic():
        deal = deal_lock_for_conversion(actor=actor, deal=deal, now=now)
        if not can_convert(actor, deal):
            raise PermissionDenied("The deal's partner admin or a channel manager marks it won.")
        plan = deal.plan
        if currency and currency != plan.currency:
            raise ValidationError(
                {"currency": f"The deal's plan {plan.code} is priced in {plan.currency}; the customer is billed in the "
                 "plan's currency."}
            )  # fmt: skip
        use_case = use_case or deal.use_case
        if not use_case:
            raise ValidationError({"use_case": "What will the customer consume? The deal does not say; give it now."})
        for field, value in (("external_id", external_id), ("subscription_external_id", subscription_external_id)):
            try:
                external_id_validator(value)
            except ValidationError as error:
                raise ValidationError({field: error.messages}) from None
        period = BillingPeriod.containing(started_at)
        if ClosedBillingPeriod.objects.filter(period=str(period)).exists():
            raise ValidationError(
                {"started_at": f"The billing period {period} is closed; the subscription starts in an open period."}
            )
        registered_by = deal.registered_by
        rep = registered_by if registered_by is not None and registered_by.is_partner_rep else None
        customer = customer_create(
            actor=actor,
            reseller=deal.partner,
            external_id=external_id,
            name=deal.company,
            domain=deal.domain,
            use_case=use_case,
            currency=plan.currency,
            assigned_rep=rep,
        )
        try:
            subscription = subscription_create(
                actor=actor, plan=plan, customer=customer, external_id=subscription_external_id, started_at=started_at
            )
        except ValidationError as error:
            # The subscription's own external id is `subscription_external_id` in this request.
            errors = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
            if "external_id" in errors:
                errors["subscription_external_id"] = errors.pop("external_id")
            raise ValidationError(errors) from None
        deal = deal_record_won(actor=actor, deal=deal, customer=customer, subscription=subscription, now=now)
    deal_won_notify(deal)
    return deal
