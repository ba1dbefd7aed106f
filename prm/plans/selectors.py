"""Reads of the plans app."""

from prm.core.money import MINOR_UNITS, parse_decimal
from prm.plans import pricing
from prm.plans.models import Plan


def quote(data: dict) -> pricing.Quote:
    """Price the request body of POST /api/v1/quotes; nothing is stored.

    Either a plan code (its current version's charges and minimum commitment) or inline
    charges with an optional minimum commitment; the currency must be the plan's own.
    """
    errors: dict[str, list[str]] = {}
    currency = data.get("currency")
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        errors["currency"] = [f"Unknown currency {currency!r}; use an ISO 4217 code such as USD."]
    charges, minimum = [], None
    if data.get("plan") is not None:
        if "charges" in data:
            errors["charges"] = ["Give either a plan or charges, not both."]
        plan = Plan.objects.filter(code=data["plan"], is_active=True).prefetch_related("versions").first()
        if plan is None:
            errors["plan"] = [f"No active plan has the code {data['plan']!r}."]
        else:
            if currency and plan.currency != currency:
                errors["currency"] = [f"The plan {plan.code!r} is priced in {plan.currency}."]
            version = plan.current_version
            charges = pricing.parse_charges(version.charges)
            minimum = version.minimum_commitment
    else:
        try:
            charges = pricing.parse_charges(data.get("charges"), path="charges")
        except pricing.PricingError as error:
            errors.update(error.errors)
        if data.get("minimum_commitment") not in (None, ""):
            try:
                minimum = parse_decimal(data["minimum_commitment"])
            except ValueError as error:
                errors["minimum_commitment"] = [str(error)]
            else:
                if minimum < 0:
                    errors["minimum_commitment"] = ["Must not be negative."]
    try:
        usage = pricing.parse_usage(data.get("usage", {}), path="usage")
    except pricing.PricingError as error:
        errors.update(error.errors)
        usage = {}
    if errors:
        raise pricing.PricingError(errors)
    return pricing.price(charges, usage, currency=currency, minimum_commitment=minimum)
