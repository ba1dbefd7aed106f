"""Helpers shared by the metering tests: building events, posting them, reading totals back."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Max, Sum

from prm.usage.models import UsageEvent, UsageRollup
from prm.usage.selectors import period_usage

EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"
USAGE = "/api/v1/usage"
QUARANTINE = "/api/v1/quarantine/"
CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
JSON = "application/json"

# November 2026: an open billing period, in the past of the machine running the tests.
NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, tzinfo=UTC)
T10 = "2026-11-02T10:00:00Z"


def ce(event_id, *, type="api_calls", subject="cus_a1", data=None, time=T10, source="meter-1", **extra) -> dict:
    """One CloudEvent 1.0 as a JSON object (structured mode)."""
    event = {"specversion": "1.0", "id": event_id, "source": source, "type": type, "subject": subject}
    if time is not None:
        event["time"] = time
    if data is not None:
        event["data"] = data
    return {**event, **extra}


def lago(transaction_id, *, code="api_calls", customer="cus_a1", properties=None, timestamp=1793613600, **extra):
    """One event in Lago's shape. 1793613600 is 2026-11-02T10:00:00Z."""
    event = {"transaction_id": transaction_id, "code": code}
    if customer is not None:
        event["external_customer_id"] = customer
    if timestamp is not None:
        event["timestamp"] = timestamp
    if properties is not None:
        event["properties"] = properties
    return {**event, **extra}


def post_json(client, path, payload, content_type, auth):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(path, data=body, content_type=content_type, **auth)


def send(client, event, auth):
    return post_json(client, EVENTS, event, CLOUDEVENT, auth)


def send_batch(client, events, auth):
    return post_json(client, EVENTS, events, CLOUDEVENTS_BATCH, auth)


def send_lago(client, event, auth):
    return post_json(client, EVENTS, {"event": event}, JSON, auth)


def send_lago_batch(client, events, auth):
    return post_json(client, BATCH, {"events": events}, JSON, auth)


def result(accepted=0, duplicates=0, quarantined=0, rejected=()) -> dict:
    return {"accepted": accepted, "duplicates": duplicates, "quarantined": quarantined, "rejected": list(rejected)}


def month_total(customer, metric, start=NOVEMBER, end=DECEMBER) -> Decimal:
    """The period's quantity as billing reads it (from the rollups)."""
    return period_usage(customer_id=customer.pk, metric=metric, start=start, end=end)


def rollup_totals(customer, metric) -> dict:
    """Count, sum and max over the customer's hourly rollups of the metric."""
    totals = UsageRollup.objects.filter(customer=customer, metric=metric).aggregate(
        count=Sum("event_count"), value_max=Max("value_max")
    )
    # Summed in Python from the stored Decimals: independent of the database's SUM.
    values = UsageRollup.objects.filter(customer=customer, metric=metric).values_list("value_sum", flat=True)
    return {"count": totals["count"] or 0, "sum": sum(values, Decimal(0)), "max": totals["value_max"]}


def active_events(customer, metric):
    return UsageEvent.objects.filter(customer=customer, metric=metric, status="active")


def usage(client, auth=None, **params):
    query = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", **params}
    return client.get(USAGE, query, **(auth or {}))
