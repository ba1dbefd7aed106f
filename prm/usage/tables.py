import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from prm.core.money import plain_decimal
from prm.usage.alerts import can_manage_alert_rules, figure
from prm.usage.models import Alert, AlertBasis, AlertRule, QuarantinedEvent, UsageEvent, UsageUpload


class UsageEventTable(tables.Table):
    timestamp = tables.DateTimeColumn(format="Y-m-d H:i:s", linkify=lambda record: record.get_absolute_url())
    customer = tables.Column(accessor="customer__name", order_by="customer__name", verbose_name="Customer")
    metric = tables.Column(accessor="metric__code", verbose_name="Metric")
    value = tables.Column(attrs={"td": {"class": "number"}, "th": {"class": "number"}})

    class Meta:
        model = UsageEvent
        fields = ("timestamp", "customer", "metric", "value", "distinct_key", "event_id", "format", "status")
        attrs = {"class": "table"}

    def render_value(self, value):
        return plain_decimal(value)

    def value_value(self, value):
        return plain_decimal(value)

    def render_status(self, record, value):
        return format_html('<span class="badge status-{}">{}</span>', record.status, value)


class QuarantineTable(tables.Table):
    received_at = tables.DateTimeColumn(format="Y-m-d H:i")
    actions = tables.TemplateColumn(
        template_name="usage/quarantine_actions.html", orderable=False, exclude_from_export=True, verbose_name=""
    )

    class Meta:
        model = QuarantinedEvent
        fields = (
            "received_at", "reason", "detail", "customer_external_id", "metric_code", "event_id", "source",
            "attempts", "status",
        )  # fmt: skip
        attrs = {"class": "table"}


class UsageUploadTable(tables.Table):
    filename = tables.Column()
    report = tables.Column(empty_values=(), orderable=False, exclude_from_export=True, verbose_name="Report")

    class Meta:
        model = UsageUpload
        fields = ("created_at", "filename", "uploaded_by", "rows", "accepted", "duplicates", "quarantined", "rejected")
        attrs = {"class": "table"}

    def render_report(self, record):
        return format_html('<a href="{}">Download CSV</a>', reverse("usage_upload_report", args=[record.pk]))


class AlertRuleTable(tables.Table):
    rule = tables.Column(accessor="pk", verbose_name="Rule", orderable=False)
    customer = tables.Column(accessor="customer__name", order_by="customer__name", verbose_name="Customer")
    subscription = tables.Column(accessor="subscription__external_id", verbose_name="Subscription", default="All")
    metric = tables.Column(accessor="metric__code", verbose_name="Metric", default="—")
    threshold = tables.Column(empty_values=(), attrs={"td": {"class": "number"}, "th": {"class": "number"}})
    is_default = tables.BooleanColumn(accessor="default_key", verbose_name="Default", orderable=False)
    is_active = tables.BooleanColumn(verbose_name="Active")
    actions = tables.Column(empty_values=(), orderable=False, exclude_from_export=True, verbose_name="")

    class Meta:
        model = AlertRule
        fields = ("rule", "customer", "subscription", "metric", "measure", "basis", "threshold", "is_default",
                  "is_active")  # fmt: skip
        attrs = {"class": "table"}

    def render_rule(self, record):
        return record.description

    def value_rule(self, record):
        return record.description

    def render_threshold(self, record):
        if record.basis == AlertBasis.ANOMALY:
            return f"k = {figure(record.k)}, {record.baseline_days} days"
        if record.basis in (AlertBasis.PERCENT_OF_COMMITMENT, AlertBasis.PERCENT_OF_CREDIT):
            return f"{figure(record.threshold)} %"
        unit = record.metric.unit if record.measure == "usage" and record.metric_id else record.customer.currency
        return f"{figure(record.threshold)} {unit}"

    def value_threshold(self, record):
        return self.render_threshold(record)

    def render_actions(self, record):
        if self.request is None or not can_manage_alert_rules(self.request.user):
            return ""
        return format_html('<a href="{}">Edit</a>', reverse("alert_rule_edit", args=[record.pk]))


class AlertTable(tables.Table):
    fired_at = tables.DateTimeColumn(format="Y-m-d H:i", linkify=lambda record: record.get_absolute_url())
    customer = tables.Column(accessor="customer__name", order_by="customer__name", verbose_name="Customer")
    metric = tables.Column(accessor="metric__code", verbose_name="Metric", default="—")
    observed = tables.Column(attrs={"td": {"class": "number"}, "th": {"class": "number"}})
    limit = tables.Column(verbose_name="Line crossed", attrs={"td": {"class": "number"}, "th": {"class": "number"}})
    message = tables.Column(verbose_name="What happened", orderable=False)
    acknowledged_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Acknowledged", default="—")
    actions = tables.TemplateColumn(
        template_name="usage/alert_actions.html", orderable=False, exclude_from_export=True, verbose_name=""
    )

    class Meta:
        model = Alert
        fields = ("fired_at", "customer", "metric", "basis", "observed", "limit", "message", "acknowledged_at")
        attrs = {"class": "table"}

    def render_observed(self, record):
        return f"{figure(record.observed)} {record.unit}"

    def value_observed(self, record):
        return plain_decimal(record.observed)

    def render_limit(self, record):
        return f"{figure(record.limit)} {record.unit}"

    def value_limit(self, record):
        return plain_decimal(record.limit)
