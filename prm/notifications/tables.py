import django_tables2 as tables

from prm.notifications.models import WebhookEndpoint


class WebhookEndpointTable(tables.Table):
    url = tables.Column(linkify=True, verbose_name="URL")
    description = tables.Column(default="—")
    partner = tables.Column(order_by="partner__name", default="Vendor (all partners)", verbose_name="Owner")
    event_types = tables.Column(verbose_name="Events", orderable=False)
    is_active = tables.BooleanColumn(verbose_name="Active")
    created_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Created (UTC)")

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "partner", "event_types", "is_active", "created_at")
        order_by = ("-created_at",)
        attrs = {"class": "table"}

    def render_event_types(self, record):
        return ", ".join(record.event_type_labels)

    def value_event_types(self, record):
        return " ".join(record.event_types)
