import django_tables2 as tables

from prm.customers.models import Customer, SubscriptionChange


class CustomerTable(tables.Table):
    name = tables.Column(linkify=True)
    reseller = tables.Column(linkify=True, order_by="reseller__name")
    assigned_rep = tables.Column(accessor="assigned_rep__full_name", verbose_name="Rep", default="—")

    class Meta:
        model = Customer
        fields = ("name", "external_id", "domain", "reseller", "use_case", "currency", "assigned_rep", "is_active")
        order_by = ("name",)
        attrs = {"class": "table"}


class SubscriptionChangeTable(tables.Table):
    subscription = tables.Column(
        accessor="subscription__external_id",
        verbose_name="Subscription",
        linkify=lambda record: record.subscription.get_absolute_url(),
    )
    customer = tables.Column(accessor="subscription__customer__name", verbose_name="Customer")
    kind = tables.Column()
    summary = tables.Column(accessor="pk", orderable=False, verbose_name="Change")
    effective_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Takes effect (UTC)")
    approval = tables.Column()
    requested_by = tables.Column(verbose_name="Asked by", order_by="requested_by__email", default="—")
    created_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Recorded")

    class Meta:
        model = SubscriptionChange
        fields = ("subscription", "customer", "kind", "summary", "effective_at", "approval", "requested_by")
        sequence = (*fields, "created_at")
        order_by = ("-created_at",)
        attrs = {"class": "table"}

    def render_requested_by(self, value):
        return value.display_name

    def value_requested_by(self, value):
        return value.display_name

    def render_summary(self, record):
        return record.summary + (" (cancelled)" if record.is_cancelled else "")

    def value_summary(self, record):
        return self.render_summary(record)
