import django_tables2 as tables

from prm.customers.models import Customer


class CustomerTable(tables.Table):
    name = tables.Column(linkify=True)
    reseller = tables.Column(linkify=True, order_by="reseller__name")
    assigned_rep = tables.Column(accessor="assigned_rep__full_name", verbose_name="Rep", default="—")

    class Meta:
        model = Customer
        fields = ("name", "external_id", "domain", "reseller", "use_case", "currency", "assigned_rep", "is_active")
        order_by = ("name",)
        attrs = {"class": "table"}
