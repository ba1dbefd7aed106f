"""Bench section `ingest`: usage events over HTTP, against the database's own bulk path.

What is measured, all in one run on one server:
- batched: `--events` CloudEvents in batches of 1000 to `POST /api/v1/events`
  → events/s against the bulk path's rows/s (PostgreSQL `COPY`, SQLite `executemany`) loading
  the same rows, also 1000 per transaction, into a scratch table with the events table's
  columns and no index; per-request latency p50/p95 against the bulk path's per-1000-rows time;
- single: `--single` requests of one CloudEvent → latency p50/p95 and events/s, against
  `GET /healthz` (one `SELECT 1`) measured alternately on the same server.

Bench data is recognisable and never collides: customer `bench-customer`, metric
`bench_calls`, user `bench@bench-partner.invalid`, event ids prefixed by a per-run id. The
events stay (they are real data); the run's API key is revoked at the end.
"""

import json
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from prm.accounts.models import ApiKey, Membership, Role, User
from prm.accounts.services import api_key_create, api_key_revoke
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer, UseCase
from prm.operations.bench.common import BenchError, Client, Context, Line, database_vendor, percentile
from prm.partners.models import Partner, Stage, Tier
from prm.plans.models import Aggregation, Metric
from prm.usage.models import EventFormat, EventStatus, UsageEvent

BATCH_SIZE = 1000
METRIC_CODE = "bench_calls"
METRIC_FIELD = "calls"
CUSTOMER_EXTERNAL_ID = "bench-customer"
PARTNER_DOMAIN = "bench-partner.invalid"
USER_EMAIL = "bench@bench-partner.invalid"
SOURCE = "/prm/bench"
EVENTS_PATH = "/api/v1/events"
CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
# Events are spread over the last two hours (never before the current billing period).
SPREAD = timedelta(hours=2)
WARMUP_REQUESTS = 4  # per kind, so that every worker has imported its code and opened its connection

# The events table's main columns, in the order the ingest service writes them.
SCRATCH_COLUMNS = (
    "source", "event_id", "customer_id", "metric_id", "subscription_external_id", "timestamp", "value",
    "distinct_key", "properties", "format", "received_at", "sent_by_id", "api_key_id", "status",
)  # fmt: skip


@dataclass
class BenchData:
    run_id: str
    customer: Customer
    metric: Metric
    user: User
    api_key: ApiKey
    secret: str


@dataclass
class Timings:
    """Durations in seconds of the requests (or loads) of one kind, and the wall time of them all."""

    durations: list[float]
    wall: float

    def ms(self, p: float) -> float:
        return percentile(self.durations, p) * 1000


def run(context: Context) -> Iterator[Line]:
    if context.events < 1 or context.single < 1:
        raise BenchError("--events and --single must be at least 1.")
    database = database_vendor()
    now = timezone.now()
    data = prepare(now)
    log = context.log
    log(f"bench ingest: run {data.run_id} on {database}, {context.events} batched events, {context.single} single")
    try:
        events = make_events(data.run_id, context.events, now)
        bodies = [
            json.dumps(events[start : start + BATCH_SIZE]).encode() for start in range(0, len(events), BATCH_SIZE)
        ]
        sizes = [min(BATCH_SIZE, len(events) - start) for start in range(0, len(events), BATCH_SIZE)]

        base_url = context.base_url()
        headers = {"Authorization": f"Bearer {data.secret}"}
        warmed = warm_up(base_url, headers, data.run_id, now)

        log(f"bench ingest: bulk baseline ({'COPY' if database == 'postgresql' else 'executemany'})")
        bulk = bulk_baseline(events, data)

        log(f"bench ingest: {len(bodies)} batches with {context.clients} client(s) to {base_url}")
        batches = send_batches(base_url, headers, bodies, sizes, clients=context.clients)
        log(f"bench ingest: {context.single} single events, alternating with GET /healthz")
        single, health = send_singles(base_url, headers, data.run_id, context.single, now)

        expected = context.events + context.single + warmed
        stored = UsageEvent.objects.filter(customer=data.customer, event_id__startswith=f"{data.run_id}-").count()
        if stored != expected:
            raise BenchError(f"{expected} events were accepted but {stored} are stored for run {data.run_id}.")
        log(f"bench ingest: {stored} events of run {data.run_id} are stored")
    finally:
        api_key_revoke(actor=data.user, api_key=data.api_key)

    yield Line("ingest_batch", context.events / batches.wall, "events/s", len(events) / bulk.wall, database)
    yield Line("ingest_batch_latency_p50", batches.ms(50), "ms", bulk.ms(50), database)
    yield Line("ingest_batch_latency_p95", batches.ms(95), "ms", bulk.ms(95), database)
    yield Line("ingest_single_latency_p50", single.ms(50), "ms", health.ms(50), database)
    yield Line("ingest_single_latency_p95", single.ms(95), "ms", health.ms(95), database)
    yield Line("ingest_single", context.single / single.wall, "events/s", context.single / health.wall, database)


# --- data -----------------------------------------------------------------------------------


def prepare(now: datetime) -> BenchData:
    """The bench metric, partner, customer and manager (reused when present) and a new API key."""
    period = str(BillingPeriod.containing(now))
    if ClosedBillingPeriod.objects.filter(period=period).exists():
        raise BenchError(f"The billing period {period} is closed: its events would be quarantined, not counted.")
    with transaction.atomic():
        metric, _ = Metric.objects.get_or_create(
            code=METRIC_CODE,
            defaults={"name": "Bench calls", "unit": "call", "aggregation": Aggregation.SUM, "field": METRIC_FIELD},
        )
        if metric.aggregation != Aggregation.SUM or metric.field != METRIC_FIELD:
            raise BenchError(f"The metric {METRIC_CODE!r} exists but is not a sum of {METRIC_FIELD!r}.")
        partner = Partner.objects.filter(website_domain=PARTNER_DOMAIN).first()
        if partner is None:
            partner = Partner.objects.create(
                name="Bench partner", website_domain=PARTNER_DOMAIN, tier=_entry_tier(), stage=Stage.SELL
            )
        customer, _ = Customer.objects.get_or_create(
            external_id=CUSTOMER_EXTERNAL_ID,
            defaults={
                "reseller": partner,
                "name": "Bench customer",
                "domain": PARTNER_DOMAIN,
                "use_case": UseCase.API_CALLS,
            },
        )
        user = User.objects.filter(email=USER_EMAIL).first()
        if user is None:
            user = User.objects.create_user(USER_EMAIL, None, full_name="Bench")  # no password: API key only
        membership = Membership.objects.filter(user=user).first()
        if membership is None:
            Membership.objects.create(user=user, role=Role.MANAGER)
        elif membership.role != Role.MANAGER:
            raise BenchError(f"{USER_EMAIL} exists but is not a channel manager.")
        run_id = f"bench-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        api_key, secret = api_key_create(user=user, name=f"bench {run_id}")
    return BenchData(run_id, customer, metric, user, api_key, secret)


def _entry_tier() -> Tier:
    tier = Tier.objects.order_by("rank").first()
    if tier is None:
        tier = Tier.objects.create(code="bench", name="Bench", rank=1)
    return tier


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_events(run_id: str, count: int, now: datetime, *, prefix: str = "") -> list[dict]:
    """`count` CloudEvents of the bench customer and metric, with ids unique to the run."""
    earliest = max(now - SPREAD, BillingPeriod.containing(now).start)
    span = max(int((now - earliest).total_seconds()), 1)
    return [
        {
            "specversion": "1.0",
            "id": f"{run_id}-{prefix}{index:07d}",
            "source": SOURCE,
            "type": METRIC_CODE,
            "subject": CUSTOMER_EXTERNAL_ID,
            "time": _rfc3339(now - timedelta(seconds=(index * 7919) % span)),
            "data": {METRIC_FIELD: index % 97 + 1},
        }
        for index in range(count)
    ]


# --- baseline: the database's bulk path -----------------------------------------------------


def bulk_baseline(events: list[dict], data: BenchData) -> Timings:
    """Load the same rows into a scratch table, BATCH_SIZE per transaction; time each load."""
    table = f"bench_scratch_{data.run_id.rsplit('-', 1)[-1]}"
    postgres = connection.vendor == "postgresql"
    adapt = (lambda moment: moment) if postgres else connection.ops.adapt_datetimefield_value
    received_at = adapt(timezone.now())
    rows = [
        (
            event["source"],
            event["id"],
            data.customer.pk,
            data.metric.pk,
            "",
            adapt(datetime.fromisoformat(event["time"])),
            Decimal(event["data"][METRIC_FIELD]),
            "",
            json.dumps(event["data"]),
            EventFormat.CLOUDEVENTS.value,
            received_at,
            data.user.pk,
            data.api_key.pk,
            EventStatus.ACTIVE.value,
        )  # fmt: skip
        for event in events
    ]
    columns = ", ".join(
        f"{column} {UsageEvent._meta.get_field(column).db_type(connection)}" for column in SCRATCH_COLUMNS
    )
    names = ", ".join(SCRATCH_COLUMNS)
    durations: list[float] = []
    with connection.cursor() as cursor:
        # PostgreSQL: a TEMP table (gone with the session even if this run dies); SQLite: a table
        # in the same file, so the load goes through the same WAL as the events table's.
        cursor.execute(f"CREATE {'TEMP ' if postgres else ''}TABLE {table} ({columns})")
        try:
            started = time.perf_counter()
            for start in range(0, len(rows), BATCH_SIZE):
                chunk = rows[start : start + BATCH_SIZE]
                chunk_started = time.perf_counter()
                with transaction.atomic():
                    if postgres:
                        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                            for row in chunk:
                                copy.write_row(row)
                    else:
                        placeholders = ", ".join(["%s"] * len(SCRATCH_COLUMNS))
                        insert = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608  our names
                        cursor.executemany(insert, chunk)
                durations.append(time.perf_counter() - chunk_started)
            wall = time.perf_counter() - started
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608  our own table name
            loaded = cursor.fetchone()[0]
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    if loaded != len(rows):
        raise BenchError(f"The bulk baseline loaded {loaded} rows instead of {len(rows)}.")
    return Timings(durations, wall)


# --- over HTTP ------------------------------------------------------------------------------


def _refused(what: str, response, expected: str) -> BenchError:
    body = response.body[:600].decode(errors="replace")
    return BenchError(f"{what}: expected {expected}, got HTTP {response.status}: {body}")


def check_batch(response, size: int, index: int) -> None:
    what = f"batch {index} ({size} events)"
    if response.status != 200:
        raise _refused(what, response, f"200 with accepted={size}")
    result = response.json()
    if result.get("accepted") != size:
        raise _refused(what, response, f"accepted={size}")


def check_single(response, event_id: str) -> None:
    if response.status != 200 or response.json().get("status") != "accepted":
        raise _refused(f"event {event_id}", response, '200 with status "accepted"')


def warm_up(base_url: str, headers: dict, run_id: str, now: datetime) -> int:
    """A few unmeasured requests of each kind; returns how many events they stored."""
    client = Client(base_url, headers)
    try:
        for _ in range(WARMUP_REQUESTS):
            response = client.request("GET", "/healthz")
            if response.status != 200:
                raise _refused("GET /healthz", response, "200")
        events = make_events(run_id, 2 * WARMUP_REQUESTS, now, prefix="warmup-")
        for event in events[:WARMUP_REQUESTS]:
            response = client.request("POST", EVENTS_PATH, json.dumps(event).encode(), {"Content-Type": CLOUDEVENT})
            check_single(response, event["id"])
        rest = events[WARMUP_REQUESTS:]
        response = client.request("POST", EVENTS_PATH, json.dumps(rest).encode(), {"Content-Type": CLOUDEVENTS_BATCH})
        check_batch(response, len(rest), -1)
    finally:
        client.close()
    return len(events)


def send_batches(base_url: str, headers: dict, bodies: list[bytes], sizes: list[int], *, clients: int) -> Timings:
    """Every body once, by `clients` threads each on its own connection; the first failure stops all."""
    lock = threading.Lock()
    failed = threading.Event()
    pending = iter(range(len(bodies)))
    content_type = {"Content-Type": CLOUDEVENTS_BATCH}

    def sender() -> list[float]:
        client = Client(base_url, headers)
        durations = []
        try:
            while not failed.is_set():
                with lock:
                    index = next(pending, None)
                if index is None:
                    break
                response = client.request("POST", EVENTS_PATH, bodies[index], content_type)
                check_batch(response, sizes[index], index)
                durations.append(response.seconds)
        except BaseException:
            failed.set()
            raise
        finally:
            client.close()
        return durations

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="bench-client") as pool:
        futures = [pool.submit(sender) for _ in range(clients)]
        try:
            durations = [duration for future in futures for duration in future.result()]
        except BaseException:  # a failed sender, or the command interrupted: stop the others too
            failed.set()
            raise
    return Timings(durations, time.perf_counter() - started)


def send_singles(base_url: str, headers: dict, run_id: str, count: int, now: datetime) -> tuple[Timings, Timings]:
    """`count` one-event POSTs, each followed by a GET /healthz on the same connection.

    The wall time of each kind is the sum of its own requests, so the two rates do not
    include each other.
    """
    events = make_events(run_id, count, now, prefix="single-")
    bodies = [json.dumps(event).encode() for event in events]
    content_type = {"Content-Type": CLOUDEVENT}
    single: list[float] = []
    health: list[float] = []
    client = Client(base_url, headers)
    try:
        for event, body in zip(events, bodies, strict=True):
            response = client.request("POST", EVENTS_PATH, body, content_type)
            check_single(response, event["id"])
            single.append(response.seconds)
            response = client.request("GET", "/healthz")
            if response.status != 200:
                raise _refused("GET /healthz", response, "200")
            health.append(response.seconds)
    finally:
        client.close()
    return Timings(single, sum(single)), Timings(health, sum(health))
