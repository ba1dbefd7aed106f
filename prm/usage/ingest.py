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
from datetime import timedelta
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer
from prm.plans.models import Aggregation, Metric
from prm.usage.models import EventStatus, QuarantinedEvent, QuarantineReason, QuarantineStatus, UsageEvent
from prm.usage.parsing import MAX_ID_LENGTH, IncomingEvent, parse_quantity
from prm.usage.rollups import CountedEvent, db_datetime, rollups_add

MAX_FUTURE = timedelta(minutes=5)
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
    now = now or timezone.now()
    result = IngestResult()
    _check_times(events, now)
    well_formed = [event for event in events if not event.errors]
    metrics = {metric.code: metric for metric in Metric.objects.filter(code__in={e.metric_code for e in well_formed})}
    customer_ids = dict(
        Customer.objects.visible_to(actor)
        .filter(external_id__in={e.customer_external_id for e in well_formed if e.customer_external_id})
        .values_list("external_id", "pk")
    )
    closed = set(ClosedBillingPeriod.objects.values_list("period", flat=True))

    rows: list[_Row] = []
    held: list[_Held] = []
    for event in well_formed:
        outcome = _classify(event, metrics, customer_ids, closed)
        if isinstance(outcome, _Row | _Held):
            (rows if isinstance(outcome, _Row) else held).append(outcome)
    for event in events:
        if event.errors:
            result.outcomes[event.index] = Outcome.REJECTED
            result.rejected.append({"index": event.index, "id": event.display_id, "errors": event.errors})

    with transaction.atomic():
        _store(rows, result, actor=actor, api_key=api_key, now=now)
        _quarantine(held, result, actor=actor, api_key=api_key, now=now)
    return result


def _check_times(events: list[IncomingEvent], now) -> None:
    for event in events:
        if event.timestamp is None:
            event.timestamp = now  # no time given: the event happened when it arrived
        elif event.timestamp > now + MAX_FUTURE:
            name = "timestamp" if event.format == "lago" else "time"
            event.error(name, "More than 5 minutes in the future; check the sender's clock.")


def _classify(event: IncomingEvent, metrics, customer_ids, closed) -> _Row | _Held | None:
    metric = metrics.get(event.metric_code)
    if metric is None:
        return _Held(event, QuarantineReason.UNKNOWN_METRIC, f"No metric has the code {event.metric_code!r}.")
    value, distinct_key = event_quantity(event, metric)
    if event.errors:
        return None
    if not event.customer_external_id:
        # Subscriptions arrive with the billing issue; until one exists the event waits.
        return _Held(
            event,
            QuarantineReason.UNKNOWN_SUBSCRIPTION,
            f"No subscription has the external id {event.subscription_external_id!r}.",
        )
    customer_id = customer_ids.get(event.customer_external_id)
    if customer_id is None:
        return _Held(
            event, QuarantineReason.UNKNOWN_CUSTOMER, f"No customer has the external id {event.customer_external_id!r}."
        )
    period = str(BillingPeriod.containing(event.timestamp))
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


def _insert_sql(count: int) -> str:
    placeholders = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    return (
        f"INSERT INTO {UsageEvent._meta.db_table} ({', '.join(_EVENT_COLUMNS)}) VALUES "
        + ", ".join([placeholders] * count)
        + " ON CONFLICT (source, event_id) DO NOTHING RETURNING id, source, event_id"
    )


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
    adapt_json = connection.ops.adapt_json_value
    stored: dict[tuple[str, str], int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), INSERT_CHUNK):
            chunk = ordered[start : start + INSERT_CHUNK]
            params: list = []
            for row in chunk:
                event = row.event
                params += [
                    event.source, event.event_id, row.customer_id, row.metric.pk, event.subscription_external_id,
                    db_datetime(event.timestamp), row.value, row.distinct_key,
                    adapt_json(event.data, DjangoJSONEncoder), event.format, received_at, sent_by_id, api_key_id,
                    EventStatus.ACTIVE,
                ]  # fmt: skip
            cursor.execute(_insert_sql(len(chunk)), params)
            stored.update({(source, event_id): pk for pk, source, event_id in cursor.fetchall()})
    counted = []
    for key, row in unique.items():
        if key in stored:
            result.accepted += 1
            result.outcomes[row.event.index] = Outcome.ACCEPTED
            counted.append(
                CountedEvent(stored[key], row.customer_id, row.metric.pk, row.event.timestamp, row.value, row.distinct_key)
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
                status=QuarantineStatus.REPROCESSED, resolved_at=now, resolution="Accepted when sent again.", accepted_event=pk
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
    existing = {
        (source, event_id)
        for source, event_id in QuarantinedEvent.objects.filter(event_id__in={k[1] for k in keys}).values_list(
            "source", "event_id"
        )
        if (source, event_id) in keys
    }
    new: dict[tuple[str, str], QuarantinedEvent] = {}
    for item in held:
        event, key = item.event, (item.event.source, item.event.event_id)
        if key in counted:
            result.duplicates += 1
            result.outcomes[event.index] = Outcome.DUPLICATE
            continue
        result.quarantined += 1
        result.outcomes[event.index] = Outcome.QUARANTINED
        result.reasons[event.index] = (item.reason, item.detail)
        if key in existing or key in new:
            continue
        new[key] = QuarantinedEvent(
            source=event.source,
            event_id=event.event_id,
            format=event.format,
            payload=event.payload,
            reason=item.reason,
            detail=item.detail,
            customer_external_id=event.customer_external_id,
            subscription_external_id=event.subscription_external_id,
            metric_code=event.metric_code,
            timestamp=event.timestamp,
            received_at=now,
            sent_by=actor if actor is not None and actor.is_authenticated else None,
            api_key=api_key,
        )
    if existing:
        for source, event_id in existing - counted:
            QuarantinedEvent.objects.filter(source=source, event_id=event_id).update(attempts=F("attempts") + 1)
    # ignore_conflicts: a concurrent request may quarantine the same event first; one row wins.
    QuarantinedEvent.objects.bulk_create(
        sorted(new.values(), key=lambda q: (q.source, q.event_id)), ignore_conflicts=True
    )
