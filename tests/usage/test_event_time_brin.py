"""The usage events' time has a BRIN index on PostgreSQL (migration usage 0003), and nothing on SQLite."""

import pytest
from django.db import connection

from prm.usage.models import UsageEvent

INDEX = "usage_event_time_brin"


@pytest.mark.django_db
def test_postgresql_has_a_brin_index_on_the_event_time():
    if connection.vendor != "postgresql":
        pytest.skip("BRIN indexes exist on PostgreSQL only (the SQLite side is the next test).")
    table = UsageEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s", [table, INDEX])
        (definition,) = cursor.fetchone()
        assert "USING brin" in definition and '("timestamp")' in definition
        assert "autosummarize='on'" in definition


@pytest.mark.django_db
def test_sqlite_has_no_brin_and_the_migration_leaves_it_alone():
    if connection.vendor != "sqlite":
        pytest.skip("The SQLite side of the migration.")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [UsageEvent._meta.db_table]
        )
        names = {row[0] for row in cursor.fetchall()}
    assert INDEX not in names
    assert "usage_event_cust_metric_time" in names  # the model's own indexes are there
