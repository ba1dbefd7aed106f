"""Hourly rollups: added to on ingest in one upsert per batch, rebuilt for an hour on amendment.

The upsert adds counts and sums in the database (`count = count + excluded.count`), so two
batches for the same hour, committed concurrently on PostgreSQL, both land. SQLite has no exact
decimal type; two small SQL functions registered on each SQLite connection add and sum
quantities as Python Decimals, so totals stay exact there too (to SQLite's 15 digits).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.backends.signals import connection_created
from django.db.models import Aggregate, DecimalField
from django.dispatch import receiver

from prm.usage.models import QUANTITY_DECIMAL_PLACES, EventStatus, UsageDistinctKey, UsageEvent, UsageRollup


@dataclass(frozen=True)
class CountedEvent:
    """What a rollup needs of one stored event."""

    pk: int
    customer_id: int
    metric_id: int
    timestamp: datetime
    value: Decimal
    distinct_key: str


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def db_datetime(moment: datetime):
    """A datetime as the ORM would store it, for raw SQL (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


# --- exact decimals on SQLite ---------------------------------------------------------------


def _exact(value) -> Decimal:
    # SQLite hands back REAL (a float) or INTEGER; repr() gives the shortest decimal that
    # round-trips, which is the quantity that was stored.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _to_sqlite(value: Decimal):
    value = value.quantize(Decimal(1).scaleb(-QUANTITY_DECIMAL_PLACES))
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal_add(a, b):
    if a is None or b is None:
        return b if a is None else a
    return _to_sqlite(_exact(a) + _exact(b))


class _DecimalSum:
    def __init__(self):
        self.total = Decimal(0)
        self.seen = False

    def step(self, value):
        if value is not None:
            self.total += _exact(value)
            self.seen = True

    def finalize(self):
        return _to_sqlite(self.total) if self.seen else None


@receiver(connection_created)
def _register_sqlite_functions(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("prm_decimal_add", 2, _decimal_add, deterministic=True)
        connection.connection.create_aggregate("prm_decimal_sum", 1, _DecimalSum)


class ExactSum(Aggregate):
    """SUM of quantities, exact on PostgreSQL (NUMERIC) and on SQLite (prm_decimal_sum)."""

    function = "SUM"
    name = "ExactSum"

    def __init__(self, expression, **extra):
        super().__init__(
            expression, output_field=DecimalField(max_digits=38, decimal_places=QUANTITY_DECIMAL_PLACES), **extra
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="prm_decimal_sum", **extra_context)


# --- adding a batch -------------------------------------------------------------------------


def _upsert_rollup_sql() -> str:
    table = UsageRollup._meta.db_table
    if connection.vendor == "postgresql":
        add, greatest = "{a} + {b}", "GREATEST({a}, {b})"
    else:
        add, greatest = "prm_decimal_add({a}, {b})", "MAX({a}, {b})"
    old, new = table, "excluded"
    columns = "customer_id, metric_id, hour, event_count, value_sum, value_max, latest_value, latest_at"
    # Built from our own table and column names only; every value goes in as a parameter.
    return (
        f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (customer_id, metric_id, hour) DO UPDATE SET "
        f"event_count = {old}.event_count + {new}.event_count, "
        f"value_sum = {add.format(a=f'{old}.value_sum', b=f'{new}.value_sum')}, "
        f"value_max = {greatest.format(a=f'{old}.value_max', b=f'{new}.value_max')}, "
        # The latest value is the one with the latest timestamp; on a tie the one that came last.
        f"latest_value = CASE WHEN {new}.latest_at >= {old}.latest_at THEN {new}.latest_value "
        f"ELSE {old}.latest_value END, "
        f"latest_at = {greatest.format(a=f'{old}.latest_at', b=f'{new}.latest_at')}"
    )


def _upsert_distinct_sql() -> str:
    table = UsageDistinctKey._meta.db_table
    return (
        f"INSERT INTO {table} (customer_id, metric_id, hour, key, event_count) VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT (customer_id, metric_id, hour, key) DO UPDATE SET "
        f"event_count = {table}.event_count + excluded.event_count"
    )


def rollups_add(events: list[CountedEvent]) -> None:
    """Add newly stored events to their hours. Call inside the transaction that stored them."""
    buckets: dict[tuple, list] = {}
    distinct: dict[tuple, int] = defaultdict(int)
    for event in sorted(events, key=lambda e: (e.timestamp, e.pk)):
        key = (event.customer_id, event.metric_id, hour_of(event.timestamp))
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = [1, event.value, event.value, event.value, event.timestamp]
        else:
            bucket[0] += 1
            bucket[1] += event.value
            bucket[2] = max(bucket[2], event.value)
            bucket[3], bucket[4] = event.value, event.timestamp  # sorted: this one is the latest
        if event.distinct_key:
            distinct[(*key, event.distinct_key)] += 1
    if not buckets:
        return
    # A stable order of rows keeps concurrent batches from deadlocking on PostgreSQL.
    at = db_datetime
    rows = [
        (customer, metric, at(hour), count, total, biggest, latest, at(latest_at))
        for (customer, metric, hour), (count, total, biggest, latest, latest_at) in sorted(buckets.items())
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_upsert_rollup_sql(), rows)
        if distinct:
            cursor.executemany(
                _upsert_distinct_sql(),
                [(customer, metric, at(hour), key, n) for (customer, metric, hour, key), n in sorted(distinct.items())],
            )


# --- rebuilding an hour (after a void or a replacement) -------------------------------------


def rollups_rebuild(customer_id: int, metric_id: int, hours: set[datetime]) -> None:
    """Recompute the given hours from their counted events (max and latest cannot be subtracted).

    The hour's rollup rows are locked before its events are read. An ingest adding to the
    hour holds that row lock (its upsert) until it commits, so the read waits for it and then
    sees its events; an ingest that starts later waits for the rebuild and adds on top of it.
    An hour with no row yet has no committed events, and adding to it is an upsert either way.
    """
    for hour in sorted(hours):
        list(UsageRollup.objects.select_for_update().filter(customer_id=customer_id, metric_id=metric_id, hour=hour))
        list(
            UsageDistinctKey.objects.select_for_update()
            .filter(customer_id=customer_id, metric_id=metric_id, hour=hour)
            .order_by("key")
        )
    for hour in sorted(hours):
        end = hour.replace(minute=59, second=59, microsecond=999999)
        events = list(
            UsageEvent.objects.filter(
                customer_id=customer_id, metric_id=metric_id, status=EventStatus.ACTIVE, timestamp__range=(hour, end)
            )
            .order_by("timestamp", "pk")
            .values_list("pk", "timestamp", "value", "distinct_key")
        )
        UsageRollup.objects.filter(customer_id=customer_id, metric_id=metric_id, hour=hour).delete()
        UsageDistinctKey.objects.filter(customer_id=customer_id, metric_id=metric_id, hour=hour).delete()
        rollups_add([CountedEvent(pk, customer_id, metric_id, ts, value, key) for pk, ts, value, key in events])
