"""django-tables2 tables of the dashboards. Their rows are dicts built by the dashboards' modules
from already-aggregated figures, so sorting and paginating happen on those rows, without a query."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from prm.core.money import money_string
from prm.dashboards.formatting import format_money


class DictAmountColumn(tables.Column):
    """An amount of a dict row in the row's `currency`, with thousands separators; linked to the URL in
    the row's `url_key` when there is one. CSV gets the plain amount ("1234.50")."""

    def __init__(self, *, url_key: str | None = None, **kwargs):
        self.url_key = url_key
        kwargs.setdefault("attrs", {"td": {"class": "number"}, "th": {"class": "number"}})
        super().__init__(**kwargs)

    def render(self, value, record):
        text = format_money(value, record["currency"])
        url = record.get(self.url_key) if self.url_key else None
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    def value(self, value, record):
        return money_string(value, record["currency"])


class GrowthPercentColumn(tables.Column):
    """A change in percent ("+12.5 %", "−3.0 %"); "new" when there was nothing to grow from."""

    def __init__(self, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "number"}, "th": {"class": "number"}})
        kwargs.setdefault("empty_values", ())
        super().__init__(**kwargs)

    def render(self, value):
        if value is None:
            return "new"
        css = "delta-up" if value > 0 else "delta-down" if value < 0 else ""
        return format_html('<span class="{}">{}{} %</span>', css, "+" if value > 0 else "", value)

    def value(self, value):
        return "" if value is None else str(value)


class PartnerGrowthTable(tables.Table):
    """The manager dashboard's partners by revenue growth: the last closed period against the one before,
    in the program currency (prm/dashboards/manager.py builds the rows)."""

    # Linked when rendered: only the page's rows resolve their URL.
    name = tables.Column(
        verbose_name="Partner", linkify=lambda record: reverse("partner_detail", args=[record["partner_id"]])
    )
    tier = tables.Column()
    stage = tables.Column()
    previous = DictAmountColumn(url_key="previous_url", verbose_name="Previous period")
    current = DictAmountColumn(url_key="current_url", verbose_name="Last period")
    change = DictAmountColumn()
    # "new" (nothing to grow from) sorts above every percentage.
    growth = GrowthPercentColumn(verbose_name="Growth", order_by=("growth_key",))
    trailing = DictAmountColumn(verbose_name="12 months")
    currency = tables.Column()

    class Meta:
        attrs = {"class": "table"}
        prefix = "growth-"
        empty_text = "No partner has revenue in the last two closed periods yet."

    def __init__(self, *args, previous_label: str = "", current_label: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        # The columns say which periods they compare ("Sep 2026", "Oct 2026").
        if previous_label:
            self.columns["previous"].column.verbose_name = previous_label
        if current_label:
            self.columns["current"].column.verbose_name = current_label


class CustomerGrowthTable(tables.Table):
    """The partner dashboard's customers by revenue growth: the last closed period against the one before,
    per customer and currency (prm/dashboards/partner.py builds the rows; a rep's are their customers)."""

    name = tables.Column(verbose_name="Customer", linkify=lambda record: record["customer_url"])
    rep = tables.Column(verbose_name="Rep")
    previous = DictAmountColumn(url_key="previous_url", verbose_name="Previous period")
    current = DictAmountColumn(url_key="current_url", verbose_name="Last period")
    change = DictAmountColumn()
    # "new" (nothing to grow from) sorts above every percentage.
    growth = GrowthPercentColumn(verbose_name="Growth", order_by=("growth_key",))
    trailing = DictAmountColumn(url_key="trailing_url", verbose_name="12 months")
    currency = tables.Column()

    class Meta:
        attrs = {"class": "table"}
        prefix = "growth-"
        empty_text = "No customer has revenue in the last two closed periods yet."

    def __init__(self, *args, previous_label: str = "", current_label: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if previous_label:
            self.columns["previous"].column.verbose_name = previous_label
        if current_label:
            self.columns["current"].column.verbose_name = current_label
