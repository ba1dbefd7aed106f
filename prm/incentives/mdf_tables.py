from decimal import Decimal

import django_tables2 as tables

from prm.billing.tables import MoneyColumn
from prm.core.money import money_string
from prm.incentives.mdf import committed_by_budget
from prm.incentives.models import MdfBudget, MdfRequest


class MdfRequestTable(tables.Table):
    activity = tables.Column(linkify=True)
    partner = tables.Column(accessor="partner__name", order_by="partner__name", verbose_name="Partner")
    activity_type = tables.Column(verbose_name="Kind")
    activity_date = tables.DateColumn(format="Y-m-d", verbose_name="Date")
    period = tables.Column(verbose_name="Quarter")
    currency = tables.Column()
    amount = MoneyColumn(verbose_name="Requested")
    claimed_amount = tables.Column(verbose_name="Claimed", default="—", attrs={"td": {"class": "number"}})
    status = tables.Column()
    created_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Requested on")

    class Meta:
        model = MdfRequest
        fields = ()
        sequence = (
            "activity", "partner", "activity_type", "activity_date", "period", "currency", "amount", "claimed_amount",
            "status", "created_at",
        )  # fmt: skip
        order_by = ("-created_at",)
        attrs = {"class": "table"}

    def render_claimed_amount(self, value, record):
        return money_string(value, record.currency)

    def value_claimed_amount(self, value, record):
        return money_string(value, record.currency) if value is not None else ""


class MdfBudgetTable(tables.Table):
    period = tables.Column(verbose_name="Quarter", linkify=True)
    tier = tables.Column(accessor="tier__name", order_by="tier__rank", verbose_name="Tier")
    currency = tables.Column()
    amount = MoneyColumn(verbose_name="Budget")
    committed = tables.Column(
        accessor="pk", orderable=False, verbose_name="Committed", attrs={"td": {"class": "number"}}
    )
    remaining = tables.Column(
        accessor="pk", orderable=False, verbose_name="Remaining", attrs={"td": {"class": "number"}}
    )
    note = tables.Column(default="")

    class Meta:
        model = MdfBudget
        fields = ()
        sequence = ("period", "tier", "currency", "amount", "committed", "remaining", "note")
        order_by = ("-period",)
        attrs = {"class": "table"}

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        # What each budget has committed, summed once for the whole list (budgets are few: tiers × quarters).
        self._committed = committed_by_budget([budget.pk for budget in data]) if data is not None else {}

    def _figure(self, record, remaining: bool):
        committed = self._committed.get(record.pk, Decimal(0))
        return money_string(record.amount - committed if remaining else committed, record.currency)

    def render_committed(self, record):
        return self._figure(record, remaining=False)

    def value_committed(self, record):
        return self._figure(record, remaining=False)

    def render_remaining(self, record):
        return self._figure(record, remaining=True)

    def value_remaining(self, record):
        return self._figure(record, remaining=True)
