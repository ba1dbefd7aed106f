"""`manage.py bench`: the helpers its figures rest on, and the ingest section end to end against a
live server (small numbers; no assertion on speed, only that the figures are real and consistent)."""

import json
import os
import subprocess
import sys
from io import StringIO
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from prm.accounts.models import ApiKey
from prm.operations.bench import SECTIONS, api_lists, common, dashboards, ingest
from prm.operations.bench.common import BenchError, Line, percentile, rounded
from prm.usage.models import UsageEvent

LINE_KEYS = {"bench", "value", "unit", "baseline", "ratio", "database"}
INGEST_BENCHES = {
    "ingest_batch",
    "ingest_batch_latency_p50",
    "ingest_batch_latency_p95",
    "ingest_single_latency_p50",
    "ingest_single_latency_p95",
    "ingest_single",
}


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([7.5], 95) == 7.5


def test_percentile_refuses_nonsense():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(21534.7, 21535), (123.4, 123), (45.67, 45.7), (4.567, 4.57), (0.12345, 0.123), (0.00012345, 0.000123), (0, 0)],
)
def test_rounded_keeps_about_three_significant_digits(raw, shown):
    assert rounded(raw) == shown


def test_a_line_is_one_json_object_with_its_baseline_and_a_checkable_ratio():
    line = Line("ingest_batch", 21534.7, "events/s", 160123.2, "postgresql")

    printed = json.loads(line.as_json())

    assert "\n" not in line.as_json()
    assert printed == {
        "bench": "ingest_batch",
        "value": 21535,
        "unit": "events/s",
        "baseline": 160123,
        "ratio": round(21535 / 160123, 3),
        "database": "postgresql",
    }


def test_a_zero_baseline_is_an_error_not_a_division():
    with pytest.raises(BenchError):
        Line("x", 1, "ms", 0, "sqlite").as_dict()


def test_the_server_runs_on_the_commands_sqlite_file_in_production_mode(monkeypatch):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/prm/db.sqlite3"}
    monkeypatch.setattr(common, "settings", SimpleNamespace(DATABASES={"default": database}))
    monkeypatch.delenv("SECRET_KEY", raising=False)

    env = common.server_environment()

    assert env["SQLITE_PATH"] == "/srv/prm/db.sqlite3"
    assert env["DEBUG"] == "0"
    assert env["ALLOWED_HOSTS"] == "127.0.0.1"
    assert env["SECURE_SSL_REDIRECT"] == "0"
    assert len(env["SECRET_KEY"]) >= 50


def test_an_in_memory_database_cannot_be_shared_with_a_server(monkeypatch):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": "file:memorydb_default?mode=memory&cache=shared"}
    monkeypatch.setattr(common, "settings", SimpleNamespace(DATABASES={"default": database}))

    with pytest.raises(BenchError, match="--url"):
        common.server_environment()


def test_an_unknown_section_is_refused_with_the_known_ones():
    with pytest.raises(CommandError, match="ingest"):
        call_command("bench", "nonsense", stdout=StringIO(), stderr=StringIO())


def test_ingest_is_a_registered_section():
    assert SECTIONS["ingest"] is ingest.run


def test_ingest_end_to_end_against_a_live_server(transactional_db, live_server):
    out, err = StringIO(), StringIO()

    call_command(
        # One client: the test database is SQLite in memory, where concurrent writers lock tables
        # at once instead of waiting (the bench itself runs two against a file or PostgreSQL).
        "bench",
        "ingest",
        "--events",
        "2000",
        "--single",
        "20",
        "--clients",
        "1",
        "--url",
        live_server.url,
        stdout=out,
        stderr=err,
    )

    lines = [json.loads(text) for text in out.getvalue().splitlines()]
    assert {line["bench"] for line in lines} == INGEST_BENCHES
    assert len(lines) == len(INGEST_BENCHES)
    for line in lines:
        assert set(line) == LINE_KEYS
        assert line["value"] > 0
        assert line["baseline"] > 0
        assert line["ratio"] == rounded(line["value"] / line["baseline"])
        assert line["database"] == connection.vendor
    units = {line["bench"]: line["unit"] for line in lines}
    assert units["ingest_batch"] == units["ingest_single"] == "events/s"
    assert units["ingest_single_latency_p95"] == "ms"
    # Every event landed, in the bench customer, once; the run's key no longer works.
    stored = UsageEvent.objects.filter(customer__external_id=ingest.CUSTOMER_EXTERNAL_ID)
    assert stored.count() == 2000 + 20 + 2 * ingest.WARMUP_REQUESTS
    assert stored.filter(metric__code=ingest.METRIC_CODE).count() == stored.count()
    assert not ApiKey.objects.filter(user__email=ingest.USER_EMAIL, revoked_at__isnull=True).exists()
    assert not [name for name in connection.introspection.table_names() if name.startswith("bench_scratch_")]
    assert "events of run" in err.getvalue()


def test_without_section_names_the_command_runs_every_section_in_order(tmp_path):
    """`manage.py bench` alone, as an operator runs it: every section, in SECTIONS order, each line
    printed (in a subprocess on a SQLite file of its own, with tiny sizes)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "SQLITE_PATH": str(tmp_path / "bench.sqlite3")}
    env.pop("DATABASE_URL", None)  # ingest writes to the configured database: never a shared one
    manage = [sys.executable, "manage.py"]
    tiny = ["--events", "200", "--single", "5", "--clients", "1", "--workers", "1"]
    tiny += ["--partners", "2", "--customers", "6", "--dataset-events", "600"]

    def run(*arguments):
        done = subprocess.run(  # noqa: S603  our own interpreter and command
            [*manage, *arguments], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    run("migrate", "--verbosity", "0")
    done = run("bench", *tiny)

    lines = [json.loads(text) for text in done.stdout.splitlines()]
    section_of = dict.fromkeys(INGEST_BENCHES, "ingest")
    section_of |= dict.fromkeys(["rating_customers", "rating_invoice_lines", "close_peak_memory"], "rating")
    section_of |= {f"dashboard_{name}_p{p}": "dashboards" for name in dashboards.DASHBOARDS for p in (50, 95)}
    section_of |= {
        f"api_list_{route}_{role}_p{p}": "api_lists"
        for route in api_lists.ROUTES
        for role in ("manager", "partner")
        for p in (50, 95)
    }
    assert sorted(line["bench"] for line in lines) == sorted(section_of)
    sections = [section_of[line["bench"]] for line in lines]
    assert sorted(set(sections), key=sections.index) == list(SECTIONS)
    assert sections == sorted(sections, key=list(SECTIONS).index)  # each section's lines together, in order
    for line in lines:
        assert set(line) == LINE_KEYS and line["value"] > 0 and line["baseline"] > 0
        assert line["database"] == "sqlite"
