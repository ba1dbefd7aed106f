"""The one database lock between usage ingestion and closing a billing period.

Ingestion reads which periods are closed and then stores events; a period close records the
period as closed and then finalizes invoices from the stored usage. Without a lock, an ingest
that read the list just before a close committed could store an event into the period after
its invoices were final: counted in usage, never billed. Ingestion holds this lock shared (so
ingests never wait for each other), a close takes it exclusively while it records the period,
so it waits for in-flight ingests and later ingests see the period closed.

SQLite runs one writer at a time already; there the lock is a no-op.
"""

from django.db import connection

# An arbitrary constant key for pg_advisory_xact_lock: "PRM billing periods".
_BILLING_PERIODS_LOCK = 0x50524D_0001


def billing_periods_lock(*, exclusive: bool) -> None:
    """Take the lock until the current transaction ends (call inside transaction.atomic)."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [_BILLING_PERIODS_LOCK])
