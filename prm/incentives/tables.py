import django_tables2 as tables
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from prm.billing.tables import MoneyColumn
from prm.core.money import money_string, plain_decimal
from prm.incentives.models import CommissionEntry, CommissionRule


def _percent(value) -> str:
    return "" if value is None else f"{plain_decimal(value)} %"


class CommissionRuleTable(tables.Table):
    code = tables.Column(verbose_name="Rule")
    version = tables.Column()
    name = tables.Column()
    kind = tables.Column()
    effective_from = tables.Column(verbose_name="From")
    effective_to = tables.Column(verbose_name="To", default="open-ended")
    narrowed = tables.Column(accessor="pk", orderable=False, verbose_name="Applies to")
    rate = tables.Column(empty_values=(), verbose_name="Rate")
    limits = tables.Column(accessor="pk", orderable=False, verbose_name="Bonus · cap")
    is_active = tables.BooleanColumn(verbose_name="Active")

    class Meta:
        model = CommissionRule
        fields = ("code", "version", "name", "kind", "effective_from", "effective_to")
        sequence = (*fields, "narrowed", "rate", "limits", "is_active")
        order_by = ("code", "-version")
        attrs = {"class": "table"}

    def render_code(self, value, record):
        return format_html('<a href="{}">{}</a>', reverse("commission_rule_detail", args=[record.pk]), value)

    def render_narrowed(self, record):
        return narrowing(record)

    def value_narrowed(self, record):
        return narrowing(record)

    def render_rate(self, record):
        return rate_summary(record)

    def value_rate(self, record):
        return rate_summary(record)

    def render_limits(self, record):
        return limits(record) or "—"

    def value_limits(self, record):
        return limits(record)


def narrowing(rule: CommissionRule) -> str:
    parts = []
    if rule.tier_id:
        parts.append(f"{rule.tier.name} partners")
    if rule.plan_id:
        parts.append(f"plan {rule.plan.code}")
    if rule.metric_id:
        parts.append(f"metric {rule.metric.code}")
    return ", ".join(parts) or "everything"


def rate_summary(rule: CommissionRule) -> str:
    if rule.kind == "new_customer_bonus":
        return "—"
    rate = _percent(rule.rate) if rule.rate is not None else "the tier's base rate"
    if rule.first_months:
        return f"{_percent(rule.first_months_rate)} for a customer's first {rule.first_months} periods, then {rate}"
    return rate


def limits(rule: CommissionRule) -> str:
    parts = []
    if rule.bonus_amount is not None:
        parts.append(f"bonus {money_string(rule.bonus_amount, rule.currency)} {rule.currency}")
    if rule.cap_amount is not None:
        parts.append(f"cap {money_string(rule.cap_amount, rule.currency)} {rule.currency} per period")
    return " · ".join(parts)


class CommissionEntryTable(tables.Table):
    period = tables.Column()
    partner = tables.Column(accessor="partner__name", order_by="partner__name", verbose_name="Partner")
    customer = tables.Column(accessor="customer__name", order_by="customer__name", verbose_name="Customer")
    rule = tables.Column(accessor="rule__code", order_by="rule__code", verbose_name="Rule")
    invoice = tables.Column(accessor="invoice__number", order_by="invoice__number", verbose_name="Invoice", default="—")
    statement = tables.Column(accessor="statement_id", verbose_name="Statement", default="—")
    currency = tables.Column()
    base_amount = MoneyColumn(verbose_name="On")
    rate = tables.Column(verbose_name="Rate", default="")
    amount = MoneyColumn()
    explanation = tables.Column(orderable=False)

    class Meta:
        model = CommissionEntry
        fields = ("period", "partner", "customer", "rule", "invoice", "statement", "currency")
        sequence = (*fields, "base_amount", "rate", "amount", "explanation")
        order_by = ("-period",)
        attrs = {"class": "table"}

    def render_invoice(self, value, record):
        # The drill-down: the invoice page shows the line and links to the usage behind it.
        return format_html('<a href="{}">{}</a>', record.invoice.get_absolute_url(), value)

    def render_statement(self, value, record):
        try:
            url = reverse("statement_detail", args=[value])
        except NoReverseMatch:  # the statement pages are another part of the app
            return value
        return format_html('<a href="{}">{}</a>', url, f"#{value}")

    def render_rate(self, value):
        return _percent(value)

    def value_rate(self, value):
        return "" if value is None else plain_decimal(value)
