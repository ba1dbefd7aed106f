"""Commission rules: the program's versioned terms, configured by channel managers.

    commission_rule_create(actor=manager, code="revenue-share", name="Revenue share",
                           kind="revenue_share", rate="20", effective_from="2026-01")
    commission_rule_revise(actor=manager, rule=rule, effective_from="2027-01", rate="22")

A rule is known by its `code`; its versions cover billing periods that never overlap. Changing
a rule adds a version from a later period and ends the previous one the period before, and that
is refused when it would reach into a period the previous version has already earned in (or a
closed period, whose commissions were accrued at its close): a program change never alters an
accrued period, so a finalized statement never moves.

Rules add up: every rule in force that matches an invoice line earns its own entry. To pay
tiers different rates, narrow one rule per tier, or leave `rate` empty for the partner's tier's
base commission rate.
"""

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q

from prm.core.models import ClosedBillingPeriod
from prm.core.money import MINOR_UNITS, parse_decimal, plain_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.incentives.models import CommissionRule, RuleKind

RULE_FIELDS = (
    "code", "name", "kind", "effective_from", "effective_to", "tier", "plan", "metric", "rate", "first_months",
    "first_months_rate", "bonus_amount", "currency", "cap_amount", "is_active",
)  # fmt: skip
# What a revision may change: the code and the kind are what the rule is (another kind is another rule).
REVISABLE = tuple(name for name in RULE_FIELDS if name not in ("code", "kind", "effective_from"))
PERCENT_PLACES = 4  # the model keeps rates with four decimals (12.3456 %)

# Fields each kind leaves unused: set, they would suggest an effect the rule does not have.
_UNUSED = {
    RuleKind.REVENUE_SHARE: ("bonus_amount",),
    RuleKind.NEW_CUSTOMER_BONUS: ("rate", "first_months", "first_months_rate", "metric"),
    RuleKind.GROWTH_ACCELERATOR: ("plan", "metric", "first_months", "first_months_rate", "bonus_amount"),
    RuleKind.DISTRIBUTOR_OVERRIDE: ("first_months", "first_months_rate", "bonus_amount"),
}


def tier_base_rate(tier) -> Decimal | None:
    """The tier's base commission rate in percent, or None when the tier has none."""
    return None if tier is None else tier.base_commission_rate


def can_configure_rules(user) -> bool:
    return bool(user and user.is_authenticated and user.is_manager)


def _require_manager(actor) -> None:
    if not can_configure_rules(actor):
        raise PermissionDenied("Only channel managers configure commission rules.")


# --- validation -------------------------------------------------------------------------------


def _period(value, field: str, errors: dict, *, required: bool) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            errors[field] = ["Required: the billing period, YYYY-MM."]
        return ""
    try:
        return str(BillingPeriod.parse(text))
    except ValueError:
        errors[field] = [f"{text!r} is not a billing period: use YYYY-MM, for example 2026-10."]
        return ""


def _percent(value, field: str, errors: dict) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        rate = parse_decimal(value)
    except ValueError:
        errors[field] = [f"{value!r} is not a number: give a percentage between 0 and 100, for example 20."]
        return None
    if not 0 <= rate <= 100:
        errors[field] = [f"A rate is a percentage between 0 and 100; {plain_decimal(rate)} is not."]
    elif rate != rate.quantize(Decimal(1).scaleb(-PERCENT_PLACES)):
        errors[field] = [f"At most {PERCENT_PLACES} decimal places ({plain_decimal(rate)} has more)."]
    return rate


def _money(value, field: str, currency: str, errors: dict) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = parse_decimal(value)
    except ValueError:
        errors[field] = [f"{value!r} is not an amount: give a decimal number, for example 250.00."]
        return None
    if amount < 0:
        errors[field] = [f"Must not be negative ({plain_decimal(amount)})."]
    elif not currency:
        errors.setdefault("currency", []).append(f"Required with {field}: the currency the amount is in.")
    elif currency in MINOR_UNITS and round_money(amount, currency) != amount:
        errors[field] = [f"{currency} has {MINOR_UNITS[currency]} decimal places; {plain_decimal(amount)} has more."]
    return amount


def _months(value, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        errors["first_months"] = [f"A whole number of billing periods, 1 or more; {value!r} is not."]
        return None
    return int(text)


def _clean(fields: dict) -> dict:
    """Validate a version's fields; every problem keyed by its field. Returns the normalized fields."""
    errors: dict[str, list[str]] = {}
    kind = fields.get("kind")
    if kind not in RuleKind.values:
        errors["kind"] = [f"One of {', '.join(RuleKind.values)}."]
    currency = (fields.get("currency") or "").strip().upper()
    if currency and currency not in MINOR_UNITS:
        errors["currency"] = [f"{currency!r} is not a currency the portal bills in."]
        currency = ""
    cleaned = {
        "code": (fields.get("code") or "").strip(),
        "name": (fields.get("name") or "").strip(),
        "kind": kind,
        "effective_from": _period(fields.get("effective_from"), "effective_from", errors, required=True),
        "effective_to": _period(fields.get("effective_to"), "effective_to", errors, required=False),
        "tier": fields.get("tier"),
        "plan": fields.get("plan"),
        "metric": fields.get("metric"),
        "rate": _percent(fields.get("rate"), "rate", errors),
        "first_months": _months(fields.get("first_months"), errors),
        "first_months_rate": _percent(fields.get("first_months_rate"), "first_months_rate", errors),
        "currency": currency,
        "is_active": fields.get("is_active", True) is not False,
    }
    cleaned["bonus_amount"] = _money(fields.get("bonus_amount"), "bonus_amount", currency, errors)
    cleaned["cap_amount"] = _money(fields.get("cap_amount"), "cap_amount", currency, errors)
    start, end = cleaned["effective_from"], cleaned["effective_to"]
    if start and end and end < start:
        errors["effective_to"] = [f"The last period ({end}) comes before the first ({start})."]
    if kind in RuleKind.values:
        label = RuleKind(kind).label.lower()
        for name in _UNUSED[kind]:
            if cleaned[name] not in (None, "") and name not in errors:
                errors[name] = [f"Not used by a {label} rule; leave it empty."]
        if kind == RuleKind.NEW_CUSTOMER_BONUS and cleaned["bonus_amount"] is None and "bonus_amount" not in errors:
            errors["bonus_amount"] = ["Required: the fixed amount paid on a new customer's first finalized invoice."]
        needs_rate = kind in (RuleKind.GROWTH_ACCELERATOR, RuleKind.DISTRIBUTOR_OVERRIDE)
        if needs_rate and cleaned["rate"] is None and "rate" not in errors:
            errors["rate"] = [f"Required: the percentage a {label} rule pays."]
        if kind == RuleKind.REVENUE_SHARE:
            has_months, has_rate = cleaned["first_months"] is not None, cleaned["first_months_rate"] is not None
            if has_months != has_rate and not errors.keys() & {"first_months", "first_months_rate"}:
                missing = "first_months_rate" if has_months else "first_months"
                errors[missing] = ["first_months and first_months_rate go together: for how many periods, at what %."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _overlap(versions, start: str, end: str, *, exclude_pk=None) -> CommissionRule | None:
    """The version among `versions` whose periods meet [start, end] (an empty end is open-ended)."""
    for version in versions:
        if version.pk == exclude_pk:
            continue
        before = bool(end) and end < version.effective_from
        after = bool(version.effective_to) and version.effective_to < start
        if not (before or after):
            return version
    return None


def _span(rule) -> str:
    return f"{rule.effective_from} to {rule.effective_to or 'open-ended'}"


def _overlap_error(other: CommissionRule) -> ValidationError:
    return ValidationError(
        {"effective_from": f"Overlaps version {other.version} of {other.code!r} ({_span(other)}): versions of a rule "
         f"never overlap. Change a rule by revising it (POST /api/v1/commission-rules/{other.pk}/revise/)."}
    )  # fmt: skip


def _save(rule: CommissionRule) -> CommissionRule:
    try:
        rule.full_clean()
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    rule.save()
    return rule


# --- writes -----------------------------------------------------------------------------------


def commission_rule_create(*, actor, **fields) -> CommissionRule:
    """Add a rule (or a new, non-overlapping version of an existing code). Managers only."""
    _require_manager(actor)
    cleaned = _clean({name: value for name, value in fields.items() if name in RULE_FIELDS})
    with transaction.atomic():
        versions = list(CommissionRule.objects.select_for_update().filter(code=cleaned["code"]).order_by("version"))
        if versions and versions[-1].kind != cleaned["kind"]:
            raise ValidationError(
                {"kind": f"{cleaned['code']!r} is a {versions[-1].get_kind_display().lower()} rule; another kind "
                 "needs another code."}
            )  # fmt: skip
        other = _overlap(versions, cleaned["effective_from"], cleaned["effective_to"])
        if other is not None:
            raise _overlap_error(other)
        version = (versions[-1].version + 1) if versions else 1
        return _save(CommissionRule(**cleaned, version=version, created_by=actor))


def _accrued_from(rule: CommissionRule, start: str) -> str | None:
    """The first period from `start` on in which `rule` has earned something (accrued entries), if any."""
    earned = (
        rule.entries.filter(Q(invoice__period__gte=start) | Q(invoice__isnull=True, period__gte=start))
        .filter(credit_note__isnull=True)
        .order_by("period")
        .values_list("period", flat=True)
        .first()
    )
    closed = ClosedBillingPeriod.objects.filter(period__gte=start).order_by("period").values_list("period", flat=True)
    return min(filter(None, [earned, closed.first()]), default=None)


def _refuse_if_accrued(rule: CommissionRule, start: str, field: str) -> None:
    first = _accrued_from(rule, start)
    if first is not None:
        raise ValidationError(
            {field: f"{first} is closed or has commissions accrued under version {rule.version} of {rule.code!r}: a "
             f"program change never alters an accrued period. Start the change after the last closed period."}
        )  # fmt: skip


def commission_rule_revise(*, actor, rule: CommissionRule, effective_from, **changes) -> CommissionRule:
    """A new version of `rule`'s code from `effective_from`, with `changes`; the latest version
    ends the period before. Fields not given keep the latest version's values. Managers only."""
    _require_manager(actor)
    fixed = sorted(set(changes) - set(REVISABLE))
    if fixed:
        raise ValidationError(
            dict.fromkeys(fixed, "Cannot be revised: a rule keeps its code and kind (create another rule instead).")
        )
    with transaction.atomic():
        versions = list(CommissionRule.objects.select_for_update().filter(code=rule.code).order_by("version"))
        if not versions:
            raise ValidationError({"rule": "This rule does not exist."})
        latest = versions[-1]
        if rule.pk != latest.pk:
            raise ValidationError(
                {"version": f"Version {rule.version} has been revised already: revise version {latest.version}, "
                 "the latest."}
            )  # fmt: skip
        errors: dict = {}
        start = _period(effective_from, "effective_from", errors, required=True)
        if errors:
            raise ValidationError(errors)
        if start <= latest.effective_from:
            raise ValidationError(
                {"effective_from": f"A revision starts after {latest.effective_from}, when version {latest.version} "
                 "starts (a later period)."}
            )  # fmt: skip
        fields = {name: getattr(latest, name) for name in RULE_FIELDS}
        if latest.effective_to and latest.effective_to < start:
            fields["effective_to"] = ""  # the latest had ended already: the new one runs on unless told
        fields.update(changes, effective_from=start)
        cleaned = _clean(fields)
        if not latest.effective_to or latest.effective_to >= start:
            _refuse_if_accrued(latest, start, "effective_from")
            latest.effective_to = str(BillingPeriod.parse(start).previous())
            _save(latest)
        other = _overlap(versions, cleaned["effective_from"], cleaned["effective_to"], exclude_pk=latest.pk)
        if other is not None:
            raise _overlap_error(other)
        version = CommissionRule.objects.filter(code=rule.code).aggregate(last=Max("version"))["last"] + 1
        return _save(CommissionRule(**cleaned, version=version, created_by=actor))


def commission_rule_end(*, actor, rule: CommissionRule, effective_to) -> CommissionRule:
    """End the latest version of `rule`'s code after `effective_to` (its last period). Refused
    when that would take back a period it has earned in, or a closed one. Managers only."""
    _require_manager(actor)
    with transaction.atomic():
        latest = CommissionRule.objects.select_for_update().filter(code=rule.code).order_by("-version").first()
        errors: dict = {}
        end = _period(effective_to, "effective_to", errors, required=True)
        if errors:
            raise ValidationError(errors)
        if end < latest.effective_from:
            raise ValidationError(
                {"effective_to": f"The last period ({end}) comes before the first ({latest.effective_from})."}
            )
        if latest.effective_to and latest.effective_to <= end:
            return latest  # already ends then (or earlier): nothing to shorten
        _refuse_if_accrued(latest, str(BillingPeriod.parse(end).next()), "effective_to")
        latest.effective_to = end
        return _save(latest)


def rules_in_force(period: BillingPeriod | str, *, kinds=None) -> list[CommissionRule]:
    """The active rule versions in force for `period`, with what matching them needs."""
    period = str(period)
    rules = CommissionRule.objects.filter(is_active=True, effective_from__lte=period).filter(
        Q(effective_to="") | Q(effective_to__gte=period)
    )
    if kinds is not None:
        rules = rules.filter(kind__in=kinds)
    return list(rules.select_related("tier", "plan", "metric").order_by("code", "version"))
