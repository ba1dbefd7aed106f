"""Bench section `rating`: closing a billing period, against one plain SQL aggregate of its usage;
and the peak memory of a close, against a close of a fraction of the customers.

What is measured, in one run on one database:
- a dataset from `generate_dataset` (`--partners`, `--customers`, `--dataset-events`; small by
  default so the section takes a minute or two on two cores), its usage over the last four full
  months and the current month so far, with the demo's commission program and reference exchange
  rates (so a close accrues commissions and gathers statements, as in production); the four
  months are then closed in order, each by the whole `period_close`;
- `period_close` of the first month, which rates every subscription from the hourly rollups and
  finalizes its invoice → customers/s and invoice lines/s (`rating_customers`,
  `rating_invoice_lines`);
- their baseline: one `SELECT customer_id, metric_id, SUM(event_count), SUM(value_sum),
  MAX(value_max) FROM <rollups> WHERE <hour in the period> GROUP BY customer_id, metric_id`,
  every row fetched (the best of three runs: what the database itself can do) → customers
  covered/s and customer·metric rows/s;
- `close_peak_memory` (MiB): the peak of Python's heap while closing the third month, with every
  customer, against the same peak while closing the fourth, with a share of them; a ratio near 1
  means the close's memory is flat in the number of customers (it works in batches of
  `period_close.BATCH_SIZE` subscriptions).

How the memory is measured: `tracemalloc`'s peak of the memory allocated during the close (what
was there before it does not count), after a full garbage collection. tracemalloc slows every
allocation, so it runs only around those two closes, never around the timed one. The timed close
comes first and the second month is closed plainly, so both measured closes find the process
warm (modules imported, caches filled) and do the same kinds of work: the recommendations step
needs three closed months and runs in both. Before the fourth month is closed, the subscriptions
of all but a share of the customers (a tenth, evenly spread over them, but never fewer than one
batch of subscriptions: a close smaller than a batch would hold less for that reason alone) are
ended at its start, as churned customers' are; their usage that month is left unbilled. Memory
that libpq holds outside Python (a result set before psycopg converts it) is not counted.

Isolation: a period close finalizes every subscription of the database and takes invoice
numbers, which have no gaps, so the section never runs on the configured database. It creates a
scratch database beside it (PostgreSQL: `prm_bench_<hex>` on the same server; SQLite: a file
`prm_bench_<hex>.sqlite3` in the same directory), migrates it, measures there and drops it. Each
run therefore closes periods of a fresh dataset: real work, never the no-op of a re-run.
"""

import gc
import secrets
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import connection
from django.utils import timezone

from prm.accounts.models import Membership, Role, User
from prm.billing.models import InvoiceLine, InvoiceStatus
from prm.core.periods import BillingPeriod
from prm.customers.models import Subscription, SubscriptionStatus
from prm.operations import period_close as closing
from prm.operations.bench.common import BenchError, Context, Line, database_vendor
from prm.operations.dataset import DatasetError, generate_dataset
from prm.operations.demo import demo_fixtures_dir
from prm.operations.demo_incentives import seed_commission_rules
from prm.operations.period_close import PeriodCloseSummary, active_subscriptions, period_close
from prm.partners.services import exchange_rates_load
from prm.usage.models import UsageRollup
from prm.usage.rollups import db_datetime

BASELINE_RUNS = 3
FETCH_ROWS = 5_000
MONTHS = 4  # timed, closed plainly, measured with every customer, measured with a share
MIB = 1024 * 1024
MANAGER_EMAIL = "rating-manager@bench.invalid"


@dataclass(frozen=True)
class RatingSizes:
    """The dataset the section closes the months of. The defaults take a minute or two on two
    cores; the command's flags (Context fields of the same names) go bigger."""

    partners: int = 100
    customers: int = 1_000
    dataset_events: int = 400_000
    months: int = MONTHS
    # The memory baseline closes a period of one customer in `share`.
    share: int = 10
    seed: int = 1

    @classmethod
    def from_context(cls, context: Context) -> "RatingSizes":
        return cls(
            partners=context.partners,
            customers=context.customers,
            dataset_events=context.dataset_events,
        )


@dataclass(frozen=True)
class Aggregate:
    """One run of the baseline: how long it took, the customers and customer·metric rows it gave."""

    seconds: float
    customers: int
    rows: int


def run(context: Context) -> Iterator[Line]:
    sizes = RatingSizes.from_context(context)
    with scratch_database(context.log):
        lines = measure(sizes, log=context.log)
    yield from lines


def measure(sizes: RatingSizes, *, log, now: datetime | None = None) -> list[Line]:
    """Generate the dataset, then close its months in order: the first timed against the baseline
    aggregate, the second plainly, the last two measured for memory (module docstring)."""
    if sizes.months < MONTHS or sizes.share < 2:
        raise BenchError(f"The rating bench closes {MONTHS} months (months >= {MONTHS}) and a share of 2 or more.")
    database = database_vendor()
    now = now or timezone.now()
    periods = [BillingPeriod.containing(now).previous()]
    while len(periods) < sizes.months:
        periods.append(periods[-1].previous())
    periods.reverse()
    timed, *plain, everyone, share = periods
    log(
        f"bench rating: generating {sizes.partners} partners, {sizes.customers} customers, "
        f"{sizes.dataset_events} events over {sizes.months} months on {database}"
    )
    try:
        dataset = generate_dataset(
            partners=sizes.partners,
            customers=sizes.customers,
            events=sizes.dataset_events,
            months=sizes.months,
            seed=sizes.seed,
            now=now,
            progress=log,
        )
    except DatasetError as error:
        raise BenchError(f"The rating bench needs a new dataset with open periods: {error}") from error
    log(f"bench rating: {dataset}")
    # The demo's program in force from the first month, its rates for revenue in every currency.
    manager = User.objects.create_user(MANAGER_EMAIL, None, full_name="Bench rating manager")
    Membership.objects.create(user=manager, role=Role.MANAGER)
    seed_commission_rules(actor=manager, since=timed, now=now)
    exchange_rates_load(demo_fixtures_dir() / "exchange_rates.json")

    aggregate = plain_aggregate(timed)
    log(
        f"bench rating: baseline aggregate of {timed}: {aggregate.rows} customer·metric rows for "
        f"{aggregate.customers} customers in {aggregate.seconds:.3f} s"
    )
    if not aggregate.rows:
        raise BenchError(f"The dataset has no usage in {timed}: nothing to compare the close with.")
    started = time.perf_counter()
    closed = _close(timed, log=log)
    seconds = time.perf_counter() - started
    log(f"bench rating: closed {timed} in {seconds:.1f} s")
    lines = InvoiceLine.objects.filter(invoice__period=str(timed), invoice__status=InvoiceStatus.FINALIZED).count()

    for period in plain:
        _close(period, log=log)
    full_peak = close_peak(everyone, log=log)
    share_keep(share, sizes.share)
    share_peak = close_peak(share, log=log)
    # The baseline's customers/s are the customers its rows cover; its lines/s, customer·metric rows.
    customers_baseline = aggregate.customers / aggregate.seconds
    lines_baseline = aggregate.rows / aggregate.seconds
    return [
        Line("rating_customers", closed.finalized / seconds, "customers/s", customers_baseline, database),
        Line("rating_invoice_lines", lines / seconds, "invoice lines/s", lines_baseline, database),
        Line("close_peak_memory", full_peak / MIB, "MiB", share_peak / MIB, database),
    ]


def _close(period: BillingPeriod, *, log) -> PeriodCloseSummary:
    """`period_close`, refused unless it finalized every subscription of the period just now."""
    expected = active_subscriptions(period).count()
    log(f"bench rating: closing {period} ({expected} subscriptions)")
    closed = period_close(period=period)
    log(f"bench rating: {closed}")
    if closed.finalized != expected or closed.already_final:
        raise BenchError(
            f"The close of {period} finalized {closed.finalized} invoices of {expected} subscriptions "
            f"({closed.already_final} already final): not the work the figures would claim."
        )
    return closed


def close_peak(period: BillingPeriod, *, log) -> int:
    """The peak of Python's heap, in bytes, allocated while closing `period` (module docstring)."""
    gc.collect()
    tracing = tracemalloc.is_tracing()  # already (python -X tracemalloc): measure within it
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        closed = _close(period, log=log)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    log(f"bench rating: peak memory closing {period}: {peak / MIB:.1f} MiB for {closed.subscriptions} subscriptions")
    return peak


def share_keep(period: BillingPeriod, share: int) -> int:
    """End, at the start of `period`, the subscriptions of all but one customer in `share` (never
    fewer than one close batch), evenly spread; returns how many stay active in it."""
    subscriptions = list(active_subscriptions(period).order_by("pk").values_list("pk", flat=True))
    keep = min(len(subscriptions), max(-(-len(subscriptions) // share), closing.BATCH_SIZE))
    step = len(subscriptions) / keep if keep else 1
    kept = {subscriptions[int(index * step)] for index in range(keep)}
    ending = [pk for pk in subscriptions if pk not in kept]
    for start in range(0, len(ending), closing.BATCH_SIZE):
        # Bulk, past the services, like the dataset itself: these customers churned, nobody is told.
        Subscription.objects.filter(pk__in=ending[start : start + closing.BATCH_SIZE]).update(
            ended_at=period.start, status=SubscriptionStatus.ENDED
        )
    return len(kept)


def plain_aggregate(period: BillingPeriod) -> Aggregate:
    """The period's usage per customer·metric in one GROUP BY over the rollups, every row
    fetched; the best of BASELINE_RUNS runs."""
    table = UsageRollup._meta.db_table
    sql = (
        "SELECT customer_id, metric_id, SUM(event_count), SUM(value_sum), MAX(value_max) "  # noqa: S608  our table
        f"FROM {table} WHERE hour >= %s AND hour < %s GROUP BY customer_id, metric_id"
    )
    params = [db_datetime(period.start), db_datetime(period.end)]
    best = None
    for _ in range(BASELINE_RUNS):
        customers: set[int] = set()
        rows = 0
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while chunk := cursor.fetchmany(FETCH_ROWS):
                rows += len(chunk)
                customers.update(row[0] for row in chunk)
        seconds = time.perf_counter() - started
        if best is None or seconds < best.seconds:
            best = Aggregate(seconds, len(customers), rows)
    return best


# --- isolation ------------------------------------------------------------------------------


@contextmanager
def scratch_database(log) -> Iterator[str]:
    """A new, migrated database as the default connection for the block, then dropped.

    Django's test-database machinery does exactly this (create beside the configured database,
    migrate, switch the connection, and back); the name given to it is the scratch one.
    """
    if connection.in_atomic_block:
        raise BenchError("The rating bench switches databases: it cannot run inside a transaction.")
    token = secrets.token_hex(4)
    if connection.vendor == "postgresql":
        name = f"prm_bench_{token}"
    elif connection.vendor == "sqlite":
        if connection.is_in_memory_db():
            raise BenchError("The rating bench needs a SQLite file or PostgreSQL, not an in-memory database.")
        name = str(Path(connection.settings_dict["NAME"]).with_name(f"prm_bench_{token}.sqlite3"))
    else:
        raise BenchError(f"The rating bench does not know how to make a scratch {connection.vendor} database.")
    configured = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict["TEST"]
    previous = test_settings.get("NAME")
    test_settings["NAME"] = name
    log(f"bench rating: scratch database {name} (the configured database is left alone)")
    try:
        try:
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        except SystemExit as error:  # how Django's machinery gives up, after logging why on stderr
            raise BenchError(f"The scratch database {name} could not be created (the reason is above).") from error
        yield name
    finally:
        test_settings["NAME"] = previous
        if connection.settings_dict["NAME"] == name:
            connection.creation.destroy_test_db(configured, verbosity=0)
            log(f"bench rating: scratch database {name} dropped")
