"""A marker that moves whenever the lineage changes: for consumers that keep answers computed from it (the
release diff's cache) and must know, cheaply and exactly, that nothing changed since.

Database triggers (migration ``0011_lineage_change_marker``) move it on every statement that writes nodes, edges
or tags, whoever writes them (ingestion, tags set through the API, a rebuild, raw SQL). On PostgreSQL a trigger
takes the next value of a sequence (no row lock: concurrent ingestion does not queue behind it) and holds a
shared advisory lock until its transaction ends; a sequence value is visible before the transaction that took it
commits, so while any such transaction (this one included: it may roll back) is in flight there is no marker.
On SQLite (one writer at a time, readers see committed rows only) a trigger bumps a counter row and stamps it
with a random token, so a rolled-back bump never names a later state.
"""

from __future__ import annotations

from django.db import connection

# The two-key advisory lock writers hold (shared) while their lineage change is not committed.
LOCK_KEYS = (20261206, 1)


def lineage_change_marker() -> str | None:
    """The lineage's change marker now; None while a change may be uncommitted (keep nothing computed then).
    Read it before reading the lineage: an answer is then never older than the marker it is kept under."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # Advisory locks are per database; pg_locks shows every database's.
            cur.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = %s "
                        "AND objid = %s AND objsubid = 2)", list(LOCK_KEYS))
            if cur.fetchone()[0]:
                return None
            cur.execute("SELECT last_value, is_called FROM lineage_change_seq")
            value, called = cur.fetchone()
            return f"pg:{value if called else 0}"
        cur.execute("SELECT n, token FROM lineage_change WHERE id = 1")
        row = cur.fetchone()
        return f"sqlite:{row[0]}:{row[1]}" if row else None
