"""The database itself refuses to rewrite the audit trail, whatever connection asks."""

from __future__ import annotations

import sqlite3
import threading

import psycopg
import pytest
from django.db import close_old_connections, connection, transaction

from portal.audit.models import AuditEntry
from portal.audit.services import audit_record, audit_verify

FORBIDDEN = [
    "UPDATE audit_auditentry SET action = 'forged'",
    "DELETE FROM audit_auditentry",
    "UPDATE audit_auditcheckpoint SET root = 'x'",
    "DELETE FROM audit_auditcheckpoint",
]


def _seed() -> None:
    from portal.audit.services import checkpoint_create

    with transaction.atomic():
        audit_record(actor=None, action="test.seed", target_kind="t", target_id="1")
    checkpoint_create()


@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_update_delete_and_truncate_from_a_raw_connection() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL triggers; the SQLite variant is tested below")
    _seed()
    s = connection.settings_dict
    dsn = f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} dbname={s['NAME']} user={s['USER']}"
    with psycopg.connect(dsn, autocommit=True) as raw:
        for sql in [*FORBIDDEN, "TRUNCATE audit_auditentry", "TRUNCATE audit_auditcheckpoint"]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                raw.execute(sql)
    assert AuditEntry.objects.filter(action="test.seed").count() == 1
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_sqlite_refuses_update_and_delete_from_a_raw_connection() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite triggers; the PostgreSQL variant is tested above")
    _seed()
    connection.ensure_connection()
    raw = connection.connection  # the driver's own connection, no Django in the way
    for sql in FORBIDDEN:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(sql)
    plain = sqlite3.connect(":memory:")  # a connection that lacks the portal's guard function fails closed
    plain.executescript("CREATE TABLE t (x); CREATE TRIGGER g BEFORE DELETE ON t WHEN audit_guard() = 1 "
                        "BEGIN SELECT RAISE(ABORT, 'no'); END; INSERT INTO t VALUES (1);")
    with pytest.raises(sqlite3.OperationalError):
        plain.execute("DELETE FROM t")
    assert AuditEntry.objects.filter(action="test.seed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the lock matters on PostgreSQL")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with transaction.atomic():
                    audit_record(actor=None, action="test.concurrent", target_kind="w", target_id=f"{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 151))
    assert audit_verify().ok
