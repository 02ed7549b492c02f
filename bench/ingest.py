"""Ingestion benchmark: the batch and single-event OpenLineage endpoints under gunicorn, against raw PostgreSQL.

Targets: ``POST /api/v1/lineage/batch`` >= 2,000 events/s; ``POST /api/v1/lineage`` >= 300 events/s under
``gunicorn -w 2`` with several keep-alive clients; gunicorn worker RSS flat over a long run (1,000,000 events).

Every figure is printed beside a baseline measured in the same run on the same machine: the same events
inserted straight into PostgreSQL (COPY of the JSON; the equivalent raw-event, node and edge rows set-based,
with executemany, and one transaction per event).

Quick run (about 3 minutes at today's speed; under 2 once the endpoints meet their targets)::

    .venv/bin/python bench/ingest.py

Full memory run (about 35 minutes at today's speed)::

    .venv/bin/python bench/ingest.py --events 1000000 --skip baseline --skip single

The database (default ``lineage_bench_ingest``) is dropped and re-created at the start and dropped at the
end unless ``--keep-db``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from _common import (
    PYTHON,
    ROOT,
    CpuMeter,
    Gunicorn,
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
    summary_ms,
)

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/integration/airflow"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET_SCHEMA = "https://openlineage.io/spec/facets/1-1-1/{}.json#/$defs/{}"
BASE_TIME = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)


# -- realistic OpenLineage RunEvents ---------------------------------------------------------------------
def _facet(name: str, cls: str, **body: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACET_SCHEMA.format(name, cls), **body}


@dataclass(slots=True)
class Job:
    namespace: str
    name: str
    path: str
    inputs: tuple[int, int]
    output: int


class Pool:
    """Datasets and jobs shared by every client, so concurrent clients touch the same dataset rows.

    Job ``j`` writes dataset ``sources + j`` and reads two datasets with lower numbers, mostly recent ones:
    pipelines are chains with local fan-in, and every run writes a new version of its output.
    """

    def __init__(self, *, datasets: int, sources: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.datasets: list[tuple[str, str, list[dict[str, str]]]] = []
        for i in range(datasets):
            if i < sources:
                ns, name = f"postgres://oltp-{i % 4}.internal:5432", f"shop.public.table_{i}"
            elif i % 3 == 0:
                ns, name = f"s3://lake-{i % 5}", f"curated/domain_{i % 37}/dataset_{i}"
            else:
                ns, name = "bigquery", f"analytics-prod.mart_{i % 23}.table_{i}"
            fields = [{"name": "id", "type": "BIGINT"}, {"name": "customer_id", "type": "BIGINT"},
                      {"name": f"amount_{i % 7}", "type": "NUMERIC(18,2)"},
                      {"name": "created_at", "type": "TIMESTAMP"}, {"name": "status", "type": "VARCHAR"}]
            self.datasets.append((ns, name, fields))
        self.jobs: list[Job] = []
        for j in range(datasets - sources):
            out = sources + j
            a = out - 1 - int(rng.random() ** 2 * min(out, 200))
            b = out - 1 - int(rng.random() ** 3 * out)
            while b == a:
                b = rng.randrange(out)
            dag = f"dag_{j // 8:04d}"
            self.jobs.append(Job(f"airflow-{j % 3}", f"{dag}.task_{j % 8}", f"dags/{dag}.py",
                                 (min(a, b), max(a, b)), out))


class EventStream:
    """An endless stream of RunEvent JSON bytes: START and COMPLETE pairs with uuid run ids.

    Runs overlap: each START is followed by the COMPLETE of the run started ``lag`` runs earlier, so a run's
    two events often land in different batches, as with real producers. The job, inputs and outputs of a
    (job, commit) are serialised once and reused, so the client stays cheap beside the server on one machine.
    """

    _fragments: dict[tuple[int, str], bytes] = {}

    def __init__(self, pool: Pool, *, seed: int, lag: int = 8, clock_offset_us: int = 0) -> None:
        self.pool, self.rng, self.lag = pool, random.Random(seed), lag
        self.clock = BASE_TIME + timedelta(microseconds=clock_offset_us)
        self.open: list[tuple[bytes, bytes]] = []
        self._it = self.events()

    def _fragment(self, j: int, sha: str) -> bytes:
        key = (j, sha)
        frag = self._fragments.get(key)
        if frag is None:
            job = self.pool.jobs[j]
            ins = [self.pool.datasets[k] for k in job.inputs]
            out = self.pool.datasets[job.output]
            body = {
                "job": {"namespace": job.namespace, "name": job.name, "facets": {"sourceCodeLocation": _facet(
                    "SourceCodeLocationJobFacet", "SourceCodeLocationJobFacet", type="git",
                    url=f"https://github.com/acme/pipelines/blob/{sha}/{job.path}",
                    repoUrl="https://github.com/acme/pipelines", path=job.path, version=sha, branch="main")}},
                "inputs": [
                    {"namespace": ins[0][0], "name": ins[0][1], "facets": {
                        "schema": _facet("SchemaDatasetFacet", "SchemaDatasetFacet", fields=ins[0][2])}},
                    {"namespace": ins[1][0], "name": ins[1][1], "facets": {}},
                ],
                "outputs": [{"namespace": out[0], "name": out[1], "facets": {
                    "schema": _facet("SchemaDatasetFacet", "SchemaDatasetFacet", fields=out[2])}}],
            }
            frag = json.dumps(body, separators=(",", ":")).encode()[1:-1]
            self._fragments[key] = frag
        return frag

    def _run(self) -> tuple[bytes, bytes]:
        """(run and job part of the event, its START time) as JSON fragments."""
        rng = self.rng
        j = rng.randrange(len(self.pool.jobs))
        run_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        self.clock += timedelta(milliseconds=rng.randint(1, 50))
        # The code changes every synthetic hour: a new commit per job per hour.
        code_rev = f"{self.pool.jobs[j].path}:{int(self.clock.timestamp()) // 3600}"
        sha = hashlib.sha1(code_rev.encode()).hexdigest()  # noqa: S324 - a fake git sha
        nominal = self.clock.replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")
        run = (b'"run":{"runId":"%s","facets":{"nominalTime":{"_producer":"%s","_schemaURL":"%s",'
               b'"nominalStartTime":"%s"}}},' % (str(run_id).encode(), PRODUCER.encode(),
                                                 FACET_SCHEMA.format("NominalTimeRunFacet",
                                                                     "NominalTimeRunFacet").encode(),
                                                 nominal.encode()))
        return run + self._fragment(j, sha), _stamp(self.clock)

    @staticmethod
    def _event(part: bytes, event_type: bytes, t: bytes) -> bytes:
        return b'{"eventType":"%s","eventTime":"%s","producer":"%s","schemaURL":"%s",%s}' % (
            event_type, t, PRODUCER.encode(), RUN_EVENT_SCHEMA.encode(), part)

    def events(self) -> Iterator[bytes]:
        while True:
            part, t = self._run()
            self.open.append((part, t))
            yield self._event(part, b"START", t)
            if len(self.open) > self.lag:
                done, _ = self.open.pop(0)
                self.clock += timedelta(milliseconds=self.rng.randint(1, 20))
                yield self._event(done, b"COMPLETE", _stamp(self.clock))

    def take(self, n: int) -> list[bytes]:
        return list(itertools.islice(self._it, n))


def _stamp(t: datetime) -> bytes:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


# -- baseline: the equivalent rows straight into PostgreSQL ----------------------------------------------
BASELINE_DDL = """
DROP SCHEMA IF EXISTS baseline CASCADE;
CREATE SCHEMA baseline;
CREATE TABLE baseline.event_copy (id bigserial PRIMARY KEY, payload jsonb NOT NULL);
CREATE TABLE baseline.rawevent (LIKE public.lineage_rawevent INCLUDING ALL);
CREATE TABLE baseline.node (LIKE public.lineage_node INCLUDING ALL);
CREATE TABLE baseline.edge (LIKE public.lineage_edge INCLUDING ALL);
ALTER TABLE baseline.edge ADD FOREIGN KEY (src_id) REFERENCES baseline.node (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE baseline.edge ADD FOREIGN KEY (dst_id) REFERENCES baseline.node (id) DEFERRABLE INITIALLY DEFERRED;
"""
RAW_COLS = ("dedupe_key", "kind", "event_type", "event_time", "run_id", "job_namespace", "job_name", "producer",
            "payload", "body_sha256", "warnings", "received_at", "ignored_inputs")
NODE_COLS = ("node_id", "kind", "namespace", "name", "version", "environment", "state", "owners", "facets",
             "attrs", "deidentifies", "event_time", "times", "created_at", "updated_at")


@dataclass(slots=True)
class EventRows:
    """What one event becomes in the graph: a raw-event row, 9 node rows and 6 edge rows (16 rows)."""

    raw: tuple[Any, ...]
    nodes: list[tuple[Any, ...]]
    edges: list[tuple[str, str, str]]


@dataclass
class RowMapper:
    current: dict[str, str] = field(default_factory=dict)

    def rows(self, ev: dict[str, Any], body: bytes, now: datetime) -> EventRows:
        t = datetime.fromisoformat(ev["eventTime"].replace("Z", "+00:00"))
        run_id, job = ev["run"]["runId"], ev["job"]
        key = hashlib.sha256(f"run|{run_id}|{ev['eventType']}|{job['namespace']}|{job['name']}|{t}".encode())
        raw = (key.hexdigest(), "run", ev["eventType"], t, run_id, job["namespace"], job["name"], ev["producer"],
               body.decode(), hashlib.sha256(body).hexdigest(), "[]", now, "[]")
        nodes: list[tuple[Any, ...]] = []

        def node(nid: str, kind: str, ns: str, name: str, version: str = "", facets: Any = None) -> str:
            nodes.append((nid, kind, ns, name, version, "", "", "[]", json.dumps(facets or {}), "{}", False, t,
                          "{}", now, now))
            return nid

        scl = job["facets"]["sourceCodeLocation"]
        j = node(f"job:{job['namespace']}:{job['name']}", "job", job["namespace"], job["name"], facets=job["facets"])
        r = node(f"run:{run_id}", "run", job["namespace"], run_id, facets=ev["run"]["facets"])
        c = node(f"commit:{scl['repoUrl']}:{scl['version']}", "commit", scl["repoUrl"], scl["version"])
        edges = [(c, j, "built_from"), (c, r, "built_from"), (j, r, "executes")]
        for d in ev["inputs"]:
            ds = node(f"dataset:{d['namespace']}:{d['name']}", "dataset", d["namespace"], d["name"],
                      facets=d["facets"])
            v = self.current.setdefault(ds, "initial")
            edges.append((node(f"datasetVersion:{d['namespace']}:{d['name']}#{v}", "datasetVersion",
                               d["namespace"], d["name"], v, d["facets"]), r, "reads"))
        for d in ev["outputs"]:
            ds = node(f"dataset:{d['namespace']}:{d['name']}", "dataset", d["namespace"], d["name"],
                      facets=d["facets"])
            self.current[ds] = run_id
            edges.append((r, node(f"datasetVersion:{d['namespace']}:{d['name']}#{run_id}", "datasetVersion",
                                  d["namespace"], d["name"], run_id, d["facets"]), "writes"))
        return EventRows(raw, nodes, edges)


def _dedupe_nodes(batch: list[EventRows]) -> list[tuple[Any, ...]]:
    seen: dict[str, tuple[Any, ...]] = {}
    for er in batch:
        for n in er.nodes:
            seen.setdefault(n[0], n)
    return [seen[k] for k in sorted(seen)]


def _dedupe_edges(batch: list[EventRows]) -> list[tuple[str, str, str]]:
    return sorted({e for er in batch for e in er.edges})


NODE_INSERT = (f"INSERT INTO baseline.node ({', '.join(NODE_COLS)}) VALUES ({', '.join(['%s'] * len(NODE_COLS))}) "
               "ON CONFLICT (node_id) DO NOTHING")
RAW_INSERT = (f"INSERT INTO baseline.rawevent ({', '.join(RAW_COLS)}) VALUES ({', '.join(['%s'] * len(RAW_COLS))}) "
              "ON CONFLICT (dedupe_key) DO NOTHING")
EDGE_INSERT_BY_IDS = ("INSERT INTO baseline.edge (src_id, dst_id, kind, created_at) VALUES (%s, %s, %s, now()) "
                      "ON CONFLICT (src_id, dst_id, kind) DO NOTHING")
STAGE_DDL = f"""
CREATE TEMP TABLE IF NOT EXISTS stage_node ON COMMIT DELETE ROWS AS
    SELECT {', '.join(NODE_COLS)} FROM baseline.node WITH NO DATA;
CREATE TEMP TABLE IF NOT EXISTS stage_edge (src text, dst text, kind text) ON COMMIT DELETE ROWS;
"""
NODE_FROM_STAGE = (f"INSERT INTO baseline.node ({', '.join(NODE_COLS)}) SELECT {', '.join(NODE_COLS)} FROM stage_node "
                   "ORDER BY node_id ON CONFLICT (node_id) DO NOTHING")
EDGE_FROM_STAGE = """
INSERT INTO baseline.edge (src_id, dst_id, kind, created_at)
SELECT s.id, d.id, e.kind, now()
FROM stage_edge e JOIN baseline.node s ON s.node_id = e.src JOIN baseline.node d ON d.node_id = e.dst
ON CONFLICT (src_id, dst_id, kind) DO NOTHING
"""


def _id_map(cur: psycopg.Cursor[Any], node_ids: list[str]) -> dict[str, int]:
    cur.execute("SELECT node_id, id FROM baseline.node WHERE node_id = ANY(%s)", (node_ids,))
    return dict(cur.fetchall())


def baseline_copy(conn: psycopg.Connection[Any], bodies: list[bytes]) -> float:
    t0 = time.perf_counter()
    with conn.cursor() as cur, cur.copy("COPY baseline.event_copy (payload) FROM STDIN") as cp:
        for b in bodies:
            cp.write_row((b.decode(),))
    conn.commit()
    return time.perf_counter() - t0


def baseline_set_based(conn: psycopg.Connection[Any], batches: list[list[EventRows]],
                       step: Callable[[str], None] | None = None) -> float:
    """Per batch, one transaction: COPY the raw events; COPY nodes and edges into temporary staging tables,
    then one INSERT ... SELECT ... ON CONFLICT for nodes and one for edges (joined to node pks).

    ``step``, if given, is called with the name of each step as it ends ("raw events", "nodes", "edges",
    "commit"), for a caller that splits the time (bench/ingest_floor.py)."""
    mark = step or (lambda name: None)
    conn.execute(STAGE_DDL)
    conn.commit()
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for batch in batches:
            with cur.copy(f"COPY baseline.rawevent ({', '.join(RAW_COLS)}) FROM STDIN") as cp:
                for er in batch:
                    cp.write_row(er.raw)
            mark("raw events")
            with cur.copy(f"COPY stage_node ({', '.join(NODE_COLS)}) FROM STDIN") as cp:
                for n in _dedupe_nodes(batch):
                    cp.write_row(n)
            cur.execute(NODE_FROM_STAGE)
            mark("nodes")
            with cur.copy("COPY stage_edge (src, dst, kind) FROM STDIN") as cp:
                for e in _dedupe_edges(batch):
                    cp.write_row(e)
            cur.execute(EDGE_FROM_STAGE)
            mark("edges")
            conn.commit()
            mark("commit")
    return time.perf_counter() - t0


def baseline_executemany(conn: psycopg.Connection[Any], batches: list[list[EventRows]]) -> float:
    """Per batch, one transaction: executemany of raw-event rows, node rows, then edge rows by node pk."""
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for batch in batches:
            cur.executemany(RAW_INSERT, [er.raw for er in batch])
            nodes = _dedupe_nodes(batch)
            cur.executemany(NODE_INSERT, nodes)
            ids = _id_map(cur, [n[0] for n in nodes])
            cur.executemany(EDGE_INSERT_BY_IDS, [(ids[s], ids[d], k) for s, d, k in _dedupe_edges(batch)])
            conn.commit()
    return time.perf_counter() - t0


def baseline_single(db: str, per_client: list[list[EventRows]]) -> float:
    """One transaction per event (raw row, 9 node rows, 6 edge rows), one connection per client thread."""
    errors: list[BaseException] = []

    def work(rows: list[EventRows]) -> None:
        try:
            with psycopg.connect(dsn(db)) as conn, conn.cursor() as cur:
                for er in rows:
                    cur.execute(RAW_INSERT, er.raw)
                    nodes = sorted({n[0]: n for n in er.nodes}.values())
                    cur.executemany(NODE_INSERT, nodes)
                    ids = _id_map(cur, [n[0] for n in nodes])
                    cur.executemany(EDGE_INSERT_BY_IDS, [(ids[s], ids[d], k) for s, d, k in sorted(set(er.edges))])
                    conn.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(rows,)) for rows in per_client]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


def run_baselines(args: argparse.Namespace, pool: Pool) -> dict[str, float]:
    n = args.baseline_events
    stream = EventStream(pool, seed=1_000_003)
    bodies = stream.take(n)
    events = [json.loads(b) for b in bodies]
    now = datetime.now(UTC)
    mapper = RowMapper()
    rows = [mapper.rows(e, b, now) for e, b in zip(events, bodies, strict=True)]
    rows_per_event = 1 + len(rows[0].nodes) + len(rows[0].edges)
    batches = [rows[i:i + args.batch_size] for i in range(0, n, args.batch_size)]
    out: dict[str, float] = {}
    log(f"\n== Baseline: raw PostgreSQL, same machine, same run ({n} events of the same shape, "
        f"avg {statistics.fmean(len(b) for b in bodies):.0f} bytes; {rows_per_event} rows per event: "
        f"1 raw event + {len(rows[0].nodes)} nodes + {len(rows[0].edges)} edges) ==")
    with psycopg.connect(dsn(args.db)) as conn:
        conn.execute(BASELINE_DDL)
        conn.commit()
        dt = baseline_copy(conn, bodies)
        out["copy"] = n / dt
        log(f"  COPY event JSON into a jsonb table:               {n / dt:10,.0f} rows/s (= events/s)  [{dt:.2f}s]")
        for name, fn in (("set", baseline_set_based), ("executemany", baseline_executemany)):
            conn.execute("TRUNCATE baseline.rawevent, baseline.edge, baseline.node")
            conn.commit()
            with CpuMeter(None) as cpu:
                dt = fn(conn, batches)
            out[name] = n / dt
            label = ("COPY + INSERT..SELECT nodes/edges" if name == "set" else "executemany raw/nodes/edges")
            log(f"  batch {args.batch_size}, {label + ':':38} {n / dt:10,.0f} events/s "
                f"{n * rows_per_event / dt:10,.0f} rows/s  [{dt:.2f}s; CPU per event: postgres "
                f"{cpu.used['postgres'] / n * 1000:.2f} ms, client {cpu.used['bench client'] / n * 1000:.2f} ms]")
        conn.execute("TRUNCATE baseline.rawevent, baseline.edge, baseline.node")
        conn.commit()
    m = min(n, args.baseline_single_events)
    k = args.single_clients
    per_client = [rows[i:m:k] for i in range(k)]
    dt = baseline_single(args.db, per_client)
    out["single"] = m / dt
    log(f"  one transaction per event, {k} connections:        {m / dt:10,.0f} events/s "
        f"{m * rows_per_event / dt:10,.0f} rows/s  [{dt:.2f}s, {m} events]")
    with psycopg.connect(dsn(args.db), autocommit=True) as conn:
        conn.execute("DROP SCHEMA baseline CASCADE")
    return out


# -- HTTP clients -----------------------------------------------------------------------------------------
class Client:
    """A keep-alive HTTP/1.1 client (http.client); reconnects when the server closes the connection."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.headers = port, {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                         "Connection": "keep-alive"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.reconnects = 0

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.conn.request("POST", path, body=body, headers=self.headers)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.reconnects += 1
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Progress:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0


def _rss_line(label: str, done: int, rss: dict[int, int]) -> str:
    parts = " ".join(f"pid {pid}: {kb / 1024:6.1f} MB" for pid, kb in sorted(rss.items()))
    return f"    {label:<24} events={done:>9,}  {parts}  total {sum(rss.values()) / 1024:6.1f} MB"


def _per_event(cpu: CpuMeter, events: int) -> str:
    if not events:
        return ""
    return "CPU per event: " + ", ".join(f"{name} {sec / events * 1000:.2f} ms" for name, sec in cpu.used.items())


class PgWaits:
    """Samples what the portal's database sessions are doing (``pg_stat_activity``) every ``interval`` seconds:
    running a statement, waiting for a lock (and which statement waits), idle inside a transaction (the worker
    is running Python with the transaction open) or idle outside one. Where the batch time goes on the
    database side, and how much of it two workers spend waiting for each other."""

    SQL = ("SELECT state, wait_event_type, wait_event, regexp_replace(left(query, 300), '\\s+', ' ', 'g') "
           "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'")

    def __init__(self, db: str, interval: float = 0.05) -> None:
        self.db, self.interval = db, interval
        self.states: Counter[str] = Counter()
        self.waiting: Counter[str] = Counter()
        self.running: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _statement(query: str) -> str:
        words = query.split()
        if words[:1] == ["WITH"] and "INSERT" in words:
            words = words[words.index("INSERT"):]
        return " ".join(words[:4])[:70]

    def _run(self) -> None:
        with psycopg.connect(dsn(self.db), autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                self.samples += 1
                for state, wtype, wevent, query in conn.execute(self.SQL, (self.db,)).fetchall():
                    if state == "active" and wtype in ("Lock", "LWLock"):
                        key = f"waiting for a lock ({wtype}: {wevent})"
                        self.waiting[f"{wevent}: {self._statement(query)}"] += 1
                    elif state == "active" and wtype == "Client":
                        key = "COPY: waiting for the worker's rows"
                    elif state == "active":
                        key = "running a statement" + (f" ({wtype})" if wtype else "")
                        self.running[self._statement(query)] += 1
                    elif state == "idle in transaction":
                        key = "idle in transaction (worker runs Python)"
                    else:
                        key = f"{state} (outside a transaction)"
                    self.states[key] += 1

    def __enter__(self) -> PgWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def report(self) -> None:
        total = sum(self.states.values()) or 1
        log(f"  database sessions of the workers, sampled every {self.interval * 1000:.0f} ms ({self.samples:,} "
            "samples; share of session-samples):")
        for key, n in self.states.most_common():
            log(f"    {100 * n / total:5.1f}%  {key}")
        for label, counter in (("waiting", self.waiting), ("running", self.running)):
            for key, n in counter.most_common(6):
                log(f"      {label} {100 * n / total:5.1f}%  {key}")


def batch_phase(args: argparse.Namespace, pool: Pool, server: Gunicorn, token: str) -> dict[str, Any]:
    total, size = args.events, args.batch_size
    n_batches = (total + size - 1) // size
    prog = Progress()
    next_batch = itertools.count()
    stop_at = time.monotonic() + args.batch_seconds
    samples: list[tuple[float, int, dict[int, int]]] = []
    sampling = threading.Event()

    def client(idx: int) -> None:
        stream = EventStream(pool, seed=10_000 + idx, clock_offset_us=idx)
        c = Client(server.port, token)
        try:
            while time.monotonic() < stop_at:
                b = next(next_batch)
                if b >= n_batches:
                    return
                n = min(size, total - b * size)
                body = b"[" + b",".join(stream.take(n)) + b"]"
                t0 = time.perf_counter()
                code, data = c.post("/api/v1/lineage/batch", body)
                dt = time.perf_counter() - t0
                with prog.lock:
                    prog.statuses[code] += 1
                    prog.latencies.append(dt)
                    if code == 200:
                        res = json.loads(data)
                        for k in ("created", "duplicate", "error"):
                            prog.outcomes[k] += res.get(k, 0)
                        prog.done += n
                    elif len(prog.errors) < 5:
                        prog.errors.append(f"HTTP {code}: {data[:300]!r}")
        finally:
            with prog.lock:
                prog.reconnects += c.reconnects
            c.close()

    def sampler() -> None:
        t0 = time.monotonic()
        step = total // 10 if total >= 200_000 else 0  # long runs print progress every 10%
        next_report = step
        while not sampling.wait(args.rss_interval):
            with prog.lock:
                done = prog.done
            rss = server.rss_kb()
            samples.append((time.monotonic() - t0, done, rss))
            if step and done >= next_report:
                next_report += step
                log(f"    progress: {done:,} events in {time.monotonic() - t0:.0f}s "
                    f"({done / (time.monotonic() - t0):,.0f} events/s so far), worker RSS total "
                    f"{sum(rss.values()) / 1024:.1f} MB")

    # Warm-up outside the timing: concurrent clients, so every worker has imported everything and connected.
    before = server.rss_kb()
    warm_errors: list[str] = []

    def warm_up(idx: int) -> None:
        stream, wc = EventStream(pool, seed=90 + idx), Client(server.port, token)
        for _ in range(2):
            code, data = wc.post("/api/v1/lineage/batch", b"[" + b",".join(stream.take(size)) + b"]")
            if code != 200:
                warm_errors.append(f"warm-up batch refused: HTTP {code} {data[:500]!r}")
        wc.close()

    warmers = [threading.Thread(target=warm_up, args=(i,)) for i in range(args.workers)]
    for t in warmers:
        t.start()
    for t in warmers:
        t.join()
    if warm_errors:
        raise RuntimeError(warm_errors[0])
    after_warm = server.rss_kb()

    log(f"\n== Batch endpoint: POST /api/v1/lineage/batch, {total:,} events in batches of {size}, "
        f"{args.batch_clients} client threads, gunicorn -w {args.workers} ({args.worker_class}) ==")
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.batch_clients)]
    samp = threading.Thread(target=sampler, daemon=True)
    t0 = time.perf_counter()
    with CpuMeter(server, others=_sidecars(args), db=args.db) as cpu, PgWaits(args.db) as waits:
        samp.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elapsed = time.perf_counter() - t0
    sampling.set()
    samp.join()
    end = server.rss_kb()
    rate = prog.done / elapsed if elapsed else 0.0
    cut = " (STOPPED by --batch-seconds)" if prog.done < total else ""
    log(f"  ingested {prog.done:,} events in {elapsed:.1f}s{cut}: {rate:,.0f} events/s  "
        f"[target >= 2,000 events/s: {'MET' if rate >= 2000 else 'NOT MET'}]")
    log(f"  HTTP statuses {dict(prog.statuses)}; outcomes {dict(prog.outcomes)}; "
        f"request latency {summary_ms(prog.latencies) if prog.latencies else '-'}")
    log(f"  {cpu.line()}")
    log(f"  {_per_event(cpu, prog.done)}")
    for e in prog.errors:
        log(f"  error: {e}")
    waits.report()
    log("  gunicorn worker RSS (VmRSS of the master's children):")
    log(_rss_line("before any request", 0, before))
    log(_rss_line("after warm-up", 0, after_warm))
    if samples:
        picks = {"25%": len(samples) // 4, "middle (50%)": len(samples) // 2, "75%": 3 * len(samples) // 4}
        for label, i in picks.items():
            _, done, rss = samples[min(i, len(samples) - 1)]
            log(_rss_line(label, done, rss))
    log(_rss_line("end", prog.done, end))
    if samples:
        peak = max(sum(r.values()) for _, _, r in samples)
        tenth = next((r for _, done, r in samples if done >= total // 10), samples[0][2])
        log(f"    peak total over {len(samples)} samples every {args.rss_interval:g}s: {peak / 1024:.1f} MB; "
            f"growth after warm-up -> end: {(sum(end.values()) - sum(after_warm.values())) / 1024:+.1f} MB; "
            f"from 10% of the events -> end: {(sum(end.values()) - sum(tenth.values())) / 1024:+.1f} MB")
        if args.rss_csv:
            with open(args.rss_csv, "w") as f:
                f.write("seconds,events," + ",".join(f"rss_kb_{p}" for p in sorted(end)) + "\n")
                for s, done, rss in samples:
                    f.write(f"{s:.1f},{done}," + ",".join(str(rss.get(p, "")) for p in sorted(end)) + "\n")
            log(f"    all samples written to {args.rss_csv}")
    return {"rate": rate, "done": prog.done}


def single_phase(args: argparse.Namespace, pool: Pool, server: Gunicorn, token: str) -> dict[str, Any]:
    total, k = args.single_events, args.single_clients
    prog = Progress()
    counter = itertools.count()
    stop_at = time.monotonic() + args.single_seconds
    before = server.rss_kb()

    def client(idx: int) -> None:
        stream = EventStream(pool, seed=20_000 + idx, clock_offset_us=1000 + idx)
        c = Client(server.port, token)
        lat: list[float] = []
        try:
            while time.monotonic() < stop_at and next(counter) < total:
                body = stream.take(1)[0]
                t0 = time.perf_counter()
                code, data = c.post("/api/v1/lineage", body)
                lat.append(time.perf_counter() - t0)
                with prog.lock:
                    prog.statuses[code] += 1
                    if code in (200, 201):
                        prog.done += 1
                        prog.outcomes[json.loads(data).get("status", "?")] += 1
                    elif len(prog.errors) < 5:
                        prog.errors.append(f"HTTP {code}: {data[:300]!r}")
        finally:
            with prog.lock:
                prog.latencies.extend(lat)
                prog.reconnects += c.reconnects
            c.close()

    deferred = getattr(args, "ingest_worker", None) is not None
    log(f"\n== Single-event endpoint: POST /api/v1/lineage, {total:,} events, {k} client threads "
        f"(http.client, keep-alive requested), gunicorn -w {args.workers} ({args.worker_class}); "
        + ("deferred: applied by a Celery worker on the ingest queue ==" if deferred else "applied inline =="))
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(k)]
    t0 = time.perf_counter()
    drained = None
    with CpuMeter(server, others=_sidecars(args), db=args.db) as cpu, PgWaits(args.db) as waits:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if deferred:
            drained = _drain(args.db, t0, args.single_seconds + 600)
    rate = prog.done / elapsed if elapsed else 0.0
    cut = " (STOPPED by --single-seconds)" if prog.done < total else ""
    log(f"  accepted {prog.done:,} events in {elapsed:.1f}s{cut}: {rate:,.0f} events/s  "
        f"[target >= 300 events/s: {'MET' if rate >= 300 else 'NOT MET'}]")
    out: dict[str, Any] = {"rate": rate, "done": prog.done}
    if drained is not None:
        out["applied_rate"] = prog.done / drained if drained else 0.0
        out["lag"] = _apply_lag(args.db)
        log(f"  applied through (backlog drained) at {drained:.1f}s: {out['applied_rate']:,.0f} events/s; "
            f"apply lag (applied_at - received_at) p50 {out['lag'][0] * 1000:,.0f} ms, p99 "
            f"{out['lag'][1] * 1000:,.0f} ms, max {out['lag'][2] * 1000:,.0f} ms")
    log(f"  HTTP statuses {dict(prog.statuses)}; outcomes {dict(prog.outcomes)}; "
        f"server-closed connections (reconnects) {prog.reconnects:,}")
    if prog.latencies:
        log(f"  request latency {summary_ms(prog.latencies)}")
    log(f"  {cpu.line()}")
    log(f"  {_per_event(cpu, prog.done)}")
    for e in prog.errors:
        log(f"  error: {e}")
    log(_rss_line("RSS before", 0, before))
    log(_rss_line("RSS after", prog.done, server.rss_kb()))
    waits.report()
    return out


def _drain(db: str, t0: float, limit: float) -> float | None:
    """Seconds from ``t0`` until no event waits to be applied (polled every 50 ms), None past ``limit``."""
    with psycopg.connect(dsn(db), autocommit=True) as conn:
        while time.perf_counter() - t0 < limit:
            waiting = conn.execute("SELECT EXISTS (SELECT 1 FROM lineage_rawevent WHERE applied_at IS NULL)")
            if not waiting.fetchone()[0]:
                return time.perf_counter() - t0
            time.sleep(0.05)
    return None


def _apply_lag(db: str) -> tuple[float, float, float]:
    """p50, p99 and max of applied_at - received_at (seconds) over the events applied by the worker."""
    with psycopg.connect(dsn(db), autocommit=True) as conn:
        row = conn.execute("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.99) WITHIN "
                           "GROUP (ORDER BY s), max(s) FROM (SELECT extract(epoch FROM applied_at - received_at) s "
                           "FROM lineage_rawevent WHERE applied_at > received_at) t").fetchone()
    return (float(row[0] or 0), float(row[1] or 0), float(row[2] or 0))


def start_ingest_worker(db: str, env: dict[str, str], log_path: str) -> subprocess.Popen[bytes]:
    """A Celery worker for the ``ingest`` queue, as docker-compose runs it (solo pool: one applier)."""
    with open(log_path, "wb") as logf:
        return subprocess.Popen([PYTHON, "-m", "celery", "-A", "portal", "worker", "-Q", "ingest", "--pool", "solo",
                                 "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
                                cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                                env=portal_env(db, **env))


def _sidecars(args: argparse.Namespace) -> dict[str, int]:
    out = {}
    seq = getattr(args, "sequencer_proc", None)
    if seq is not None:
        out["sequencer"] = seq.pid
    worker = getattr(args, "ingest_worker", None)
    if worker is not None:
        out["ingest worker"] = worker.pid
    return out


def start_sequencer(db: str, log_path: str) -> subprocess.Popen[bytes]:
    """``manage.py audit_sequencer`` as docker-compose runs it: the writers only append pending audit entries.

    Returns once it has started its loop: its start (Django, system checks: about 1 s of CPU) would otherwise
    fall into the single-event phase's CPU figures on a loaded machine, as most of the sequencer's share."""
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen([PYTHON, "manage.py", "audit_sequencer"], cwd=ROOT, stdout=logf,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=portal_env(db, PORTAL_AUDIT_SEQUENCER="service"))
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        with open(log_path, "rb") as logf:
            if b"audit sequencer: latency" in logf.read():
                break
        time.sleep(0.1)
    return proc


def stop_sequencer(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # only the process group started here
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def db_counts(db: str) -> str:
    with psycopg.connect(dsn(db)) as conn:
        parts = []
        for table in ("lineage_rawevent", "lineage_node", "lineage_edge"):
            parts.append(f"{table}={conn.execute(f'SELECT count(*) FROM {table}').fetchone()[0]:,}")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    return ", ".join(parts) + f", database size {size}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=50_000, help="events for the batch run (1000000 for the full "
                   "memory run; default %(default)s)")
    p.add_argument("--batch-size", type=int, default=500, help="events per batch request (default %(default)s)")
    p.add_argument("--batch-clients", type=int, default=2, help="concurrent batch clients (default %(default)s)")
    p.add_argument("--single-events", type=int, default=3_000, help="events for the single-event run "
                   "(default %(default)s)")
    p.add_argument("--single-clients", type=int, default=8, help="concurrent single-event client threads "
                   "(default %(default)s)")
    p.add_argument("--baseline-events", type=int, default=20_000, help="events for the raw PostgreSQL baselines "
                   "(default %(default)s)")
    p.add_argument("--baseline-single-events", type=int, default=3_000,
                   help="events for the one-transaction-per-event baseline (default %(default)s)")
    p.add_argument("--datasets", type=int, default=3_000, help="dataset pool size (default %(default)s)")
    p.add_argument("--sources", type=int, default=200, help="source datasets in the pool (default %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default %(default)s)")
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (default %(default)s; "
                   "sync workers close the connection after every response)")
    p.add_argument("--threads", type=int, default=1, help="gunicorn --threads (gthread; default %(default)s)")
    p.add_argument("--app", default="portal.wsgi", help="gunicorn application (portal.asgi with "
                   "--worker-class uvicorn.workers.UvicornWorker; default %(default)s)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for gunicorn, e.g. PORTAL_INGEST_GROUP=0 (repeatable)")
    p.add_argument("--audit-sequencer", choices=["service", "inline"], default="service",
                   help="service (default, as docker-compose runs it): a separate `manage.py audit_sequencer` "
                   "process chains the audit entries; inline: every request chains its own (the demo and tests)")
    p.add_argument("--batch-seconds", type=float, default=3600, help="stop the batch run after this long "
                   "(default %(default)s)")
    p.add_argument("--single-seconds", type=float, default=120, help="stop the single-event run after this "
                   "long (default %(default)s)")
    p.add_argument("--rss-interval", type=float, default=2.0, help="seconds between RSS samples (default "
                   "%(default)s)")
    p.add_argument("--rss-csv", help="write every RSS sample to this CSV file")
    p.add_argument("--broker", default=os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/1"),
                   help="Redis for deferred application (PORTAL_INGEST_DEFER, the default; default %(default)s)")
    p.add_argument("--skip", action="append", default=[], choices=["baseline", "batch", "single"],
                   help="skip a phase (repeatable)")
    p.add_argument("--db", default=run_name("lineage_bench_ingest"),
                   help="database to (re)create (default %(default)s: one per run)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    p.add_argument("--max-seconds", type=float, default=0, help="overall time limit (default: the phase limits "
                   "plus 15 minutes)")
    args = p.parse_args()
    limit = args.max_seconds or args.batch_seconds + args.single_seconds + 900

    log(f"bench/ingest.py  {machine_line()}")
    pool = Pool(datasets=args.datasets, sources=args.sources)
    gen = EventStream(pool, seed=1)
    t0 = time.perf_counter()
    sample = gen.take(5000)
    gen_rate = 5000 / (time.perf_counter() - t0)
    log(f"events: RunEvent START/COMPLETE pairs, 2 inputs, 1 output, 4 facets (schema x2, sourceCodeLocation, "
        f"nominalTime), avg {statistics.fmean(map(len, sample)):.0f} bytes; pool of {len(pool.datasets):,} "
        f"datasets, {len(pool.jobs):,} jobs; client-side generation {gen_rate:,.0f} events/s on one core")
    server: Gunicorn | None = None
    results: dict[str, Any] = {}
    try:
        with deadline(limit):
            recreate_database(args.db)
            log(f"database {args.db}: re-created, migrated in {migrate(args.db):.1f}s")
            token = issue_token(args.db, "benchsvc", "ingestor")
            if "baseline" not in args.skip:
                results["baseline"] = run_baselines(args, pool)
            mode = {"PORTAL_AUDIT_SEQUENCER": args.audit_sequencer,
                    **dict(kv.split("=", 1) for kv in args.env)}
            if args.audit_sequencer == "service":
                args.sequencer_proc = start_sequencer(args.db, f"/tmp/bench-sequencer-{args.db}.log")
            if mode.get("PORTAL_INGEST_DEFER", "1").lower() not in ("0", "false", "no", "off"):
                # Deferred application needs a broker and a worker on the ingest queue; this run's own queue names
                # and key prefix keep it apart from anything else on the Redis.
                mode.update({"CELERY_BROKER_URL": args.broker, "CELERY_KEY_PREFIX": f"{args.db}:",
                             "CELERY_TASK_DEFAULT_QUEUE": f"{args.db}-default"})
                args.ingest_worker = start_ingest_worker(args.db, mode, f"/tmp/bench-ingest-worker-{args.db}.log")
            server = Gunicorn(args.db, workers=args.workers, worker_class=args.worker_class,
                              threads=args.threads, env=mode, app=args.app).start()
            log(f"\ngunicorn: {' '.join(server.cmdline[1:])} (pid {server.proc.pid if server.proc else '?'}, "
                f"workers {server.worker_pids()}, log {server.log_path}); audit sequencer: "
                f"{args.audit_sequencer}" + (f" (manage.py audit_sequencer, pid {args.sequencer_proc.pid})"
                                             if args.audit_sequencer == "service" else " (each request)")
                + (f"; environment {' '.join(args.env)}" if args.env else "")
                + (f"; ingest worker pid {args.ingest_worker.pid} (log /tmp/bench-ingest-worker-{args.db}.log)"
                   if getattr(args, "ingest_worker", None) is not None else ""))
            if "batch" not in args.skip:
                results["batch"] = batch_phase(args, pool, server, token)
                log(f"  database after the batch run: {db_counts(args.db)}")
            if "single" not in args.skip:
                results["single"] = single_phase(args, pool, server, token)
            log(f"\ndatabase at the end: {db_counts(args.db)}")
    finally:
        if server is not None:
            server.stop()
        if getattr(args, "sequencer_proc", None) is not None:
            stop_sequencer(args.sequencer_proc)
        if getattr(args, "ingest_worker", None) is not None:
            stop_sequencer(args.ingest_worker)
        if not args.keep_db:
            drop_database(args.db)
    log("\n== Summary ==")
    base = results.get("baseline")

    def raw(key: str) -> str:
        return f"{base[key]:,.0f}/s" if base else "skipped"

    def ratio(key: str, base_key: str) -> str:
        if not base:
            return ""
        r = results[key]["rate"] / base[base_key]
        return f" = {r:.2f} x baseline (target >= 0.7: {'MET' if r >= 0.7 else 'NOT MET'})"

    if "batch" in results:
        log(f"  batch endpoint   {results['batch']['rate']:8,.0f} events/s{ratio('batch', 'set')} | raw PG same rows: "
            f"COPY+INSERT..SELECT {raw('set')}, executemany {raw('executemany')}, COPY JSON only {raw('copy')}")
    if "single" in results:
        log(f"  single endpoint  {results['single']['rate']:8,.0f} events/s{ratio('single', 'single')} | raw PG one "
            f"transaction per event: {raw('single')}")
        if "applied_rate" in results["single"]:
            s = results["single"]
            r = f" = {s['applied_rate'] / base['single']:.2f} x baseline" if base else ""
            log(f"  applied through  {s['applied_rate']:8,.0f} events/s{r} (until the backlog was drained); apply "
                f"lag p50 {s['lag'][0] * 1000:,.0f} ms, p99 {s['lag'][1] * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
