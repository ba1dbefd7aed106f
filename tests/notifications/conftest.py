"""A real webhook receiver on loopback, and a database other threads can write to."""

import hashlib
import hmac
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        """Recomputed here, independently of prm's own helper: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>."""
        parts = dict(part.split("=", 1) for part in self.headers["PRM-Signature"].split(","))
        expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["v1"])


@dataclass
class Receiver:
    url: str
    status: int = 200
    answer: bytes = b'{"ok": true}'
    # While set, every request waits on `release` before answering (a hung receiver).
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    requests: list = field(default_factory=list)
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver():
    """An HTTP server on 127.0.0.1 (an ephemeral port) that records every POST and answers
    `receiver.status` (200 by default), or waits for `receiver.release` while `receiver.hold`."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
            if state.hold:
                state.release.wait(timeout=30)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(state.answer)
            with state.lock:
                state.answered += 1

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/prm"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings):
    """The receiver is on loopback, which production refuses (see test_private_hosts_are_refused)."""
    settings.PRM_WEBHOOK_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def shared_database(transactional_db):
    """A database the background delivery thread can read while the test writes (as in
    tests/usage/test_concurrency.py): pytest-django's SQLite test database lives in memory in
    shared-cache mode, where another connection fails with "table is locked" at once; for this test
    the default connection points at a file copy opened with the project's options. PostgreSQL needs nothing."""
    import tempfile
    from pathlib import Path

    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "webhooks.sqlite3"
        connection.ensure_connection()
        in_memory = connection.connection
        copy = sqlite3.connect(path)
        in_memory.backup(copy)
        copy.close()
        name = connection.settings_dict["NAME"]
        connection.settings_dict["NAME"] = str(path)
        connection.connection = None
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict["NAME"] = name
            connection.connection = in_memory
