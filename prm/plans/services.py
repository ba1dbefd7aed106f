from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from prm.core.money import MINOR_UNITS, parse_decimal, plain_decimal, round_money
from prm.plans import pricing
from prm.plans.models import Metric, Plan, PlanVersion

METRIC_FIELDS = ("code", "name", "unit", "aggregation", "field", "allow_negative", "description")


def _require_manager(actor) -> None:
    if not actor.is_manager:
        raise PermissionDenied("Only channel managers configure metrics and plans.")


def metric_create(*, actor, **fields) -> Metric:
    _require_manager(actor)
    metric = Metric(**{name: value for name, value in fields.items() if name in METRIC_FIELDS})
    metric.full_clean()
    metric.save()
    return metric


def metric_update(*, actor, metric: Metric, **fields) -> Metric:
    """Change a metric's name, unit or description; how it counts is fixed once usage exists,
    because past totals would silently change meaning."""
    _require_manager(actor)
    with transaction.atomic():
        metric = Metric.objects.select_for_update().get(pk=metric.pk)
        has_usage = metric.usage_events.exists()
        for name, value in fields.items():
            if name not in METRIC_FIELDS:
                continue
            if has_usage and name in ("code", "aggregation", "field") and getattr(metric, name) != value:
                raise ValidationError({name: "Fixed once usage has been recorded; create a new metric instead."})
            setattr(metric, name, value)
        metric.full_clean()
        metric.save()
    return metric


# --- plans ----------------------------------------------------------------------------------

PLAN_FIELDS = ("code", "name", "description", "currency", "is_active")
VERSION_FIELDS = ("charges", "minimum_commitment", "credit_packs", "entitlements")


def _money(value, currency: str, field: str, errors: dict) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = parse_decimal(value)
    except ValueError as error:
        errors[field] = [str(error)]
        return None
    if amount < 0:
        errors[field] = ["Must not be negative."]
    elif currency in MINOR_UNITS and round_money(amount, currency) != amount:
        errors[field] = [f"{currency} has {MINOR_UNITS[currency]} decimal places; {amount} has more."]
    return amount


def _pricing_fields(fields: dict, currency: str) -> dict:
    """Validate the versioned part of a plan; every problem keyed by its field path."""
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    try:
        charges = pricing.parse_charges(fields.get("charges") or [], path="charges")
    except pricing.PricingError as error:
        errors.update(error.errors)
        charges = []
    if not fields.get("charges"):
        errors.setdefault("charges", []).append("A plan needs at least one charge.")
    known = set(Metric.objects.filter(code__in={c.metric for c in charges if c.metric}).values_list("code", flat=True))
    for index, charge in enumerate(charges):
        if charge.metric and charge.metric not in known:
            errors[f"charges[{index}].metric"] = [f"No metric has the code {charge.metric!r}."]
    cleaned["charges"] = [pricing.charge_to_dict(charge) for charge in charges]
    cleaned["minimum_commitment"] = _money(fields.get("minimum_commitment"), currency, "minimum_commitment", errors)
    packs = fields.get("credit_packs") or []
    cleaned["credit_packs"] = []
    if not isinstance(packs, list):
        errors["credit_packs"] = ["Must be a list of {name, price, credits}."]
        packs = []
    for index, pack in enumerate(packs):
        path = f"credit_packs[{index}]"
        if not isinstance(pack, dict) or not str(pack.get("name") or "").strip():
            errors[path] = ["Each pack needs a name, a price and the credits it gives."]
            continue
        price = _money(pack.get("price"), currency, f"{path}.price", errors)
        credits = _money(pack.get("credits"), currency, f"{path}.credits", errors)
        for name, value in (("price", price), ("credits", credits)):
            if value is None:
                errors.setdefault(f"{path}.{name}", ["Required."])
        if price is None or credits is None:
            continue
        cleaned["credit_packs"].append({"name": str(pack["name"]).strip(), "price": plain_decimal(price),
                                        "credits": plain_decimal(credits)})  # fmt: skip
    entitlements = fields.get("entitlements") or []
    if not isinstance(entitlements, list) or not all(isinstance(e, str) and e.strip() for e in entitlements):
        errors["entitlements"] = ["Must be a list of feature codes (non-empty strings)."]
        entitlements = []
    cleaned["entitlements"] = sorted({e.strip() for e in entitlements})
    if errors:
        raise ValidationError(errors)
    return cleaned


def plan_create(*, actor, **fields) -> Plan:
    _require_manager(actor)
    plan = Plan(**{name: value for name, value in fields.items() if name in PLAN_FIELDS})
    plan.full_clean()
    versioned = _pricing_fields(fields, plan.currency)
    with transaction.atomic():
        plan.save()
        PlanVersion.objects.create(plan=plan, version=1, created_by=actor, **versioned)
    return plan


def plan_update(*, actor, plan: Plan, **fields) -> Plan:
    """Name, description and availability change in place. Prices change in a new version when
    the current one is in use, so a running subscription's price never moves under it."""
    _require_manager(actor)
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        current = plan.current_version
        if "currency" in fields and fields["currency"] != plan.currency and version_in_use(current):
            raise ValidationError({"currency": "Fixed once customers subscribe; create a new plan instead."})
        for name in PLAN_FIELDS:
            if name in fields and name != "code":
                setattr(plan, name, fields[name])
        plan.full_clean()
        plan.save()
        if any(name in fields for name in VERSION_FIELDS):
            merged = {name: fields.get(name, getattr(current, name)) for name in VERSION_FIELDS}
            versioned = _pricing_fields(merged, plan.currency)
            unchanged = all(getattr(current, name) == versioned[name] for name in VERSION_FIELDS)
            if unchanged:
                return plan
            if version_in_use(current):
                PlanVersion.objects.create(plan=plan, version=current.version + 1, created_by=actor, **versioned)
            else:
                for name, value in versioned.items():
                    setattr(current, name, value)
                current.save()
    return plan


def version_in_use(version: PlanVersion) -> bool:
    """A version any subscription is or was on is frozen: its prices are what those customers pay
    (a subscription moved off it mid-period is still rated on it for the time before)."""
    return version.subscriptions.exists() or version.changes_from.exists() or version.changes_to.exists()
