"""Reads of usage, from the hourly rollups (never a scan of raw events)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMonth

from prm.plans.models import Aggregation, Metric
from prm.usage.models import UsageDistinctKey, UsageRollup
from prm.usage.rollups import ExactSum

GRANULARITIES = {"hour": TruncHour, "day": TruncDay, "month": TruncMonth}


@dataclass(frozen=True)
class UsageBucket:
    start: datetime
    value: Decimal


def _rollups(customer_id: int, metric: Metric, start: datetime, end: datetime):
    # Rollups are hourly: a range is read as the hours that start inside [start, end).
    return UsageRollup.objects.filter(customer_id=customer_id, metric=metric, hour__gte=start, hour__lt=end)


def period_usage(*, customer_id: int, metric: Metric, start: datetime, end: datetime) -> Decimal:
    """The quantity of `metric` for a customer over [start, end), aggregated as the metric says."""
    buckets = usage_buckets(customer_id=customer_id, metric=metric, start=start, end=end, granularity=None)
    return buckets[0].value if buckets else Decimal(0)


def usage_buckets(
    *, customer_id: int, metric: Metric, start: datetime, end: datetime, granularity: str | None
) -> list[UsageBucket]:
    """Usage per hour, day or month (or, with granularity None, one bucket for the whole range)."""
    aggregation = metric.aggregation
    if aggregation == Aggregation.UNIQUE_COUNT:
        rows = UsageDistinctKey.objects.filter(customer_id=customer_id, metric=metric, hour__gte=start, hour__lt=end)
        return _grouped(rows, granularity, Count("key", distinct=True), start)
    rows = _rollups(customer_id, metric, start, end)
    if aggregation == Aggregation.COUNT:
        return _grouped(rows, granularity, Sum("event_count"), start)
    if aggregation == Aggregation.SUM:
        return _grouped(rows, granularity, ExactSum("value_sum"), start)
    if aggregation == Aggregation.MAX:
        return _grouped(rows, granularity, Max("value_max"), start)
    return _latest(rows, granularity, start)


def _grouped(rows, granularity, aggregate, start) -> list[UsageBucket]:
    if granularity is None:
        value = rows.aggregate(value=aggregate)["value"]
        return [UsageBucket(start, _quantity(value))] if value is not None else []
    trunc = GRANULARITIES[granularity]
    grouped = rows.annotate(bucket=trunc("hour")).values("bucket").annotate(value=aggregate).order_by("bucket")
    return [UsageBucket(row["bucket"], _quantity(row["value"])) for row in grouped]


def _latest(rows, granularity, start) -> list[UsageBucket]:
    """The last value seen in each bucket: from the hours' own latest values."""
    latest: dict[datetime, tuple[datetime, Decimal]] = {}
    for hour, at, value in rows.order_by("latest_at").values_list("hour", "latest_at", "latest_value"):
        bucket = start if granularity is None else _truncate(hour, granularity)
        if bucket not in latest or at >= latest[bucket][0]:
            latest[bucket] = (at, value)
    return [UsageBucket(bucket, _quantity(value)) for bucket, (_at, value) in sorted(latest.items())]


def _truncate(moment: datetime, granularity: str) -> datetime:
    if granularity == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _quantity(value) -> Decimal:
    return Decimal(value) if value else Decimal(0)
