"""backup and restore as an operator runs them: restore into a fresh database, then verify_audit passes on it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.services import token_issue
from portal.audit.models import AuditEntry
from portal.audit.services import checkpoint_create
from tests.conftest import need_service
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _history(alice: Any) -> int:
    ev = run_event(job="etl", inputs=[dataset("ns", "<b>raw</b>")], outputs=[dataset("ns", "clean\u202e")],
                   run_facets={"n": {"v": "nul\x00"}})
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    token_issue(user=alice)
    checkpoint_create(force=True)
    token_issue(user=alice)  # an entry after the checkpoint, too
    return AuditEntry.objects.count()


def _manage(settings: Any, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({"DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": database_url,
                "PORTAL_AUDIT_KEY": settings.PORTAL_AUDIT_KEY, "PORTAL_AUDIT_AUTOGENERATE_KEY": "0",
                "PORTAL_AUDIT_CHECKPOINT_DIR": settings.PORTAL_AUDIT_CHECKPOINT_DIR})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_postgresql_backup_restores_into_a_fresh_database_and_the_chain_verifies(alice, settings, tmp_path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backup; the SQLite variant is tested below")
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        need_service("pg_dump/pg_restore", "PostgreSQL client tools are not installed")
    import psycopg

    entries = _history(alice)
    out = StringIO()
    call_command("backup", "--out", str(tmp_path / "portal.dump"), stdout=out)
    assert "Backed up postgresql" in out.getvalue()

    db = connection.settings_dict
    fresh = f"{db['NAME']}_restore"
    admin = {k: v for k, v in (("host", db["HOST"]), ("port", db["PORT"]), ("user", db["USER"]),
                                ("password", db["PASSWORD"])) if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
        c.execute(f'CREATE DATABASE "{fresh}"')
    try:
        url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{fresh}"
        r = _manage(settings, url, "restore", str(tmp_path / "portal.dump"))
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"audit chain OK {entries} entries" in r.stdout
        r = _manage(settings, url, "verify_audit")
        assert r.returncode == 0 and r.stdout.startswith(f"OK {entries} entries"), r.stdout + r.stderr
        with psycopg.connect(dbname=fresh, **admin) as c:
            assert c.execute("SELECT name FROM lineage_node WHERE kind = 'dataset' ORDER BY name").fetchall() == [
                ("<b>raw</b>",), ("clean\u202e",)]
            body = c.execute("SELECT body FROM lineage_rawevent").fetchone()[0]
            assert b"nul\\u0000" in bytes(body)
            with pytest.raises(psycopg.Error, match="append-only"):  # the triggers came back with the data
                c.execute("UPDATE audit_auditentry SET actor_name = 'mallory' WHERE seq = 1")
        again = _manage(settings, url, "restore", str(tmp_path / "portal.dump"))
        assert again.returncode != 0 and "not empty" in again.stderr
        forced = _manage(settings, url, "restore", "--force", str(tmp_path / "portal.dump"))
        assert forced.returncode == 0, forced.stdout + forced.stderr
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **admin) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def test_sqlite_backup_restores_into_a_fresh_file_and_the_chain_verifies(alice, settings, tmp_path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite backup; the PostgreSQL variant is tested above")
    entries = _history(alice)
    call_command("backup", "--out", str(tmp_path / "portal.sqlite3.bak"), stdout=StringIO())
    target = tmp_path / "restored.sqlite3"
    url = f"sqlite:///{target}"
    r = _manage(settings, url, "restore", str(tmp_path / "portal.sqlite3.bak"))
    assert r.returncode == 0, r.stdout + r.stderr
    r = _manage(settings, url, "verify_audit")
    assert r.returncode == 0 and r.stdout.startswith(f"OK {entries} entries"), r.stdout + r.stderr
    conn = sqlite3.connect(str(target))
    try:
        names = conn.execute("SELECT name FROM lineage_node WHERE kind = 'dataset' ORDER BY name").fetchall()
        assert names == [("<b>raw</b>",), ("clean\u202e",)]
        with pytest.raises(sqlite3.OperationalError):  # the guard triggers came along (no audit_guard here)
            conn.execute("DELETE FROM audit_auditentry")
    finally:
        conn.close()
    again = _manage(settings, url, "restore", str(tmp_path / "portal.sqlite3.bak"))
    assert again.returncode != 0 and "not empty" in again.stderr


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path) -> None:
    bogus = tmp_path / "x.dump"
    bogus.write_bytes(b"not a backup")
    with pytest.raises(CommandError):
        call_command("restore", str(bogus), stdout=StringIO())
    with pytest.raises(CommandError, match="no backup file"):
        call_command("restore", str(tmp_path / "missing"), stdout=StringIO())
