"""Reads for alert evaluation: usage of many customer·metric pairs at once, from the hourly rollups.

`prm/usage/selectors.py` reads one customer's metric at a time (what a bill or a chart needs);
evaluating every rule that way would be a query per customer per metric. These read all the pairs
in a few grouped queries — one per family of aggregation (sums, counts and maxima together; latest
values; distinct counts) — and aggregate each metric as it says, like `usage_buckets` does.
"""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDay

from prm.plans.models import Aggregation, Metric
from prm.usage.models import UsageDistinctKey, UsageRollup
from prm.usage.rollups import ExactSum

Pair = tuple[int, int]  # (customer id, metric id)
_ADDITIVE = (Aggregation.SUM, Aggregation.COUNT, Aggregation.MAX)


def usage_totals(pairs: set[Pair], metrics: dict[int, Metric], start: datetime, end: datetime) -> dict[Pair, Decimal]:
    """Each pair's quantity over the hours starting in [start, end); a pair without usage is absent."""
    return {pair: buckets[None] for pair, buckets in _read(pairs, metrics, start, end, by_day=False).items()}


def daily_usage(
    pairs: set[Pair], metrics: dict[int, Metric], start: datetime, end: datetime
) -> dict[Pair, dict[datetime, Decimal]]:
    """Each pair's quantity per UTC day (keyed by the day's midnight); days without usage are absent."""
    return _read(pairs, metrics, start, end, by_day=True)


def _read(pairs, metrics, start, end, *, by_day: bool) -> dict[Pair, dict]:
    found: dict[Pair, dict] = defaultdict(dict)
    if not pairs:
        return {}
    customers = {customer for customer, _metric in pairs}
    family: dict[str, set[int]] = defaultdict(set)
    for _customer, metric_id in pairs:
        aggregation = metrics[metric_id].aggregation
        family["additive" if aggregation in _ADDITIVE else aggregation].add(metric_id)
    keys = ["customer_id", "metric_id", *(["day"] if by_day else [])]

    def rows_of(model, metric_ids):
        rows = model.objects.filter(customer_id__in=customers, metric_id__in=metric_ids, hour__gte=start, hour__lt=end)
        return rows.annotate(day=TruncDay("hour")) if by_day else rows

    if family["additive"]:
        grouped = rows_of(UsageRollup, family["additive"]).values(*keys).order_by()
        for row in grouped.annotate(total=ExactSum("value_sum"), count=Sum("event_count"), top=Max("value_max")):
            aggregation = metrics[row["metric_id"]].aggregation
            value = {Aggregation.SUM: row["total"], Aggregation.COUNT: row["count"], Aggregation.MAX: row["top"]}
            found[(row["customer_id"], row["metric_id"])][row.get("day")] = _quantity(value[aggregation])
    if family[Aggregation.UNIQUE_COUNT]:
        grouped = rows_of(UsageDistinctKey, family[Aggregation.UNIQUE_COUNT]).values(*keys).order_by()
        for row in grouped.annotate(distinct=Count("key", distinct=True)):
            found[(row["customer_id"], row["metric_id"])][row.get("day")] = Decimal(row["distinct"])
    if family[Aggregation.LATEST]:
        # The last value seen in each bucket, from the hours' own latest values (as usage_buckets does).
        latest: dict[tuple, tuple[datetime, Decimal]] = {}
        rows = rows_of(UsageRollup, family[Aggregation.LATEST]).order_by("latest_at")
        for customer, metric_id, hour, at, value in rows.values_list(
            "customer_id", "metric_id", "hour", "latest_at", "latest_value"
        ):
            bucket = hour.replace(hour=0, minute=0, second=0, microsecond=0) if by_day else None
            key = (customer, metric_id, bucket)
            if key not in latest or at >= latest[key][0]:
                latest[key] = (at, value)
        for (customer, metric_id, bucket), (_at, value) in latest.items():
            found[(customer, metric_id)][bucket] = _quantity(value)
    # Other customers' metrics came along in the grouped queries: keep the pairs asked for.
    return {pair: buckets for pair, buckets in found.items() if pair in pairs}


def _quantity(value) -> Decimal:
    return Decimal(value) if value else Decimal(0)
