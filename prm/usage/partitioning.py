"""The usage events table partitioned by month on PostgreSQL (`manage.py partition_events`).

Past some hundreds of millions of events a monthly-partitioned events table keeps each month's
indexes small, and an old month can be detached and archived as one table. The conversion runs
once, in one transaction (ingestion stopped); the same command run again, monthly, creates the
partitions of the months ahead. SQLite has no partitioning: there the table stays one table.

What partitioning changes, and how the code keeps its promises:
- A unique key on a partitioned table must include the partition key (`timestamp`), so the
  events' own key becomes (source, event_id, timestamp) and would accept one (source, id) at
  two times. "(source, id) once, forever" stays exact through `UsageEventKey`, a small
  unpartitioned table: on a partitioned table ingestion inserts the keys there first
  (`ON CONFLICT DO NOTHING RETURNING`) and stores only the events whose key was new. An
  unpartitioned table does not pay that insert: `events_partitioned()` tells ingestion which
  table it writes to, asked once per database connection.
- The primary key becomes (id, timestamp), so nothing can reference an event by id alone:
  the foreign keys to events (amendments, quarantine, an event's `replaces`) keep their
  columns and lose their database constraints; the services that write them check what they
  point at. An event is replaced once: `usage_amendment_replaced_once` on the amendments, and
  the replacement's own key ("prm:amendment", "replaces:<id>") in the key table.

The model state (Django's migrations) still describes the unpartitioned table, and migrations
run against the real one, so a future migration of `usage_usageevent` on a partitioned database:
- adding, altering or dropping a column works (PostgreSQL applies it to every partition);
- adding an index works (created on every partition) but not `AddIndexConcurrently`, and a unique
  index or constraint must include `timestamp`;
- a new foreign key *to* UsageEvent needs `db_constraint=False`, and altering the four existing
  ones must not recreate their constraints (`SeparateDatabaseAndState`);
- the names are the unpartitioned table's (`usage_usageevent_pkey`, `usage_event_dedup_key`,
  `usage_event_replaced_once` …), so removing one by name still works.
"""

import weakref
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.signals import connection_created
from django.utils import timezone

from prm.core.periods import BillingPeriod
from prm.usage.models import UsageEvent, UsageEventKey

EVENTS_TABLE = UsageEvent._meta.db_table
KEYS_TABLE = UsageEventKey._meta.db_table
PARTITION_KEY = "timestamp"
_KEY = f'"{PARTITION_KEY}"'  # quoted: TIMESTAMP is also a keyword
DEFAULT_PARTITION = f"{EVENTS_TABLE}_default"
DEFAULT_AHEAD = 2


class PartitioningError(Exception):
    """The events table cannot be partitioned (wrong database, or a schema it does not know)."""


# --- is the events table partitioned? -------------------------------------------------------

# The answer per database connection (Django's wrapper, one per thread and alias), forgotten
# when it reconnects: a table converted while a process runs is seen by its next connection.
_IS_PARTITIONED = "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))"
_answers: "weakref.WeakKeyDictionary[object, bool]" = weakref.WeakKeyDictionary()


def events_partitioned(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the events table is partitioned on this connection's database (never on SQLite)."""
    wrapper = connections[using]
    if wrapper.vendor != "postgresql":
        return False
    wrapper.ensure_connection()  # a reconnection forgets the answer before it is read
    answer = _answers.get(wrapper)
    if answer is None:
        with wrapper.cursor() as cursor:
            cursor.execute(_IS_PARTITIONED, [EVENTS_TABLE])
            answer = _answers[wrapper] = cursor.fetchone()[0]
    return answer


def partitioned_answer_reset() -> None:
    """Forget every connection's answer (after a conversion, or a test that rolled one back)."""
    _answers.clear()


def _forget_on_connect(sender, connection, **kwargs):
    _answers.pop(connection, None)


connection_created.connect(_forget_on_connect, dispatch_uid="prm.usage.partitioning")


# --- the deduplication keys of a partitioned table ------------------------------------------

_CLAIM_KEYS = (
    f"INSERT INTO {KEYS_TABLE} (source, event_id) SELECT * FROM unnest(%s::text[], %s::text[]) "  # noqa: S608
    "ON CONFLICT DO NOTHING RETURNING source, event_id"
)


def event_keys_claim(keys: list[tuple[str, str]], cursor=None) -> set[tuple[str, str]]:
    """Record the keys (source, event_id) in the key table; returns those that were new. A key
    another transaction is recording waits for it, then counts as new only if it rolled back.
    Pass the keys in a stable order so that two concurrent batches cannot deadlock."""
    if cursor is None:
        with connection.cursor() as own:
            return event_keys_claim(keys, own)
    cursor.execute(_CLAIM_KEYS, [[source for source, _ in keys], [event_id for _, event_id in keys]])
    return {(source, event_id) for source, event_id in cursor.fetchall()}


# --- the conversion and the monthly partitions ----------------------------------------------


@dataclass
class Statement:
    sql: str
    counts: str = ""  # what its row count means, for the report ("events copied")


@dataclass
class PartitionPlan:
    """What `partition_events` does (or would do): the SQL in order, and in words."""

    converts: bool
    months: list[BillingPeriod] = field(default_factory=list)  # partitions it creates
    statements: list[Statement] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # filled when it runs

    def sql(self) -> str:
        return "".join(f"{statement.sql};\n" for statement in self.statements)

    def summary(self) -> str:
        months = ", ".join(str(month) for month in self.months)
        if self.converts:
            lines = [
                f"Converted {EVENTS_TABLE} to a table partitioned by month: "
                f"{len(self.months)} monthly partitions ({months}) and {DEFAULT_PARTITION}."
            ]
        elif self.months:
            lines = [f"{EVENTS_TABLE} is partitioned already; created the partitions of {months}."]
        else:
            lines = [f"{EVENTS_TABLE} is partitioned already and has the partitions it needs; nothing to do."]
        lines += [f"{count:,} {what}." for what, count in self.counts.items()]
        return "\n".join(lines)


def partition_name(month: BillingPeriod) -> str:
    return f"{EVENTS_TABLE}_{month.year:04d}_{month.month:02d}"


def _bounds(month: BillingPeriod) -> str:
    return f"FOR VALUES FROM ('{month.start:%Y-%m-%d} 00:00:00+00') TO ('{month.end:%Y-%m-%d} 00:00:00+00')"


def months_ahead(now: datetime, ahead: int) -> list[BillingPeriod]:
    """The current month (UTC) and the `ahead` months after it."""
    months = [BillingPeriod.containing(now)]
    for _ in range(ahead):
        months.append(months[-1].next())
    return months


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise PartitioningError(
            f"Partitioning needs PostgreSQL; this database is {connection.vendor}, which has no table partitions "
            "(the events table stays one table there)."
        )


def partition_plan(*, ahead: int = DEFAULT_AHEAD, now: datetime | None = None) -> PartitionPlan:
    """The SQL that partitions the events table, or on a partitioned one creates the missing
    months ahead. Reads the catalogue and the events; changes nothing."""
    _require_postgresql()
    if ahead < 0:
        raise PartitioningError(f"ahead: the number of months ahead cannot be negative ({ahead}).")
    upcoming = months_ahead(now or timezone.now(), ahead)
    with connection.cursor() as cursor:
        cursor.execute(_IS_PARTITIONED, [EVENTS_TABLE])
        if cursor.fetchone()[0]:
            return _months_plan(cursor, upcoming)
        return _conversion_plan(cursor, upcoming)


def partition_events(*, ahead: int = DEFAULT_AHEAD, now: datetime | None = None) -> PartitionPlan:
    """Run `partition_plan` in one transaction, the events table locked while it is planned and run."""
    _require_postgresql()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # Locked before planning, so the months and keys planned are those copied.
            cursor.execute(_lock())
            plan = partition_plan(ahead=ahead, now=now)
            for statement in plan.statements:
                cursor.execute(statement.sql)
                if statement.counts:
                    plan.counts[statement.counts] = plan.counts.get(statement.counts, 0) + cursor.rowcount
    finally:
        partitioned_answer_reset()
    return plan


def _lock() -> str:
    return f"LOCK TABLE {EVENTS_TABLE} IN ACCESS EXCLUSIVE MODE"


# PostgreSQL cannot alter a table whose deferred foreign keys still wait to be checked: rows
# written earlier in the same transaction (never the case from the command) are checked now.
_CHECK_NOW = Statement("SET CONSTRAINTS ALL IMMEDIATE")


def _columns(cursor, table: str) -> str:
    cursor.execute(
        "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return ", ".join(name for (name,) in cursor.fetchall())


def _create_partition(month: BillingPeriod) -> Statement:
    return Statement(f"CREATE TABLE {partition_name(month)} PARTITION OF {EVENTS_TABLE} {_bounds(month)}")


def _conversion_plan(cursor, upcoming: list[BillingPeriod]) -> PartitionPlan:
    table, old = EVENTS_TABLE, f"{EVENTS_TABLE}_old"
    cursor.execute(
        f"SELECT DISTINCT to_char({_KEY} AT TIME ZONE 'UTC', 'YYYY-MM') FROM {table}"  # noqa: S608
    )
    months = sorted({BillingPeriod.parse(text) for (text,) in cursor.fetchall()} | set(upcoming))
    columns = _columns(cursor, table)
    plan = PartitionPlan(converts=True, months=months)
    add = plan.statements.append
    add(_CHECK_NOW)
    add(Statement(_lock()))
    # Foreign keys that point at one event by id alone: a partitioned table's key is (id, timestamp).
    cursor.execute(
        "SELECT conrelid::regclass::text, quote_ident(conname) FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = to_regclass(%s) ORDER BY 1, 2",
        [table],
    )
    for referencing, name in cursor.fetchall():
        add(Statement(f"ALTER TABLE {referencing} DROP CONSTRAINT {name}"))
    # Read now, recreated by name once the old table is gone: foreign keys to other tables, indexes.
    cursor.execute(
        "SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid = to_regclass(%s) AND confrelid <> conrelid ORDER BY 1",
        [table],
    )
    foreign_keys = cursor.fetchall()
    indexes = _index_statements(cursor, table)
    # The old table steps aside (its identity, and so its sequence's name, dropped); the new one
    # has the same columns and is partitioned by the event's time.
    add(Statement(f"ALTER TABLE {table} RENAME TO {old}"))
    add(Statement(f"ALTER TABLE {old} ALTER COLUMN id DROP IDENTITY"))
    add(
        Statement(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) "
            f"PARTITION BY RANGE ({_KEY})"
        )
    )
    add(Statement(f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"))
    plan.statements += [_create_partition(month) for month in months]
    add(Statement(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {table} DEFAULT"))
    # The rows, then their keys, then the id sequence past them.
    add(
        Statement(
            f"INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE SELECT {columns} FROM {old}",  # noqa: S608
            counts="events copied",
        )
    )
    add(
        Statement(
            f"INSERT INTO {KEYS_TABLE} (source, event_id) SELECT source, event_id FROM {old} "  # noqa: S608
            "ON CONFLICT DO NOTHING",
            counts="keys recorded in " + KEYS_TABLE,
        )
    )
    add(
        Statement(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )
    )
    add(Statement(f"DROP TABLE {old}"))
    # Built once on the loaded rows, under their old names.
    plan.statements += indexes
    plan.statements += [
        Statement(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}") for name, definition in foreign_keys
    ]
    add(Statement(f"ANALYZE {table}"))  # autovacuum never analyzes a partitioned parent
    return plan


def _index_statements(cursor, table: str) -> list[Statement]:
    """The table's indexes, recreated on the partitioned table: a unique one (primary key,
    unique constraint or unique index) with the partition key added, as PostgreSQL requires;
    the others as they are."""
    cursor.execute(
        """
        SELECT quote_ident(i.relname), x.indisunique, x.indisprimary, c.conname IS NOT NULL,
               pg_get_indexdef(x.indexrelid), pg_get_expr(x.indpred, x.indrelid),
               0 = ANY (x.indkey::int2[]) OR x.indexprs IS NOT NULL OR x.indnatts <> x.indnkeyatts,
               ARRAY(SELECT a.attname
                     FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u')
        WHERE x.indrelid = to_regclass(%s)
        ORDER BY x.indisprimary DESC, i.relname
        """,
        [table],
    )
    statements = []
    for name, unique, primary, constraint, definition, predicate, unusual, columns in cursor.fetchall():
        if not unique:
            statements.append(Statement(definition))
            continue
        if unusual:
            raise PartitioningError(
                f"The unique index {name} has expressions or included columns; add {PARTITION_KEY} to it by hand "
                "(a unique index of a partitioned table must contain the partition key)."
            )
        keys = ", ".join(connection.ops.quote_name(column) for column in _with_partition_key(columns))
        if constraint:
            kind = "PRIMARY KEY" if primary else "UNIQUE"
            statements.append(Statement(f"ALTER TABLE {table} ADD CONSTRAINT {name} {kind} ({keys})"))
        else:
            where = f" WHERE {predicate}" if predicate else ""
            statements.append(Statement(f"CREATE UNIQUE INDEX {name} ON {table} ({keys}){where}"))
    return statements


def _with_partition_key(columns: list[str]) -> list[str]:
    return columns if PARTITION_KEY in columns else [*columns, PARTITION_KEY]


def _months_plan(cursor, upcoming: list[BillingPeriod]) -> PartitionPlan:
    """On a partitioned table: the partitions of the months ahead that are missing. Events of
    such a month already in the default partition (the monthly run was missed) move into it."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
        [EVENTS_TABLE],
    )
    partitions = cursor.fetchall()
    existing = {name for name, _bound in partitions}
    default = next((name for name, bound in partitions if bound == "DEFAULT"), None)
    plan = PartitionPlan(converts=False, months=[month for month in upcoming if partition_name(month) not in existing])
    if not plan.months:
        return plan
    plan.statements += [_CHECK_NOW, Statement(_lock())]
    for month in plan.months:
        in_month = f"{_KEY} >= '{month.start.isoformat()}' AND {_KEY} < '{month.end.isoformat()}'"
        waiting = False
        if default:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_month})")  # noqa: S608
            waiting = cursor.fetchone()[0]
        if not waiting:
            plan.statements.append(_create_partition(month))
            continue
        # A partition cannot be created while the default holds rows of its range: the default
        # steps out, the month's rows move through the parent into the new partition, it steps back.
        columns = _columns(cursor, EVENTS_TABLE)
        plan.statements += [
            Statement(f"ALTER TABLE {EVENTS_TABLE} DETACH PARTITION {default}"),
            _create_partition(month),
            Statement(
                f"INSERT INTO {EVENTS_TABLE} ({columns}) OVERRIDING SYSTEM VALUE "  # noqa: S608
                f"SELECT {columns} FROM {default} WHERE {in_month}",
                counts="events moved out of the default partition",
            ),
            Statement(f"DELETE FROM {default} WHERE {in_month}"),  # noqa: S608
            Statement(f"ALTER TABLE {EVENTS_TABLE} ATTACH PARTITION {default} DEFAULT"),
        ]
    return plan
