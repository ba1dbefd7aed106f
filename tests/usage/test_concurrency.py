"""Real concurrency: threads, each with its own database connection, re-sending the same
batches at the same moment. Every event is stored once, every response is a 2xx, and the
rollups equal the sum over the distinct events, on SQLite (WAL, IMMEDIATE transactions, busy
timeout) and on PostgreSQL.

These tests commit (`transaction=True`): the threads must see each other's data.
"""

import contextlib
import sqlite3
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client

import prm.usage.ingest
from prm.usage.models import QuarantinedEvent, UsageEvent, UsageRollup
from tests.usage.support import ce, lago, month_total, send, send_batch, send_lago_batch

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 4


@pytest.fixture
def shared_database(transactional_db, tmp_path):
    """A database that other threads can write to while this one does.

    pytest-django's SQLite test database lives in memory, in shared-cache mode: there, a writer
    locks whole tables and other connections fail at once with "database table is locked"
    instead of waiting on the busy timeout, so it cannot show how the portal behaves under
    concurrent writes. For the length of the test the default connection points at a copy of
    it in a file, opened with the project's own options (WAL, IMMEDIATE transactions, busy
    timeout), as production's SQLite is. The in-memory database is kept open (closing its last
    connection would destroy it) and is given back afterwards. PostgreSQL needs nothing.
    """
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    connection.ensure_connection()
    in_memory = connection.connection
    copy = sqlite3.connect(tmp_path / "concurrency.sqlite3")
    in_memory.backup(copy)  # the schema, and whatever the test has made so far
    copy.close()
    name = connection.settings_dict["NAME"]
    # Every thread's connection is made from this same settings dict.
    connection.settings_dict["NAME"] = str(tmp_path / "concurrency.sqlite3")
    connection.connection = None
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = in_memory


def run_in_threads(*jobs):
    """Run each job in its own thread, all released at the same moment; return their results
    in order. A job that raised fails the test with its exception."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list = []

    def worker(index, job):
        try:
            barrier.wait(timeout=30)
            results[index] = job(Client())
        except BaseException as error:  # reported to the main thread below
            errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [thread for thread in threads if thread.is_alive()], "a thread hung"
    if errors:
        raise errors[0]
    return results


# --- the same batches, four senders at once -------------------------------------------------

CUSTOMERS = ("cus_a1", "cus_a2", "cus_b1")
START = datetime(2026, 11, 6, tzinfo=UTC)


def _event(index):
    """Event `index`: one of three customers, one of 24 hours, a value with decimals."""
    when = START + timedelta(hours=index % 24, seconds=index)
    return ce(
        f"evt-{index}",
        subject=CUSTOMERS[index % 3],
        data={"calls": f"{index % 17}.125"},
        time=when.isoformat().replace("+00:00", "Z"),
    )


# Three batches of 200 that overlap by 50: events 0-199, 150-349, 300-499.
BATCHES = [[_event(index) for index in range(start, start + 200)] for start in (0, 150, 300)]
DISTINCT = 500


def _expected():
    """Per customer and per (customer, hour): the count and sum over the distinct events."""
    per_customer: dict = defaultdict(lambda: [0, Decimal(0)])
    per_hour: dict = defaultdict(lambda: [0, Decimal(0)])
    for index in range(DISTINCT):
        value = Decimal(f"{index % 17}.125")
        hour = START + timedelta(hours=index % 24)
        for bucket in (per_customer[CUSTOMERS[index % 3]], per_hour[(CUSTOMERS[index % 3], hour)]):
            bucket[0] += 1
            bucket[1] += value
    return per_customer, per_hour


def test_same_batches_sent_by_four_threads_at_once_are_counted_once(shared_database, world, metrics, bearer):
    auth = bearer(world.manager)

    def sender(first):
        # Each thread sends the three batches in its own order, so different batches collide.
        order = [BATCHES[(first + step) % 3] for step in range(3)]
        return lambda client: [send_batch(client, batch, auth) for batch in order]

    responses = [response for thread in run_in_threads(*(sender(t) for t in range(THREADS))) for response in thread]

    assert [response.status_code for response in responses] == [200] * (THREADS * 3)
    answers = [response.json() for response in responses]
    assert sum(answer["accepted"] for answer in answers) == DISTINCT
    assert sum(answer["duplicates"] for answer in answers) == THREADS * 3 * 200 - DISTINCT
    assert [answer["quarantined"] for answer in answers] == [0] * (THREADS * 3)
    assert [answer["rejected"] for answer in answers] == [[]] * (THREADS * 3)
    assert UsageEvent.objects.count() == DISTINCT
    assert UsageEvent.objects.values("source", "event_id").distinct().count() == DISTINCT

    per_customer, per_hour = _expected()
    customers = {c.external_id: c for c in (world.customer_a1, world.customer_a2, world.customer_b1)}
    for external_id, (count, total) in per_customer.items():
        customer = customers[external_id]
        assert month_total(customer, metrics.api_calls) == total
        assert UsageRollup.objects.filter(customer=customer).aggregate(n=Sum("event_count"))["n"] == count
        assert UsageEvent.objects.filter(customer=customer).count() == count
    rollups = {
        (customer, hour): [count, total]
        for customer, hour, count, total in UsageRollup.objects.values_list(
            "customer__external_id", "hour", "event_count", "value_sum"
        )
    }
    assert rollups == dict(per_hour)
    assert sum(total for _count, total in per_customer.values()) == Decimal("4027.5")


def test_same_lago_batch_with_quarantined_events_sent_at_once(shared_database, world, metrics, bearer):
    """100 countable events and 50 for a customer the sender cannot see, four times at once:
    100 events, 50 quarantine rows, each with the four attempts that were made."""
    auth = bearer(world.admin_a)
    events = [lago(f"tx-{i}", customer="cus_a1", properties={"calls": i}) for i in range(100)] + [
        lago(f"tx-b-{i}", customer="cus_b1", properties={"calls": i}) for i in range(50)
    ]

    responses = run_in_threads(*[lambda client: send_lago_batch(client, events, auth)] * THREADS)

    assert [response.status_code for response in responses] == [200] * THREADS
    answers = [response.json() for response in responses]
    assert sum(answer["accepted"] for answer in answers) == 100
    assert sum(answer["duplicates"] for answer in answers) == 300
    assert [answer["quarantined"] for answer in answers] == [50] * THREADS
    assert UsageEvent.objects.count() == 100
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("4950")  # 0 + 1 + … + 99
    assert QuarantinedEvent.objects.count() == 50
    assert set(QuarantinedEvent.objects.values_list("reason", "status", "attempts")) == {
        ("unknown_customer", "pending", THREADS)
    }


def test_void_while_the_same_hour_is_being_ingested_keeps_both(shared_database, world, metrics, bearer, monkeypatch):
    """A void rebuilds its hour's rollup from the hour's events. An ingest into that hour that
    commits while the rebuild runs must still be in the rollup afterwards."""
    auth = bearer(world.manager)
    assert send(Client(), ce("old", data={"calls": "5"}, time="2026-11-07T10:10:00Z"), auth).json()["status"] == (
        "accepted"
    )
    assert send(Client(), ce("keep", data={"calls": "1"}, time="2026-11-07T10:20:00Z"), auth).json()["status"] == (
        "accepted"
    )
    voided = UsageEvent.objects.get(event_id="old")
    rollups_added = threading.Event()
    quarantine = prm.usage.ingest._quarantine

    def slow_quarantine(*args, **kwargs):
        # Inside the ingest's transaction, after its events and rollups are written: hold the
        # transaction open while the void runs, as a slow request would.
        if threading.current_thread() is not threading.main_thread():
            rollups_added.set()
            time.sleep(1.5)
        return quarantine(*args, **kwargs)

    monkeypatch.setattr(prm.usage.ingest, "_quarantine", slow_quarantine)
    batch = [ce(f"new-{i}", data={"calls": "2"}, time=f"2026-11-07T10:{30 + i}:00Z") for i in range(10)]

    def ingest(client):
        return send_batch(client, batch, auth)

    def void_after_ingest_wrote(client):
        assert rollups_added.wait(timeout=30)
        return client.post(
            f"/api/v1/events/{voided.pk}/void", {"reason": "duplicate reading"}, content_type="application/json", **auth
        )

    ingested, voiding = run_in_threads(ingest, void_after_ingest_wrote)

    assert ingested.json()["accepted"] == 10
    assert voiding.status_code == 200, voiding.content
    assert UsageEvent.objects.filter(status="active").count() == 11
    hour = UsageRollup.objects.get(customer=world.customer_a1, metric=metrics.api_calls)
    assert (hour.event_count, hour.value_sum, hour.value_max) == (11, Decimal("21"), Decimal("2"))
    assert month_total(world.customer_a1, metrics.api_calls) == Decimal("21")


def test_same_quarantine_only_batch_sent_at_once_counts_every_attempt(
    shared_database, world, metrics, bearer, monkeypatch
):
    """Only events for a customer the sender cannot see: nothing is counted, so nothing else
    orders the four requests. Each one is held at the same point of its transaction (where the
    quarantine is written) until all four are there, as happens with unlucky timing; every
    attempt must still be counted on the one row per event."""
    auth = bearer(world.admin_a)
    events = [lago(f"tx-b-{i}", customer="cus_b1", properties={"calls": i}) for i in range(50)]
    all_there = threading.Barrier(THREADS)
    quarantine = prm.usage.ingest._quarantine

    def quarantine_together(*args, **kwargs):
        # Where one transaction at a time is the rule (SQLite), nobody else arrives: go on.
        with contextlib.suppress(threading.BrokenBarrierError):
            all_there.wait(timeout=2)
        return quarantine(*args, **kwargs)

    monkeypatch.setattr(prm.usage.ingest, "_quarantine", quarantine_together)

    responses = run_in_threads(*[lambda client: send_lago_batch(client, events, auth)] * THREADS)

    assert [response.status_code for response in responses] == [200] * THREADS
    assert [response.json()["quarantined"] for response in responses] == [50] * THREADS
    assert QuarantinedEvent.objects.count() == 50
    assert set(QuarantinedEvent.objects.values_list("attempts", flat=True)) == {THREADS}
