"""Set-based SQL that runs unchanged on PostgreSQL and SQLite (3.35+: ON CONFLICT ... RETURNING)."""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Iterable, Iterator, Sequence, Sized
from datetime import UTC, datetime
from typing import Any, overload

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

# SQLite allows 32766 bound parameters per statement; stay well under it on both engines.
MAX_PARAMS = 30000


def db_time(value: datetime | None) -> Any:
    """A time as this connection's driver takes it in a raw statement's parameters (None stays None)."""
    return connection.ops.adapt_datetimefield_value(value) if value is not None else None


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """A time read back from a raw statement, made aware: SQLite's come back naive, in UTC."""
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def insert_ignore(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """INSERT rows, skipping those that collide on ``conflict``; return ``returning`` of the inserted ones."""
    if not rows:
        return []
    if copy_fast(rows):
        return insert_copy(table, columns, rows, conflict=conflict, returning=returning)
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    tail = f" ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(qn(c) for c in returning)
    out: list[tuple[Any, ...]] = []
    per = max(1, MAX_PARAMS // len(columns))
    with connection.cursor() as cur:
        for part in chunks(rows, per):
            sql = f"INSERT INTO {qn(table)} ({cols}) VALUES " + ", ".join([one] * len(part)) + tail  # noqa: S608
            cur.execute(sql, [v for row in part for v in row])
            if returning:
                out.extend(cur.fetchall())
    return out


def select_in(
    sql_prefix: str, values: Sequence[Any], *, suffix: str = "", extra: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Run ``<sql_prefix> IN (...) <suffix>`` over ``values`` in chunks and concatenate the rows."""
    out: list[tuple[Any, ...]] = []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # One array parameter: parsed once, instead of thousands of placeholders.
            cur.execute(f"{sql_prefix} = ANY(%s) {suffix}", [*extra, list(values)])
            return cur.fetchall()
        for part in chunks(list(values), MAX_PARAMS - len(extra)):
            marks = ", ".join(["%s"] * len(part))
            cur.execute(f"{sql_prefix} IN ({marks}) {suffix}", [*extra, *part])
            out.extend(cur.fetchall())
    return out


# -- PostgreSQL fast path: COPY into a temporary staging table, then one set-based statement ------------------
# A multi-row ``VALUES`` with thousands of placeholders costs twice: psycopg splits and binds the giant statement
# on the client (``_split_query``; long statements are not cached) and PostgreSQL parses megabytes of literals.
# COPY streams the rows instead and the statement that follows is short and the same every time.


# Staging tables known to exist, per database session (the psycopg connection): created once, kept by the
# session. A table created in a transaction exists for sure only once that transaction commits.
_staged: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _stage(cur: Any, table: str, columns: Sequence[str]) -> str:
    """A temporary table with ``columns`` of ``table`` (their exact types), emptied at commit; its name."""
    qn = connection.ops.quote_name
    name = f"_stage_{table}_{_crc(','.join(columns))}"
    known = _staged.setdefault(connection.connection, set())
    if name not in known:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {qn(name)} ON COMMIT DELETE ROWS AS "  # noqa: S608 - fixed names
                    f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(table)} WITH NO DATA")
        if connection.in_atomic_block:
            transaction.on_commit(lambda: known.add(name))
        else:
            known.add(name)
    return name


def stage_rows(name: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]) -> str:
    """PostgreSQL: COPY ``rows`` into a temporary table ``name`` of ``columns`` ((name, SQL type) pairs; created once
    per database session, emptied at commit) and return its quoted name, for a statement that takes them with
    ``WITH s AS (DELETE FROM <name> RETURNING *)``: rows that are no table's own."""
    qn = connection.ops.quote_name
    stage = f"_stage_{name}_{_crc(','.join(f'{c} {t}' for c, t in columns))}"
    with connection.cursor() as cur:
        known = _staged.setdefault(connection.connection, set())
        if stage not in known:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {qn(stage)} "  # noqa: S608 - fixed names and types
                        f"({', '.join(f'{qn(c)} {t}' for c, t in columns)}) ON COMMIT DELETE ROWS")
            if connection.in_atomic_block:
                transaction.on_commit(lambda: known.add(stage))
            else:
                known.add(stage)
        _copy(cur, stage, [c for c, _ in columns], rows)
    return qn(stage)


def _crc(text: str) -> str:
    return format(zlib.crc32(text.encode()), "08x")


def _copy(cur: Any, stage: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    qn = connection.ops.quote_name
    with cur.cursor.copy(f"COPY {qn(stage)} ({', '.join(qn(c) for c in columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def copy_fast(rows: Sized) -> bool:
    """Whether the COPY path pays for ``rows`` on this connection."""
    # Below the threshold (``PORTAL_SQL_COPY_MIN_ROWS``) one VALUES statement is as cheap as the extra round trips.
    return connection.vendor == "postgresql" and len(rows) >= settings.PORTAL_SQL_COPY_MIN_ROWS


def insert_copy(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] | None,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """PostgreSQL: COPY ``rows`` into a staging table, then one ``INSERT ... SELECT ... ORDER BY <conflict> ON
    CONFLICT DO NOTHING`` (no conflict clause when ``conflict`` is None: a collision raises). The rows are taken in
    the order of the conflict columns, so two transactions inserting overlapping keys lock them in one order."""
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cur:
        stage = _stage(cur, table, columns)
        _copy(cur, stage, columns, rows)
        order = f" ORDER BY {', '.join(qn(c) for c in conflict)}" if conflict else ""
        tail = f" ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO NOTHING" if conflict else ""
        if returning:
            tail += " RETURNING " + ", ".join(qn(c) for c in returning)
        # The DELETE empties the stage in the same statement, for the next use in this transaction.
        cur.execute(f"WITH s AS (DELETE FROM {qn(stage)} RETURNING *) "  # noqa: S608 - fixed names
                    f"INSERT INTO {qn(table)} ({cols}) SELECT {cols} FROM s{order}{tail}")
        return cur.fetchall() if returning else []


def update_rows(table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """``UPDATE table SET columns = ... WHERE key = ...`` for each row (``columns`` values, then the key).

    PostgreSQL with many rows: COPY into a staging table and one ``UPDATE ... FROM`` in key order; otherwise
    ``executemany``. Returns the rows given."""
    if not rows:
        return 0
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        if not copy_fast(rows):
            sets = ", ".join(f"{qn(c)} = %s" for c in columns)
            cur.executemany(f"UPDATE {qn(table)} SET {sets} WHERE {qn(key)} = %s", rows)  # noqa: S608
            return len(rows)
        stage = _stage(cur, table, (*columns, key))
        _copy(cur, stage, (*columns, key), rows)
        sets = ", ".join(f"{qn(c)} = s.{qn(c)}" for c in columns)
        cur.execute(f"WITH s AS (DELETE FROM {qn(stage)} RETURNING *) "  # noqa: S608 - fixed names
                    f"UPDATE {qn(table)} t SET {sets} FROM s WHERE t.{qn(key)} = s.{qn(key)}")
    return len(rows)


_PG_TYPES = ((bool, "boolean"), (int, "bigint"), (float, "float8"), (str, "text"), (datetime, "timestamptz"))


def rows_relation(rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """``rows`` as a relation for ``WITH v(...) AS (<relation>)``, with its parameters. PostgreSQL: ``unnest`` of one
    array per column (typed from the values: int, float, bool, str, datetime), a short statement whatever the
    count; elsewhere ``VALUES`` with a placeholder per value. Times are adapted for the connection."""
    width = len(rows[0])
    adapt = connection.ops.adapt_datetimefield_value
    cols = [[adapt(v) if isinstance(v, datetime) else v for v in (r[i] for r in rows)] for i in range(width)]
    if connection.vendor != "postgresql":
        one = "(" + ", ".join(["%s"] * width) + ")"
        return "VALUES " + ", ".join([one] * len(rows)), [col[j] for j in range(len(rows)) for col in cols]
    types = []
    for i in range(width):
        sample = next((v for v in (r[i] for r in rows) if v is not None), "")
        types.append(next(t for cls, t in _PG_TYPES if isinstance(sample, cls)))
    return "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")", cols  # noqa: S608 - fixed types
