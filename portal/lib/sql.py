"""Set-based SQL that runs unchanged on PostgreSQL and SQLite (3.35+: ON CONFLICT ... RETURNING)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

# SQLite allows 32766 bound parameters per statement; stay well under it on both engines.
MAX_PARAMS = 30000


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
