import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from prm.core.money import plain_decimal
from prm.usage.models import QuarantinedEvent, UsageEvent, UsageUpload


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
