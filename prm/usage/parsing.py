"""From the wire formats (CloudEvents structured, binary and batch; Lago's event shape; CSV rows)
to one shape, `IncomingEvent`, with every problem named by its field.

Nothing here touches the database: the ingest service resolves metrics and customers after.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from prm.usage.models import EventFormat

MAX_BATCH_EVENTS = 10_000
MAX_ID_LENGTH = 255
MAX_DECIMAL_PLACES = 6
# Beyond 15 significant digits SQLite (the embedded database) would round a quantity.
MAX_SIGNIFICANT_DIGITS = 15
_MAX_EXACT_INTEGER = 10**MAX_SIGNIFICANT_DIGITS


class PayloadError(Exception):
    """The request as a whole cannot be read (not JSON, wrong shape): 400, nothing stored."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class TooManyEvents(PayloadError):
    """More than MAX_BATCH_EVENTS events in one request: 413."""


@dataclass
class IncomingEvent:
    index: int
    format: str
    payload: Any  # the event as received, kept with a quarantined event
    source: str = ""
    event_id: str = ""
    metric_code: str = ""
    customer_external_id: str = ""
    subscription_external_id: str = ""
    timestamp: datetime | None = None
    data: dict = field(default_factory=dict)
    # A value given beside the properties (a CSV column, an amendment) instead of inside them.
    raw_value: Any = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def display_id(self) -> str | None:
        return self.event_id or None


def _reject_constant(name: str):
    raise PayloadError(f"{name} is not a number JSON allows")


def loads(body: bytes) -> Any:
    """JSON with exact decimals (never floats) and no NaN or Infinity."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except PayloadError:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"Malformed JSON: {error}") from None


# --- attribute helpers ----------------------------------------------------------------------


def _required_string(event: IncomingEvent, payload: dict, name: str, label: str | None = None) -> str:
    value = payload.get(name)
    label = label or name
    if value is None or value == "":
        event.error(label, "This field is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        event.error(label, f"Must be a string, not {type(value).__name__}.")
        return ""
    value = str(value)
    if len(value) > MAX_ID_LENGTH:
        event.error(label, f"At most {MAX_ID_LENGTH} characters.")
        return ""
    return value


def parse_time(value: Any, *, allow_unix: bool) -> datetime:
    """RFC 3339 / ISO 8601 with a zone, or (Lago) Unix seconds; returned in UTC."""
    if isinstance(value, bool):
        raise ValueError("Must be a time, not a boolean.")
    if allow_unix and isinstance(value, int | Decimal):
        return _from_unix(Decimal(value))
    if not isinstance(value, str) or not value:
        raise ValueError("Must be an RFC 3339 time such as 2026-11-23T10:00:00Z.")
    if allow_unix:
        try:
            return _from_unix(Decimal(value))
        except (InvalidOperation, ValueError):
            pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 time such as 2026-11-23T10:00:00Z.") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add Z or an offset such as +02:00.")
    return moment.astimezone(UTC)


def _from_unix(seconds: Decimal) -> datetime:
    if not seconds.is_finite():
        raise ValueError("Must be a finite number of Unix seconds.")
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC).replace(microsecond=int((seconds % 1) * 1_000_000))
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{seconds} is not a Unix time in seconds.") from None


def _time(event: IncomingEvent, payload: dict, name: str, *, allow_unix: bool) -> None:
    value = payload.get(name)
    if value is None:
        return  # the ingest service stamps the time of receipt
    try:
        event.timestamp = parse_time(value, allow_unix=allow_unix)
    except ValueError as error:
        event.error(name, str(error))


def parse_quantity(raw: Any) -> Decimal:
    """A finite decimal with at most 6 places and 15 significant digits."""
    if type(raw) is int and -_MAX_EXACT_INTEGER < raw < _MAX_EXACT_INTEGER:
        return Decimal(raw)  # the common case, a count, needs none of the checks below
    if isinstance(raw, bool) or raw is None or isinstance(raw, list | dict):
        raise ValueError(f"Must be a number, not {_describe(raw)}.")
    if isinstance(raw, float):
        raw = Decimal(repr(raw))
    try:
        value = Decimal(raw) if isinstance(raw, int | Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"Must be a number, not {raw!r}.") from None
    if not value.is_finite():
        raise ValueError(f"Must be a finite number, not {raw!r}.")
    # Drop trailing zeros by hand: Decimal.normalize() would round past 28 digits, silently.
    sign, digits, exponent = value.as_tuple()
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if -exponent > MAX_DECIMAL_PLACES:
        raise ValueError(f"Has more than {MAX_DECIMAL_PLACES} decimal places: {raw}.")
    significant = len(digits) + max(exponent, 0)
    if significant > MAX_SIGNIFICANT_DIGITS and any(digits):
        raise ValueError(f"Has more than {MAX_SIGNIFICANT_DIGITS} significant digits: {raw}.")
    value = Decimal((sign, digits, exponent))
    return value


def _describe(raw: Any) -> str:
    if raw is None:
        return "null"
    return {bool: "a boolean", list: "a list", dict: "an object"}.get(type(raw), repr(raw))


# --- CloudEvents ----------------------------------------------------------------------------

CLOUDEVENTS_SPECVERSION = "1.0"


def cloudevent(index: int, payload: Any) -> IncomingEvent:
    """One CloudEvent 1.0 in structured form (a JSON object)."""
    event = IncomingEvent(index=index, format=EventFormat.CLOUDEVENTS, payload=payload)
    if not isinstance(payload, dict):
        event.error("event", f"Must be a JSON object, not {_describe(payload)}.")
        return event
    specversion = payload.get("specversion")
    if specversion is None:
        event.error("specversion", "This field is required.")
    elif specversion != CLOUDEVENTS_SPECVERSION:
        event.error("specversion", f"Unsupported specversion {specversion!r}; use '1.0'.")
    event.event_id = _required_string(event, payload, "id")
    event.source = _required_string(event, payload, "source")
    event.metric_code = _required_string(event, payload, "type")
    event.customer_external_id = _required_string(event, payload, "subject")
    _time(event, payload, "time", allow_unix=False)
    content_type = payload.get("datacontenttype")
    if content_type is not None and not str(content_type).startswith("application/json"):
        event.error("datacontenttype", "Only application/json data is accepted.")
    if "data_base64" in payload:
        event.error("data_base64", "Binary data is not accepted; send data as a JSON object.")
    data = payload.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        event.error("data", f"Must be a JSON object, not {_describe(data)}.")
    else:
        event.data = data
    return event


def cloudevents_batch(payload: Any) -> list[IncomingEvent]:
    if not isinstance(payload, list):
        raise PayloadError("A CloudEvents batch must be a JSON array of events.")
    _check_batch_size(payload)
    return [cloudevent(index, item) for index, item in enumerate(payload)]


def cloudevent_from_binary(headers: dict[str, str], body: bytes) -> IncomingEvent:
    """Binary mode: attributes in ce-* headers, the data in the body."""
    # The HTTP binding percent-encodes header values (an id "order 7" travels as "order%207").
    attributes: dict[str, Any] = {name[3:]: unquote(value) for name, value in headers.items() if name.startswith("ce-")}
    if body.strip():
        attributes["data"] = loads(body)
    return cloudevent(0, attributes)


# --- Lago -----------------------------------------------------------------------------------


def lago_event(index: int, payload: Any) -> IncomingEvent:
    """Lago's event: transaction_id, external_subscription_id or external_customer_id, code,
    timestamp (Unix seconds or ISO 8601), properties."""
    event = IncomingEvent(index=index, format=EventFormat.LAGO, payload=payload)
    if not isinstance(payload, dict):
        event.error("event", f"Must be a JSON object, not {_describe(payload)}.")
        return event
    event.event_id = _required_string(event, payload, "transaction_id")
    event.metric_code = _required_string(event, payload, "code")
    subscription = payload.get("external_subscription_id")
    customer = payload.get("external_customer_id")
    if not subscription and not customer:
        event.error("external_subscription_id", "Give external_subscription_id or external_customer_id.")
    if subscription:
        event.subscription_external_id = _required_string(event, payload, "external_subscription_id")
    if customer:
        event.customer_external_id = _required_string(event, payload, "external_customer_id")
    # Lago deduplicates per subscription (or customer) and transaction id.
    if event.subscription_external_id:
        event.source = f"lago:sub:{event.subscription_external_id}"
    elif event.customer_external_id:
        event.source = f"lago:cus:{event.customer_external_id}"
    _time(event, payload, "timestamp", allow_unix=True)
    properties = payload.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        event.error("properties", f"Must be a JSON object, not {_describe(properties)}.")
    else:
        event.data = properties
    return event


def lago_single(payload: Any) -> IncomingEvent:
    if not isinstance(payload, dict) or "event" not in payload:
        raise PayloadError('Expected {"event": {...}} (Lago\'s event shape).', field="event")
    return lago_event(0, payload["event"])


def lago_batch(payload: Any) -> list[IncomingEvent]:
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise PayloadError('Expected {"events": [...]} (Lago\'s batch shape).', field="events")
    _check_batch_size(payload["events"])
    return [lago_event(index, item) for index, item in enumerate(payload["events"])]


def _check_batch_size(items: list) -> None:
    if len(items) > MAX_BATCH_EVENTS:
        raise TooManyEvents(f"At most {MAX_BATCH_EVENTS} events per request; this one has {len(items)}.")
    if not items:
        raise PayloadError("The batch is empty.", field="events")


# --- CSV ------------------------------------------------------------------------------------

CSV_REQUIRED_COLUMNS = ("event_id", "customer", "metric", "timestamp", "value")
CSV_OPTIONAL_COLUMNS = ("source", "properties")


def csv_row(index: int, row: dict, *, default_source: str) -> IncomingEvent:
    """One row of an uploaded CSV file; `default_source` scopes event ids to the uploader."""
    event = IncomingEvent(index=index, format=EventFormat.CSV, payload={**row, "_source": default_source})
    event.event_id = _required_string(event, row, "event_id")
    event.source = (row.get("source") or "").strip() or default_source
    event.metric_code = _required_string(event, row, "metric")
    event.customer_external_id = _required_string(event, row, "customer")
    if not (row.get("timestamp") or "").strip():
        event.error("timestamp", "This field is required.")
    else:
        _time(event, {"timestamp": row["timestamp"].strip()}, "timestamp", allow_unix=True)
    event.raw_value = (row.get("value") or "").strip()
    properties = (row.get("properties") or "").strip()
    if properties:
        try:
            parsed = loads(properties.encode())
        except PayloadError as error:
            event.error("properties", str(error))
        else:
            if isinstance(parsed, dict):
                event.data = parsed
            else:
                event.error("properties", "Must be a JSON object.")
    return event


def reparse(format: str, payload: Any) -> IncomingEvent:
    """Rebuild an event from what was stored of it (for re-processing from quarantine)."""
    if format == EventFormat.CLOUDEVENTS:
        return cloudevent(0, payload)
    if format == EventFormat.LAGO:
        return lago_event(0, payload)
    if format == EventFormat.CSV:
        row = {name: value for name, value in payload.items() if name != "_source"}
        return csv_row(0, row, default_source=payload.get("_source", "csv"))
    raise ValueError(f"cannot re-process events of format {format!r}")
