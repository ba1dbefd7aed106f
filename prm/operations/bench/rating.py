"""Bench section `rating`: closing a billing period, against one plain SQL aggregate of its usage.

What is measured, in one run on one database:
- a dataset from `generate_dataset` (`--partners`, `--customers`, `--dataset-events`; small by
  default so the section takes about a minute on two cores), its usage over the last full month
  and the current month so far;
- `period_close` of the last full month, which rates every subscription from the hourly rollups
  and finalizes its invoice → customers/s and invoice lines/s;
- the baseline: one `SELECT customer_id, metric_id, SUM(event_count), SUM(value_sum),
  MAX(value_max) FROM <rollups> WHERE <hour in the period> GROUP BY customer_id, metric_id`,
  every row fetched (the best of three runs: what the database itself can do) → customers
  covered/s and customer·metric rows/s.

Isolation: a period close finalizes every subscription of the database and takes invoice
numbers, which have no gaps, so the section never runs on the configured database. It creates a
scratch database beside it (PostgreSQL: `prm_bench_<hex>` on the same server; SQLite: a file
`prm_bench_<hex>.sqlite3` in the same directory), migrates it, measures there and drops it. Each
run therefore closes a period of a fresh dataset: real work, never the no-op of a re-run.
"""

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import connection
from django.utils import timezone

from prm.billing.models import InvoiceLine, InvoiceStatus
from prm.core.periods import BillingPeriod
from prm.operations.bench.common import BenchError, Context, Line, database_vendor
from prm.operations.dataset import DatasetError, generate_dataset
from prm.operations.period_close import active_subscriptions, period_close
from prm.usage.models import UsageRollup
from prm.usage.rollups import db_datetime

BASELINE_RUNS = 3
FETCH_ROWS = 5_000


@dataclass(frozen=True)
class RatingSizes:
    """The dataset the section closes a period of. The defaults take about a minute on two cores;
    the command's flags (Context fields of the same names) go bigger."""

    partners: int = 100
    customers: int = 1_000
    dataset_events: int = 400_000
    months: int = 1
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
    """Generate the dataset, time the baseline and the close, in the current database."""
    if sizes.months < 1:
        raise BenchError("The rating bench closes the last full month: its dataset needs months >= 1.")
    database = database_vendor()
    now = now or timezone.now()
    period = BillingPeriod.containing(now).previous()
    log(
        f"bench rating: generating {sizes.partners} partners, {sizes.customers} customers, "
        f"{sizes.dataset_events} events on {database}"
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
        raise BenchError(f"The rating bench needs a new dataset with an open period: {error}") from error
    log(f"bench rating: {dataset}")

    expected = active_subscriptions(period).count()
    aggregate = plain_aggregate(period)
    log(
        f"bench rating: baseline aggregate of {period}: {aggregate.rows} customer·metric rows for "
        f"{aggregate.customers} customers in {aggregate.seconds:.3f} s"
    )
    if not aggregate.rows:
        raise BenchError(f"The dataset has no usage in {period}: nothing to compare the close with.")

    log(f"bench rating: closing {period} ({expected} subscriptions)")
    started = time.perf_counter()
    closed = period_close(period=period)
    seconds = time.perf_counter() - started
    log(f"bench rating: {closed} ({seconds:.1f} s)")
    if closed.finalized != expected or closed.already_final:
        raise BenchError(
            f"The close finalized {closed.finalized} invoices of {expected} subscriptions "
            f"({closed.already_final} already final): not the work the figures would claim."
        )
    lines = InvoiceLine.objects.filter(invoice__period=str(period), invoice__status=InvoiceStatus.FINALIZED).count()
    # The baseline's customers/s are the customers its rows cover; its lines/s, customer·metric rows.
    customers_baseline = aggregate.customers / aggregate.seconds
    lines_baseline = aggregate.rows / aggregate.seconds
    return [
        Line("rating_customers", closed.finalized / seconds, "customers/s", customers_baseline, database),
        Line("rating_invoice_lines", lines / seconds, "invoice lines/s", lines_baseline, database),
    ]


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
