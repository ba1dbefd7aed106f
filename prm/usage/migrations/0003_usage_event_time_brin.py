"""A BRIN index on the usage events' time, on PostgreSQL only.

Events arrive roughly in time order, so the table's physical order follows `timestamp` and a
block-range index (a few kilobytes for millions of rows, next to nothing per insert) lets a
time-range scan — a month's rebuild of the rollups, a retention delete, a partitioning copy —
skip every block outside the range. `autosummarize` lets autovacuum summarize new block ranges
as they fill. SQLite has no BRIN (and Django's `BrinIndex` in `Meta.indexes` would fail there),
so this migration does nothing on other databases; the model's state is unchanged either way.
"""

from django.db import migrations

INDEX = "usage_event_time_brin"


def create_brin(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("usage", "UsageEvent")._meta.db_table)
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON {table} USING brin (timestamp) WITH (autosummarize = on)"
    )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0002_alerts"),
    ]

    operations = [
        migrations.RunPython(create_brin, drop_brin, elidable=False),
    ]
