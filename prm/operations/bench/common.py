"""What every bench section shares: result lines, percentiles, an HTTP client, a server to measure.

A section measures something and its baseline in the same run and returns `Line`s; the command
prints each as one JSON object on stdout. Progress goes to stderr, so stdout stays parseable.
"""

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 120.0


class BenchError(Exception):
    """The bench cannot produce honest figures (a failed request, a server that will not start)."""


# --- result lines ---------------------------------------------------------------------------


def rounded(value: float) -> float | int:
    """About three significant digits, never fewer than whole units: 21534.7 → 21535, 4.567 → 4.57,
    0.00012345 → 0.000123 (a slow path against a fast baseline is a small ratio, never a printed 0)."""
    if value >= 100:
        return round(value)
    if value >= 10:
        return round(value, 1)
    if value >= 1:
        return round(value, 2)
    return float(f"{value:.3g}")


def ratio_of(value: float, baseline: float) -> float:
    """value / baseline, from the printed (rounded) figures so a reader can check it."""
    if baseline == 0:
        raise BenchError("A baseline of 0 cannot be compared with.")
    return rounded(value / baseline)


@dataclass(frozen=True)
class Line:
    bench: str
    value: float
    unit: str
    baseline: float
    database: str

    def as_dict(self) -> dict:
        value, baseline = rounded(self.value), rounded(self.baseline)
        return {
            "bench": self.bench,
            "value": value,
            "unit": self.unit,
            "baseline": baseline,
            "ratio": ratio_of(value, baseline),
            "database": self.database,
        }

    def as_json(self) -> str:
        return json.dumps(self.as_dict())


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0–100), linear between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def database_vendor() -> str:
    return connection.vendor  # "sqlite" or "postgresql"


# --- what a section gets --------------------------------------------------------------------


@dataclass
class Context:
    """The command's options, where to report progress, and the server, started on first use."""

    events: int = 20_000
    single: int = 300
    # rating: the generated dataset whose last full month is closed
    partners: int = 100
    customers: int = 1_000
    dataset_events: int = 400_000
    url: str | None = None
    workers: int = 2
    clients: int = 1
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))
    _server: "Server | None" = None

    def base_url(self) -> str:
        """The server to measure: `--url`, or a gunicorn started now and stopped by `close()`."""
        if self.url:
            return self.url.rstrip("/")
        if self._server is None:
            self._server = Server(workers=self.workers, log=self.log)
            self._server.start()
        return self._server.url

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


class Client:
    """One persistent HTTP/1.1 connection (reopened when the server closes it, as gunicorn's
    sync workers do after every response); each request is timed from send to last byte."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None):
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise BenchError(f"{base_url!r} is not an http:// or https:// URL.")
        factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._connection = factory(parts.hostname, parts.port, timeout=HTTP_TIMEOUT)
        self._prefix = parts.path.rstrip("/")
        self._headers = headers or {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        all_headers = {**self._headers, **(headers or {})}
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self._connection.request(method, self._prefix + path, body=body, headers=all_headers)
                answer = self._connection.getresponse()
                data = answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had already closed: the request never
                # reached it, so it is sent once more on a new connection. (Had it reached the
                # server, the resend would come back as duplicates and the section would stop.)
                self._connection.close()
                if attempt == 2:
                    raise
                continue
            except OSError as error:
                self._connection.close()
                raise BenchError(f"{method} {path} failed: {error}") from error
            return Response(answer.status, data, time.perf_counter() - started)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._connection.close()


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment() -> dict[str, str]:
    """The command's environment (so the same DATABASE_URL), set up like production: DEBUG off,
    on loopback only, plain HTTP (no TLS proxy in front)."""
    env = dict(os.environ)
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = str(database["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise BenchError("An in-memory SQLite database cannot be shared with a server: use --url.")
        env["SQLITE_PATH"] = name  # the very file this command prepared
    env.update(
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        # The bench key belongs to a channel manager without TOTP; the loopback server serves
        # the bench only, so the managers' MFA requirement is switched off for it.
        MFA_REQUIRED_FOR_MANAGERS="0",
        LOG_LEVEL=env.get("LOG_LEVEL", "WARNING"),
    )
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


class Server:
    """`gunicorn prm.wsgi:application` on a free loopback port, for the length of a bench run."""

    def __init__(self, *, workers: int, log: Callable[[str], None]):
        self.workers = workers
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None
        self._output = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "prm.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--timeout", str(int(HTTP_TIMEOUT)), "--log-level", "warning",
        ]  # fmt: skip
        self.log(f"bench: starting gunicorn ({self.workers} workers) on {self.url}")
        self._output = tempfile.TemporaryFile()  # noqa: SIM115  kept open until stop()
        self._process = subprocess.Popen(  # noqa: S603  our own interpreter and arguments
            command,
            cwd=Path(settings.BASE_DIR),
            env=server_environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the command, which stops the server itself
        )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        client = Client(self.url)
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise BenchError(f"gunicorn exited with status {self._process.returncode}:\n{self.output()}")
                try:
                    if client.request("GET", "/healthz").status == 200:
                        return
                except (BenchError, OSError, http.client.HTTPException):
                    pass
                time.sleep(0.2)
        finally:
            client.close()
        raise BenchError(f"gunicorn did not answer /healthz within {SERVER_START_TIMEOUT:.0f} s:\n{self.output()}")

    def output(self, limit: int = 4000) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown, workers included
            try:
                process.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            self.log("bench: gunicorn stopped")
        if self._output is not None:
            self._output.close()
            self._output = None
