import django_tables2 as tables

from prm.deals.models import DealRegistration


class DealTable(tables.Table):
    company = tables.Column(linkify=True, verbose_name="Company")
    domain = tables.Column()
    partner = tables.Column(accessor="partner__name", order_by="partner__name", verbose_name="Partner")
    registered_by = tables.Column(
        accessor="registered_by__email", order_by="registered_by__email", verbose_name="Registered by", default="—"
    )
    plan = tables.Column(accessor="plan__code", order_by="plan__code", verbose_name="Plan")
    expected_close = tables.DateColumn(format="Y-m-d", verbose_name="Expected close")
    status = tables.Column()
    has_conflicts = tables.Column(verbose_name="Conflicts")
    protected_until = tables.DateTimeColumn(format="Y-m-d", verbose_name="Protected until", default="—")
    created_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Registered")

    class Meta:
        model = DealRegistration
        fields = ()
        sequence = (
            "company", "domain", "partner", "registered_by", "plan", "expected_close", "status", "has_conflicts",
            "protected_until", "created_at",
        )  # fmt: skip
        order_by = ("-created_at",)
        attrs = {"class": "table"}

    def render_has_conflicts(self, value, record):
        return f"Yes ({len(record.conflicts)})" if value else "—"

    def value_has_conflicts(self, value, record):
        return len(record.conflicts) if value else 0

    def value_protected_until(self, value):
        return value.isoformat() if value else ""
