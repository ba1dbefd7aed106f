"""`generate_dataset`: a large, deterministic dataset for measuring the portal at scale.

    generate_dataset(partners=1000, customers=20_000, events=10_000_000)

It makes partners, customers spread over them (each with a use case and a currency the demo's
price book has a plan in), one subscription per customer to that plan, and raw usage events over
the last `months` full months and the current month up to its last whole hour, with their hourly
rollups (and the distinct keys of unique_count metrics) built from those events set-based, in SQL.

It writes rows in bulk, past the services: partners, customers and subscriptions with
`bulk_create`; events with `COPY` on PostgreSQL and `executemany` on SQLite, in batches of about
EVENT_BATCH events, each generated, written, rolled up (INSERT … SELECT … GROUP BY over the
batch's customers) and committed in one transaction, then dropped, so memory stays flat however
many events there are. On PostgreSQL several connections write batches side by side. The metrics,
tiers and plans are the demo's (fixtures/), created only when missing.

Everything it generates is recognisable: partner domains `gen-p….dataset.invalid`, customer and
subscription external ids `gen-c…` and `gen-s…`, event source `prm:generate_dataset`. The same
seed (and the same current hour) gives the same rows, on SQLite and on PostgreSQL alike.

A database holds one generated dataset. With one there already, generation is refused, unless
`replace=True`: the previous dataset (its events, rollups, draft invoices, subscriptions,
customers and partners) is then deleted first; nothing else is touched. A dataset that has been
billed (a finalized invoice) is never deleted, since invoice numbers have no gaps: generate into a
new database. Usage is never written into a closed billing period, which ingestion would
quarantine.

Batches are committed one by one, so a run that fails half-way leaves part of a dataset (each
committed batch whole, with its rollups): run again with `replace=True`.
"""

import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import TypeVar

from django.db import connection, transaction
from django.utils import timezone

from prm.accounts.models import Membership, Role, User
from prm.billing.models import Invoice, InvoiceStatus
from prm.core.audit import audit_created
from prm.core.locks import billing_periods_lock
from prm.core.models import ClosedBillingPeriod
from prm.core.periods import BillingPeriod
from prm.customers.models import Customer, Subscription, SubscriptionStatus
from prm.operations.demo import demo_fixtures_dir, load_metric_fixture, load_tier_fixture
from prm.operations.demo_plans import PlanSeedResult, ensure_plans, load_plan_fixture, plan_variants
from prm.partners.models import Partner, Stage, Tier
from prm.partners.services import tier_fixture_values
from prm.plans.models import Aggregation, Metric, Plan, PlanVersion
from prm.usage.models import EventFormat, EventStatus, UsageDistinctKey, UsageEvent, UsageRollup
from prm.usage.partitioning import events_partitioned

PREFIX = "gen-"
DOMAIN = "dataset.invalid"
SOURCE = "prm:generate_dataset"
ACTOR_EMAIL = f"{PREFIX}dataset@{DOMAIN}"

# Events generated, written and rolled up per transaction: about this many, of at most
# ROLLUP_CUSTOMERS customers (one rollup statement's list of customer ids).
EVENT_BATCH = 100_000
ROLLUP_CUSTOMERS = 500
BULK_BATCH = 2_000
MAX_WORKERS = 4

# Customer sizes: how often each occurs and its share of events relative to a small customer.
SIZES = (("small", 5, 1), ("medium", 4, 4), ("large", 1, 16))
STAGES = (Stage.SELL, Stage.INCENTIVIZE, Stage.ACCELERATE, Stage.MARKET)
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "JP", "CA", "AU", "SE", "ES")
# A customer's currency: the price book's base currency three times as often as another.
BASE_CURRENCY_WEIGHT = 3


@dataclass(frozen=True)
class ValueSpec:
    """How a metric's generated values look: a customer's level drawn from [low, high], each event
    0.5–1.5 times it, with `places` decimals. For unique_count: a fleet of `low`–`high` keys."""

    low: float
    high: float
    places: int = 0


VALUE_SPECS = {
    "active_seats": ValueSpec(5, 400),
    "api_calls": ValueSpec(50, 5_000),
    "storage_gb": ValueSpec(100, 50_000, 2),
    "machine_hours": ValueSpec(0.5, 8, 1),
    "units_produced": ValueSpec(10, 500),
    "sensor_events": ValueSpec(20, 2_000),
    "active_devices": ValueSpec(5, 200),
}
DEFAULT_SPEC = ValueSpec(1, 1_000)

# The columns generated events are written with (the others are NULL).
EVENT_COLUMNS = (
    "source", "event_id", "customer_id", "metric_id", "subscription_external_id", "timestamp", "value",
    "distinct_key", "properties", "format", "received_at", "status",
)  # fmt: skip


T = TypeVar("T")


class DatasetError(Exception):
    """The dataset cannot be generated as asked (one exists already, a period is closed …)."""


@dataclass
class DatasetSummary:
    seed: int
    months: int
    start: datetime
    end: datetime
    partners: int = 0
    customers: int = 0
    subscriptions: int = 0
    events: int = 0
    rollups: int = 0
    distinct_keys: int = 0
    replaced_customers: int = 0  # of the dataset this run replaced
    workers: int = 1
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    def __str__(self) -> str:
        replaced = f" (replacing {self.replaced_customers} generated customers)" if self.replaced_customers else ""
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.timings.items())
        return (
            f"Generated dataset (seed {self.seed}){replaced}: {self.partners} partners, {self.customers} customers, "
            f"{self.subscriptions} subscriptions, {self.events} events from {self.start:%Y-%m-%d} to "
            f"{self.end:%Y-%m-%d %H:%M} UTC, {self.rollups} hourly rollups, {self.distinct_keys} distinct keys "
            f"in {self.seconds:.1f} s with {self.workers} worker{'s' if self.workers != 1 else ''} ({steps})."
        )


@dataclass(frozen=True)
class _Stream:
    """What one metric's events of one customer need."""

    metric_id: int
    field: str
    aggregation: str
    level: float
    places: int


@dataclass(frozen=True)
class _Planned:
    """A generated customer, before its events: its number, its pk and its metrics' streams."""

    number: int
    pk: int
    events: int
    streams: tuple[_Stream, ...]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generated_customers():
    return Customer.objects.filter(external_id__startswith=PREFIX)


def generated_partners():
    return Partner.objects.filter(website_domain__startswith=PREFIX, website_domain__endswith=f".{DOMAIN}")


def dataset_window(now: datetime, months: int) -> tuple[datetime, datetime]:
    """[start, end): from the 1st of the month `months` months back to the start of `now`'s hour."""
    period = BillingPeriod.containing(now)
    for _ in range(months):
        period = period.previous()
    return period.start, now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def generate_dataset(
    *,
    partners: int,
    customers: int,
    events: int,
    months: int = 1,
    seed: int = 1,
    replace: bool = False,
    workers: int | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> DatasetSummary:
    """Generate the dataset (see the module's docstring); returns what was made.

    `workers`: how many connections write events and build rollups side by side; by default as
    many as there are cores (up to MAX_WORKERS) on PostgreSQL, and one on SQLite (one writer at a
    time) or inside a transaction (other connections would not see its customers).
    """
    log = progress or _stderr
    if partners < 1 or customers < 1 or events < 0 or months < 0:
        raise DatasetError("partners and customers must be at least 1; events and months at least 0.")
    if events_partitioned():
        # COPY writes the events straight into their table, past the key table that keeps
        # (source, id) once on a partitioned one: a later copy of such an event would be taken.
        raise DatasetError(
            "The events table is partitioned (manage.py partition_events): generate datasets in a scratch "
            "database, whose events table is not."
        )
    workers = _workers(workers)
    started = time.perf_counter()
    start, end = dataset_window(now or timezone.now(), months)
    if end <= start:
        raise DatasetError("The dataset's window is empty: use months >= 1, or wait for the month's first hour.")
    summary = DatasetSummary(seed=seed, months=months, start=start, end=end, workers=workers)
    periods = _periods(start, end)
    _refuse_closed(periods)

    step = time.perf_counter()
    previous = generated_customers().count()
    if previous or generated_partners().exists():
        if not replace:
            raise DatasetError(
                f"A generated dataset is there already ({previous} customers {PREFIX}…): replace it "
                "(--replace) or generate into another database."
            )
        log(f"generate_dataset: deleting the previous dataset ({previous} customers)")
        _delete_generated()
        summary.replaced_customers = previous
        summary.timings["delete"] = time.perf_counter() - step

    step = time.perf_counter()
    rng = random.Random(f"prm-dataset:{seed}")  # noqa: S311  test data, not security
    with transaction.atomic():
        plans = _ensure_catalogue()
        partner_ids = _create_partners(partners, rng)
        planned = _create_customers(customers, events, partner_ids, plans, rng, start=start, seed=seed)
    summary.partners, summary.customers, summary.subscriptions = len(partner_ids), len(planned), len(planned)
    summary.timings["customers"] = time.perf_counter() - step
    log(f"generate_dataset: {len(partner_ids)} partners, {len(planned)} customers and subscriptions")

    step = time.perf_counter()
    written = _write_usage(planned, start=start, end=end, seed=seed, periods=periods, workers=workers, log=log)
    summary.events, summary.rollups, summary.distinct_keys = written.events, written.rollups, written.distinct_keys
    summary.timings["usage"] = time.perf_counter() - step

    if connection.vendor == "postgresql":
        step = time.perf_counter()
        # Fresh statistics, so the first queries on the dataset are planned for its real size.
        with connection.cursor() as cursor:
            for model in (UsageEvent, UsageRollup, UsageDistinctKey, Customer, Subscription, Partner):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        summary.timings["analyze"] = time.perf_counter() - step
    summary.seconds = time.perf_counter() - started
    return summary


def _workers(asked: int | None) -> int:
    alone = connection.vendor != "postgresql" or connection.in_atomic_block
    if asked is None:
        return 1 if alone else max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    if asked < 1:
        raise DatasetError("workers must be at least 1.")
    if asked > 1 and alone:
        raise DatasetError("Several workers need PostgreSQL, outside a transaction.")
    return asked


# --- checks and clean-up --------------------------------------------------------------------


def _periods(start: datetime, end: datetime) -> list[str]:
    periods, period = [], BillingPeriod.containing(start)
    while period.start < end:
        periods.append(str(period))
        period = period.next()
    return periods


def _refuse_closed(periods: list[str]) -> None:
    closed = sorted(ClosedBillingPeriod.objects.filter(period__in=periods).values_list("period", flat=True))
    if closed:
        raise DatasetError(
            f"The billing period {', '.join(closed)} is closed: ingestion would quarantine its usage, so the dataset "
            "would not be what the portal can hold. Generate into a new database (or with fewer months)."
        )


def _delete_generated() -> None:
    """Delete the generated rows, the usage in set-based statements by batch of customers."""
    billed = Invoice.objects.filter(customer__in=generated_customers()).exclude(status=InvoiceStatus.DRAFT)
    if billed.exists():
        raise DatasetError(
            "The generated dataset has been billed (finalized invoices, whose numbers have no gaps): it cannot be "
            "replaced. Generate into a new database."
        )
    customer_ids = list(generated_customers().order_by("pk").values_list("pk", flat=True))
    for chunk in _chunks(customer_ids, ROLLUP_CUSTOMERS):
        placeholders = ", ".join(["%s"] * len(chunk))
        with transaction.atomic(), connection.cursor() as cursor:
            for model in (UsageDistinctKey, UsageRollup, UsageEvent):
                # Raw DELETEs: the ORM would load every event to emulate on_delete.
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE customer_id IN ({placeholders})",  # noqa: S608
                    chunk,
                )
    with transaction.atomic():
        Invoice.objects.filter(customer__in=generated_customers()).delete()  # drafts only (checked above)
        Subscription.objects.filter(customer__in=generated_customers()).delete()
        generated_customers().delete()
        generated_partners().delete()


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


# --- the catalogue: tiers, metrics, plans (the demo's) --------------------------------------


@dataclass(frozen=True)
class _Offer:
    """A plan a generated customer can be on: its use case, currency, version and metrics."""

    use_case: str
    currency: str
    plan_version_id: int
    metrics: tuple[Metric, ...]


def _ensure_catalogue() -> dict[str, list[_Offer]]:
    """The demo's tiers (when there are none), metrics and plans; the offers built on them, by use
    case, the base currency's repeated so that it is drawn BASE_CURRENCY_WEIGHT times as often."""
    if not Tier.objects.exists():
        tiers = Tier.objects.bulk_create(
            Tier(code=entry["fields"]["code"], **tier_fixture_values(entry["fields"])) for entry in load_tier_fixture()
        )
        audit_created(tiers)  # bulk_create sends no signals
    metric_fixture = load_metric_fixture()
    metrics = {}
    for entry in metric_fixture["metrics"]:
        values = {name: entry[name] for name in ("name", "unit", "aggregation", "field", "description")}
        metric, _created = Metric.objects.get_or_create(code=entry["code"], defaults=values)
        if (metric.aggregation, metric.field) != (entry["aggregation"], entry["field"]):
            raise DatasetError(
                f"The metric {metric.code!r} exists but is not a {entry['aggregation']} of {entry['field']!r}."
            )
        metrics[metric.code] = metric
    plan_fixture = load_plan_fixture(demo_fixtures_dir())
    codes = [variant["code"] for variant in plan_variants(plan_fixture)]
    actor = None if Plan.objects.filter(code__in=codes).count() == len(codes) else _manager()
    plans = ensure_plans(plan_fixture, actor=actor, result=PlanSeedResult())
    latest = {}
    for version in PlanVersion.objects.filter(plan__in=plans.values()).order_by("plan_id", "version"):
        latest[version.plan_id] = version.pk
    base = plan_fixture["base_currency"]
    offers: dict[str, list[_Offer]] = {}
    for (use_case, currency), plan in sorted(plans.items()):
        used = tuple(metrics[code] for code in metric_fixture["use_cases"][use_case])
        offer = _Offer(use_case, currency, latest[plan.pk], used)
        offers.setdefault(use_case, []).extend([offer] * (BASE_CURRENCY_WEIGHT if currency == base else 1))
    return offers


def _manager() -> User:
    """A channel manager to create the missing plans as: the first there is, else a generated one."""
    manager = User.objects.filter(membership__role=Role.MANAGER).order_by("pk").first()
    if manager is None:
        manager = User.objects.create_user(ACTOR_EMAIL, None, full_name="Generated dataset")  # no password
        Membership.objects.create(user=manager, role=Role.MANAGER)
    return manager


# --- partners, customers, subscriptions -----------------------------------------------------


def _create_partners(count: int, rng: random.Random) -> list[int]:
    tiers = list(Tier.objects.order_by("rank").values_list("pk", flat=True))
    rows = [
        Partner(
            name=f"Generated partner {number:05d}",
            website_domain=f"{PREFIX}p{number:05d}.{DOMAIN}",
            country=rng.choice(COUNTRIES),
            # Most partners in the entry tiers, a few at the top.
            tier_id=tiers[min(int(rng.expovariate(1.2)), len(tiers) - 1)],
            stage=rng.choice(STAGES),
        )
        for number in range(1, count + 1)
    ]
    audit_created(Partner.objects.bulk_create(rows, batch_size=BULK_BATCH))  # bulk_create sends no signals
    return list(generated_partners().order_by("pk").values_list("pk", flat=True))


def _allocate(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`, in whole numbers that add up to it exactly."""
    cumulative = list(accumulate(weights))
    whole = cumulative[-1]
    shares, given = [], 0
    for running in cumulative:
        upto = total * running // whole
        shares.append(upto - given)
        given = upto
    return shares


def _create_customers(
    count: int,
    events: int,
    partner_ids: list[int],
    offers: dict[str, list[_Offer]],
    rng: random.Random,
    *,
    start: datetime,
    seed: int,
) -> list[_Planned]:
    # A few partners resell most: each partner's weight is long-tailed. The first customers go
    # one to each partner, so every partner has some when there are enough customers.
    partner_weights = [rng.paretovariate(1.2) for _ in partner_ids]
    sizes = [size for size, frequency, _share in SIZES for _ in range(frequency)]
    share_of = {size: share for size, _frequency, share in SIZES}
    use_cases = sorted(offers)
    drafts = []
    for number in range(1, count + 1):
        if number <= len(partner_ids):
            partner_id = partner_ids[number - 1]
        else:
            partner_id = rng.choices(partner_ids, weights=partner_weights)[0]
        offer = rng.choice(offers[rng.choice(use_cases)])
        drafts.append((number, partner_id, offer, rng.choice(sizes)))
    per_customer = _allocate(events, [share_of[size] for *_rest, size in drafts])

    for chunk in _chunks(drafts, BULK_BATCH):
        Customer.objects.bulk_create(
            Customer(
                reseller_id=partner_id,
                external_id=f"{PREFIX}c{number:06d}",
                name=f"Generated customer {number:06d}",
                domain=f"{PREFIX}c{number:06d}.{DOMAIN}",
                use_case=offer.use_case,
                currency=offer.currency,
                is_active=True,
            )
            for number, partner_id, offer, _size in chunk
        )
    pks = dict(generated_customers().values_list("external_id", "pk"))
    for chunk in _chunks(drafts, BULK_BATCH):
        Subscription.objects.bulk_create(
            Subscription(
                customer_id=pks[f"{PREFIX}c{number:06d}"],
                plan_version_id=offer.plan_version_id,
                external_id=f"{PREFIX}s{number:06d}",
                started_at=start,
                status=SubscriptionStatus.ACTIVE,
            )
            for number, _partner_id, offer, _size in chunk
        )
    planned = []
    for (number, _partner_id, offer, _size), share in zip(drafts, per_customer, strict=True):
        levels = random.Random(f"prm-dataset:{seed}:levels:{number}")  # noqa: S311
        streams = []
        for metric in offer.metrics:
            spec = VALUE_SPECS.get(metric.code, DEFAULT_SPEC)
            streams.append(
                _Stream(metric.pk, metric.field, metric.aggregation, levels.uniform(spec.low, spec.high), spec.places)
            )
        planned.append(_Planned(number, pks[f"{PREFIX}c{number:06d}"], share, tuple(streams)))
    return planned


# --- events ---------------------------------------------------------------------------------


def _customer_rows(customer: _Planned, *, seed: int, hours: list[str], minutes: list[str], suffix: str):
    """The customer's events: (event id, metric id, timestamp, value, distinct key, properties) as text."""
    rng = random.Random(f"prm-dataset:{seed}:events:{customer.number}")  # noqa: S311
    draw = rng.random
    streams = customer.streams
    count_hours, width = len(hours), len(streams)
    for index in range(customer.events):
        stream = streams[index % width]
        moment = hours[int(draw() * count_hours)] + minutes[int(draw() * 3600)] + suffix
        key = ""
        if stream.aggregation == Aggregation.UNIQUE_COUNT:
            key = f"dev-{1 + int(draw() * stream.level)}"
            value, properties = "1", f'{{"{stream.field}":"{key}"}}'
        elif stream.aggregation == Aggregation.COUNT:
            value, properties = "1", "{}"
        elif stream.places:
            value = f"{stream.level * (0.5 + draw()):.{stream.places}f}"
            properties = f'{{"{stream.field}":"{value}"}}'  # decimals travel as strings, as on ingest
        else:
            value = str(max(1, round(stream.level * (0.5 + draw()))))
            properties = f'{{"{stream.field}":{value}}}'
        yield f"{customer.number}-{index}", stream.metric_id, moment, value, key, properties


def _batches(planned: list[_Planned], *, events: int, customers: int) -> list[list[_Planned]]:
    """Consecutive customers, about `events` events (or at most `customers` customers) a batch."""
    batches, batch, size = [], [], 0
    for customer in planned:
        batch.append(customer)
        size += customer.events
        if size >= events or len(batch) == customers:
            batches.append(batch)
            batch, size = [], 0
    if batch:
        batches.append(batch)
    return batches


def _in_parallel(tasks: list[T], work: Callable[[T], None], *, workers: int) -> None:
    """work(task) for every task, in order on `workers` threads, each with its own database
    connection (closed at its end). The first failure stops the others after their current task."""
    if workers <= 1:
        for task in tasks:
            work(task)
        return
    lock = threading.Lock()
    pending = iter(tasks)
    failed = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while not failed.is_set():
                with lock:
                    task = next(pending, None)
                if task is None:
                    return
                work(task)
        except BaseException as error:
            errors.append(error)
            failed.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, name=f"generate_dataset-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # interrupted: let the workers finish their current task, then stop
        failed.set()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0]


@dataclass
class _Written:
    events: int = 0
    rollups: int = 0
    distinct_keys: int = 0


def _write_usage(
    planned, *, start: datetime, end: datetime, seed: int, periods: list[str], workers: int, log
) -> _Written:
    """The events, batch by batch, each batch with its rollups in the same transaction (as
    ingestion does): what is committed is always consistent, and the rollups are built from
    events still in the database's cache."""
    postgresql = connection.vendor == "postgresql"
    # Timestamps as text, assembled from an hour's prefix and "MM:SS": far cheaper than
    # formatting ten million datetimes. PostgreSQL reads "+00" as UTC; SQLite keeps naive UTC.
    hour_count = int((end - start).total_seconds()) // 3600
    hours = [(start + timedelta(hours=hour)).strftime("%Y-%m-%d %H:") for hour in range(hour_count)]
    minutes = [f"{second // 60:02d}:{second % 60:02d}" for second in range(3600)]
    suffix = "+00" if postgresql else ""
    received_at = timezone.now()
    has_keys = any(stream.aggregation == Aggregation.UNIQUE_COUNT for c in planned for stream in c.streams)
    total = sum(customer.events for customer in planned)
    written = _Written()
    lock = threading.Lock()
    started = time.perf_counter()

    def write(batch: list[_Planned]) -> None:
        rollup_sql, distinct_sql = rollups_sql(len(batch))
        params = [EventStatus.ACTIVE.value, *(customer.pk for customer in batch)]
        with transaction.atomic():
            # Ingestion's side of the period-close lock: a close cannot slip in between the
            # check that the periods are open and these events.
            billing_periods_lock(exclusive=False)
            _refuse_closed(periods)
            rows = {
                customer.pk: _customer_rows(customer, seed=seed, hours=hours, minutes=minutes, suffix=suffix)
                for customer in batch
            }
            with connection.cursor() as cursor:
                if postgresql:
                    _copy_events(cursor, rows, received_at)
                else:
                    _insert_events(cursor, rows, received_at)
                cursor.execute(rollup_sql, params)
                rollups = cursor.rowcount
                distinct_keys = 0
                if has_keys:
                    cursor.execute(distinct_sql, params)
                    distinct_keys = cursor.rowcount
        with lock:
            written.events += sum(customer.events for customer in batch)
            written.rollups += rollups
            written.distinct_keys += distinct_keys
            events = written.events
        rate = events / max(time.perf_counter() - started, 1e-9)
        log(f"generate_dataset: {events:,} / {total:,} events with their rollups ({rate:,.0f} events/s)")

    _in_parallel(_batches(planned, events=EVENT_BATCH, customers=ROLLUP_CUSTOMERS), write, workers=workers)
    return written


def _copy_events(cursor, rows: dict[int, Iterator[tuple]], received_at: datetime) -> None:
    """PostgreSQL: one COPY, a customer's events per write. Every value is ours (digits, dates,
    fixed words, JSON without tabs, newlines or backslashes): COPY's text format needs no escaping."""
    table, names = UsageEvent._meta.db_table, ", ".join(EVENT_COLUMNS)
    tail = f"\t{EventFormat.CLOUDEVENTS.value}\t{received_at.isoformat()}\t{EventStatus.ACTIVE.value}\n"
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for customer_id, events in rows.items():
            middle = f"\t{customer_id}\t"
            copy.write(
                "".join(
                    f"{SOURCE}\t{event_id}{middle}{metric_id}\t\t{moment}\t{value}\t{key}\t{properties}{tail}"
                    for event_id, metric_id, moment, value, key, properties in events
                )
            )


def _insert_events(cursor, rows: dict[int, Iterator[tuple]], received_at: datetime) -> None:
    """SQLite: executemany of one prepared INSERT."""
    table, names = UsageEvent._meta.db_table, ", ".join(EVENT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(EVENT_COLUMNS))
    received = connection.ops.adapt_datetimefield_value(received_at)
    fmt, status = EventFormat.CLOUDEVENTS.value, EventStatus.ACTIVE.value
    cursor.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({placeholders})",  # noqa: S608  our own names
        (
            (SOURCE, event_id, customer_id, metric_id, "", moment, value, key, properties, fmt, received, status)
            for customer_id, events in rows.items()
            for event_id, metric_id, moment, value, key, properties in events
        ),
    )


# --- rollups, set-based ---------------------------------------------------------------------


def _hour_sql(column: str) -> str:
    """The start of the hour of a timestamp column, stored as the ORM stores a datetime."""
    if connection.vendor == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"substr({column}, 1, 13) || ':00:00'"  # SQLite keeps 'YYYY-MM-DD HH:MM:SS'


def rollups_sql(customers: int) -> tuple[str, str]:
    """INSERT … SELECT … GROUP BY statements building the rollups and the distinct keys of the
    events of `customers` customers (their ids the parameters after the event status).

    Exactly what adding the events one by one gives (prm/usage/rollups.py): the latest value is
    the one with the latest timestamp, on a tie the one stored last; sums are exact on SQLite too.
    """
    events, rollups, keys = (model._meta.db_table for model in (UsageEvent, UsageRollup, UsageDistinctKey))
    total = "SUM" if connection.vendor == "postgresql" else "prm_decimal_sum"
    hour = _hour_sql("timestamp")
    where = f"status = %s AND customer_id IN ({', '.join(['%s'] * customers)})"
    rollup_sql = (
        f"INSERT INTO {rollups} (customer_id, metric_id, hour, event_count, value_sum, value_max, latest_value, "  # noqa: S608
        "latest_at) "
        f"SELECT customer_id, metric_id, hour, COUNT(*), {total}(value), MAX(value), "
        "MAX(CASE WHEN newest = 1 THEN value END), MAX(timestamp) "
        f"FROM (SELECT customer_id, metric_id, {hour} AS hour, value, timestamp, "
        f"ROW_NUMBER() OVER (PARTITION BY customer_id, metric_id, {hour} ORDER BY timestamp DESC, id DESC) AS newest "
        f"FROM {events} WHERE {where}) AS counted "
        "GROUP BY customer_id, metric_id, hour"
    )
    distinct_sql = (
        f"INSERT INTO {keys} (customer_id, metric_id, hour, key, event_count) "  # noqa: S608
        f"SELECT customer_id, metric_id, {hour}, distinct_key, COUNT(*) FROM {events} "
        f"WHERE distinct_key <> '' AND {where} "
        f"GROUP BY customer_id, metric_id, {hour}, distinct_key"
    )
    return rollup_sql, distinct_sql
