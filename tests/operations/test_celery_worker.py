"""A real Celery worker, as production runs it: a separate `celery -A prm worker` process reading
tasks from Redis on loopback, on the same database as the test, closes a billing period.

The test process sends `period_close_task.delay(...)` through the broker (not eagerly: a client
app without `task_always_eager` is made current for the test), the worker runs the task in its own
process and stores the result in Redis, and the test reads the finalized invoices back from the
database. Each run uses its own queue on a test-only Redis database, so runs never take each
other's tasks. The only reason to skip: no Redis on 127.0.0.1 (CI runs one).
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from celery import Celery, current_app
from celery.exceptions import TimeoutError as ResultTimeout
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from prm.billing.models import Invoice, InvoiceStatus
from prm.core.models import AuditEntry, ClosedBillingPeriod
from prm.customers.services import subscription_create
from prm.operations.tasks import alerts_evaluate_task, period_close_task
from prm.plans.services import metric_create, plan_create
from prm.usage.ingest import events_ingest
from prm.usage.parsing import cloudevent

# A Redis database of its own, so a test never reads or leaves anything in the portal's (0).
BROKER_URL = os.environ.get("PRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WORKER_READY_TIMEOUT = 90.0
TASK_TIMEOUT = 180.0
WORKER_STOP_TIMEOUT = 30.0
OCTOBER = "2026-10"  # a past month (the tests' clock is later), free to bill and to close


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2).ping())
    except (redis.exceptions.RedisError, OSError):
        return False


needs_redis = pytest.mark.skipif(not _redis_reachable(), reason=f"Redis is not reachable at {BROKER_URL}")


# --- the database, shared with the worker process ----------------------------------------------


def _postgres_url(database: dict) -> str:
    """The test database's URL, for the worker's DATABASE_URL (settings parse it with dj-database-url)."""
    user = quote(database.get("USER") or "", safe="")
    password = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user or password else ""
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{database.get('HOST') or ''}{port}/{quote(database['NAME'], safe='')}"


@pytest.fixture
def worker_database(transactional_db, tmp_path, django_db_blocker) -> dict[str, str]:
    """The environment that points the worker at the database this test writes to, committed.

    PostgreSQL: the test database itself, with transactions committed (`transactional_db`).
    SQLite: the test database lives in this process's memory, where no other process can see it,
    so for this test the connection is switched to a migrated file under tmp_path and back after;
    the in-memory database is kept open meanwhile (closing it would drop it for the other tests).
    """
    if connection.vendor == "postgresql":
        yield {"DATABASE_URL": _postgres_url(connection.settings_dict)}
        return
    if connection.vendor != "sqlite":
        pytest.skip(f"The worker test knows how to share PostgreSQL or SQLite, not {connection.vendor}.")
    path = tmp_path / "worker.sqlite3"
    names = connection.settings_dict, settings.DATABASES["default"]
    original = connection.settings_dict["NAME"]
    with django_db_blocker.unblock():
        in_memory, connection.connection = connection.connection, None
        for names_dict in names:
            names_dict["NAME"] = str(path)
        try:
            call_command("migrate", verbosity=0, interactive=False)
            yield {"SQLITE_PATH": str(path)}
        finally:
            connection.close()
            for names_dict in names:
                names_dict["NAME"] = original
            connection.connection = in_memory


# --- the worker and the client -----------------------------------------------------------------


@pytest.fixture
def queue() -> str:
    return f"prm-test-{secrets.token_hex(4)}"


@pytest.fixture
def worker(worker_database, queue, tmp_path):
    """`celery -A prm worker` in its own process, consuming only this test's queue; stopped with
    SIGTERM (Celery's warm shutdown: the task in hand finishes) and waited for."""
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "SQLITE_PATH"}}
    env.update(
        worker_database,
        DJANGO_SETTINGS_MODULE="tests.settings",
        CELERY_BROKER_URL=BROKER_URL,
        CELERY_RESULT_BACKEND=BROKER_URL,
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "prm", "worker", "--pool=solo", "--loglevel=INFO",
        "--queues", queue, "--hostname", f"{queue}@%h", "--without-gossip", "--without-mingle",
        "--without-heartbeat",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  our own interpreter and arguments
            command, cwd=Path(settings.BASE_DIR), env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    handle = WorkerProcess(process, log_path)
    try:
        handle.wait_until_ready(f"{queue}@")
        yield handle
    finally:
        handle.stop()


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path
        self.returncode: int | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_until_ready(self, hostname: str) -> None:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"The worker exited with status {self.process.returncode}:\n{self.log()}")
            if f"{hostname}" in self.log() and " ready." in self.log():
                return
            time.sleep(0.2)
        raise AssertionError(f"The worker was not ready within {WORKER_READY_TIMEOUT:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(WORKER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.returncode = self.process.returncode


@pytest.fixture
def broker(queue):
    """A Celery client app on the test broker, current for the test, so a shared task's `.delay()`
    goes through Redis to the worker instead of running eagerly in this process."""
    previous = current_app._get_current_object()
    client = Celery("prm-test-client", broker=BROKER_URL, backend=BROKER_URL, fixups=[], set_as_current=False)
    client.conf.update(task_default_queue=queue, task_always_eager=False, broker_connection_retry_on_startup=False)
    client.set_current()
    try:
        yield client
    finally:
        previous.set_current()
        client.close()
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Leave nothing of the run in Redis: the queue, its bindings (results are forgotten by the test)."""
    import redis

    store = redis.Redis.from_url(BROKER_URL)
    for key in (queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"):
        store.delete(key)
    store.close()


def _wait_for(result, worker: WorkerProcess):
    """The task's return value, watching the worker: a dead worker fails at once with its log."""
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        try:
            return result.get(timeout=1, propagate=True)
        except ResultTimeout:
            if worker.process.poll() is not None:
                raise AssertionError(
                    f"The worker died with status {worker.process.returncode}:\n{worker.log()}"
                ) from None
    raise AssertionError(f"No result from the worker within {TASK_TIMEOUT:.0f} s:\n{worker.log()}")


# --- the test ----------------------------------------------------------------------------------


def _october_usage(world) -> None:
    """Two subscriptions billed in October 2026: 1,234 API calls at 0.01, and a flat 100 from the 21st."""
    manager = world.manager
    metric_create(actor=manager, code="api_calls", name="API calls", unit="call", aggregation="sum", field="calls")
    api = plan_create(
        actor=manager, code="api", name="API", currency="USD",
        charges=[{"model": "per_unit", "metric": "api_calls", "unit_amount": "0.01"}],
    )  # fmt: skip
    flat = plan_create(
        actor=manager, code="flat", name="Flat", currency="USD", charges=[{"model": "flat", "amount": "100"}]
    )
    subscription_create(
        actor=manager, plan=api, customer=world.customer_a1, external_id="sub_a1_api",
        started_at=_at("2026-10-01T00:00:00"),
    )  # fmt: skip
    subscription_create(
        actor=manager, plan=flat, customer=world.customer_b1, external_id="sub_b1_flat",
        started_at=_at("2026-10-21T00:00:00"),
    )  # fmt: skip
    event = {
        "specversion": "1.0", "id": "worker-ev-1", "source": "worker-test", "type": "api_calls",
        "subject": world.customer_a1.external_id, "time": "2026-10-05T10:00:00+00:00", "data": {"calls": 1234},
    }  # fmt: skip
    assert events_ingest([cloudevent(0, event)], actor=manager).accepted == 1


def _committed_from_november(world) -> None:
    """A subscription with a commitment, after October (so not in its close): alerts give it default rules."""
    committed = plan_create(
        actor=world.manager, code="committed", name="Committed", currency="USD",
        charges=[{"model": "flat", "amount": "10"}], minimum_commitment="100",
    )  # fmt: skip
    subscription_create(
        actor=world.manager, plan=committed, customer=world.customer_a2, external_id="sub_a2_committed",
        started_at=_at("2026-11-01T00:00:00"),
    )  # fmt: skip


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


@needs_redis
def test_a_real_worker_closes_a_period_sent_through_redis(worker_database, world, worker, broker):
    _october_usage(world)
    assert not Invoice.objects.filter(status=InvoiceStatus.FINALIZED).exists()

    result = period_close_task.delay(OCTOBER)

    assert result.app is broker  # through the broker, not run eagerly here
    summary = _wait_for(result, worker)
    assert result.status == "SUCCESS"
    assert (summary["period"], summary["finalized"], summary["already_final"]) == (OCTOBER, 2, 0)
    assert summary["totals"] == {"USD": "47.82"}  # 12.34 + 100 × 11/31 days = 35.48
    # What the worker committed, read back from the shared database by this process.
    invoices = {
        invoice.subscription.external_id: invoice
        for invoice in Invoice.objects.filter(period=OCTOBER).select_related("subscription")
    }
    assert set(invoices) == {"sub_a1_api", "sub_b1_flat"}
    assert all(invoice.status == InvoiceStatus.FINALIZED and invoice.number for invoice in invoices.values())
    assert invoices["sub_a1_api"].total == Decimal("12.34")
    assert invoices["sub_b1_flat"].total == Decimal("35.48")
    assert ClosedBillingPeriod.objects.filter(period=OCTOBER).exists()
    # The worker's audit entries name the task they came from.
    closed = AuditEntry.objects.get(object_type="core.ClosedBillingPeriod")
    assert (closed.origin, closed.actor) == ("task period_close_task", None)

    # Sent as beat sends it (the schedule entry's options): the worker reads the header and says "schedule".
    _committed_from_november(world)
    scheduled = alerts_evaluate_task.apply_async(**settings.CELERY_BEAT_SCHEDULE["alerts-evaluate"]["options"])
    _wait_for(scheduled, worker)
    made = AuditEntry.objects.filter(object_type="usage.AlertRule", action="create")
    assert sorted(made.values_list("origin", flat=True)) == ["schedule alerts_evaluate_task"] * 2

    worker.stop()
    assert worker.returncode == 0, worker.log()  # a clean, warm shutdown
    assert f"Task prm.operations.tasks.period_close_task[{result.id}] succeeded" in worker.log()
    result.forget()
    scheduled.forget()


def test_the_worker_uses_the_test_database_url():
    database = {"NAME": "test_prm", "USER": "postgres", "PASSWORD": "p@ss/word", "HOST": "127.0.0.1", "PORT": 5432}
    url = _postgres_url(database)
    assert url == "postgres://postgres:p%40ss%2Fword@127.0.0.1:5432/test_prm"
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path, parts.password) == ("127.0.0.1", 5432, "/test_prm", "p%40ss%2Fword")
