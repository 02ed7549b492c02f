"""Database-level guards for the audit tables.

PostgreSQL: triggers (migrations 0002 and 0004) refuse UPDATE, DELETE and TRUNCATE. Only a superuser can switch
``session_replication_role`` to ``replica``, which disables ordinary triggers; ``maintenance()`` does that
for restores and for the test suite's table flushes, and nothing else in the portal uses it.

SQLite: triggers call ``audit_guard()``, a function the portal registers on each connection. It answers 1
(refuse) unless ``maintenance()`` is active in this process. A connection without the function (the sqlite3
shell) fails the trigger too, so it cannot modify the tables either.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.signals import connection_created

_maintenance = threading.local()


def _guard() -> int:
    return 0 if getattr(_maintenance, "active", False) else 1


def _on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("audit_guard", 0, _guard)


def install_sqlite_guard() -> None:
    connection_created.connect(_on_connect, dispatch_uid="audit_sqlite_guard")


@contextmanager
def maintenance(connection: Any) -> Iterator[None]:
    """Let this connection delete audit rows (superuser-only on PostgreSQL). For restores and test flushes."""
    _maintenance.active = True
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET session_replication_role = replica")
        yield
    finally:
        _maintenance.active = False
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET session_replication_role = DEFAULT")

