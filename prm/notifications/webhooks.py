"""Outgoing webhooks: signed, retried HTTP POSTs of events to partners' and the vendor's systems.

The seam domain code calls at a hand-off:

    publish_event(type="invoice.finalized", data={...}, partner_id=partner.pk, customer_id=customer.pk)

It records one `WebhookDelivery` per active endpoint subscribed to `type` (the partner's own
endpoints and every vendor endpoint) and, once the caller's transaction commits, hands them to
delivery. It never raises into the caller and never waits on a receiver: a receiver that times out
or answers 500 slows neither ingestion nor billing.

Each request carries

    Content-Type: application/json
    PRM-Event-Type: invoice.finalized
    PRM-Delivery: <delivery id>
    PRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the endpoint's secret>

and the body `{"id": "<event uuid>", "type": …, "created": <unix seconds>, "data": {…}}`; the event id
is the same for every endpoint and every retry (receivers deduplicate on it). A 2xx answer is
success; anything else (a redirect, a 500, a timeout after TIMEOUT_SECONDS) is retried with
exponential backoff (1 min, 2, 4, … capped at an hour) up to MAX_ATTEMPTS tries, then the delivery
is marked failed; people can re-send it from the endpoint's delivery log.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.utils import timezone

from prm.notifications.kinds import ALL_EVENTS, PING, WEBHOOK_EVENT_TYPES
from prm.notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "PRM-Signature"
TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 8
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
# A try claims its delivery for this long, so the sweep and a worker never send it twice at once;
# longer than a try can take (the timeout, DNS included), short enough to resume after a crash.
CLAIM = timedelta(minutes=2)
EXCERPT_CHARS = 500


# --- signing ------------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The PRM-Signature header's value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes | str, tolerance: int = 300, now: float | None = None):
    """True when `header` (PRM-Signature) signs `body` (the raw bytes received) with `secret`
    and its timestamp is within `tolerance` seconds of now (which stops replays of old requests).

    For receivers: compute over the raw body as received, before any JSON parsing.
    """
    if isinstance(body, str):
        body = body.encode()
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


# --- the seam: publishing an event ----------------------------------------------------------------


def publish_event(
    *, type: str, data: dict | Callable[[], dict], partner_id: int | None = None, customer_id: int | None = None
) -> None:
    """Queue a signed delivery of this event to every active endpoint subscribed to `type` that
    belongs to the partner (`partner_id`; found from `customer_id` when only that is given) or to
    the vendor. Deliveries are handed over after the caller's transaction commits (a rolled-back
    hand-off tells no one). Never raises: a failure here is logged, the caller's work stands.

    `data` may be a function returning the dict, for hot paths (the period close finalizes every
    invoice): it is called only when some endpoint listens, so nobody pays for a payload no one gets.
    """
    try:
        # A savepoint: should recording fail, the caller's transaction is not left broken.
        with transaction.atomic():
            ids = _record_event(type, data, partner_id, customer_id)
        if ids:
            transaction.on_commit(lambda: _hand_over(ids), robust=True)
    except Exception:
        log.exception("Could not publish webhook event %s (partner %s)", type, partner_id)


def publish_events(*, type: str, events: list[tuple[dict | Callable[[], dict], int | None]]) -> None:
    """`publish_event` for many events of one type at once — (data, customer_id) pairs — at the
    cost of one: the endpoints are read once, the customers' partners (only if a partner's endpoint
    listens) in one query, and every delivery is recorded in one insert, handed over on commit.
    Each event gets its own id, exactly as if published one by one. Never raises."""
    try:
        with transaction.atomic():
            ids = _record_events(type, events)
        if ids:
            transaction.on_commit(lambda: _hand_over(ids), robust=True)
    except Exception:
        log.exception("Could not publish %s webhook events of type %s", len(events), type)


def _record_events(event_type: str, events: list) -> list[int]:
    endpoints = [ep for ep in WebhookEndpoint.objects.filter(is_active=True) if ep.wants(event_type)]
    if not endpoints or not events:
        return []
    partners: dict[int, int] = {}
    if any(ep.partner_id for ep in endpoints):
        customers = apps.get_model("customers", "Customer").objects
        wanted = {customer_id for _data, customer_id in events if customer_id is not None}
        partners = dict(customers.filter(pk__in=wanted).values_list("pk", "reseller_id"))
    now = timezone.now()
    rows = []
    for data, customer_id in events:
        partner_id = partners.get(customer_id)
        listening = [ep for ep in endpoints if ep.partner_id is None or ep.partner_id == partner_id]
        if not listening:
            continue
        body = envelope(event_type, data() if callable(data) else data)
        event_id = json.loads(body)["id"]
        rows.extend(
            WebhookDelivery(endpoint=ep, event_id=event_id, event_type=event_type, body=body, next_attempt_at=now)
            for ep in listening
        )
    return [delivery.pk for delivery in WebhookDelivery.objects.bulk_create(rows)] if rows else []


def _record_event(event_type: str, data: dict, partner_id, customer_id) -> list[int]:
    # One query when nobody listens (the usual case for most events): the active endpoints.
    endpoints = [ep for ep in WebhookEndpoint.objects.filter(is_active=True) if ep.wants(event_type)]
    if partner_id is None and customer_id is not None and any(ep.partner_id for ep in endpoints):
        # By label, not by import: notifications does not import the customers app.
        customers = apps.get_model("customers", "Customer").objects
        partner_id = customers.filter(pk=customer_id).values_list("reseller_id", flat=True).first()
    endpoints = [ep for ep in endpoints if ep.partner_id is None or ep.partner_id == partner_id]
    if not endpoints:
        return []
    body = envelope(event_type, data() if callable(data) else data)
    event_id = json.loads(body)["id"]
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=ep, event_id=event_id, event_type=event_type, body=body, next_attempt_at=now)
        for ep in endpoints
    )
    return [delivery.pk for delivery in deliveries]


def envelope(event_type: str, data: dict) -> str:
    """The JSON body: {"id", "type", "created", "data"}; Decimals and datetimes become strings."""
    event = {"id": str(uuid.uuid4()), "type": event_type, "created": int(time.time()), "data": data}
    return json.dumps(event, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def _hand_over(ids: list[int]) -> None:
    """Start delivering, without ever making the caller wait on a receiver.

    With a broker, a Celery worker sends each delivery. Without one (the embedded default,
    CELERY_TASK_ALWAYS_EAGER), a Celery task would run right here, inside the web request or the
    period close, and a receiver that hangs would hold it for the whole timeout per endpoint; so
    a daemon thread sends them instead. Should the process end first, the rows are still pending
    and due, and the next sweep (`webhook_deliveries_retry_task`, or the next thread) sends them.
    """
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            threading.Thread(target=_deliver_in_background, args=(ids,), name="webhook-delivery", daemon=True).start()
        else:
            from prm.notifications.tasks import webhook_deliver

            for delivery_id in ids:
                webhook_deliver.delay(delivery_id)
    except Exception:  # the broker is down: the rows stay pending, the sweep sends them
        log.exception("Could not hand webhook deliveries %s over; the retry sweep will send them", ids)


def _deliver_in_background(ids: list[int]) -> None:
    try:
        for delivery_id in ids:
            webhook_delivery_attempt(delivery_id=delivery_id)
        # Without a broker there is no beat either: this thread also sends the retries that fell due.
        webhook_deliveries_retry()
    except Exception:
        log.exception("Background webhook delivery of %s failed", ids)
    finally:
        connections.close_all()  # this thread's own connections


# --- delivering -----------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 1 min, 2, 4, 8, … at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def webhook_delivery_attempt(*, delivery_id: int, manual: bool = False) -> WebhookDelivery | None:
    """Send one delivery once and record the outcome; None when it is not due (or another process
    has claimed it). `manual` (a ping, a re-send) sends it now whatever its state."""
    now = timezone.now()
    rows = WebhookDelivery.objects.filter(pk=delivery_id)
    if not manual:
        rows = rows.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    if not rows.update(next_attempt_at=now + CLAIM):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    was_pending = delivery.status == DeliveryStatus.PENDING
    if not endpoint.is_active and not manual:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        delivery.last_error = "Not sent: the endpoint was deactivated. Re-send it once the endpoint is active."
        delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
        return delivery
    code, excerpt, error = _post(endpoint, delivery)
    done = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = done
    delivery.response_code, delivery.response_excerpt, delivery.last_error = code, excerpt, error
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, done, None
    elif delivery.attempts < MAX_ATTEMPTS and was_pending and delivery.event_type != PING:
        # A ping, or a manual re-send of a settled delivery, is one try: it is not retried.
        delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, done + backoff(delivery.attempts)
    else:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    delivery.save(
        update_fields=[
            "attempts", "last_attempt_at", "response_code", "response_excerpt", "last_error", "status",
            "delivered_at", "next_attempt_at",
        ]
    )  # fmt: skip
    return delivery


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """POST the delivery's exact body, signed now with the endpoint's current secret:
    (response code or None, an excerpt of the response body, an error message or "").

    http.client rather than urllib: header names go out exactly as documented (urllib would send
    "Prm-signature"), and a redirect is an answer, never followed (it could carry the body elsewhere).
    """
    refusal = _refuse_private_host(endpoint.url)
    if refusal:
        return None, "", refusal
    parts = urlsplit(endpoint.url)
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PRM-Webhooks/1.0",
        "PRM-Event-Type": delivery.event_type,
        "PRM-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time())),
    }
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        text = _excerpt(response.read(EXCERPT_CHARS * 4))
    except TimeoutError:
        return None, "", f"No answer within {TIMEOUT_SECONDS} seconds."
    except OSError as failure:  # refused, unreachable, reset, a bad certificate …
        return None, "", f"Could not connect: {failure}"[:EXCERPT_CHARS]
    except Exception as failure:  # a malformed answer …
        return None, "", f"{type(failure).__name__}: {failure}"[:EXCERPT_CHARS]
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status, text, ""
    return response.status, text, f"The receiver answered HTTP {response.status}."


def _excerpt(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def _refuse_private_host(url: str) -> str:
    """Endpoints are entered by partners: unless PRM_WEBHOOK_ALLOW_PRIVATE_HOSTS, the portal does not
    POST into its own network (loopback, private, link-local addresses such as cloud metadata)."""
    if settings.PRM_WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return ""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)}
    except (OSError, ValueError) as failure:
        return f"Could not resolve {parts.hostname}: {failure}"[:EXCERPT_CHARS]
    for address in sorted(addresses):
        if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
            return f"Not sent: {parts.hostname} resolves to {address}, a private or local address."
    return ""


def due_delivery_ids(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose next try is due, the longest-waiting first."""
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def webhook_deliveries_retry(*, limit: int = 500) -> int:
    """Send the pending deliveries that are due, here and now; returns how many were tried."""
    return sum(webhook_delivery_attempt(delivery_id=pk) is not None for pk in due_delivery_ids(limit=limit))


# --- managing endpoints ---------------------------------------------------------------------------


def can_manage_webhooks(user) -> bool:
    """Managers (vendor endpoints) and partner admins (their partner's)."""
    return user.is_authenticated and (user.is_manager or user.is_partner_admin)


def can_change_webhook(user, endpoint: WebhookEndpoint) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_manager:
        return True
    return user.is_partner_admin and endpoint.partner_id is not None and endpoint.partner_id == user.partner.pk


def clean_event_types(value) -> list[str]:
    """A list of known types without repeats; "*" alone when it is among them."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ValidationError({"event_types": 'A list of event types, e.g. ["invoice.finalized"], or ["*"].'})
    items = [str(item).strip() for item in value if str(item).strip()]
    if ALL_EVENTS in items:
        return [ALL_EVENTS]
    return sorted(set(items))


def webhook_endpoint_create(
    *, actor, url: str, event_types, description: str = "", partner=None, is_active: bool = True
) -> WebhookEndpoint:
    """Register an endpoint; the returned object carries its new secret (show it once).

    A partner admin's endpoint is their partner's; a manager's is the vendor's unless `partner` is given.
    """
    if not can_manage_webhooks(actor):
        raise PermissionDenied("Only channel managers and partner admins manage webhook endpoints.")
    if actor.is_partner_admin:
        partner = actor.partner
    endpoint = WebhookEndpoint(
        partner=partner, url=(url or "").strip(), event_types=clean_event_types(event_types),
        description=(description or "").strip(), is_active=is_active, secret=new_secret(), created_by=actor,
    )  # fmt: skip
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def _locked(actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.locked_for(actor, endpoint.pk)
    if not can_change_webhook(actor, endpoint):
        raise PermissionDenied("Only channel managers and the partner's admins change its webhook endpoints.")
    return endpoint


def webhook_endpoint_update(*, actor, endpoint: WebhookEndpoint, **fields) -> WebhookEndpoint:
    """Change url, event_types, description or is_active (the secret only rotates)."""
    allowed = {"url", "event_types", "description", "is_active"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed."))
    with transaction.atomic():
        endpoint = _locked(actor, endpoint)
        if "event_types" in fields:
            fields["event_types"] = clean_event_types(fields["event_types"])
        for name in ("url", "description"):
            if name in fields:
                fields[name] = (fields[name] or "").strip()
        for name, value in fields.items():
            setattr(endpoint, name, value)
        endpoint.full_clean()
        endpoint.save()
    return endpoint


def webhook_endpoint_rotate_secret(*, actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret, effective at once: every request from now on (retries and re-sends of older
    events included) is signed with it only, and the old one stops verifying."""
    with transaction.atomic():
        endpoint = _locked(actor, endpoint)
        endpoint.secret = new_secret()
        endpoint.secret_rotated_at = timezone.now()
        endpoint.save(update_fields=["secret", "secret_rotated_at"])
    return endpoint


def webhook_endpoint_deactivate(*, actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop sending to it; its pending retries are marked failed when they fall due."""
    return webhook_endpoint_update(actor=actor, endpoint=endpoint, is_active=False)


def _require_active(endpoint: WebhookEndpoint) -> None:
    if not endpoint.is_active:
        raise ValidationError({"is_active": "The endpoint is inactive: activate it before sending to it."})


def webhook_ping(*, actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a signed `ping` to the endpoint now (one try) and return the delivery with its answer."""
    endpoint = WebhookEndpoint.objects.visible_to(actor).get(pk=endpoint.pk)
    if not can_change_webhook(actor, endpoint):
        raise PermissionDenied("Only channel managers and the partner's admins ping its webhook endpoints.")
    _require_active(endpoint)
    data = {"endpoint": endpoint.pk, "message": "A test event from the partner portal."}
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=uuid.uuid4(), event_type=PING, body="", next_attempt_at=None
    )
    delivery.body = json.dumps(
        {"id": str(delivery.event_id), "type": PING, "created": int(time.time()), "data": data},
        separators=(",", ":"),
    )
    delivery.save(update_fields=["body"])
    return webhook_delivery_attempt(delivery_id=delivery.pk, manual=True)


def webhook_delivery_resend(*, actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, the same body (and event id), signed afresh."""
    delivery = WebhookDelivery.objects.visible_to(actor).select_related("endpoint").get(pk=delivery.pk)
    if not can_change_webhook(actor, delivery.endpoint):
        raise PermissionDenied("Only channel managers and the partner's admins re-send its webhook deliveries.")
    _require_active(delivery.endpoint)
    return webhook_delivery_attempt(delivery_id=delivery.pk, manual=True)


def event_type_choices() -> list[tuple[str, str]]:
    return [(ALL_EVENTS, "All events (including types added later)")] + list(WEBHOOK_EVENT_TYPES.items())


def portal_url(path: str) -> str:
    """An absolute portal link for event payloads."""
    return f"{settings.PRM_SITE_URL.rstrip('/')}{path}"
