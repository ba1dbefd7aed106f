"""Running a bench section the way `manage.py bench` does, in a subprocess, on a tiny dataset;
and checking that its scratch database is gone afterwards and the configured one untouched."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

RUN_SECTION = """
import json
import sys
import django

django.setup()
from prm.operations.bench import SECTIONS
from prm.operations.bench.common import Context

messages = []
context = Context(log=messages.append)
context.partners, context.customers, context.dataset_events = 2, 6, 600
lines = [line.as_dict() for line in SECTIONS[sys.argv[1]](context)]
print(json.dumps({"lines": lines, "log": messages}))
"""


def run_section(section: str, tmp_path: Path, *, timeout: int) -> dict:
    """{"lines": [...], "log": [...]} of `section` run in a fresh interpreter; the configured
    database (a file under tmp_path on SQLite) must never be opened by it."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    configured = tmp_path / "configured.sqlite3"
    if not env.get("DATABASE_URL"):
        env["SQLITE_PATH"] = str(configured)
    done = subprocess.run(  # noqa: S603  our own interpreter and script
        [sys.executable, "-c", RUN_SECTION, section],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (created,) = [message for message in result["log"] if message.endswith("(the configured database is left alone)")]
    result["scratch"] = name = created.split()[4]
    assert any(message.endswith(f"scratch database {name} dropped") for message in result["log"])
    if env.get("DATABASE_URL"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM pg_database WHERE datname = %s", [name])
            assert cursor.fetchone()[0] == 0
    else:
        assert Path(name).parent == tmp_path
        assert not Path(name).exists()
        assert not configured.exists(), "the configured database was never even opened"
    return result


def assert_timings(lines, names: list[str]) -> None:
    """Each figure is a measured time in ms, in the expected order, with its same-run baseline and ratio."""
    assert [line.bench for line in lines] == names
    for line in lines:
        printed = line.as_dict()
        assert printed["unit"] == "ms" and printed["database"] == connection.vendor
        assert printed["value"] > 0 and printed["baseline"] > 0 and printed["ratio"] > 0
