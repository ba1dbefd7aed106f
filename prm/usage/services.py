"""Corrections to usage: voiding or replacing an event, and working the quarantine.

The original of an amended event is kept (status voided, with an UsageAmendment saying who,
when and why); the hours it touched are rebuilt so every total follows.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from prm.core.locks import billing_periods_lock
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.usage.ingest import MAX_FUTURE, TOO_FAR_AHEAD, Outcome, event_quantity, events_ingest
from prm.usage.models import (
    AmendmentAction,
    EventFormat,
    EventStatus,
    QuarantinedEvent,
    QuarantineStatus,
    UsageAmendment,
    UsageEvent,
)
from prm.usage.parsing import IncomingEvent, parse_time, reparse
from prm.usage.partitioning import event_keys_claim, events_partitioned
from prm.usage.rollups import hour_of, rollups_rebuild


def can_send_usage(user) -> bool:
    """The vendor sends usage for any customer, a partner's people for the customers they see."""
    return user.is_authenticated and (user.is_manager or user.is_partner_user)


def can_amend(user, event: UsageEvent, api_key=None) -> bool:
    """A channel manager, or the API key that sent the event."""
    return user.is_manager or (api_key is not None and event.api_key_id == api_key.pk)


def _check_open(moment, field: str) -> None:
    billing_periods_lock(exclusive=False)  # see prm/core/locks.py
    period = str(BillingPeriod.containing(moment))
    if ClosedBillingPeriod.objects.filter(period=period).exists():
        raise ValidationError({field: f"The billing period {period} is closed; correct it with a credit note."})


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the event is amended; the reason is kept for audit."})
    return reason


def event_void(*, actor, event: UsageEvent, reason: str, api_key=None) -> UsageAmendment:
    reason = _require_reason(reason)
    with transaction.atomic():
        event = UsageEvent.objects.locked_for(actor, event.pk)
        if not can_amend(actor, event, api_key):
            raise PermissionDenied("Only a channel manager or the API key that sent an event may amend it.")
        if event.status != EventStatus.ACTIVE:
            raise ValidationError({"status": "This event is already voided."})
        _check_open(event.timestamp, "timestamp")
        UsageEvent.objects.filter(pk=event.pk).update(status=EventStatus.VOIDED)
        amendment = UsageAmendment.objects.create(
            event=event, action=AmendmentAction.VOID, reason=reason, amended_by=actor, amended_at=timezone.now()
        )
        rollups_rebuild(event.customer_id, event.metric_id, {hour_of(event.timestamp)})
    return amendment


def event_replace(
    *, actor, event: UsageEvent, reason: str, value=None, properties=None, timestamp=None, api_key=None
) -> UsageEvent:
    """Void `event` and count a corrected copy in its place (new value, properties or time)."""
    reason = _require_reason(reason)
    with transaction.atomic():
        event = UsageEvent.objects.select_related("metric").get(pk=UsageEvent.objects.locked_for(actor, event.pk).pk)
        if not can_amend(actor, event, api_key):
            raise PermissionDenied("Only a channel manager or the API key that sent an event may amend it.")
        if event.status != EventStatus.ACTIVE:
            raise ValidationError({"status": "This event is already voided; it cannot be replaced."})
        _check_open(event.timestamp, "timestamp")
        correction = IncomingEvent(index=0, format=EventFormat.AMENDMENT, payload=None)
        correction.data = dict(event.properties if properties is None else properties)
        if not isinstance(correction.data, dict):
            raise ValidationError({"properties": "Must be a JSON object."})
        correction.raw_value = value
        if value is None and properties is None:
            correction.raw_value = event.distinct_key or event.value
        new_time = event.timestamp
        if timestamp is not None:
            try:
                new_time = parse_time(timestamp, allow_unix=True)
            except ValueError as error:
                raise ValidationError({"timestamp": str(error)}) from None
            if new_time > timezone.now() + MAX_FUTURE:
                raise ValidationError({"timestamp": TOO_FAR_AHEAD})
            _check_open(new_time, "timestamp")
        new_value, distinct_key = event_quantity(correction, event.metric)
        if correction.errors:
            raise ValidationError(
                {name.replace("data.", "properties."): msgs for name, msgs in correction.errors.items()}
            )
        if value is not None and event.metric.field and event.metric.aggregation != "count":
            correction.data[event.metric.field] = value
        key = ("prm:amendment", f"replaces:{event.pk}")
        # A partitioned events table keeps its keys in the key table (prm/usage/partitioning.py).
        if events_partitioned() and not event_keys_claim([key]):
            raise ValidationError({"status": "This event was replaced already."})
        replacement = UsageEvent.objects.create(
            source=key[0],
            event_id=key[1],
            customer_id=event.customer_id,
            metric=event.metric,
            subscription_external_id=event.subscription_external_id,
            timestamp=new_time,
            value=new_value,
            distinct_key=distinct_key,
            properties=correction.data,
            format=EventFormat.AMENDMENT,
            received_at=timezone.now(),
            sent_by=actor,
            api_key=api_key,
            replaces=event,
        )
        UsageEvent.objects.filter(pk=event.pk).update(status=EventStatus.VOIDED)
        UsageAmendment.objects.create(
            event=event,
            action=AmendmentAction.REPLACE,
            replacement=replacement,
            reason=reason,
            amended_by=actor,
            amended_at=timezone.now(),
        )
        rollups_rebuild(event.customer_id, event.metric_id, {hour_of(event.timestamp), hour_of(new_time)})
    return replacement


def quarantine_reprocess(*, actor, item: QuarantinedEvent) -> str:
    """Try a quarantined event again, in the scope of whoever sent it (so that re-processing by
    the vendor never lets a partner's event reach another partner's customer). Returns the
    outcome: accepted, duplicate, or quarantined (still waiting, with the reason updated)."""
    if not actor.is_manager:
        raise PermissionDenied("Only channel managers work the quarantine.")
    with transaction.atomic():
        item = QuarantinedEvent.objects.locked_for(actor, item.pk)
        if item.status != QuarantineStatus.PENDING:
            raise ValidationError({"status": f"This event was already {item.get_status_display().lower()}."})
        event = reparse(item.format, item.payload)
        if event.timestamp is None:
            event.timestamp = item.timestamp  # it came without a time: it happened when it arrived
        sender = item.sent_by if item.sent_by_id else actor
        result = events_ingest([event], actor=sender, api_key=item.api_key)
        outcome = result.outcomes.get(0, Outcome.REJECTED)
        now = timezone.now()
        if outcome == Outcome.QUARANTINED:
            reason, detail = result.reasons[0]
            QuarantinedEvent.objects.filter(pk=item.pk).update(reason=reason, detail=detail)
        elif outcome == Outcome.REJECTED:
            detail = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in event.errors.items())
            QuarantinedEvent.objects.filter(pk=item.pk).update(detail=detail[:500], attempts=item.attempts + 1)
        else:
            QuarantinedEvent.objects.filter(pk=item.pk).update(
                status=QuarantineStatus.REPROCESSED,
                resolved_at=now,
                resolved_by=actor,
                resolution="Accepted on re-processing." if outcome == Outcome.ACCEPTED else "It was already counted.",
                accepted_event=UsageEvent.objects.filter(source=item.source, event_id=item.event_id).first(),
            )
    return outcome


def quarantine_discard(*, actor, item: QuarantinedEvent, reason: str) -> None:
    if not actor.is_manager:
        raise PermissionDenied("Only channel managers work the quarantine.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the event is discarded; the reason is kept for audit."})
    with transaction.atomic():
        item = QuarantinedEvent.objects.locked_for(actor, item.pk)
        if item.status != QuarantineStatus.PENDING:
            raise ValidationError({"status": f"This event was already {item.get_status_display().lower()}."})
        QuarantinedEvent.objects.filter(pk=item.pk).update(
            status=QuarantineStatus.DISCARDED, resolved_at=timezone.now(), resolved_by=actor, resolution=reason
        )
