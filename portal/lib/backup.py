"""Back up the whole database to one file and restore it into an empty one.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore``. The dump holds the audit tables' append-only
triggers as well as their rows; pg_restore loads rows first and creates triggers afterwards, and loading is
INSERT-only, so the triggers never stand in its way. SQLite: the sqlite3 online backup API, page by page, so no
trigger fires at all.

Restoring refuses a database that already has tables, unless forced: a restore replaces everything, the audit
trail included, and must never be run by mistake against a live database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BackupError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BackupInfo:
    vendor: str
    database: str
    path: Path
    size: int


def _pg_args(db: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    args = []
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools are needed)")
    return path


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")


def _vendor(db: dict[str, Any]) -> str:
    engine = db["ENGINE"]
    if engine.endswith("postgresql"):
        return "postgresql"
    if engine.endswith("sqlite3"):
        return "sqlite"
    raise BackupError(f"backups are not supported for {engine}")


def backup_create(*, db: dict[str, Any], out: Path) -> BackupInfo:
    """Write a consistent snapshot of the database described by ``db`` (a DATABASES entry) to ``out``."""
    vendor = _vendor(db)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    if vendor == "postgresql":
        args, env = _pg_args(db)
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", *args,
              "--file", str(tmp), "--dbname", str(db["NAME"])], env)
    else:
        src = sqlite3.connect(str(db["NAME"]))
        try:
            _sqlite_copy(src, tmp)
        finally:
            src.close()
    tmp.replace(out)  # a backup file either is complete or does not exist
    return BackupInfo(vendor, str(db["NAME"]), out, out.stat().st_size)


def _sqlite_copy(src: sqlite3.Connection, path: Path) -> None:
    """Copy the open SQLite database ``src`` into the file at ``path`` (SQLite's online backup, one transaction)."""
    dst = sqlite3.connect(str(path))
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()


def _pg_has_tables(db: dict[str, Any]) -> bool:
    import psycopg

    conninfo = {k: v for k, v in (("host", db.get("HOST")), ("port", db.get("PORT")), ("user", db.get("USER")),
                                  ("password", db.get("PASSWORD")), ("dbname", db["NAME"])) if v}
    with psycopg.connect(**conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    return bool(row and row[0])


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    conn = sqlite3.connect(str(path))
    try:
        return bool(conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0])
    finally:
        conn.close()


def backup_restore(*, db: dict[str, Any], path: Path, force: bool = False) -> str:
    """Restore ``path`` into the database described by ``db``. Returns the database name.

    Refuses a database that already has tables unless ``force``, which replaces them (``pg_restore --clean``;
    for SQLite, the whole file). The caller should close its own connections to that database first.
    """
    vendor = _vendor(db)
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    if vendor == "postgresql":
        args, env = _pg_args(db)
        _run([_tool("pg_restore"), "--list", str(path)], env)  # a readable custom-format dump, or stop here
        if _pg_has_tables(db) and not force:
            raise BackupError(f"database {db['NAME']} is not empty; restore into a new database, or use --force "
                              "to replace everything in it")
        clean = ["--clean", "--if-exists"] if force else []
        _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              *clean, *args, "--dbname", str(db["NAME"]), str(path)], env)
        return str(db["NAME"])
    target = Path(str(db["NAME"]))
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} is not a sound SQLite database")
        if _sqlite_has_tables(target) and not force:
            raise BackupError(f"database {target} is not empty; restore into a new file, or use --force "
                              "to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(src, target)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database: {exc}") from exc
    finally:
        src.close()
    return str(target)
