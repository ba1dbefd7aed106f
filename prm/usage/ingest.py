"""`events_ingest`: parsed events in, stored events and rollups out, in one transaction.

Each event ends in exactly one of four places:
- accepted: stored once (the database's unique key, not a read-then-write, keeps it once)
  and added to its hour's rollup;
- duplicate: its key was already stored (a retry), nothing changes;
- quarantined: well-formed but not countable yet (unknown customer, subscription or metric,
  or a closed period), stored with the reason for a manager to fix and re-process;
- rejected: malformed, reported by index with the field and the reason.
"""

from dataclasses import dataclass, field
from datetime import UTC, timedelta
from decimal import Decimal

import psycopg
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from prm.core.locks import billing_periods_lock
from prm.core.models import ClosedBillingPeriod
from prm.customers.models import Customer, Subscription
from prm.plans.models import Aggregation, Metric
from prm.usage.models import EventStatus, QuarantinedEvent, QuarantineReason, QuarantineStatus, UsageEvent
from prm.usage.parsing import MAX_ID_LENGTH, IncomingEvent, parse_quantity
from prm.usage.partitioning import event_keys_claim, events_partitioned
from prm.usage.rollups import CountedEvent, db_datetime, rollups_add

MAX_FUTURE = timedelta(minutes=5)
TOO_FAR_AHEAD = "More than 5 minutes in the future; check the sender's clock."
INSERT_CHUNK = 1000


class Outcome:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    rejected: list[dict] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)  # by the event's index in the request
    reasons: dict[int, tuple[str, str]] = field(default_factory=dict)  # quarantined: (reason, detail)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "rejected": self.rejected,
        }


@dataclass
class _Row:
    """An event ready to store."""

    event: IncomingEvent
    customer_id: int
    metric: Metric
    value: Decimal
    distinct_key: str


@dataclass
class _Held:
    """An event for quarantine."""

    event: IncomingEvent
    reason: str
    detail: str


def events_ingest(events: list[IncomingEvent], *, actor, api_key=None, now=None) -> IngestResult:
    """Store what can be counted, quarantine what cannot yet, and report the rest.

    `actor` decides which customers exist: a partner's events for a customer outside its
    scope are quarantined as unknown, exactly as if the customer did not exist.
    """
    now = (now or timezone.now()).astimezone(UTC)
    result = IngestResult()
    _check_times(events, now)
    well_formed = [event for event in events if not event.errors]
    with transaction.atomic():
        # Held until commit: a period close waits for this batch, or this batch sees it closed.
        billing_periods_lock(exclusive=False)
        metrics = {m.code: m for m in Metric.objects.filter(code__in={e.metric_code for e in well_formed})}
        customer_ids = dict(
            Customer.objects.visible_to(actor)
            .filter(external_id__in={e.customer_external_id for e in well_formed if e.customer_external_id})
            .values_list("external_id", "pk")
        )
        wanted = {e.subscription_external_id for e in well_formed if e.subscription_external_id}
        subscription_customers = (
            dict(
                Subscription.objects.visible_to(actor)
                .filter(external_id__in=wanted)
                .values_list("external_id", "customer_id")
            )
            if wanted
            else {}
        )
        closed = set(ClosedBillingPeriod.objects.values_list("period", flat=True))
        rows: list[_Row] = []
        held: list[_Held] = []
        for event in well_formed:
            outcome = _classify(event, metrics, customer_ids, subscription_customers, closed)
            if isinstance(outcome, _Row):
                rows.append(outcome)
            elif isinstance(outcome, _Held):
                held.append(outcome)
        _store(rows, result, actor=actor, api_key=api_key, now=now)
        _quarantine(held, result, actor=actor, api_key=api_key, now=now)
    for event in events:
        if event.errors:
            result.outcomes[event.index] = Outcome.REJECTED
            result.rejected.append({"index": event.index, "id": event.display_id, "errors": event.errors})
    return result


def _check_times(events: list[IncomingEvent], now) -> None:
    for event in events:
        if event.timestamp is None:
            event.timestamp = now  # no time given: the event happened when it arrived
        elif event.timestamp > now + MAX_FUTURE:
            name = "time" if event.format == "cloudevents" else "timestamp"
            event.error(name, TOO_FAR_AHEAD)


def _classify(event: IncomingEvent, metrics, customer_ids, subscription_customers, closed) -> _Row | _Held | None:
    metric = metrics.get(event.metric_code)
    if metric is None:
        return _Held(event, QuarantineReason.UNKNOWN_METRIC, f"No metric has the code {event.metric_code!r}.")
    value, distinct_key = event_quantity(event, metric)
    if event.errors:
        return None
    if event.subscription_external_id:
        # Lago's shape: the subscription names the customer.
        customer_id = subscription_customers.get(event.subscription_external_id)
        if customer_id is None:
            detail = f"No subscription has the external id {event.subscription_external_id!r}."
            return _Held(event, QuarantineReason.UNKNOWN_SUBSCRIPTION, detail)
        if event.customer_external_id and customer_ids.get(event.customer_external_id) != customer_id:
            event.error("external_customer_id", "Does not match the customer of external_subscription_id.")
            return None
    else:
        customer_id = customer_ids.get(event.customer_external_id)
        if customer_id is None:
            detail = f"No customer has the external id {event.customer_external_id!r}."
            return _Held(event, QuarantineReason.UNKNOWN_CUSTOMER, detail)
    period = f"{event.timestamp.year:04d}-{event.timestamp.month:02d}"  # timestamps are UTC already
    if period in closed:
        return _Held(event, QuarantineReason.CLOSED_PERIOD, f"The billing period {period} is closed.")
    return _Row(event, customer_id, metric, value, distinct_key)


def event_quantity(event: IncomingEvent, metric: Metric) -> tuple[Decimal, str]:
    """The event's quantity (and distinct key) as its metric reads it; errors name the field."""
    if event.raw_value is not None:
        name, raw = "value", event.raw_value
    else:
        prefix = "properties" if event.format == "lago" else "data"
        name, raw = f"{prefix}.{metric.field}", event.data.get(metric.field)
    if metric.aggregation == Aggregation.COUNT:
        return Decimal(1), ""
    if raw is None or raw == "":
        event.error(name, f"Required by the metric {metric.code!r} ({metric.get_aggregation_display().lower()}).")
        return Decimal(0), ""
    if metric.aggregation == Aggregation.UNIQUE_COUNT:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            event.error(name, "A distinct key must be a string or an integer.")
            return Decimal(0), ""
        key = str(raw)
        if len(key) > MAX_ID_LENGTH:
            event.error(name, f"At most {MAX_ID_LENGTH} characters.")
        return Decimal(1), key
    try:
        value = parse_quantity(raw)
    except ValueError as error:
        event.error(name, str(error))
        return Decimal(0), ""
    if value < 0 and not metric.allow_negative:
        event.error(name, f"Must not be negative: the metric {metric.code!r} does not allow negative values.")
    return value, ""


# --- storing --------------------------------------------------------------------------------

_EVENT_COLUMNS = (
    "source", "event_id", "customer_id", "metric_id", "subscription_external_id", "timestamp", "value",
    "distinct_key", "properties", "format", "received_at", "sent_by_id", "api_key_id", "status",
)  # fmt: skip
# PostgreSQL: the columns that differ per event travel as arrays; those one request shares
# (format, received_at, sender, key, status) as single values.
_PER_EVENT_TYPES = (
    ("source", "text"), ("event_id", "text"), ("customer_id", "bigint"), ("metric_id", "bigint"),
    ("subscription_external_id", "text"), ("timestamp", "timestamptz"), ("value", "numeric"),
    ("distinct_key", "text"), ("properties", "text"),
)  # fmt: skip
_SHARED_COLUMNS = ("format", "received_at", "sent_by_id", "api_key_id", "status")
_CONFLICT = " ON CONFLICT (source, event_id) DO NOTHING RETURNING id, source, event_id"
# A partitioned table's unique key includes the partition key (prm/usage/partitioning.py); its
# keys were claimed in the key table first, so this conflict is only a safety net.
_CONFLICT_PARTITIONED = ' ON CONFLICT (source, event_id, "timestamp") DO NOTHING RETURNING id, source, event_id'


def _insert_sql_values(count: int) -> str:
    """SQLite: one multi-row VALUES insert per chunk."""
    placeholders = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    columns = ", ".join(_EVENT_COLUMNS)
    return (
        f"INSERT INTO {UsageEvent._meta.db_table} ({columns}) VALUES " + ", ".join([placeholders] * count) + _CONFLICT
    )


def _insert_sql_arrays(conflict: str = _CONFLICT) -> str:
    """PostgreSQL: one fixed statement taking a column per array parameter. Its text never
    changes, so the driver and the server reuse its plan; a VALUES list of 14,000 placeholders
    cost more to prepare than to run. %b sends the arrays in binary."""
    per_event = [name for name, _kind in _PER_EVENT_TYPES]
    arrays = ", ".join(f"%b::{kind}[]" for _name, kind in _PER_EVENT_TYPES)
    selected = ", ".join(f"{name}::jsonb" if name == "properties" else name for name in per_event)
    shared = ", ".join(["%b"] * len(_SHARED_COLUMNS))
    return (
        f"INSERT INTO {UsageEvent._meta.db_table} ({', '.join(per_event + list(_SHARED_COLUMNS))}) "
        f"SELECT {selected}, {shared} FROM unnest({arrays}) AS incoming({', '.join(per_event)})" + conflict
    )


def _binary_cursor(cursor):
    """A psycopg cursor with server-side binding and binary parameters on Django's connection.

    Django's cursors bind on the client (they quote every value into the SQL text); for 14
    arrays of 1,000 values that quoting costs more than the insert. Same connection, same
    transaction; only Django's query log (DEBUG, assertNumQueries) does not see it.
    """
    return psycopg.Cursor(cursor.connection)


def _chunks(rows: list[_Row]):
    """Runs of at most INSERT_CHUNK rows of one format, in order (a request is one format)."""
    chunk: list[_Row] = []
    for row in rows:
        if chunk and (len(chunk) == INSERT_CHUNK or row.event.format != chunk[0].event.format):
            yield chunk
            chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


def _store(rows: list[_Row], result: IngestResult, *, actor, api_key, now) -> None:
    # The first of two events with one key in the same request counts; the second is its retry.
    unique: dict[tuple[str, str], _Row] = {}
    for row in rows:
        key = (row.event.source, row.event.event_id)
        if key in unique:
            result.duplicates += 1
            result.outcomes[row.event.index] = Outcome.DUPLICATE
        else:
            unique[key] = row
    # A stable order keeps two concurrent batches from deadlocking on PostgreSQL.
    ordered = [unique[key] for key in sorted(unique)]
    sent_by_id = actor.pk if actor is not None and actor.is_authenticated else None
    api_key_id = api_key.pk if api_key is not None else None
    received_at = db_datetime(now)
    encode = DjangoJSONEncoder(separators=(",", ":")).encode
    adapt_time = connection.ops.adapt_datetimefield_value
    postgresql = connection.vendor == "postgresql"
    # Partitioned: the key table keeps (source, id) once; only the events whose key is new are stored.
    partitioned = postgresql and events_partitioned()
    conflict = _CONFLICT_PARTITIONED if partitioned else _CONFLICT
    stored: dict[tuple[str, str], int] = {}
    with connection.cursor() as django_cursor:
        cursor = _binary_cursor(django_cursor) if postgresql else django_cursor
        for chunk in _chunks(ordered):
            if partitioned:
                new = event_keys_claim([(row.event.source, row.event.event_id) for row in chunk], cursor)
                chunk = [row for row in chunk if (row.event.source, row.event.event_id) in new]
                if not chunk:
                    continue
            if postgresql:
                columns = [
                    [row.event.source for row in chunk],
                    [row.event.event_id for row in chunk],
                    [row.customer_id for row in chunk],
                    [row.metric.pk for row in chunk],
                    [row.event.subscription_external_id for row in chunk],
                    [row.event.timestamp for row in chunk],
                    [row.value for row in chunk],
                    [row.distinct_key for row in chunk],
                    [encode(row.event.data) for row in chunk],
                ]
                shared = [chunk[0].event.format, received_at, sent_by_id, api_key_id, EventStatus.ACTIVE]
                # The shared values come first in the statement text (SELECT …, then FROM unnest(…)).
                cursor.execute(_insert_sql_arrays(conflict), shared + columns)
            else:
                values = []
                for row in chunk:
                    event = row.event
                    values += [
                        event.source, event.event_id, row.customer_id, row.metric.pk, event.subscription_external_id,
                        adapt_time(event.timestamp), row.value, row.distinct_key, encode(event.data), event.format,
                        received_at, sent_by_id, api_key_id, EventStatus.ACTIVE,
                    ]  # fmt: skip
                cursor.execute(_insert_sql_values(len(chunk)), values)
            stored.update({(source, event_id): pk for pk, source, event_id in cursor.fetchall()})
        if postgresql:
            cursor.close()
    counted = []
    for key, row in unique.items():
        if key in stored:
            result.accepted += 1
            result.outcomes[row.event.index] = Outcome.ACCEPTED
            counted.append(
                CountedEvent(
                    stored[key], row.customer_id, row.metric.pk, row.event.timestamp, row.value, row.distinct_key
                )
            )
        else:
            result.duplicates += 1
            result.outcomes[row.event.index] = Outcome.DUPLICATE
    rollups_add(counted)
    if stored:
        _resolve_waiting(stored, now)


def _resolve_waiting(stored: dict[tuple[str, str], int], now) -> None:
    """An event that waited in quarantine and has now been accepted (re-sent after its cause
    was fixed) leaves quarantine."""
    waiting = QuarantinedEvent.objects.filter(status=QuarantineStatus.PENDING)
    if not waiting.exists():
        return
    for quarantined in waiting.filter(event_id__in={event_id for _source, event_id in stored}):
        pk = stored.get((quarantined.source, quarantined.event_id))
        if pk is not None:
            QuarantinedEvent.objects.filter(pk=quarantined.pk).update(
                status=QuarantineStatus.REPROCESSED,
                resolved_at=now,
                resolution="Accepted when sent again.",
                accepted_event=pk,
            )


def _quarantine(held: list[_Held], result: IngestResult, *, actor, api_key, now) -> None:
    if not held:
        return
    keys = {(item.event.source, item.event.event_id) for item in held}
    # An event already counted is a duplicate, even if it could not be counted now.
    counted = {
        (source, event_id)
        for source, event_id in UsageEvent.objects.filter(event_id__in={k[1] for k in keys}).values_list(
            "source", "event_id"
        )
        if (source, event_id) in keys
    }
    waiting: dict[tuple[str, str], _Held] = {}
    for item in held:
        event, key = item.event, (item.event.source, item.event.event_id)
        if key in counted:
            result.duplicates += 1
            result.outcomes[event.index] = Outcome.DUPLICATE
            continue
        result.quarantined += 1
        result.outcomes[event.index] = Outcome.QUARANTINED
        result.reasons[event.index] = (item.reason, item.detail)
        waiting.setdefault(key, item)
    if waiting:
        sender_id = actor.pk if actor is not None and actor.is_authenticated else None
        _quarantine_upsert([waiting[key] for key in sorted(waiting)], sender_id, api_key, now)


_QUARANTINE_COLUMNS = (
    "source", "event_id", "format", "payload", "reason", "detail", "customer_external_id",
    "subscription_external_id", "metric_code", "timestamp", "received_at", "sent_by_id", "api_key_id", "status",
    "resolution", "attempts",
)  # fmt: skip


def _quarantine_upsert(items: list[_Held], sender_id, api_key, now) -> None:
    """Store each event once; a copy sent again (even concurrently) counts one more attempt.
    One statement, in key order, so concurrent senders neither lose attempts nor deadlock."""
    table = QuarantinedEvent._meta.db_table
    payload = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    row = "(" + ", ".join(payload if name == "payload" else "%s" for name in _QUARANTINE_COLUMNS) + ")"
    sql = (
        f"INSERT INTO {table} ({', '.join(_QUARANTINE_COLUMNS)}) VALUES {', '.join([row] * len(items))} "
        f"ON CONFLICT (source, event_id) DO UPDATE SET attempts = {table}.attempts + 1"
    )
    encode = DjangoJSONEncoder().encode
    adapt_time = connection.ops.adapt_datetimefield_value
    params: list = []
    for item in items:
        event = item.event
        params += [
            event.source, event.event_id, event.format, encode(event.payload), item.reason, item.detail[:500],
            event.customer_external_id, event.subscription_external_id, event.metric_code,
            adapt_time(event.timestamp), adapt_time(now), sender_id, api_key.pk if api_key else None,
            QuarantineStatus.PENDING, "", 1,
        ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
