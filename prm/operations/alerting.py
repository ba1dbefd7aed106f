"""Usage and spend alerts: evaluate every active rule, fire what crossed its line, tell people.

    alerts_evaluate(now=None) -> list[Alert]      (Celery beat: alerts_evaluate_task, every 15 minutes)

Top to bottom:

1. defaults: every running subscription with a commitment gets its 80 % and 100 % spend rules
   (`usage.alerts.alert_rules_ensure_defaults`, idempotent);
2. rules: the active rules of active customers, less those that already fired for this billing
   period (an anomaly rule: for the day judged) at their current threshold — one query;
3. figures, set-wise:
   - usage: the billing period's quantity of each customer·metric, from the hourly rollups
     (`usage.alerts_selectors.usage_totals`: a few grouped queries for all rules);
   - spend: the open period's draft invoices, billing's live estimate (what the customer's
     dashboard shows). A draft older than DRAFT_MAX_AGE is re-rated first by billing's own
     `invoice_refresh_draft` — one rating per subscription still watched, nothing copied.
     Spend is the draft's subtotal, the plan's charges so far before the minimum true-up, packs
     and credits (a metric rule: that metric's lines); the commitment is the one in force now
     (its own, else its plan's minimum); the prepaid credits are those available to the period,
     as billing/credits.py put them on the draft's prepaid-credit line;
   - anomalies: yesterday's quantity (the last full UTC day) and the baseline days before it
     (`usage.alerts_selectors.daily_usage`), judged by `usage.alerts.baseline_of` (median ± k·σ̂);
4. fire, one transaction per alert: the Alert row (its unique constraint makes racing evaluations
   fire once), `notify()` to the customer's admins, the partner's admins and the assigned rep, and
   `publish_event("usage.threshold_crossed")` for webhooks (queued after commit, never raising).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from prm.accounts.models import Role, User
from prm.billing.credits import CREDIT_LINE
from prm.billing.models import Invoice, InvoiceStatus
from prm.billing.services import invoice_refresh_draft
from prm.core.money import parse_decimal, round_money
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, SubscriptionChange
from prm.notifications.services import notify
from prm.notifications.webhooks import publish_event
from prm.plans.models import PlanVersion
from prm.usage.alerts import (
    Baseline,
    alert_record,
    alert_rules_ensure_defaults,
    baseline_of,
    commitment_now,
    figure,
    judged,
    plain,
    shown,
)
from prm.usage.alerts_selectors import daily_usage, usage_totals
from prm.usage.models import Alert, AlertBasis, AlertMeasure, AlertRule

log = logging.getLogger(__name__)

# A draft rated more recently than this is read as it is (evaluations close together share a rating).
DRAFT_MAX_AGE = timedelta(minutes=5)
EVENT_TYPE = "usage.threshold_crossed"
HUNDRED = Decimal(100)


@dataclass
class Firing:
    """A rule that crossed its line, with the figures that show it."""

    rule: AlertRule
    period_start: datetime
    period_end: datetime
    threshold: Decimal  # the rule's (k for an anomaly)
    limit: Decimal
    observed: Decimal
    unit: str
    title: str
    message: str
    baseline: Baseline | None = None


def alerts_evaluate(*, now: datetime | None = None) -> list[Alert]:
    """Evaluate every active rule at `now` (default: now); returns the alerts fired by this run."""
    now = now or timezone.now()
    alert_rules_ensure_defaults(now=now)
    period = BillingPeriod.containing(now)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    rules = _rules_to_check(period, day)
    usage = [r for r in rules if r.measure == AlertMeasure.USAGE and r.basis == AlertBasis.ABSOLUTE]
    spend = [r for r in rules if r.measure == AlertMeasure.SPEND]
    anomalies = [r for r in rules if r.basis == AlertBasis.ANOMALY]
    firings = [
        *_usage_firings(usage, period),
        *_spend_firings(spend, period, now),
        *_anomaly_firings(anomalies, day),
    ]
    return _fire(firings, now)


def _rules_to_check(period: BillingPeriod, day: datetime) -> list[AlertRule]:
    """Active rules of active customers that have not fired yet for what they would fire for now."""
    rules = list(
        AlertRule.objects.filter(is_active=True, customer__is_active=True)
        .select_related("customer", "subscription", "metric")
        .order_by("pk")
    )
    fired = set(
        Alert.objects.filter(rule__is_active=True, period_start__in=[period.start, day]).values_list(
            "rule_id", "period_start", "threshold"
        )
    )
    return [rule for rule in rules if (rule.pk, *_key(rule, period, day)) not in fired]


def _key(rule: AlertRule, period: BillingPeriod, day: datetime) -> tuple[datetime, Decimal]:
    if rule.basis == AlertBasis.ANOMALY:
        return day, rule.k
    return period.start, rule.threshold


# --- usage thresholds ------------------------------------------------------------------------


def _usage_firings(rules: list[AlertRule], period: BillingPeriod) -> list[Firing]:
    pairs = {(rule.customer_id, rule.metric_id) for rule in rules}
    totals = usage_totals(pairs, {rule.metric_id: rule.metric for rule in rules}, period.start, period.end)
    firings = []
    for rule in rules:
        observed = totals.get((rule.customer_id, rule.metric_id), Decimal(0))
        if observed < rule.threshold:
            continue
        metric = rule.metric
        firings.append(
            Firing(
                rule=rule, period_start=period.start, period_end=period.end, threshold=rule.threshold,
                limit=rule.threshold, observed=observed, unit=metric.unit,
                title=f"{metric.name} over {figure(rule.threshold)} {metric.unit}: {rule.customer}",
                message=(
                    f"{rule.customer} used {figure(observed)} {metric.unit} of {metric.name} in {period} so far, "
                    f"reaching the alert threshold of {figure(rule.threshold)} {metric.unit}."
                ),
            )
        )  # fmt: skip
    return firings


# --- spend -----------------------------------------------------------------------------------


def _spend_firings(rules: list[AlertRule], period: BillingPeriod, now: datetime) -> list[Firing]:
    if not rules:
        return []
    subscriptions = _watched_subscriptions(rules, period)
    drafts = _fresh_drafts(subscriptions, period, now)
    versions = PlanVersion.objects.in_bulk(
        {sub.terms_at(now, sub.changes.all()).plan_version_id for sub in subscriptions.values()}
    )
    by_customer: dict[int, list[int]] = defaultdict(list)
    for sub in subscriptions.values():
        by_customer[sub.customer_id].append(sub.pk)
    firings = []
    for rule in rules:
        watched = [rule.subscription_id] if rule.subscription_id else by_customer[rule.customer_id]
        rule_drafts = [drafts[pk] for pk in watched if pk in drafts]
        if not rule_drafts:
            continue
        currency = rule_drafts[0].currency
        spent = sum((_spend(draft, rule.metric_id) for draft in rule_drafts), Decimal(0))
        what = f"Spend on {rule.metric.name}" if rule.metric_id else "Spend"
        where = f" ({rule.subscription.external_id})" if rule.subscription_id else ""
        money = f"{figure(round_money(spent, currency))} {currency}"
        if rule.basis == AlertBasis.ABSOLUTE:
            limit = rule.threshold
            title = f"{what} over {figure(limit)} {currency}: {rule.customer}"
            message = (
                f"{what} of {rule.customer}{where} in {period} so far is {money}, reaching the alert threshold of "
                f"{figure(limit)} {currency}."
            )
        else:
            if rule.basis == AlertBasis.PERCENT_OF_COMMITMENT:
                subscription = subscriptions.get(rule.subscription_id)
                if subscription is None:
                    continue
                base = commitment_now(subscription, now, subscription.changes.all(), versions)
                of = f"the {figure(round_money(base, currency))} {currency} commitment of {subscription.external_id}"
                short = "of the commitment"
            else:
                base = max((_credits_available(draft) for draft in rule_drafts), default=Decimal(0))
                of = f"the {figure(round_money(base, currency))} {currency} of prepaid credits available this period"
                short = "of prepaid credits"
            if not base or base <= 0:
                continue  # no commitment (or no credits) now: nothing to take a share of
            limit = round_money(base * rule.threshold / HUNDRED, currency)
            share = f"{figure((spent * HUNDRED / base).quantize(Decimal('0.1')))} %"
            title = f"{what} at {share} {short}: {rule.customer}"
            message = (
                f"{what} of {rule.customer}{where} in {period} so far is {money}: {share} of {of} "
                f"(alert at {figure(rule.threshold)} %, {figure(limit)} {currency})."
            )
        if spent < limit:
            continue
        firings.append(
            Firing(
                rule=rule, period_start=period.start, period_end=period.end, threshold=rule.threshold, limit=limit,
                observed=round_money(spent, currency), unit=currency, title=title, message=message,
            )
        )  # fmt: skip
    return firings


def _watched_subscriptions(rules: list[AlertRule], period: BillingPeriod) -> dict[int, Subscription]:
    """The subscriptions the rules watch that are billed in `period`: a rule's own, or all of its
    customer's (found with one query on the rules, not a list of ids)."""
    spend_rules = AlertRule.objects.filter(is_active=True, measure=AlertMeasure.SPEND)
    named = spend_rules.filter(subscription=OuterRef("pk"))
    whole_customer = spend_rules.filter(subscription__isnull=True, customer=OuterRef("customer_id"))
    candidates = (
        Subscription.objects.filter(Exists(named) | Exists(whole_customer))
        .filter(started_at__lt=period.end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=period.start))
        .select_related("plan_version__plan")
        .prefetch_related(Prefetch("changes", queryset=SubscriptionChange.objects.filter(cancelled_at__isnull=True)))
    )
    explicit = {rule.subscription_id for rule in rules if rule.subscription_id}
    customers = {rule.customer_id for rule in rules if not rule.subscription_id}
    # Only those a rule still to check needs (a rule that fired this period costs no rating).
    return {sub.pk: sub for sub in candidates if sub.pk in explicit or sub.customer_id in customers}


def _fresh_drafts(subscriptions: dict[int, Subscription], period: BillingPeriod, now: datetime) -> dict[int, Invoice]:
    """The period's draft of each subscription, re-rated by billing when older than DRAFT_MAX_AGE."""
    if not subscriptions:
        return {}
    of_period = Invoice.objects.filter(period=str(period), subscription__in=list(subscriptions))
    existing = {invoice.subscription_id: invoice for invoice in of_period.only("subscription", "status", "rated_at")}
    for pk, subscription in subscriptions.items():
        invoice = existing.get(pk)
        if invoice is not None and (not invoice.is_draft or invoice.rated_at >= now - DRAFT_MAX_AGE):
            continue
        try:
            invoice_refresh_draft(subscription=subscription, period=period)
        except ValidationError as error:  # not active in the period after all, or finalized meanwhile
            log.info("Alerts: no live estimate for %s in %s: %s", subscription.external_id, period, error)
    drafts = of_period.filter(status=InvoiceStatus.DRAFT).prefetch_related("lines")
    return {draft.subscription_id: draft for draft in drafts}


def _spend(draft: Invoice, metric_id: int | None) -> Decimal:
    if metric_id is None:
        return draft.subtotal
    return sum((line.amount for line in draft.lines.all() if line.metric_id == metric_id), Decimal(0))


def _credits_available(draft: Invoice) -> Decimal:
    for line in draft.lines.all():
        if line.model == CREDIT_LINE:
            return parse_decimal(line.charge.get("available", "0"))
    return Decimal(0)


# --- anomalies -------------------------------------------------------------------------------


def _anomaly_firings(rules: list[AlertRule], day: datetime) -> list[Firing]:
    if not rules:
        return []
    longest = max(rule.baseline_days for rule in rules)
    pairs = {(rule.customer_id, rule.metric_id) for rule in rules}
    metrics = {rule.metric_id: rule.metric for rule in rules}
    daily = daily_usage(pairs, metrics, day - timedelta(days=longest), day + timedelta(days=1))
    firings = []
    for rule in rules:
        series = daily.get((rule.customer_id, rule.metric_id), {})
        before = [day - timedelta(days=n) for n in range(rule.baseline_days, 0, -1)]
        if not judged(sum(1 for each in before if each in series), rule.baseline_days):
            continue
        baseline = baseline_of([series.get(each, Decimal(0)) for each in before])
        value = series.get(day, Decimal(0))
        if not baseline.departs(value, rule.k):
            continue
        metric = rule.metric
        low, high = baseline.bounds(rule.k)
        direction = "above" if value > baseline.median else "below"
        firings.append(
            Firing(
                rule=rule, period_start=day, period_end=day + timedelta(days=1), threshold=rule.k,
                limit=high if value > baseline.median else low, observed=value, unit=metric.unit,
                title=f"Unusual {metric.name} on {day:%Y-%m-%d}: {rule.customer}",
                message=(
                    f"{figure(value)} {metric.unit} of {metric.name} on {day:%a %-d %b %Y} (yesterday, UTC) vs a "
                    f"median of {shown(baseline.median)} (±{shown(baseline.typical)} typical) over the "
                    f"{baseline.days} days before; threshold k={figure(rule.k)}: a day outside "
                    f"{shown(low)} – {shown(high)} is unusual, and this one is {direction}."
                ),
                baseline=baseline,
            )
        )  # fmt: skip
    return firings


# --- firing ----------------------------------------------------------------------------------


def _fire(firings: list[Firing], now: datetime) -> list[Alert]:
    if not firings:
        return []
    people = _recipients({firing.rule.customer for firing in firings})
    fired = []
    for firing in firings:
        rule, customer = firing.rule, firing.rule.customer
        with transaction.atomic():
            alert = alert_record(
                rule=rule, customer=customer, subscription_id=rule.subscription_id, metric_id=rule.metric_id,
                measure=rule.measure, basis=rule.basis, period_start=firing.period_start,
                period_end=firing.period_end, threshold=firing.threshold, limit=firing.limit,
                observed=firing.observed, unit=firing.unit, message=firing.message, fired_at=now,
                baseline_median=firing.baseline.median if firing.baseline else None,
                baseline_mad=firing.baseline.mad if firing.baseline else None,
                baseline_days=firing.baseline.days if firing.baseline else None,
            )  # fmt: skip
            if alert is None:  # another evaluation fired it first
                continue
            kind = "usage.anomaly" if rule.basis == AlertBasis.ANOMALY else EVENT_TYPE
            notify(
                users=people.get(customer.pk, []), kind=kind, title=firing.title, body=firing.message,
                url=alert.get_absolute_url(),
            )  # fmt: skip
            publish_event(
                type=EVENT_TYPE, data=event_data(alert, firing), partner_id=customer.reseller_id,
                customer_id=customer.pk,
            )  # fmt: skip
        fired.append(alert)
    return fired


def _recipients(customers: set) -> dict[int, list[User]]:
    """The people each customer's alerts go to (one query): its admins, its partner's admins, its rep."""
    by_partner: dict[int, list[int]] = defaultdict(list)
    for customer in customers:
        by_partner[customer.reseller_id].append(customer.pk)
    reps = {customer.assigned_rep_id: customer.pk for customer in customers if customer.assigned_rep_id}
    people = User.objects.filter(is_active=True).filter(
        Q(membership__role=Role.CUSTOMER_ADMIN, membership__customer__in=[c.pk for c in customers])
        | Q(membership__role=Role.PARTNER_ADMIN, membership__partner__in=list(by_partner))
        | Q(pk__in=list(reps))
    )
    result: dict[int, list[User]] = defaultdict(list)
    assigned: dict[int, list[int]] = defaultdict(list)
    for customer in customers:
        if customer.assigned_rep_id:
            assigned[customer.assigned_rep_id].append(customer.pk)
    for person in people.select_related("membership"):
        membership = person.membership_or_none
        targets = set(assigned.get(person.pk, []))
        if membership is not None and membership.role == Role.CUSTOMER_ADMIN:
            targets.add(membership.customer_id)
        if membership is not None and membership.role == Role.PARTNER_ADMIN:
            targets.update(by_partner.get(membership.partner_id, []))
        for customer_id in targets:
            result[customer_id].append(person)
    return result


def event_data(alert: Alert, firing: Firing) -> dict:
    """The webhook payload's `data` of a `usage.threshold_crossed` event (decimals as strings)."""
    rule, customer = firing.rule, firing.rule.customer
    site = settings.PRM_SITE_URL.rstrip("/")
    return {
        "alert": alert.pk,
        "rule": rule.pk,
        "customer": customer.external_id,
        "customer_name": customer.name,
        "subscription": rule.subscription.external_id if rule.subscription_id else None,
        "metric": rule.metric.code if rule.metric_id else None,
        "measure": alert.measure,
        "basis": alert.basis,
        "period_start": alert.period_start.isoformat(),
        "period_end": alert.period_end.isoformat(),
        "threshold": plain(alert.threshold),
        "limit": plain(alert.limit),
        "observed": plain(alert.observed),
        "unit": alert.unit,
        "baseline": (
            {
                "median": plain(firing.baseline.median),
                "mad": plain(firing.baseline.mad),
                "typical": plain(firing.baseline.typical),
                "days": firing.baseline.days,
            }
            if firing.baseline
            else None
        ),
        "message": alert.message,
        "fired_at": alert.fired_at.isoformat(),
        "url": f"{site}{alert.get_absolute_url()}",
    }
