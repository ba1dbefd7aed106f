"""Usage and spend alerts: the rules people set, the defaults, acknowledging, and the anomaly method.

Writes go through the services here (`alert_rule_create`, `alert_rule_update`, `alert_acknowledge`,
`alert_rules_ensure_defaults`, `alert_record`); evaluating the rules against usage and spend is a
flow across apps (billing's live estimate), so it lives in prm/operations/alerting.py.

Anomalies (basis "anomaly"): a day's usage of a metric against the N full days before it (the
baseline; 14 by default, a day without usage counting 0).

    median  m  = the baseline days' median
    MAD        = the median of |day − m| over the baseline days
    typical σ̂ = 1.4826 × MAD          (1.4826 makes the MAD estimate a standard deviation for
                                        normally distributed days, while one wild day cannot move it)
    unusual    ⇔ |x − m| > k × σ̂      (k = 3 by default: above or below)

Guards, so the method stays explainable on real series:
- MAD = 0 (more than half the baseline days have one same value): σ̂ = 1.2533 × the mean absolute
  deviation from the median instead (the usual fallback of the modified z-score, Iglewicz & Hoaglin;
  1.2533 = √(π/2) plays the part 1.4826 plays for the MAD);
- σ̂ is never below 5 % of |m|: a very steady series would otherwise call a 2 % move unusual;
  with k = 3 a day must be at least 15 % away from its median to fire (and when every baseline day
  is the same, that floor is the whole of σ̂);
- a baseline with usage on fewer than half of its days (a new customer or metric) is not judged yet.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from prm.core.audit import audit_created
from prm.core.money import plain_decimal
from prm.customers.models import Customer, Subscription, SubscriptionStatus
from prm.customers.services import effective_commitment
from prm.plans.models import PlanVersion
from prm.usage.models import PERCENT_BASES, Alert, AlertBasis, AlertMeasure, AlertRule

# Every subscription with a commitment gets a spend rule at each of these percentages of it.
DEFAULT_COMMITMENT_PERCENTS = (80, 100)
DEFAULT_KEY_PREFIX = "commitment-"
# Subscriptions given their defaults per transaction (and per IN list read back).
DEFAULTS_BATCH = 500
BASELINE_DAYS_RANGE = (3, 90)
MAX_K = Decimal(100)

MAD_SCALE = Decimal("1.4826")
MEAN_AD_SCALE = Decimal("1.2533")
RELATIVE_FLOOR = Decimal("0.05")


# --- who may ---------------------------------------------------------------------------------


def can_manage_alert_rules(user) -> bool:
    """Managers, partner admins and reps (for the customers they see), customer admins (their own)."""
    return bool(user.is_authenticated and (user.is_manager or user.is_partner_user or user.is_customer_admin))


def can_acknowledge_alerts(user) -> bool:
    """The same people; customer viewers read alerts but do not act on them."""
    return can_manage_alert_rules(user)


# --- words -----------------------------------------------------------------------------------


def figure(value: Decimal) -> str:
    """A quantity for people: 12,500 · 0.5 · 1,234.56 (no trailing zeros, no exponent)."""
    return format(value.normalize(), ",f") if value else "0"


def rule_description(rule: AlertRule) -> str:
    """What a rule watches, in one line."""
    threshold = figure(rule.threshold) if rule.threshold is not None else ""
    where = f" ({rule.subscription.external_id})" if rule.subscription_id else ""
    if rule.basis == AlertBasis.ANOMALY:
        name = rule.metric.name if rule.metric_id else "Usage"
        return (
            f"{name}: a day outside the median ± {figure(rule.k)} × the typical deviation "
            f"of the {rule.baseline_days} days before"
        )
    if rule.measure == AlertMeasure.USAGE:
        name = rule.metric.name if rule.metric_id else "Usage"
        unit = rule.metric.unit if rule.metric_id else ""
        return f"{name} ≥ {threshold} {unit} in a billing period".replace("  ", " ")
    spend = f"Spend on {rule.metric.name}" if rule.metric_id else "Spend"
    if rule.basis == AlertBasis.PERCENT_OF_COMMITMENT:
        return f"{spend} ≥ {threshold} % of the commitment{where}"
    if rule.basis == AlertBasis.PERCENT_OF_CREDIT:
        return f"{spend} ≥ {threshold} % of the prepaid credits available{where}"
    return f"{spend} ≥ {threshold} {rule.customer.currency} in a billing period{where}"


# --- rules -----------------------------------------------------------------------------------

RULE_FIELDS = ("subscription", "metric", "measure", "basis", "threshold", "k", "baseline_days", "is_active")


def alert_rule_create(*, actor, customer: Customer | None = None, **fields) -> AlertRule:
    """A rule for `customer` (a customer's own people: always their customer). Errors name the field."""
    if not can_manage_alert_rules(actor):
        raise PermissionDenied("Customer viewers see alerts; managers, partners and customer admins set the rules.")
    if actor.is_customer_user:
        customer = customer or actor.customer
    if customer is None:
        raise ValidationError({"customer": "Choose the customer whose usage or spend the rule watches."})
    with transaction.atomic():
        # Re-read through the actor's scope: another partner's customer is not one to choose.
        customer = Customer.objects.visible_to(actor).filter(pk=customer.pk).first()
        if customer is None:
            raise ValidationError({"customer": "Choose a customer you manage."})
        rule = AlertRule(customer=customer, created_by=actor)
        for name in RULE_FIELDS:
            if name in fields:
                setattr(rule, name, fields[name])
        _validate(actor, rule, timezone.now())
        rule.full_clean()
        rule.save()
    return rule


def alert_rule_update(*, actor, rule: AlertRule, **fields) -> AlertRule:
    """Change a rule (a default one too: its threshold, or switch it off). The customer stays."""
    with transaction.atomic():
        rule = AlertRule.objects.locked_for(actor, rule.pk)
        if not can_manage_alert_rules(actor):
            raise PermissionDenied("Customer viewers see alerts; managers, partners and customer admins set the rules.")
        for name in RULE_FIELDS:
            if name in fields:
                setattr(rule, name, fields[name])
        _validate(actor, rule, timezone.now())
        rule.full_clean()
        rule.save()
    return rule


def _validate(actor, rule: AlertRule, now: datetime) -> None:
    """The combinations that make sense, with the field to fix named (see README, Alerts)."""
    customer = rule.customer
    if rule.subscription_id is not None:
        visible = Subscription.objects.visible_to(actor).filter(pk=rule.subscription_id, customer=customer)
        if not visible.exists():
            raise ValidationError({"subscription": f"Choose one of {customer}'s subscriptions."})
    if rule.measure not in AlertMeasure.values:
        raise ValidationError({"measure": f"Choose one of: {', '.join(AlertMeasure.values)}."})
    if rule.basis not in AlertBasis.values:
        raise ValidationError({"basis": f"Choose one of: {', '.join(AlertBasis.values)}."})

    if rule.basis == AlertBasis.ANOMALY:
        if rule.measure != AlertMeasure.USAGE:
            raise ValidationError(
                {"measure": "An anomaly rule watches a metric's daily usage: choose measure usage."}
            )  # fmt: skip
        if rule.metric_id is None:
            raise ValidationError({"metric": "An anomaly rule needs the metric whose daily usage it watches."})
        if rule.threshold is not None:
            raise ValidationError(
                {"threshold": "An anomaly rule has no fixed threshold: a day fires when it is more than k typical "
                 "deviations from the median of the days before. Leave threshold empty and set k."}
            )  # fmt: skip
        if rule.k is None or not 0 < rule.k <= MAX_K:
            raise ValidationError({"k": f"k must be greater than 0 and at most {MAX_K} (3 is usual)."})
        low, high = BASELINE_DAYS_RANGE
        if rule.baseline_days is None or not low <= rule.baseline_days <= high:
            raise ValidationError({"baseline_days": f"The baseline is {low} to {high} full days (14 is usual)."})
        return

    if rule.threshold is None or rule.threshold <= 0:
        raise ValidationError({"threshold": "The threshold must be greater than 0."})
    if rule.measure == AlertMeasure.USAGE:
        if rule.basis in PERCENT_BASES:
            raise ValidationError(
                {"basis": "A percentage of the commitment or of prepaid credits is a share of spend: choose measure "
                 "spend, or an absolute threshold of usage."}
            )  # fmt: skip
        if rule.metric_id is None:
            raise ValidationError({"metric": "A usage threshold needs the metric whose usage it counts."})
    if rule.basis == AlertBasis.PERCENT_OF_COMMITMENT:
        if rule.subscription_id is None:
            rule.subscription = _only_subscription(customer, now)
        commitment = commitment_now(rule.subscription, now)
        if not commitment:
            raise ValidationError(
                {"basis": f"{rule.subscription.external_id} has no commitment (neither its own nor its plan's "
                 "minimum): a percentage of it means nothing. Choose an absolute threshold instead."}
            )  # fmt: skip


def _only_subscription(customer: Customer, now: datetime) -> Subscription:
    running = Subscription.objects.filter(customer=customer, status=SubscriptionStatus.ACTIVE).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=now)
    )
    found = list(running[:2])
    if len(found) != 1:
        raise ValidationError(
            {"subscription": "A percentage of the commitment is measured against one subscription's commitment: "
             f"choose which ({customer} has {len(found) or 'no'}{'+' if len(found) == 2 else ''} running)."}
        )  # fmt: skip
    return found[0]


def commitment_now(subscription: Subscription, now: datetime, changes=None, versions=None) -> Decimal:
    """The commitment in force at `now` (its own, else its plan version's minimum; 0: none).

    `changes` (its active changes) and `versions` (plan versions by id) may be passed when loaded."""
    terms = subscription.terms_at(now, changes)
    version = (versions or {}).get(terms.plan_version_id)
    if version is None:
        version = PlanVersion.objects.get(pk=terms.plan_version_id)
    return effective_commitment(terms.commitment, version)


def alert_rules_ensure_defaults(*, now: datetime | None = None) -> int:
    """Give every running subscription with a commitment its default spend rules (80 % and 100 % of
    the commitment), once: a subscription that has them (switched off or changed included) is left
    alone, and the unique constraint makes racing calls create them once. Returns how many this call made."""
    now = now or timezone.now()
    has_defaults = AlertRule.objects.filter(subscription=OuterRef("pk"), default_key__startswith=DEFAULT_KEY_PREFIX)
    missing = list(
        Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=now))
        .filter(Q(commitment__gt=0) | Q(commitment__isnull=True, plan_version__minimum_commitment__gt=0))
        .filter(~Exists(has_defaults))
        .values_list("pk", "customer_id")
    )
    made = 0
    for start in range(0, len(missing), DEFAULTS_BATCH):
        chunk = missing[start : start + DEFAULTS_BATCH]
        rules = [
            AlertRule(
                customer_id=customer_id,
                subscription_id=subscription_id,
                measure=AlertMeasure.SPEND,
                basis=AlertBasis.PERCENT_OF_COMMITMENT,
                threshold=Decimal(percent),
                default_key=f"{DEFAULT_KEY_PREFIX}{percent}",
            )
            for subscription_id, customer_id in chunk
            for percent in DEFAULT_COMMITMENT_PERCENTS
        ]
        with transaction.atomic():
            AlertRule.objects.bulk_create(rules, ignore_conflicts=True)
            # ignore_conflicts gives the rows no ids: read them back for the audit log, whose entries
            # say who made them (a racing call made and recorded some: those are skipped).
            made_now = AlertRule.objects.filter(
                subscription_id__in=[subscription_id for subscription_id, _customer_id in chunk],
                default_key__startswith=DEFAULT_KEY_PREFIX,
            ).select_related("customer", "subscription", "metric")
            made += audit_created(made_now, unless_recorded=True)
    return made


# --- alerts ----------------------------------------------------------------------------------


def alert_record(**fields) -> Alert | None:
    """Store one firing; None when the rule already fired for that period (or day) and threshold —
    the unique constraint decides, so two evaluations running at once fire it once."""
    try:
        with transaction.atomic():
            return Alert.objects.create(**fields)
    except IntegrityError:
        return None


def alert_acknowledge(*, actor, alert: Alert) -> Alert:
    """Mark an alert seen and dealt with (once: acknowledging again changes nothing)."""
    if not can_acknowledge_alerts(actor):
        raise PermissionDenied("Customer viewers see alerts; their admins, partners and managers acknowledge them.")
    with transaction.atomic():
        alert = Alert.objects.locked_for(actor, alert.pk)
        if alert.acknowledged_at is None:
            alert.acknowledged_at = timezone.now()
            alert.acknowledged_by = actor
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return alert


# --- anomalies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """The figures a day is judged against (see the module docstring)."""

    days: int
    median: Decimal
    mad: Decimal
    typical: Decimal  # σ̂: 1.4826 × MAD, or the fallbacks

    def bounds(self, k: Decimal) -> tuple[Decimal, Decimal]:
        return self.median - k * self.typical, self.median + k * self.typical

    def departs(self, value: Decimal, k: Decimal) -> bool:
        return self.typical > 0 and abs(value - self.median) > k * self.typical


def median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def baseline_of(values: list[Decimal]) -> Baseline:
    """Median, MAD and the typical deviation σ̂ of the baseline days' values."""
    if not values:
        raise ValueError("a baseline needs at least one day")
    center = median(values)
    deviations = [abs(value - center) for value in values]
    mad = median(deviations)
    # MAD = 0 when more than half the days share one value: the mean absolute deviation then.
    typical = MAD_SCALE * mad if mad else MEAN_AD_SCALE * sum(deviations, Decimal(0)) / len(deviations)
    typical = max(typical, RELATIVE_FLOOR * abs(center))
    return Baseline(days=len(values), median=center, mad=mad, typical=typical)


def judged(days_with_usage: int, baseline_days: int) -> bool:
    """Whether a baseline has enough history: usage on at least half of its days."""
    return days_with_usage * 2 >= baseline_days


def shown(value: Decimal) -> str:
    """A baseline figure for a message: whole above 100, one place above 10, two below."""
    magnitude = abs(value)
    places = Decimal(1) if magnitude >= 100 else Decimal("0.1") if magnitude >= 10 else Decimal("0.01")
    return figure(value.quantize(places))


def plain(value: Decimal | None) -> str | None:
    return None if value is None else plain_decimal(value)
