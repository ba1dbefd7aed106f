from decimal import Decimal

import django_tables2 as tables

from prm.billing.models import CreditGrant, Invoice, Recommendation
from prm.core.money import money_string


class MoneyColumn(tables.Column):
    """An amount in its row's currency, to the currency's minor unit."""

    def __init__(self, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "number"}, "th": {"class": "number"}})
        super().__init__(**kwargs)

    def render(self, value, record):
        return money_string(value, record.currency)

    def value(self, value, record):
        return money_string(value, record.currency)


class InvoiceTable(tables.Table):
    number = tables.Column(linkify=True, empty_values=(), verbose_name="Invoice")
    period = tables.Column()
    customer = tables.Column(accessor="customer__name", order_by="customer__name", verbose_name="Customer")
    subscription = tables.Column(accessor="subscription__external_id", verbose_name="Subscription")
    status = tables.Column()
    currency = tables.Column()
    subtotal = MoneyColumn()
    total = MoneyColumn()
    credited = MoneyColumn()
    finalized_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Finalized", default="—")

    class Meta:
        model = Invoice
        fields = ("number", "period", "customer", "subscription", "status", "currency", "subtotal", "total", "credited")
        sequence = (*fields, "finalized_at")
        order_by = ("-period",)
        attrs = {"class": "table"}

    def render_number(self, value, record):
        return record.number or "Draft (estimate)"

    def value_number(self, value, record):
        return record.number or ""


class CreditGrantTable(tables.Table):
    name = tables.Column(linkify=True, verbose_name="Credits")
    customer = tables.Column(accessor="customer__name", order_by="customer__name", verbose_name="Customer")
    subscription = tables.Column(accessor="subscription__external_id", verbose_name="Subscription")
    source = tables.Column()
    currency = tables.Column()
    credits = MoneyColumn(verbose_name="Granted")
    price = MoneyColumn()
    # Computed from the finalized invoices' drawdowns (prefetched by the view), not a column.
    balance = MoneyColumn(accessor="credits", orderable=False, verbose_name="Balance")
    granted_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Granted on")
    expires_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Expires", default="never")

    class Meta:
        model = CreditGrant
        fields = ("name", "customer", "subscription", "source", "currency", "credits", "price", "balance")
        sequence = (*fields, "granted_at", "expires_at")
        order_by = ("-granted_at",)
        attrs = {"class": "table"}

    def render_balance(self, record):
        return money_string(record.balance, record.currency)

    def value_balance(self, record):
        return money_string(record.balance, record.currency)


class RecommendationTable(tables.Table):
    advice = tables.Column(
        accessor="kind", linkify=lambda record: record.get_absolute_url(), verbose_name="Recommendation"
    )
    customer = tables.Column(accessor="customer__name", order_by="customer__name", verbose_name="Customer")
    subscription = tables.Column(accessor="subscription__external_id", verbose_name="Subscription")
    current_plan = tables.Column(
        accessor="current_plan_version__plan__name", order_by="current_plan_version__plan__name", verbose_name="Plan"
    )
    periods = tables.Column(accessor="period", verbose_name="Periods compared")
    currency = tables.Column()
    actual_total = MoneyColumn(verbose_name="Paid")
    alternative_total = MoneyColumn(verbose_name="Would have paid")
    saving = MoneyColumn(verbose_name="Saving")
    saving_percent = tables.Column(
        verbose_name="Saving %", attrs={"td": {"class": "number"}, "th": {"class": "number"}}
    )
    status = tables.Column()
    computed_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Computed")

    class Meta:
        model = Recommendation
        fields = (
            "advice", "customer", "subscription", "current_plan", "periods", "currency", "actual_total",
            "alternative_total", "saving", "saving_percent", "status", "computed_at",
        )  # fmt: skip
        order_by = ("-period", "-saving")
        attrs = {"class": "table"}

    def render_advice(self, record):
        return record.advice

    def value_advice(self, record):
        return record.advice

    def render_periods(self, record):
        return f"{record.first_period} – {record.period}"

    def value_periods(self, record):
        return f"{record.first_period} – {record.period}"

    def render_saving_percent(self, value):
        return f"{value.quantize(Decimal('0.1'))} %"

    def value_saving_percent(self, value):
        return str(value.quantize(Decimal("0.01")))
