"""django-tables2 tables of the dashboards. Their rows are dicts built by the dashboards' modules from
already-aggregated figures: either a list (sorted and paginated in Python, for tables of a few rows per
partner) or `DatabaseRows`, which a selector sorts and slices in the database (a partner's customers:
thousands of rows, of which a page shows ten)."""

from collections.abc import Callable

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django_tables2.data import TableData

from prm.core.money import money_string
from prm.dashboards.formatting import format_money


class DatabaseRows(TableData):
    """Table data fetched page by page: `fetch(order, start, stop)` returns the rows `start`–`stop` (all
    from `start` when None) in the order of the table's sorting (column names, "-" for descending), which
    the database applies; `count` is the number of rows (a number already known, or a callable asked
    once, only when the table is paginated); `decorate` turns each fetched row into the table's record;
    `first`: the first rows in the table's own order (unsorted), when the page has them already, so its
    first page costs no query. The CSV export iterates every row, in the same order."""

    def __init__(
        self, fetch: Callable, *, count: int | Callable[[], int], decorate: Callable[[object], dict], first=()
    ):
        super().__init__(data=None)
        self.fetch, self.decorate = fetch, decorate
        self._count = count
        self._first = list(first)
        self._order: list[str] = []

    def order_by(self, aliases):
        # django-tables2 gives the sorting asked for, checked against the orderable columns.
        self._order = [str(alias) for alias in aliases]

    def __len__(self) -> int:
        if callable(self._count):
            self._count = self._count()
        return self._count

    def __getitem__(self, key):
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise ValueError("DatabaseRows slices by a step of one.")
            start, stop = key.start or 0, key.stop
            if stop is not None and stop <= start:
                return []
            every_row = not callable(self._count) and len(self._first) >= self._count
            if not self._order and (every_row or (stop is not None and stop <= len(self._first))):
                rows = self._first[start:stop]
            else:
                rows = self.fetch(self._order, start, stop)
            return [self.decorate(row) for row in rows]
        (record,) = self[key : key + 1]
        return record

    def __iter__(self):
        return (self.decorate(row) for row in self.fetch(self._order, 0, None))


class DictAmountColumn(tables.Column):
    """An amount of a dict row in the row's `currency`, with thousands separators; linked to the URL in
    the row's `url_key` when there is one: a string, or a callable giving it, so a table of many rows
    builds the links of the rows it shows only. CSV gets the plain amount ("1234.50")."""

    def __init__(self, *, url_key: str | None = None, **kwargs):
        self.url_key = url_key
        kwargs.setdefault("attrs", {"td": {"class": "number"}, "th": {"class": "number"}})
        super().__init__(**kwargs)

    def render(self, value, record):
        text = format_money(value, record["currency"])
        url = record.get(self.url_key) if self.url_key else None
        if callable(url):
            url = url()
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


class PeriodsComparedTable(tables.Table):
    """A growth table whose two amount columns are headed by the periods they compare ("Sep 2026", "Oct 2026")."""

    def __init__(self, *args, previous_label: str = "", current_label: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if previous_label:
            self.columns["previous"].column.verbose_name = previous_label
        if current_label:
            self.columns["current"].column.verbose_name = current_label


class PartnerGrowthTable(PeriodsComparedTable):
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


class CustomerGrowthTable(PeriodsComparedTable):
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
