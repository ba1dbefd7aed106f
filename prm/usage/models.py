"""Usage: the events as received (immutable, deduplicated forever), quarantine, amendments, rollups."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.urls import reverse

from prm.core.tenancy import Tenancy, TenantQuerySet

# Quantities keep six decimal places (a KB in GB, a second in hours). SQLite holds 15
# significant digits exactly (Django's documented limit); PostgreSQL's NUMERIC holds all.
QUANTITY_DECIMAL_PLACES = 6
EVENT_VALUE_MAX_DIGITS = 21
ROLLUP_MAX_DIGITS = 38


class EventFormat(models.TextChoices):
    CLOUDEVENTS = "cloudevents", "CloudEvents"
    LAGO = "lago", "Lago event"
    CSV = "csv", "CSV upload"
    AMENDMENT = "amendment", "Amendment"


class EventStatus(models.TextChoices):
    ACTIVE = "active", "Counted"
    VOIDED = "voided", "Voided"


USAGE_TENANCY = Tenancy(partner="customer__reseller", customer="customer", rep="customer__assigned_rep")


class UsageEvent(models.Model):
    """One usage event as it was accepted. Never edited: a void or a replacement is recorded
    beside it (status and an UsageAmendment), so the original stays for audit."""

    # The deduplication key, kept forever: (source, id) for CloudEvents; for Lago's shape
    # ("lago:sub:<external_subscription_id>" or "lago:cus:<external_customer_id>", transaction_id).
    source = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255)
    # Every index is paid on each of millions of inserts, so only the ones reads need exist:
    # (customer, metric, timestamp) leads with the customer, and the other foreign keys are
    # looked up rarely (deleting a user or a key), not per event.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="usage_events", db_index=False
    )
    metric = models.ForeignKey("plans.Metric", on_delete=models.PROTECT, related_name="usage_events", db_index=False)
    subscription_external_id = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField()
    value = models.DecimalField(max_digits=EVENT_VALUE_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES)
    # The distinct key of a unique_count metric (empty otherwise).
    distinct_key = models.CharField(max_length=255, blank=True)
    # Decimal numbers are kept exactly, as strings (JSON floats would round them).
    properties = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    format = models.CharField(max_length=20, choices=EventFormat.choices)
    received_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    api_key = models.ForeignKey("accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    status = models.CharField(max_length=10, choices=EventStatus.choices, default=EventStatus.ACTIVE)
    # The event this one corrects; unique among the few events that have one (partial index).
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacements", db_index=False
    )

    tenancy = USAGE_TENANCY
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="usage_event_dedup_key"),
            models.UniqueConstraint(
                fields=["replaces"], condition=Q(replaces__isnull=False), name="usage_event_replaced_once"
            ),
        ]
        indexes = [models.Index(fields=["customer", "metric", "timestamp"], name="usage_event_cust_metric_time")]

    def __str__(self):
        return f"{self.metric.code} {self.value} for {self.customer.external_id} at {self.timestamp:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("usage_event_detail", args=[self.pk])


class UsageEventKey(models.Model):
    """The deduplication key of every stored event, once, forever, when the events table is
    partitioned by month (prm/usage/partitioning.py); empty and unused otherwise.

    A unique key on a partitioned table must include the partition key, so there the events'
    own unique key is (source, event_id, timestamp) and would take the same id twice at two
    times. This small unpartitioned table keeps "(source, id) once" exact: ingestion inserts
    the keys here first and stores only the events whose key was new.
    """

    pk = models.CompositePrimaryKey("source", "event_id")
    source = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255)

    def __str__(self):
        return f"{self.source}/{self.event_id}"


class AmendmentAction(models.TextChoices):
    VOID = "void", "Voided"
    REPLACE = "replace", "Replaced"


class UsageAmendment(models.Model):
    """Who voided or replaced an event, when and why."""

    event = models.ForeignKey(UsageEvent, on_delete=models.PROTECT, related_name="amendments")
    action = models.CharField(max_length=10, choices=AmendmentAction.choices)
    replacement = models.OneToOneField(
        UsageEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="amendment_creating"
    )
    reason = models.CharField(max_length=500)
    amended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    amended_at = models.DateTimeField()

    tenancy = Tenancy(
        partner="event__customer__reseller", customer="event__customer", rep="event__customer__assigned_rep"
    )
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-amended_at"]
        constraints = [
            # An event is replaced once. Also said by the events' `usage_event_replaced_once`, which
            # a partitioned events table can only keep with the time in it (not exact any more).
            models.UniqueConstraint(
                fields=["event"], condition=Q(action="replace"), name="usage_amendment_replaced_once"
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} event {self.event_id}: {self.reason}"


class QuarantineReason(models.TextChoices):
    UNKNOWN_CUSTOMER = "unknown_customer", "Unknown customer"
    UNKNOWN_SUBSCRIPTION = "unknown_subscription", "Unknown subscription"
    UNKNOWN_METRIC = "unknown_metric", "Unknown metric"
    CLOSED_PERIOD = "closed_period", "Falls in a closed billing period"


class QuarantineStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    REPROCESSED = "reprocessed", "Re-processed"
    DISCARDED = "discarded", "Discarded"


class QuarantinedEvent(models.Model):
    """A well-formed event that could not be counted yet: stored with the reason, never dropped.

    Only channel managers see quarantine (a partner's event for an unknown customer must not
    tell the partner whether that customer exists elsewhere).
    """

    source = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255)
    format = models.CharField(max_length=20, choices=EventFormat.choices)
    payload = models.JSONField(encoder=DjangoJSONEncoder, help_text="The event as it was received.")
    reason = models.CharField(max_length=30, choices=QuarantineReason.choices)
    detail = models.CharField(max_length=500)
    customer_external_id = models.CharField(max_length=255, blank=True)
    subscription_external_id = models.CharField(max_length=255, blank=True)
    metric_code = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey("accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20, choices=QuarantineStatus.choices, default=QuarantineStatus.PENDING)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=500, blank=True)
    accepted_event = models.OneToOneField(
        UsageEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="quarantined_as"
    )
    attempts = models.PositiveIntegerField(default=1)

    tenancy = Tenancy()  # channel managers only
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            # The same event sent again while it waits is one quarantined event, not two.
            models.UniqueConstraint(fields=["source", "event_id"], name="quarantine_dedup_key"),
        ]
        indexes = [models.Index(fields=["status", "reason"], name="quarantine_status_reason")]

    def __str__(self):
        return f"{self.get_reason_display()}: {self.source}/{self.event_id}"


class UsageRollup(models.Model):
    """Per customer · metric · hour: what period totals and charts read instead of raw events.

    Maintained on ingest (added in one upsert) and on amendment (the hour is rebuilt from its
    events), so count, sum, max and latest never need a scan of raw events.
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="usage_rollups")
    metric = models.ForeignKey("plans.Metric", on_delete=models.CASCADE, related_name="usage_rollups")
    hour = models.DateTimeField(help_text="Start of the hour (UTC).")
    event_count = models.BigIntegerField()
    value_sum = models.DecimalField(max_digits=ROLLUP_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES)
    value_max = models.DecimalField(max_digits=EVENT_VALUE_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES)
    latest_value = models.DecimalField(max_digits=EVENT_VALUE_MAX_DIGITS, decimal_places=QUANTITY_DECIMAL_PLACES)
    latest_at = models.DateTimeField()

    tenancy = USAGE_TENANCY
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "metric", "hour"], name="usage_rollup_bucket"),
            models.CheckConstraint(condition=Q(event_count__gt=0), name="usage_rollup_not_empty"),
        ]

    def __str__(self):
        return f"{self.customer_id}·{self.metric_id}·{self.hour:%Y-%m-%d %H}h: {self.event_count} events"


class UsageDistinctKey(models.Model):
    """The distinct keys of unique_count metrics per hour, so a period's distinct count is exact
    (distinct counts do not add up across hours) without reading raw events."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    metric = models.ForeignKey("plans.Metric", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    key = models.CharField(max_length=255)
    event_count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "metric", "hour", "key"], name="usage_distinct_key_bucket"),
        ]

    def __str__(self):
        return f"{self.key} in {self.hour:%Y-%m-%d %H}h"


class UsageUpload(models.Model):
    """A CSV file of usage uploaded in the portal, with its per-row report."""

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage_uploads")
    filename = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    rows = models.PositiveIntegerField()
    accepted = models.PositiveIntegerField()
    duplicates = models.PositiveIntegerField()
    quarantined = models.PositiveIntegerField()
    rejected = models.PositiveIntegerField()
    report = models.TextField(help_text="CSV: line, event id, outcome, detail.")

    tenancy = Tenancy(partner="uploaded_by__membership__partner", rep="uploaded_by")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.filename} ({self.created_at:%Y-%m-%d %H:%M})"


# --- usage and spend alerts -------------------------------------------------------------------


class AlertMeasure(models.TextChoices):
    USAGE = "usage", "Usage of a metric"
    SPEND = "spend", "Spend (the open period's charges)"


class AlertBasis(models.TextChoices):
    ABSOLUTE = "absolute", "A fixed amount"
    PERCENT_OF_COMMITMENT = "percent_of_commitment", "Percent of the commitment"
    PERCENT_OF_CREDIT = "percent_of_credit", "Percent of prepaid credits"
    ANOMALY = "anomaly", "Unusual day (departure from the recent baseline)"


PERCENT_BASES = (AlertBasis.PERCENT_OF_COMMITMENT, AlertBasis.PERCENT_OF_CREDIT)
ALERT_DECIMAL_PLACES = 6
ALERT_MAX_DIGITS = 30


def _alert_decimal(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=ALERT_MAX_DIGITS, decimal_places=ALERT_DECIMAL_PLACES, **kwargs)


class AlertRule(models.Model):
    """When to tell a customer's people (and their partner) that usage or spend crossed a line.

    Thresholds are absolute (in the metric's unit, or in the customer's currency), a percentage of
    the subscription's commitment or of the prepaid credits available, or an anomaly: a day's usage
    far from its recent baseline (median ± k·1.4826·MAD, see prm/usage/alerts.py). Evaluated by
    prm/operations/alerting.py; each rule fires at most once per billing period and threshold (an
    anomaly rule once per day).
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="alert_rules")
    subscription = models.ForeignKey(
        "customers.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="alert_rules",
        help_text="The subscription whose spend or commitment is watched; empty: all of the customer's.",
    )  # fmt: skip
    metric = models.ForeignKey(
        "plans.Metric", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The metric watched (required for usage and anomalies; for spend, only that metric's charges).",
    )  # fmt: skip
    measure = models.CharField(max_length=10, choices=AlertMeasure.choices)
    basis = models.CharField(max_length=30, choices=AlertBasis.choices)
    threshold = _alert_decimal(
        null=True, blank=True,
        help_text="Absolute: in the metric's unit or the currency. Percent: 80 means 80 %. Empty for anomalies.",
    )  # fmt: skip
    k = models.DecimalField(
        max_digits=6, decimal_places=2, default=3,
        help_text="Anomalies: how many typical deviations (1.4826 × MAD) from the median make a day unusual.",
    )  # fmt: skip
    baseline_days = models.PositiveSmallIntegerField(
        default=14, help_text="Anomalies: how many full days before the day make its baseline."
    )
    # The defaults every subscription with a commitment gets ("commitment-80", "commitment-100");
    # empty for the rules people make. People may change or switch off a default; it is never re-made.
    default_key = models.CharField(max_length=30, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    tenancy = USAGE_TENANCY
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["customer__name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(basis=AlertBasis.ANOMALY) | Q(threshold__gt=0), name="alert_rule_threshold_positive"
            ),
            models.CheckConstraint(condition=Q(k__gt=0), name="alert_rule_k_positive"),
            models.CheckConstraint(condition=Q(baseline_days__gte=3), name="alert_rule_baseline_days_min"),
            # Made once per subscription, however many evaluations race to make them.
            models.UniqueConstraint(
                fields=["subscription", "default_key"], condition=~Q(default_key=""), name="alert_rule_default_once"
            ),
        ]
        indexes = [models.Index(fields=["is_active", "basis"], name="alert_rule_active_basis")]

    def __str__(self):
        return self.description

    def get_absolute_url(self):
        return reverse("alert_rule_edit", args=[self.pk])

    @property
    def is_default(self) -> bool:
        return bool(self.default_key)

    @property
    def description(self) -> str:
        """What the rule watches, in a line: "Spend ≥ 80 % of the commitment (sub_acme)"."""
        from prm.usage.alerts import rule_description  # the wording lives with the rest of the alerts' words

        return rule_description(self)


class Alert(models.Model):
    """One firing of a rule: the figures it saw, kept as they were (the rule may change later)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="alerts")
    subscription = models.ForeignKey(
        "customers.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    metric = models.ForeignKey("plans.Metric", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    measure = models.CharField(max_length=10, choices=AlertMeasure.choices)
    basis = models.CharField(max_length=30, choices=AlertBasis.choices)
    # The billing period [start, end), or for an anomaly the day it is about.
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    threshold = _alert_decimal(help_text="The rule's threshold when it fired (percent, absolute value, or k).")
    limit = _alert_decimal(help_text="The value that was crossed, in `unit`.")
    observed = _alert_decimal(help_text="What was seen, in `unit`.")
    unit = models.CharField(max_length=40, help_text="The metric's unit or the currency.")
    baseline_median = _alert_decimal(null=True, blank=True)
    baseline_mad = _alert_decimal(null=True, blank=True, help_text="Median absolute deviation of the baseline days.")
    baseline_days = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField()
    fired_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    tenancy = USAGE_TENANCY
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-fired_at", "-pk"]
        constraints = [
            # A rule fires once per billing period (anomaly: per day) and threshold, even when two
            # evaluations run at once: the second insert fails and fires nothing.
            models.UniqueConstraint(fields=["rule", "period_start", "threshold"], name="alert_once_per_period"),
        ]
        indexes = [models.Index(fields=["customer", "-fired_at"], name="alert_customer_fired")]

    def __str__(self):
        return f"{self.get_basis_display()} · {self.customer} · {self.fired_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("alert_detail", args=[self.pk])

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None
