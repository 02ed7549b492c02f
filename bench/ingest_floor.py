"""The floor of the batch path: how fast could ``POST /api/v1/lineage/batch`` be if its Python cost vanished?

One run, on databases of its own (``--db`` and copies named after it), measures the same events three ways:

(a) the baseline of ``bench/ingest.py``: per batch, COPY of the raw events and COPY into staging tables plus one
    INSERT..SELECT for nodes and one for edges (1 raw event + 9 nodes + 6 edges per event), one connection;
(b) the portal's batch path in-process, without HTTP, gunicorn, DRF or authentication: per batch, each event
    parsed and checked as the view does (``lineage.api.ingest.parse_checked``), then the service
    ``lineage.services.events_ingest`` called directly, one transaction per batch, one connection. A Django
    ``execute_wrapper`` and a tap on psycopg's ``Cursor.copy`` record every statement it sends, COPY data included
    (``portal/lib/sql.py`` streams rows into staging tables with COPY, which the wrapper does not see);
(c) a replay of exactly those statements (the text the server received: Django's client-side binding is redone
    with ``mogrify``; the COPY data is the bytes psycopg sent) with plain psycopg on a fresh copy of the database
    as it was before (b), each batch in one transaction, every statement timed, wall and the backend's CPU
    (``/proc/<backend pid>/schedstat``), and summed per statement group (raw events, claims, audit, nodes, edges,
    versions, history, markers/tags, other; by call site, then by table). The replay adds one statement before
    each COMMIT, ``SET CONSTRAINTS ALL IMMEDIATE``: Django's foreign keys are deferred, and their checks, which the
    commit would run, then show apart ("deferred FKs") from the commit itself. The row counts of the replayed
    database are checked against (b)'s;
(c') the same replay on another fresh copy with the change-marker triggers (``lineage/changes.py``, migration
    0011) dropped: what they cost the batch path. Being small, that difference drowns in the noise of a shared
    machine, so the run also counts the statements that fire one and times a firing (no-op UPDATEs on copies with
    and without the triggers).

(a), (c) and (c') are repeated ``--rounds`` times, (c) and (c') taking turns going first, each read against its
own round's (a). The ratio (c)/(a) answers whether 0.7 x the baseline is reachable with what the portal stores if
every Python cost vanished; the groups and the costliest statements say where the gap is. ``--variant SQL`` adds a
replay on a copy where that statement ran first, to try a storage setting without touching the portal.

(b)'s figures include the capture's small cost (a list append and a look at the call stack per statement, a tap on
COPY); its statements are turned into replayable text after each batch, outside the timing. The audit sequencer
is ``service`` by default, as in production: the batch only appends pending audit entries and the sequencer's
chaining (another process) is in none of the figures.

    .venv/bin/python bench/ingest_floor.py --db bench_floor          # 10,000 events, batches of 500; 3-6 minutes
    .venv/bin/python bench/ingest_floor.py --db bench_floor --variant "ALTER TABLE lineage_node SET (fillfactor = 70)"

Every database is dropped at the end unless ``--keep-db``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from _common import (
    ROOT,
    cpu_seconds,
    deadline,
    drop_database,
    dsn,
    issue_token,
    log,
    machine_line,
    migrate,
    portal_env,
    recreate_database,
    run_name,
)
from ingest import BASELINE_DDL, EventStream, Pool, RowMapper, baseline_set_based
from psycopg import sql

BENCH_DIR = str(Path(__file__).resolve().parent)
# Where a statement comes from decides its group first (the innermost project frame that is not a SQL helper);
# then the tables it names, first match wins.
SITE_GROUPS = (("lineage/guard.py", "claims"), ("portal/audit/", "audit"), ("lineage/versions.py", "versions"),
               ("lineage/asof.py", "history"), ("lineage/changes.py", "markers/tags"))
TABLE_GROUPS = tuple((re.compile(p), g) for p, g in (
    (r"lineage_rawevent", "raw events"),
    (r"lineage_(run|model)claim|accounts_namespaceowner", "claims"),
    (r"audit_", "audit"),
    (r"lineage_dataset(read|write)", "versions"),
    (r"lineage_(nodestatechange|noderetired|edgeretired)", "history"),
    (r"lineage_(column)?edge", "edges"),
    (r"lineage_nodetag|lineage_change", "markers/tags"),
    (r"lineage_node|node_merge", "nodes"),
))
GROUPS = ("raw events", "claims", "audit", "nodes", "edges", "versions", "history", "markers/tags", "other",
          "deferred FKs", "commit")
CHECK_TABLES = ("lineage_rawevent", "lineage_node", "lineage_edge", "lineage_datasetread", "lineage_datasetwrite",
                "lineage_nodestatechange", "lineage_runclaim", "audit_auditpending")


def group_of(site: str, statement: str) -> str:
    for prefix, group in SITE_GROUPS:
        if site.startswith(prefix):
            return group
    for pattern, group in TABLE_GROUPS:
        if pattern.search(statement):
            return group
    return "other"


def shape_of(statement: str) -> str:
    words = statement.split()
    if words[:1] == ["WITH"] and "INSERT" in words:  # the staging pattern: name the INSERT, not the CTE
        words = words[words.index("INSERT"):]
    elif words[:1] == ["WITH"] and "UPDATE" in words:
        words = words[words.index("UPDATE"):]
    return " ".join(words[:6])[:90]


def backend_cpu(pid: int) -> float:
    """CPU seconds of one local process: ``/proc/<pid>/schedstat`` (nanoseconds), else ``/proc/<pid>/stat`` ticks."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return cpu_seconds(pid) or 0.0


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- capture --------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Stmt:
    """One statement as the server received it, ready to replay."""

    group: str
    site: str
    shape: str
    atomic: bool  # inside the batch's transaction
    text: str  # the statement (for COPY, the COPY command)
    many: list[str] | None = None  # executemany: each statement (psycopg sends them in a pipeline)
    copy: bytes | None = None  # COPY ... FROM STDIN: the data


def _site() -> str:
    """The innermost frame of the portal's own code (not a SQL helper of portal/lib, not Django or psycopg)."""
    root = str(ROOT) + "/"
    f: Any = sys._getframe(2)
    while f is not None:
        path = f.f_code.co_filename
        if path.startswith(root) and "/.venv/" not in path and "/portal/lib/" not in path \
                and not path.startswith(BENCH_DIR):
            return f"{path[len(root):]}:{f.f_code.co_name}"
        f = f.f_back
    return "?"


class Capture:
    """Records every statement of Django's connection: an execute wrapper, and a tap on psycopg's ``Cursor.copy``
    that keeps the COPY data as sent. ``take()`` turns what was recorded into :class:`Stmt` (outside any timing)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.raw: list[tuple[str, str, Any, bool, str]] = []  # (kind, sql, params or data, atomic, site)

    def __call__(self, execute: Callable[..., Any], statement: str, params: Any, many: bool, context: Any) -> Any:
        if many:
            params = list(params)
        self.raw.append(("many" if many else "sql", statement, params, self.connection.in_atomic_block, _site()))
        return execute(statement, params, many, context)

    @contextlib.contextmanager
    def active(self) -> Iterator[Capture]:
        original = psycopg.Cursor.copy
        capture = self

        @contextlib.contextmanager
        def tapped(cur: Any, statement: Any, params: Any = None, **kw: Any) -> Iterator[Any]:
            chunks: list[bytes] = []
            with original(cur, statement, params, **kw) as cp:
                cp.formatter = _Tap(cp.formatter, chunks)
                yield cp
            text = statement if isinstance(statement, str) else statement.as_string(cur)
            capture.raw.append(("copy", text, b"".join(chunks), capture.connection.in_atomic_block, _site()))

        psycopg.Cursor.copy = tapped  # type: ignore[method-assign]
        try:
            with self.connection.execute_wrapper(self):
                yield self
        finally:
            psycopg.Cursor.copy = original  # type: ignore[method-assign]

    def take(self) -> list[Stmt]:
        out: list[Stmt] = []
        with self.connection.cursor() as wrapper:
            cur = wrapper.cursor  # Django's psycopg ClientCursor: mogrify gives the text it sent

            def text(statement: str, params: Any) -> str:
                return statement if params is None else cur.mogrify(statement, params)

            for kind, statement, payload, atomic, site in self.raw:
                st = Stmt(group_of(site, statement), site, shape_of(statement), atomic, statement)
                if kind == "copy":
                    st.copy = payload
                elif kind == "many":
                    st.many = [text(statement, p) for p in payload]
                else:
                    st.text = text(statement, payload)
                out.append(st)
        self.raw = []
        return out


class _Tap:
    """A psycopg copy formatter that keeps what it hands to the connection."""

    def __init__(self, inner: Any, chunks: list[bytes]) -> None:
        self.inner, self.chunks = inner, chunks

    def write_row(self, row: Any) -> Any:
        data = self.inner.write_row(row)
        if data:
            self.chunks.append(bytes(data))
        return data

    def write(self, buffer: Any) -> Any:
        data = self.inner.write(buffer)
        if data:
            self.chunks.append(bytes(data))
        return data

    def end(self) -> Any:
        data = self.inner.end()
        if data:
            self.chunks.append(bytes(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# -- phases -----------------------------------------------------------------------------------------------------
@dataclass
class Phase:
    label: str
    events: int
    wall: float
    pg_cpu: float  # the phase's own backend
    client_cpu: float = 0.0  # this process (Python, psycopg)
    group_wall: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    group_cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    group_count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shapes: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)  # -> [count, wall, cpu, rows]
    notes: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.wall if self.wall else 0.0

    def per_event_ms(self, seconds: float) -> float:
        return seconds / self.events * 1000 if self.events else 0.0


def clone(template: str, name: str) -> None:
    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))


def baseline_phase(db: str, warm: list[list[Any]], batches: list[list[Any]]) -> Phase:
    """(a): ``bench/ingest.py``'s COPY + INSERT..SELECT baseline, the warm-up batches first and untimed."""
    events = sum(len(b) for b in batches)
    with psycopg.connect(dsn(db)) as conn:
        conn.execute(BASELINE_DDL)
        conn.commit()
        baseline_set_based(conn, warm)
        pid = conn.info.backend_pid
        phase = Phase("(a) baseline: COPY + INSERT..SELECT", events, 0.0, 0.0)
        last = [time.perf_counter(), backend_cpu(pid)]

        def step(group: str) -> None:  # the baseline's own steps, timed like the replay's groups
            now, cpu = time.perf_counter(), backend_cpu(pid)
            phase.group_wall[group] += now - last[0]
            phase.group_cpu[group] += cpu - last[1]
            phase.group_count[group] += 1 if group == "commit" else 2
            last[:] = [now, cpu]

        cpu0, py0 = backend_cpu(pid), time.process_time()
        phase.wall = baseline_set_based(conn, batches, step)
        phase.pg_cpu, phase.client_cpu = backend_cpu(pid) - cpu0, time.process_time() - py0
        conn.execute("DROP SCHEMA baseline CASCADE")
        conn.commit()
    return phase


def portal_phase(args: argparse.Namespace, db: str, warm: list[list[bytes]],
                 batches: list[list[bytes]]) -> tuple[Phase, list[list[Stmt]]]:
    """(b): parse + ``events_ingest`` per batch in this process, every statement captured."""
    os.environ.update(portal_env(db, PORTAL_AUDIT_SEQUENCER=args.audit_sequencer))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from lineage.api.ingest import parse_checked
    from lineage.services import events_ingest
    from portal.accounts.models import User

    user = User.objects.get(username="benchsvc")
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    capture = Capture(connection)
    captured: list[list[Stmt]] = []
    wall = parse = pg = py = 0.0
    outcomes: dict[str, int] = defaultdict(int)
    events = sum(len(b) for b in batches)
    for i, bodies in enumerate(warm + batches):
        timed = i >= len(warm)
        cpu0, py0, t0 = backend_cpu(pid), time.process_time(), time.perf_counter()
        with capture.active():
            parsed = [parse_checked(b) for b in bodies]
            t1 = time.perf_counter()
            result = events_ingest(events=parsed, by=user)
        t2 = time.perf_counter()
        if timed:
            wall, parse = wall + t2 - t0, parse + t1 - t0
            pg, py = pg + backend_cpu(pid) - cpu0, py + time.process_time() - py0
            for o in result:
                outcomes[o.status] += 1
        if connection.connection.info.backend_pid != pid:
            raise RuntimeError("Django reconnected during the run; the backend CPU figures would be wrong")
        captured.append(capture.take())
    phase = Phase("(b) portal in-process: parse + events_ingest", events, wall, pg, py)
    phase.notes = (f"parsing {parse / events * 1000:.3f} ms per event of it; outcomes {dict(outcomes)}; "
                   f"{sum(len(b) for b in captured[len(warm):]) / len(batches):.0f} statements per batch")
    connection.close()
    return phase, captured


def replay_phase(label: str, db: str, captured: list[list[Stmt]], warm: int, events: int) -> Phase:
    """(c): every captured statement with plain psycopg, batch by batch, each timed (wall and backend CPU)."""
    phase = Phase(label, events, 0.0, 0.0)
    with psycopg.connect(dsn(db), cursor_factory=psycopg.ClientCursor) as conn, conn.cursor() as cur:
        pid = conn.info.backend_pid
        conn.execute("SET TIME ZONE 'UTC'")  # as Django's session (settings.TIME_ZONE), whatever the server's default
        conn.commit()
        py0 = 0.0
        for i, batch in enumerate(captured):
            timed = i >= warm
            if i == warm:
                py0 = time.process_time()
            t_batch, c_batch = time.perf_counter(), backend_cpu(pid)
            for st in [*batch, FK_CHECKS, None]:
                c0, t0 = backend_cpu(pid), time.perf_counter()
                if st is None:  # the batch's commit
                    conn.commit()
                    group, key = "commit", ("commit", "", "COMMIT")
                elif st is FK_CHECKS:  # the checks the commit would run, run just before it to time them apart
                    cur.execute(st.text)
                    group, key = st.group, (st.group, "", st.text)
                else:
                    if not st.atomic and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.commit()
                    if st.copy is not None:
                        with cur.copy(st.text) as cp:
                            cp.write(st.copy)
                    elif st.many is not None:
                        with conn.pipeline():
                            for q in st.many:
                                cur.execute(q)
                    else:
                        cur.execute(st.text)
                    if not st.atomic:
                        conn.commit()
                    group, key = st.group, (st.group, st.site, st.shape)
                if timed:
                    dt, dc = time.perf_counter() - t0, backend_cpu(pid) - c0
                    phase.group_wall[group] += dt
                    phase.group_cpu[group] += dc
                    phase.group_count[group] += 1
                    s = phase.shapes.setdefault(key, [0, 0.0, 0.0, 0])
                    s[0], s[1], s[2], s[3] = s[0] + 1, s[1] + dt, s[2] + dc, s[3] + max(cur.rowcount, 0)
            if timed:
                phase.wall += time.perf_counter() - t_batch
                phase.pg_cpu += backend_cpu(pid) - c_batch
        phase.client_cpu = time.process_time() - py0
    return phase


# Django declares foreign keys DEFERRABLE INITIALLY DEFERRED: their checks run at COMMIT. The replay runs them one
# statement earlier (retroactively, as PostgreSQL does for SET CONSTRAINTS) so the commit's time splits in two.
FK_CHECKS = Stmt("deferred FKs", "", "SET CONSTRAINTS ALL IMMEDIATE", True, "SET CONSTRAINTS ALL IMMEDIATE")


def drop_marker_triggers(db: str) -> list[str]:
    """Drop every trigger that runs ``lineage_change_mark()`` (the change marker's); their names."""
    with psycopg.connect(dsn(db), autocommit=True) as conn:
        rows = conn.execute("SELECT t.tgname, t.tgrelid::regclass::text FROM pg_trigger t JOIN pg_proc p "
                            "ON p.oid = t.tgfoid WHERE p.proname = 'lineage_change_mark'").fetchall()
        for name, table in rows:
            conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(name), sql.Identifier(table)))
    return [f"{table}.{name}" for name, table in rows]


MARKED_WRITE = re.compile(r'\b(INSERT INTO|UPDATE|DELETE FROM)\s+"?(lineage_node|lineage_edge|lineage_nodetag)"?\s')


def marker_firings(batch: list[Stmt]) -> int:
    """Statements of a batch that write a table with a change-marker trigger (each fires it once)."""
    return sum(len(st.many) if st.many is not None else 1 for st in batch
               if st.copy is None and MARKED_WRITE.search(st.text))


def firing_cost(with_triggers: str, without: str, n: int = 2000, pairs: int = 7) -> float:
    """Backend CPU seconds of one statement-level trigger firing: ``n`` no-op UPDATEs of lineage_node (a statement
    trigger fires even when no row matches) on a database with the triggers, less the same without; the median of
    ``pairs`` alternated pairs."""
    diffs = []
    with psycopg.connect(dsn(with_triggers)) as on, psycopg.connect(dsn(without)) as off:
        for _ in range(pairs):
            used = []
            for conn in (on, off):
                pid = conn.info.backend_pid
                c0 = backend_cpu(pid)
                for _ in range(n):
                    conn.execute("UPDATE lineage_node SET state = state WHERE false")
                conn.rollback()
                used.append(backend_cpu(pid) - c0)
            diffs.append((used[0] - used[1]) / n)
    return statistics.median(diffs)


def update_stats(db: str) -> str:
    """Rows updated in the tables the replay updated, and how many of them were HOT (no index entries written)."""
    with psycopg.connect(dsn(db)) as conn:
        rows = conn.execute("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE n_tup_upd > 0 "
                            "ORDER BY n_tup_upd DESC").fetchall()
    return ", ".join(f"{t} {u:,} ({100 * h / u:.0f}% HOT)" for t, u, h in rows) or "none"


def table_counts(db: str) -> dict[str, int]:
    with psycopg.connect(dsn(db)) as conn:
        return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
                for t in CHECK_TABLES}


# -- report -----------------------------------------------------------------------------------------------------
def phase_line(p: Phase, base: Phase | None) -> str:
    ratio = f" = {p.rate / base.rate:.2f} x (a)" if base else ""
    client = f", client {p.per_event_ms(p.client_cpu):.3f} ms" if p.client_cpu else ""
    return (f"  {p.label:<52} {p.rate:8,.0f} events/s{ratio:<12} [{p.wall:6.2f}s; CPU per event: its PostgreSQL "
            f"backend {p.per_event_ms(p.pg_cpu):.3f} ms{client}]")


def groups_table(replays: list[Phase], bare: list[Phase], base: list[Phase], batches: int) -> None:
    def mean(phases: list[Phase], attr: str, g: str | None = None) -> float:
        """ms per batch: of one group, or (``g`` None) of the whole phase."""
        if g is None:
            return statistics.fmean(getattr(p, attr) for p in phases) / batches * 1000
        return statistics.fmean(getattr(p, attr).get(g, 0.0) for p in phases) / batches * 1000

    total = mean(replays, "wall")
    log(f"\n== Per statement group, ms per batch of events (means over {len(replays)} round(s); wall includes the "
        "round trip, CPU is the phase's own PostgreSQL backend) ==")
    log(f"  {'':<13}|{'(a) baseline':^17}|{'(c) replay of the portal':^35}|{'(c) no triggers':^17}|"
        f"{'(c) - (a)':^17}")
    log(f"  {'group':<13}|{'wall':>8} {'CPU':>8}|{'stmts':>6} {'wall':>8} {'share':>9} {'CPU':>8} |{'wall':>8} "
        f"{'CPU':>8}|{'wall':>8} {'CPU':>8}")
    for g in GROUPS:
        n = statistics.fmean(p.group_count.get(g, 0) for p in replays) / batches
        if not n and not any(g in p.group_wall for p in base):
            continue
        w, c = mean(replays, "group_wall", g), mean(replays, "group_cpu", g)
        bw, bc = mean(base, "group_wall", g), mean(base, "group_cpu", g)
        log(f"  {g:<13}|{bw:8.1f} {bc:8.1f}|{n:6.1f} {w:8.1f} {100 * w / total:8.1f}% {c:8.1f} |"
            f"{mean(bare, 'group_wall', g):8.1f} {mean(bare, 'group_cpu', g):8.1f}|{w - bw:+8.1f} {c - bc:+8.1f}")
    n_all = statistics.fmean(sum(p.group_count.values()) for p in replays) / batches
    bw, bc, c = mean(base, "wall"), mean(base, "pg_cpu"), mean(replays, "pg_cpu")
    log(f"  {'all':<13}|{bw:8.1f} {bc:8.1f}|{n_all:6.1f} {total:8.1f} {100.0:8.1f}% {c:8.1f} |"
        f"{mean(bare, 'wall'):8.1f} {mean(bare, 'pg_cpu'):8.1f}|{total - bw:+8.1f} {c - bc:+8.1f}")
    log(f"  0.7 x the baseline allows {bw / 0.7:.1f} ms per batch; the replay takes {total:.1f} ms "
        f"({total - bw / 0.7:+.1f} ms). By CPU (the backend's plus this process's, which the load does not "
        f"inflate as much): baseline {bc + mean(base, 'client_cpu'):.1f} ms, replay "
        f"{c + mean(replays, 'client_cpu'):.1f} ms per batch, a ratio of "
        f"{(bc + mean(base, 'client_cpu')) / (c + mean(replays, 'client_cpu')):.2f}")
    tw, tc = total - mean(bare, "wall"), c - mean(bare, "pg_cpu")
    log(f"  change-marker triggers, (c) - (c'): {tw:+.1f} ms wall and {tc:+.1f} ms backend CPU per batch "
        f"({100 * tw / total:+.1f}% and {100 * tc / c:+.1f}% of the replay)")


def shapes_table(replays: list[Phase], batches: int, top: int) -> None:
    merged: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for p in replays:
        for key, values in p.shapes.items():
            merged[key] = [a + b for a, b in zip(merged[key], values, strict=True)]
    total = sum(m[1] for m in merged.values()) or 1.0
    k = len(replays) * batches
    log(f"\n== Replay (c): the {top} costliest statements, per batch: wall, share, backend CPU, times run, rows "
        "(copied, written or returned), group, call site, statement ==")
    for (g, site, shape), (n, w, c, rows) in sorted(merged.items(), key=lambda kv: -kv[1][1])[:top]:
        log(f"  {w / k * 1000:6.1f} ms {100 * w / total:5.1f}%  CPU {c / k * 1000:5.1f} ms {n / k:4.1f}x "
            f"{rows / k:6.0f} rows  {g:<12} {site:<40} {shape}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10_000, help="timed events (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=500, help="events per batch (default %(default)s)")
    p.add_argument("--warmup-batches", type=int, default=2, help="untimed batches first, in every phase (imports, "
                   "connections, staging tables, a graph to merge into; default %(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="rounds of (a), (c), (c'); (c) and (c') take turns "
                   "going first (default %(default)s)")
    p.add_argument("--datasets", type=int, default=3_000, help="dataset pool size (default %(default)s)")
    p.add_argument("--sources", type=int, default=200, help="source datasets in the pool (default %(default)s)")
    p.add_argument("--audit-sequencer", choices=["service", "inline"], default="service",
                   help="service (default, as in production): the batch appends pending audit entries only")
    p.add_argument("--shapes", type=int, default=15, help="print this many costliest statements (default "
                   "%(default)s)")
    p.add_argument("--db", default=run_name("lineage_bench_floor"), help="database name; the run also creates "
                   "<db>_portal, <db>_replay and <db>_bare (default %(default)s: one per run)")
    p.add_argument("--variant", action="append", default=[], metavar="SQL",
                   help="also replay, every round, on a copy where this statement ran first (e.g. a storage "
                   "setting to try: 'ALTER TABLE lineage_node SET (fillfactor = 70)'; {db} names the copy, as in "
                   "\"ALTER DATABASE {db} SET default_toast_compression = 'lz4'\"); repeatable")
    p.add_argument("--keep-db", action="store_true", help="do not drop the databases at the end")
    p.add_argument("--max-seconds", type=float, default=1200, help="overall time limit (default %(default)s)")
    args = p.parse_args()
    if args.events < args.batch_size or args.rounds < 1:
        p.error("--events must be at least --batch-size, and --rounds at least 1")

    log(f"bench/ingest_floor.py  {machine_line()}; load average {load()}")
    pool = Pool(datasets=args.datasets, sources=args.sources)
    size, n_warm = args.batch_size, args.warmup_batches
    n_batches = args.events // size
    stream = EventStream(pool, seed=1)
    bodies = [stream.take(size) for _ in range(n_warm + n_batches)]
    events = n_batches * size
    now = datetime.now(UTC)
    mapper = RowMapper()
    rows = [[mapper.rows(json.loads(b), b, now) for b in batch] for batch in bodies]
    log(f"{events:,} timed events in {n_batches} batches of {size} after {n_warm} warm-up batches, the same events "
        f"in every phase: RunEvent START/COMPLETE pairs of bench/ingest.py (avg "
        f"{statistics.fmean(len(b) for batch in bodies for b in batch):.0f} bytes); audit sequencer "
        f"{args.audit_sequencer}")
    dbs = {"portal": f"{args.db}_portal", "replay": f"{args.db}_replay", "bare": f"{args.db}_bare",
           **{f"v{i}": f"{args.db}_v{i}" for i in range(1, len(args.variant) + 1)}}
    base: list[Phase] = []
    replays: list[Phase] = []
    bare: list[Phase] = []
    variants: list[list[Phase]] = [[] for _ in args.variant]
    try:
        with deadline(args.max_seconds):
            recreate_database(args.db)
            log(f"database {args.db}: re-created, migrated in {migrate(args.db):.1f}s (the template of every copy)")
            issue_token(args.db, "benchsvc", "ingestor")
            clone(args.db, dbs["portal"])
            base.append(baseline_phase(dbs["portal"], rows[:n_warm], rows[n_warm:]))
            log(f"\nround 0 (load {load()}):\n{phase_line(base[-1], None)}")
            portal, captured = portal_phase(args, dbs["portal"], bodies[:n_warm], bodies[n_warm:])
            log(phase_line(portal, base[-1]))
            log(f"    {portal.notes}; this process's CPU per event is the Python side (with psycopg's client work)")
            expected = table_counts(dbs["portal"])
            for r in range(1, args.rounds + 1):
                clone(args.db, dbs["replay"])
                clone(args.db, dbs["bare"])
                dropped = drop_marker_triggers(dbs["bare"])
                for i, statement in enumerate(args.variant, 1):
                    clone(args.db, dbs[f"v{i}"])
                    with psycopg.connect(dsn(dbs[f"v{i}"]), autocommit=True) as conn:
                        conn.execute(statement.replace("{db}", dbs[f"v{i}"]))
                log(f"\nround {r} (load {load()}):")
                base.append(baseline_phase(dbs["portal"], rows[:n_warm], rows[n_warm:]))
                log(phase_line(base[-1], None))
                order = [("replay", "(c) replay of (b)'s statements", replays),
                         ("bare", "(c') replay, change-marker triggers dropped", bare),
                         *((f"v{i}", f"(v{i}) replay after --variant {i}", variants[i - 1])
                           for i in range(1, len(args.variant) + 1))]
                for key, label, out in order if r % 2 else order[::-1]:  # alternate which goes first
                    out.append(replay_phase(label, dbs[key], captured, n_warm, events))
                    log(phase_line(out[-1], base[-1]))
                    got = table_counts(dbs[key])
                    if got != expected:
                        raise RuntimeError(f"the replay on {dbs[key]} did not reproduce (b)'s rows: {got} against "
                                           f"{expected}")
                for key in ("replay", *(f"v{i}" for i in range(1, len(args.variant) + 1))):
                    log(f"    rows updated on {dbs[key]} (warm-up included): {update_stats(dbs[key])}")
                counts = ", ".join(f"{t} {n:,}" for t, n in expected.items())
                log(f"    the replays reproduced (b)'s row counts ({counts}); "
                    f"triggers dropped for (c'): {', '.join(dropped) or 'none found'}")
            firings = statistics.fmean(marker_firings(b) for b in captured[n_warm:])
            per_firing = firing_cost(dbs["replay"], dbs["bare"])
            log(f"\nchange-marker triggers, counted: {firings:.1f} statements per batch write a table that has one; a "
                f"firing costs {per_firing * 1e6:.1f} us of backend CPU (no-op UPDATEs with and without the triggers): "
                f"{firings * per_firing * 1000:.2f} ms per batch")
            log(f"\nload average at the end: {load()}")
    finally:
        from_django = sys.modules.get("django.db")
        if from_django is not None:
            from_django.connections.close_all()  # type: ignore[attr-defined]
        if not args.keep_db:
            for name in (*dbs.values(), args.db):
                drop_database(name)

    groups_table(replays, bare, base[1:], n_batches)
    shapes_table(replays, n_batches, args.shapes)
    a = statistics.fmean(x.rate for x in base)
    log("\n== Summary (events/s; each ratio against the baseline (a) of its own round) ==")
    log(f"  (a) baseline COPY + INSERT..SELECT        {', '.join(f'{x.rate:,.0f}' for x in base)}  (mean {a:,.0f})")
    log(f"  (b) portal in-process                      {portal.rate:,.0f} = {portal.rate / base[0].rate:.2f} x")
    for label, phases in (("(c) replay, no Python", replays), ("(c') replay, no marker triggers", bare)):
        ratios = [x.rate / b.rate for x, b in zip(phases, base[1:], strict=True)]
        log(f"  {label:<42} {', '.join(f'{x.rate:,.0f}' for x in phases)} = "
            f"{', '.join(f'{q:.2f}' for q in ratios)} x  (0.7 x {'reachable' if max(ratios) >= 0.7 else 'NOT reached'}"
            " even with no Python)")
    for i, (statement, phases) in enumerate(zip(args.variant, variants, strict=True), 1):
        ratios = [x.rate / b.rate for x, b in zip(phases, base[1:], strict=True)]
        log(f"  (v{i}) {statement[:60]:<60} {', '.join(f'{x.rate:,.0f}' for x in phases)} = "
            f"{', '.join(f'{q:.2f}' for q in ratios)} x; its backend CPU per event "
            f"{statistics.fmean(x.per_event_ms(x.pg_cpu) for x in phases):.3f} ms")
        log("        backend CPU per batch by group, against (c): " + ", ".join(
            f"{g} {statistics.fmean(x.group_cpu.get(g, 0.0) for x in phases) / n_batches * 1000:.1f} "
            f"({statistics.fmean(x.group_cpu.get(g, 0.0) for x in replays) / n_batches * 1000:.1f}) ms"
            for g in GROUPS if any(g in x.group_cpu for x in phases)))
    deltas = [(c.pg_cpu - b.pg_cpu) / n_batches * 1000 for c, b in zip(replays, bare, strict=True)]
    log(f"  change-marker triggers per round, (c) - (c') backend CPU: {', '.join(f'{d:+.1f}' for d in deltas)} ms "
        f"per batch of {size}")
    log(f"  PostgreSQL CPU per event (its backend): (a) {statistics.fmean(x.per_event_ms(x.pg_cpu) for x in base):.3f}"
        f" ms, (b) {portal.per_event_ms(portal.pg_cpu):.3f} ms, (c) "
        f"{statistics.fmean(x.per_event_ms(x.pg_cpu) for x in replays):.3f} ms, (c') "
        f"{statistics.fmean(x.per_event_ms(x.pg_cpu) for x in bare):.3f} ms; Python in (b) "
        f"{portal.per_event_ms(portal.client_cpu):.3f} ms per event")


if __name__ == "__main__":
    main()
