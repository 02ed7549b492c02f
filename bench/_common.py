"""Helpers shared by the benchmark scripts: a throwaway database, tokens, gunicorn, RSS, percentiles.

Everything here talks to 127.0.0.1 only. Nothing is imported from the project at module level, so the
scripts can set ``DATABASE_URL`` before Django is loaded.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# Each benchmark run names its databases and files after itself, so two runs on one machine (or a benchmark
# beside a test run) never drop each other's database.
RUN = os.environ.get("PORTAL_BENCH_RUN") or str(os.getpid())
os.environ["PORTAL_BENCH_RUN"] = RUN  # the builder and report children name the same database


def run_name(base: str) -> str:
    """``base`` made unique to this run (a database name, or a file name under /tmp)."""
    return f"{base}_{RUN}"


def dsn(db: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def database_url(db: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def log(msg: str) -> None:
    print(msg, flush=True)


def portal_env(db: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url(db),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_ALLOWED_HOSTS": "127.0.0.1",
        "PORTAL_DEBUG": "0",  # DEBUG keeps every query in memory: never benchmark with it
        "CELERY_BROKER_URL": "",
        # Keep the signing key and the checkpoint file of a benchmark database out of the project's var/.
        "PORTAL_AUDIT_KEY": f"/tmp/{db}-audit-key.pem",
        "PORTAL_AUDIT_CHECKPOINT_DIR": f"/tmp/{db}-checkpoints",
    })
    env.update(extra)
    return env


def recreate_database(db: str) -> None:
    """Drop ``db`` if it exists (disconnecting its sessions) and create it empty, with no old checkpoints."""
    shutil.rmtree(f"/tmp/{db}-checkpoints", ignore_errors=True)
    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))


def drop_database(db: str) -> None:
    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


def manage(db: str, *args: str, timeout: float = 300) -> str:
    """Run ``manage.py <args>`` against ``db``; return its stdout."""
    out = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=portal_env(db), capture_output=True,
                         text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out.stdout


def migrate(db: str) -> float:
    t0 = time.perf_counter()
    manage(db, "migrate", "--noinput", "-v", "0")
    return time.perf_counter() - t0


def issue_token(db: str, username: str, role: str) -> str:
    token = manage(db, "issue_token", username, "--role", role, timeout=120).strip().splitlines()[-1].strip()
    if not token or " " in token:
        raise RuntimeError(f"issue_token printed something unexpected: {token!r}")
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """``gunicorn portal.wsgi -w N -b 127.0.0.1:<port>`` in its own process group, stopped on exit."""

    def __init__(self, db: str, *, workers: int = 2, port: int | None = None, worker_class: str = "sync",
                 threads: int = 1, timeout: int = 120, log_path: Path | None = None,
                 env: dict[str, str] | None = None, app: str = "portal.wsgi") -> None:
        self.db, self.workers, self.port = db, workers, port or free_port()
        self.worker_class, self.threads, self.timeout = worker_class, threads, timeout
        self.env, self.app = env or {}, app
        self.log_path = log_path or Path(f"/tmp/bench-gunicorn-{RUN}-{self.port}.log")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def cmdline(self) -> list[str]:
        cmd = [GUNICORN, self.app, "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
               "--timeout", str(self.timeout), "--worker-class", self.worker_class]
        if self.threads > 1:
            cmd += ["--threads", str(self.threads)]
        return cmd

    def start(self, wait: float = 60) -> Gunicorn:
        logf = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.cmdline, cwd=ROOT, env=portal_env(self.db, **self.env), stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}:\n{self.log_path.read_text()[-2000:]}")
            if len(self.worker_pids()) >= self.workers:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not come up within {wait}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        return children(self.proc.pid)

    def rss_kb(self) -> dict[int, int]:
        return {pid: rss for pid in self.worker_pids() if (rss := vm_rss_kb(pid)) is not None}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # Only the process group we started: the master and its workers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            out.extend(int(x) for x in task.read_text().split())
    return sorted(out)


def vm_rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def summary_ms(values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"n={len(ms)} median={statistics.median(ms):.1f} ms p95={percentile(ms, 95):.1f} ms "
            f"p99={percentile(ms, 99):.1f} ms max={max(ms):.1f} ms mean={statistics.fmean(ms):.1f} ms")


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread if the block runs longer than ``seconds`` (0: no limit)."""
    if seconds <= 0:
        yield
        return

    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"benchmark exceeded its overall time limit of {seconds:.0f}s")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def machine_line() -> str:
    try:
        with psycopg.connect(dsn("postgres")) as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        pg = "?"
    return (f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, PostgreSQL {pg} at {PG_HOST}:{PG_PORT}; "
            f"code {git_state()}")


def git_state() -> str:
    """The commit the figures belong to, and whether the portal's code differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "lineage", "portal"],
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in lineage/ or portal/' if dirty else ''}"


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float | None:
    """User plus system CPU seconds of one process (``/proc/<pid>/stat``), None if it is gone.

    With ``reaped_children``, the CPU of its children that have exited and been waited for, instead.
    """
    fields = _stat(pid)
    if fields is None:
        return None
    first = 13 if reaped_children else 11
    return (int(fields[first]) + int(fields[first + 1])) / CLK_TCK


def postgres_pids() -> list[int]:
    out = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "postgres":
                out.append(int(comm.parent.name))
    return out


class CpuMeter:
    """CPU seconds used by gunicorn (master and workers), PostgreSQL and this process over a span.

    A group's figure is the CPU of its live processes plus what its parent has reaped from exited children
    (the postmaster reaps backends, which Django closes every ``CONN_MAX_AGE`` seconds), so processes that
    start or exit during the span count too. PostgreSQL means every postgres process on the machine,
    including any other activity on the server during the span.
    """

    def __init__(self, server: Gunicorn | None, *, others: dict[str, int] | None = None,
                 db: str | None = None) -> None:
        self.server = server
        self.others = others or {}  # more processes to count by name (a sidecar such as the audit sequencer)
        # With ``db``: also "postgres (db)", the backends connected to that database at the start and the end
        # (live ones only: a backend that exits in between is missed), apart from the rest of a shared server.
        self.db = db
        self.db_pids: set[int] = set()

    def _db_backends(self) -> set[int]:
        with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db,)).fetchall()
        return {pid for (pid,) in rows}

    def _group(self, pids: list[int], parent: int | None) -> float:
        total = sum(c for pid in pids if (c := cpu_seconds(pid)) is not None)
        if parent is not None:
            total += cpu_seconds(parent, reaped_children=True) or 0.0
        return total

    def _snap(self) -> dict[str, float]:
        pg = postgres_pids()
        pg_set = set(pg)
        postmaster = next((pid for pid in pg if (f := _stat(pid)) is not None and int(f[1]) not in pg_set), None)
        master = self.server.proc.pid if self.server and self.server.proc else None
        workers = self.server.worker_pids() if self.server else []
        return {
            "gunicorn": self._group(workers + ([master] if master else []), master),
            "postgres": self._group(pg, postmaster),
            **{name: cpu_seconds(pid) or 0.0 for name, pid in self.others.items()},
            "bench client": cpu_seconds(os.getpid()) or 0.0,
        }

    def __enter__(self) -> CpuMeter:
        self.t0, self.before = time.perf_counter(), self._snap()
        if self.db:
            self.db_pids = self._db_backends()
            self.db_before = {pid: cpu_seconds(pid) or 0.0 for pid in self.db_pids}
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, after = time.perf_counter() - self.t0, self._snap()
        self.used = {name: after[name] - self.before[name] for name in after}
        if self.db:
            pids = self.db_pids | self._db_backends()
            self.used[f"postgres ({self.db})"] = sum(
                (c - self.db_before.get(pid, 0.0)) for pid in pids if (c := cpu_seconds(pid)) is not None)

    def line(self) -> str:
        cores = os.cpu_count() or 1
        parts = ", ".join(f"{name} {sec:.1f}s" for name, sec in self.used.items())
        busy = sum(sec for name, sec in self.used.items() if not name.startswith("postgres (")) / (
            self.wall * cores) * 100
        return f"CPU over {self.wall:.1f}s wall: {parts} ({busy:.0f}% of {cores} cores)"
