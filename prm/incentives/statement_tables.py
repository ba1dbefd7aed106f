import django_tables2 as tables

from prm.billing.tables import MoneyColumn
from prm.core.money import plain_decimal
from prm.incentives.models import CommissionEntry, Statement


class StatementTable(tables.Table):
    period = tables.Column(linkify=True, verbose_name="Statement")
    partner = tables.Column(accessor="partner__name", order_by="partner__name", verbose_name="Partner")
    currency = tables.Column()
    status = tables.Column()
    carried_in = MoneyColumn(verbose_name="Carried in")
    entries_total = MoneyColumn(verbose_name="Earned")
    total = MoneyColumn()
    approved_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Approved", default="—")
    # The reverse one-to-one is joined by the view (select_related), one query for the page.
    payout = tables.Column(
        accessor="pk", order_by="payout__reference", verbose_name="Payout", empty_values=(), default="—"
    )

    class Meta:
        model = Statement
        fields = ("period", "partner", "currency", "status", "carried_in", "entries_total", "total")
        sequence = (*fields, "approved_at", "payout")
        order_by = ("-period",)
        attrs = {"class": "table"}

    def render_period(self, value, record):
        return f"{value} · {record.currency}"

    def value_period(self, value, record):
        return value

    def value_approved_at(self, value):
        return value.isoformat() if value else ""

    def render_payout(self, record):
        payout = _payout(record)
        return f"{payout.reference} ({payout.paid_at:%Y-%m-%d})" if payout else "—"

    def value_payout(self, record):
        payout = _payout(record)
        return payout.reference if payout else ""


def _payout(statement):
    try:
        return statement.payout
    except Statement.payout.RelatedObjectDoesNotExist:
        return None


class StatementEntryTable(tables.Table):
    """One statement's entries, as its CSV export: each with the invoice line or credit note behind it."""

    period = tables.Column(verbose_name="Earned in")
    customer = tables.Column(accessor="customer__name", verbose_name="Customer")
    customer_id = tables.Column(accessor="customer__external_id", verbose_name="Customer id")
    rule = tables.Column(accessor="rule__code", verbose_name="Rule")
    rule_version = tables.Column(accessor="rule__version", verbose_name="Rule version")
    invoice = tables.Column(accessor="pk", verbose_name="Invoice", empty_values=())
    invoice_line = tables.Column(accessor="invoice_line__description", verbose_name="Invoice line", default="")
    credit_note = tables.Column(accessor="credit_note__number", verbose_name="Credit note", default="")
    base_amount = MoneyColumn(verbose_name="Base")
    rate = tables.Column(verbose_name="Rate %", default="")
    amount = MoneyColumn()
    explanation = tables.Column()

    class Meta:
        model = CommissionEntry
        fields = ()
        sequence = (
            "period", "customer", "customer_id", "rule", "rule_version", "invoice", "invoice_line", "credit_note",
            "base_amount", "rate", "amount", "explanation",
        )  # fmt: skip
        orderable = False
        attrs = {"class": "table"}

    def render_invoice(self, record):
        return self.value_invoice(record)

    def value_invoice(self, record):
        invoice = record.invoice or (record.credit_note.invoice if record.credit_note else None)
        return invoice.number if invoice is not None and invoice.number else ""

    def render_rate(self, value):
        return plain_decimal(value)

    def value_rate(self, value):
        return plain_decimal(value) if value is not None else ""
