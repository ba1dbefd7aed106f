"""The events table partitioned by month on PostgreSQL (`manage.py partition_events`,
prm/usage/partitioning.py): the conversion keeps every event, keys stay once forever, and
amendments, quarantine and the period close work on the partitioned table.

PostgreSQL's DDL is transactional: each test converts inside its own transaction, which rolls
back with everything else at the end.
"""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from prm.billing.models import Invoice
from prm.billing.services import invoice_refresh_draft
from prm.core.periods import BillingPeriod
from prm.customers.services import customer_create, subscription_create
from prm.operations.period_close import period_close
from prm.plans.services import plan_create
from prm.usage.ingest import events_ingest
from prm.usage.models import QuarantinedEvent, UsageEvent, UsageEventKey
from prm.usage.parsing import cloudevent
from prm.usage.partitioning import events_partitioned, months_ahead, partition_name, partitioned_answer_reset
from prm.usage.services import event_replace, event_void, quarantine_reprocess
from tests.usage.support import month_total

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="Table partitioning exists on PostgreSQL only; SQLite keeps one table."
)

TABLE = UsageEvent._meta.db_table
OCTOBER = BillingPeriod(2026, 10)  # a past month (the tests' clock is later), free to close


@pytest.fixture(autouse=True)
def _forget_the_partitioned_answer():
    # The conversion rolls back with the test; the answer cached for this connection must too.
    partitioned_answer_reset()
    yield
    partitioned_answer_reset()


def ingest(actor, *events, source="meter-1"):
    """events: (id, customer external id, metric code, ISO time, data)."""
    incoming = [
        cloudevent(index, {"specversion": "1.0", "id": event_id, "source": source, "type": metric,
                           "subject": customer, "time": time, "data": data})
        for index, (event_id, customer, metric, time, data) in enumerate(events)
    ]  # fmt: skip
    return events_ingest(incoming, actor=actor)


def partition_events(*args) -> str:
    out = io.StringIO()
    call_command("partition_events", *args, stdout=out)
    return out.getvalue()


def fetch(sql, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def partitions() -> set[str]:
    return {
        name
        for (name,) in fetch("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass", [TABLE])
    }


def is_partitioned() -> bool:
    """Asked of the catalogue directly, not through the cached answer under test."""
    return fetch("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass)", [TABLE])[0][0]


def partition_of(event_id: str) -> str:
    return fetch(f"SELECT tableoid::regclass::text FROM {TABLE} WHERE event_id = %s", [event_id])[0][0]  # noqa: S608


def foreign_keys_to_events() -> int:
    return fetch("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass", [TABLE])[0][0]


def events_snapshot() -> list[tuple]:
    return list(
        UsageEvent.objects.order_by("pk").values_list("pk", "source", "event_id", "timestamp", "value", "status")
    )


def expected_partitions(*months: BillingPeriod, ahead=2) -> set[str]:
    upcoming = months_ahead(timezone.now(), ahead)
    return {partition_name(month) for month in {*months, *upcoming}} | {f"{TABLE}_default"}


@pytest.fixture
def october_events(world, metrics):
    """Events around the month boundaries of October 2026 (UTC)."""
    result = ingest(
        world.manager,
        ("e-sep", "cus_a1", "api_calls", "2026-09-15T12:00:00Z", {"calls": "1"}),
        ("e-oct-first", "cus_a1", "api_calls", "2026-10-01T00:00:00Z", {"calls": "2"}),
        ("e-oct-last", "cus_a1", "api_calls", "2026-10-31T23:59:59.999Z", {"calls": "3.5"}),
        ("e-nov", "cus_a2", "api_calls", "2026-11-01T00:00:00Z", {"calls": "4"}),
    )
    assert result.accepted == 4, result.as_dict()


# --- SQLite, and the unpartitioned table -----------------------------------------------------


def test_sqlite_refuses_and_says_why():
    if connection.vendor != "sqlite":
        pytest.skip("The SQLite side of the command.")
    with pytest.raises(CommandError, match="Partitioning needs PostgreSQL; this database is sqlite"):
        partition_events()
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        partition_events("--dry-run")


def test_ingestion_on_an_unpartitioned_table_records_no_keys(world, metrics):
    """Only a partitioned table pays the key table's insert (SQLite and default PostgreSQL do not)."""
    result = ingest(world.manager, ("u-1", "cus_a1", "api_calls", "2026-11-02T10:00:00Z", {"calls": "1"}))
    again = ingest(world.manager, ("u-1", "cus_a1", "api_calls", "2026-11-03T10:00:00Z", {"calls": "1"}))
    assert (result.accepted, again.duplicates) == (1, 1)
    assert not events_partitioned()
    assert not UsageEventKey.objects.exists()


# --- the conversion --------------------------------------------------------------------------


@postgresql_only
def test_conversion_keeps_every_event_in_its_month(october_events):
    before = events_snapshot()
    assert foreign_keys_to_events() == 4  # amendments ×2, quarantine, an event's `replaces`

    output = partition_events()

    assert "Converted usage_usageevent to a table partitioned by month" in output
    assert "4 events copied." in output and "4 keys recorded in usage_usageeventkey." in output
    assert is_partitioned() and events_partitioned()
    assert partitions() == expected_partitions(BillingPeriod(2026, 9), OCTOBER, BillingPeriod(2026, 11))
    assert events_snapshot() == before
    # Month bounds are UTC and half-open.
    assert partition_of("e-sep") == "usage_usageevent_2026_09"
    assert partition_of("e-oct-first") == partition_of("e-oct-last") == "usage_usageevent_2026_10"
    assert partition_of("e-nov") == "usage_usageevent_2026_11"
    assert fetch(f"SELECT count(*) FROM {TABLE}_default")[0][0] == 0  # noqa: S608
    assert set(UsageEventKey.objects.values_list("source", "event_id")) == {
        ("meter-1", event_id) for event_id in ("e-sep", "e-oct-first", "e-oct-last", "e-nov")
    }
    assert foreign_keys_to_events() == 0
    keys = dict(fetch("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                      "AND contype IN ('p', 'u')", [TABLE]))  # fmt: skip
    assert keys == {
        "usage_usageevent_pkey": 'PRIMARY KEY (id, "timestamp")',
        "usage_event_dedup_key": 'UNIQUE (source, event_id, "timestamp")',
    }
    indexes = {name for (name,) in fetch("SELECT indexname FROM pg_indexes WHERE tablename = %s", [TABLE])}
    assert {"usage_event_cust_metric_time", "usage_event_time_brin", "usage_event_replaced_once"} <= indexes


@postgresql_only
def test_new_ids_continue_after_the_copied_ones(october_events, world):
    last = UsageEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    partition_events()
    ingest(world.manager, ("e-later", "cus_a1", "api_calls", "2026-11-20T08:00:00Z", {"calls": "1"}))
    assert UsageEvent.objects.get(event_id="e-later").pk == last + 1
    assert partition_of("e-later") == "usage_usageevent_2026_11"


@postgresql_only
def test_a_key_is_taken_once_forever_even_at_another_time(october_events, world, metrics):
    partition_events()
    count = UsageEvent.objects.count()

    same_time = ingest(
        world.manager, ("e-oct-last", "cus_a1", "api_calls", "2026-10-31T23:59:59.999Z", {"calls": "3.5"})
    )
    # The events' own unique key includes the time: only the key table refuses this one.
    other_time = ingest(world.manager, ("e-oct-last", "cus_a1", "api_calls", "2026-11-05T09:00:00Z", {"calls": "3.5"}))
    batch = ingest(
        world.manager,
        ("n-1", "cus_a1", "api_calls", "2026-11-06T09:00:00Z", {"calls": "10"}),
        ("n-1", "cus_a1", "api_calls", "2026-10-06T09:00:00Z", {"calls": "10"}),  # its retry, another month
        ("e-sep", "cus_a1", "api_calls", "2026-11-07T09:00:00Z", {"calls": "1"}),
        ("n-2", "cus_a1", "api_calls", "2026-10-07T09:00:00Z", {"calls": "0.25"}),
    )

    assert (same_time.accepted, same_time.duplicates) == (0, 1)
    assert (other_time.accepted, other_time.duplicates) == (0, 1)
    assert (batch.accepted, batch.duplicates) == (2, 2)
    assert UsageEvent.objects.count() == count + 2
    assert partition_of("n-1") == "usage_usageevent_2026_11"
    assert partition_of("n-2") == "usage_usageevent_2026_10"
    assert UsageEventKey.objects.filter(event_id__in=["n-1", "n-2"]).count() == 2
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("10")  # November: n-1 only


# --- services on the partitioned table -------------------------------------------------------


@postgresql_only
def test_void_and_replace_on_the_partitioned_table(october_events, world, metrics):
    partition_events()
    october = {"start": OCTOBER.start, "end": OCTOBER.end}
    assert month_total(world.customer_a1, metrics.api_calls, **october) == Decimal("5.5")

    event_void(actor=world.manager, event=UsageEvent.objects.get(event_id="e-oct-first"), reason="Sent twice")
    original = UsageEvent.objects.get(event_id="e-oct-last")
    replacement = event_replace(
        actor=world.manager, event=original, reason="Misread", value="7", timestamp="2026-11-03T10:00:00Z"
    )

    assert UsageEvent.objects.get(event_id="e-oct-first").status == "voided"
    assert month_total(world.customer_a1, metrics.api_calls, **october) == Decimal("0")
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("7")
    assert (replacement.replaces_id, replacement.value) == (original.pk, Decimal("7"))
    assert partition_of(replacement.event_id) == "usage_usageevent_2026_11"
    assert UsageEventKey.objects.filter(source="prm:amendment", event_id=f"replaces:{original.pk}").exists()
    with pytest.raises(ValidationError, match="already voided"):
        event_replace(actor=world.manager, event=original, reason="Again", value="8")


@postgresql_only
def test_quarantine_reprocess_on_the_partitioned_table(world, metrics):
    held = ingest(world.manager, ("q-1", "cus_new", "api_calls", "2026-11-04T10:00:00Z", {"calls": "8"}))
    assert held.quarantined == 1
    partition_events()
    customer = customer_create(
        actor=world.manager, reseller=world.partner_b, external_id="cus_new", name="New", domain="new.example",
        use_case="api_calls", currency="USD",
    )  # fmt: skip

    outcome = quarantine_reprocess(actor=world.manager, item=QuarantinedEvent.objects.get(event_id="q-1"))

    item = QuarantinedEvent.objects.get(event_id="q-1")
    event = UsageEvent.objects.get(event_id="q-1")
    assert (outcome, item.status, item.accepted_event_id) == ("accepted", "reprocessed", event.pk)
    assert partition_of("q-1") == "usage_usageevent_2026_11"
    assert month_total(customer, metrics.api_calls) == Decimal("8")
    resent = ingest(world.manager, ("q-1", "cus_new", "api_calls", "2026-11-09T10:00:00Z", {"calls": "8"}))
    assert resent.duplicates == 1


@postgresql_only
def test_period_close_bills_the_same_after_conversion(world, metrics):
    plan = plan_create(
        actor=world.manager, code="api", name="API", currency="USD",
        charges=[{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}],
    )  # fmt: skip
    subscription = subscription_create(
        actor=world.manager, plan=plan, customer=world.customer_a1, external_id="sub_a1_api",
        started_at=datetime(2026, 10, 1, tzinfo=UTC),
    )  # fmt: skip
    ingest(
        world.manager,
        ("b-1", "cus_a1", "api_calls", "2026-10-05T10:00:00Z", {"calls": 1234}),
        ("b-2", "cus_a1", "api_calls", "2026-10-31T23:00:00Z", {"calls": 766}),
        ("b-3", "cus_a1", "api_calls", "2026-11-01T00:00:00Z", {"calls": 5000}),  # November's
    )
    before = invoice_refresh_draft(subscription=subscription, period=OCTOBER).total
    partition_events()

    summary = period_close(period=OCTOBER)

    invoice = Invoice.objects.get(subscription=subscription, period="2026-10")
    assert before == invoice.total == Decimal("20.00")
    assert (invoice.status, summary.as_dict()["totals"]) == ("finalized", {"USD": "20.00"})


# --- the monthly run, and --dry-run ---------------------------------------------------------


@postgresql_only
def test_running_again_creates_only_the_missing_months(october_events):
    partition_events()
    after_conversion = partitions()
    rows = events_snapshot()

    again = partition_events()
    assert "partitioned already and has the partitions it needs; nothing to do" in again
    assert partitions() == after_conversion

    further = partition_events("--ahead", "4")
    new = [partition_name(month) for month in months_ahead(timezone.now(), 4)[3:]]
    assert partitions() == after_conversion | set(new)
    assert len(new) == 2 and all(name[-7:].replace("_", "-") in further for name in new)
    assert events_snapshot() == rows


@postgresql_only
def test_a_missed_month_moves_its_events_out_of_the_default_partition(october_events, world, metrics):
    partition_events("--ahead", "0")
    next_month = months_ahead(timezone.now(), 1)[1]
    assert partition_name(next_month) not in partitions()
    # Ingestion refuses the future; a row already in next month stands for one the missed run left.
    UsageEvent.objects.create(
        source="meter-1", event_id="e-next", customer=world.customer_a1, metric=metrics.api_calls,
        timestamp=next_month.start + timedelta(hours=1), value=Decimal(1), format="cloudevents",
        received_at=timezone.now(),
    )  # fmt: skip
    assert partition_of("e-next") == f"{TABLE}_default"

    output = partition_events("--ahead", "1")

    assert f"created the partitions of {next_month}" in output
    assert "1 events moved out of the default partition." in output
    assert partition_of("e-next") == partition_name(next_month)
    assert f"{TABLE}_default" in partitions()


@postgresql_only
def test_dry_run_prints_the_sql_and_changes_nothing(october_events):
    before = events_snapshot()

    sql = partition_events("--dry-run")

    assert 'PARTITION BY RANGE ("timestamp")' in sql
    assert "CREATE TABLE usage_usageevent_2026_10 PARTITION OF usage_usageevent FOR VALUES FROM " in sql
    assert "DROP CONSTRAINT usage_usageamendment_event_id_" in sql  # looked up, not hard-coded
    assert not is_partitioned() and not events_partitioned()
    assert foreign_keys_to_events() == 4 and events_snapshot() == before
    assert not UsageEventKey.objects.exists()

    partition_events()
    converted = partitions()
    ahead = partition_events("--dry-run", "--ahead", "3")
    assert f"CREATE TABLE {partition_name(months_ahead(timezone.now(), 3)[3])} PARTITION OF" in ahead
    assert partitions() == converted
    assert partition_events("--dry-run") == "-- nothing to do: every partition needed exists.\n"


@postgresql_only
def test_negative_months_ahead_is_refused_naming_the_option(october_events):
    with pytest.raises(CommandError, match="ahead: the number of months ahead cannot be negative"):
        partition_events("--ahead", "-1")
    assert not is_partitioned()


@postgresql_only
def test_generate_dataset_refuses_a_partitioned_table(october_events):
    from prm.operations.dataset import DatasetError, generate_dataset

    partition_events()
    with pytest.raises(DatasetError, match="partitioned"):
        generate_dataset(partners=1, customers=1, events=10, months=1)
