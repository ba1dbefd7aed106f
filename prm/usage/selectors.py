"""Reads of usage, from the hourly rollups (raw events only for the part of an hour a bound cuts)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMonth

from prm.plans.models import Aggregation, Metric
from prm.usage.models import EventStatus, UsageDistinctKey, UsageEvent, UsageRollup
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
    """The quantity of `metric` for a customer over [start, end), aggregated as the metric says.

    Whole hours come from the rollups. A bound inside an hour (a plan changed at 10:37) is
    honoured exactly: that hour's part is read from its counted events, so usage splits at the
    moment itself and the two sides add up to the hour's rollup.
    """
    inner_start, inner_end = _ceil_hour(start), _floor_hour(end)
    if inner_start == start and inner_end == end:
        buckets = usage_buckets(customer_id=customer_id, metric=metric, start=start, end=end, granularity=None)
        return buckets[0].value if buckets else Decimal(0)
    if inner_start >= inner_end:  # no whole hour inside: all of it from events
        return _combine(metric, [_events_part(customer_id, metric, start, end)])
    parts = [_rollups_part(customer_id, metric, inner_start, inner_end)]
    if start < inner_start:
        parts.append(_events_part(customer_id, metric, start, inner_start))
    if inner_end < end:
        parts.append(_events_part(customer_id, metric, inner_end, end))
    return _combine(metric, parts)


def period_usage_grouped(*, customer_ids, metrics, start: datetime, end: datetime) -> dict[tuple[int, int], Decimal]:
    """`period_usage` of every (customer, metric) pair of `customer_ids` × `metrics` over the whole
    hours [start, end), in one grouped query per aggregation kind (the period close rates its
    batches from this): {(customer_id, metric_id): quantity}; a pair with no usage is absent (0).

    The same rollups and aggregates as `usage_buckets` with one bucket, so every quantity is the
    one `period_usage` gives; a bound inside an hour is refused (read that with `period_usage`).
    """
    if _floor_hour(start) != start or _floor_hour(end) != end:
        raise ValueError("period_usage_grouped reads whole hours: start and end must be on the hour.")
    customer_ids = sorted(set(customer_ids))
    by_kind: dict[str, list[int]] = {}
    for metric in metrics:
        by_kind.setdefault(metric.aggregation, []).append(metric.pk)
    found: dict[tuple[int, int], Decimal] = {}
    if not customer_ids or start >= end:
        return found
    for aggregation, metric_ids in sorted(by_kind.items()):
        where = {"customer_id__in": customer_ids, "metric_id__in": sorted(set(metric_ids))}
        window = {"hour__gte": start, "hour__lt": end}
        if aggregation == Aggregation.UNIQUE_COUNT:
            rows = UsageDistinctKey.objects.filter(**where, **window)
            found.update(_grouped_pairs(rows, Count("key", distinct=True)))
            continue
        rows = UsageRollup.objects.filter(**where, **window)
        if aggregation == Aggregation.COUNT:
            found.update(_grouped_pairs(rows, Sum("event_count")))
        elif aggregation == Aggregation.SUM:
            found.update(_grouped_pairs(rows, ExactSum("value_sum")))
        elif aggregation == Aggregation.MAX:
            found.update(_grouped_pairs(rows, Max("value_max")))
        else:
            found.update(_latest_pairs(rows))
    return found


def _grouped_pairs(rows, aggregate) -> dict[tuple[int, int], Decimal]:
    grouped = rows.order_by().values("customer_id", "metric_id").annotate(value=aggregate)
    return {
        (customer_id, metric_id): _quantity(value)
        for customer_id, metric_id, value in grouped.values_list("customer_id", "metric_id", "value")
        if value is not None
    }


def _latest_pairs(rows) -> dict[tuple[int, int], Decimal]:
    """Each pair's value with the latest timestamp (hours never share one: it lies in its hour)."""
    if connection.vendor == "postgresql":
        latest = (
            rows.order_by("customer_id", "metric_id", "-latest_at")
            .distinct("customer_id", "metric_id")
            .values_list("customer_id", "metric_id", "latest_value")
        )
        return {(customer_id, metric_id): _quantity(value) for customer_id, metric_id, value in latest}
    found: dict[tuple[int, int], tuple[datetime, Decimal]] = {}
    for customer_id, metric_id, at, value in rows.order_by("latest_at").values_list(
        "customer_id", "metric_id", "latest_at", "latest_value"
    ):
        key = (customer_id, metric_id)
        if key not in found or at >= found[key][0]:
            found[key] = (at, value)
    return {key: _quantity(value) for key, (_at, value) in found.items()}


@dataclass
class _Part:
    """One stretch of usage in the shape every aggregation can combine."""

    count: int = 0
    total: Decimal = Decimal(0)
    maximum: Decimal | None = None
    latest: tuple[datetime, Decimal] | None = None
    keys: set[str] | None = None


def _events_part(customer_id: int, metric: Metric, start: datetime, end: datetime) -> _Part:
    part = _Part(keys=set())
    events = UsageEvent.objects.filter(
        customer_id=customer_id, metric=metric, status=EventStatus.ACTIVE, timestamp__gte=start, timestamp__lt=end
    ).order_by("timestamp", "pk")
    for at, value, key in events.values_list("timestamp", "value", "distinct_key"):
        part.count += 1
        part.total += value
        part.maximum = value if part.maximum is None else max(part.maximum, value)
        part.latest = (at, value)
        part.keys.add(key)
    return part


def _rollups_part(customer_id: int, metric: Metric, start: datetime, end: datetime) -> _Part:
    if metric.aggregation == Aggregation.UNIQUE_COUNT:
        rows = UsageDistinctKey.objects.filter(customer_id=customer_id, metric=metric, hour__gte=start, hour__lt=end)
        return _Part(keys=set(rows.values_list("key", flat=True).distinct()))
    rows = _rollups(customer_id, metric, start, end)
    found = rows.aggregate(count=Sum("event_count"), total=ExactSum("value_sum"), maximum=Max("value_max"))
    last = rows.order_by("-latest_at").values_list("latest_at", "latest_value").first()
    return _Part(
        count=found["count"] or 0,
        total=_quantity(found["total"]),
        maximum=found["maximum"],
        latest=last,
    )


def _combine(metric: Metric, parts: list[_Part]) -> Decimal:
    aggregation = metric.aggregation
    if aggregation == Aggregation.COUNT:
        return Decimal(sum(part.count for part in parts))
    if aggregation == Aggregation.SUM:
        return sum((part.total for part in parts), Decimal(0))
    if aggregation == Aggregation.MAX:
        maxima = [part.maximum for part in parts if part.maximum is not None]
        return _quantity(max(maxima)) if maxima else Decimal(0)
    if aggregation == Aggregation.UNIQUE_COUNT:
        return Decimal(len(set().union(*(part.keys or set() for part in parts))))
    latest = [part.latest for part in parts if part.latest is not None]
    return _quantity(max(latest, key=lambda pair: pair[0])[1]) if latest else Decimal(0)


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


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
