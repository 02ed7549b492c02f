"""Soak: the portal under gunicorn with its own PostgreSQL, Redis and Celery worker, under load and faults.

    .venv/bin/python bench/soak.py [--events 100000] [--clients 8]

What it does (loopback only, bounded by ``--max-seconds``, everything it started is stopped in ``finally``):

1. Starts its own PostgreSQL 15 instance (``initdb`` into a fresh directory under /tmp, port ``--pg-port``,
   run as the ``postgres`` OS user) and its own Redis (``--redis-port``, no persistence), creates the
   database, migrates, creates users, teams, a staging policy and tokens, then starts ``gunicorn -w 3`` and
   a prefork Celery worker (``-c 1``) against them. The shared PostgreSQL on 5432 and Redis on 6379 are
   never touched.
2. Generates a deterministic set of ``--events`` distinct OpenLineage RunEvents (START/COMPLETE pairs with
   inputs and outputs, commits, training runs that produce model versions, deploy runs), adds exact
   duplicates (``--dup-rate``) and puts COMPLETE before START for a share of runs (``--swap-rate``).
   Every dataset a run reads names its version in a ``version`` facet, so the graph does not depend on the
   order in which runs arrive (see "Rule for the graph" below).
3. Sends a small preamble serially (the training runs whose model versions will be released), then the rest
   from ``--clients`` concurrent clients: one uses the real openlineage-python HTTP transport (one event
   per request, its own urllib3 retry on 5xx and connection errors); the others post batches of
   ``--batch-size`` to ``/api/v1/lineage/batch`` with some chunks sent one event per request, and retry
   503/5xx/connection errors themselves (sleeping ``min(Retry-After, 1 s)``).
4. Meanwhile: a requester asks for releases over HTTP and approvers sign them concurrently (two approvers
   of different teams race on each release, and a second model-risk approver races them; the same
   approver also double-submits); a compliance officer requests a framework report.
5. Faults: at ``--pg-restart-at`` of the events sent, PostgreSQL is stopped (``pg_ctl stop -m fast``), kept
   down ``--pg-down`` seconds and started again; the clients see 503 and retry. Once the report is running,
   the Celery worker's pool process is killed with SIGKILL; the task is acked late, so it is redelivered
   and the report is taken over.
6. Proves, PASS/FAIL each: every distinct event stored exactly once; the graph equals the one built by
   ingesting the same distinct events serially into a second database of the same instance; every
   release has exactly the signatures whose requests got a 2xx; ``verify_audit`` OK; the report is done
   with attempts >= 2; no HTTP request took longer than ``--latency-bound`` seconds.

Rule for the graph: node ids, edges (source id, target id, kind) and facet tags are compared as sets, and so
are the states of runs and deployments: a run's state must converge to its final state (COMPLETE wins
whatever the arrival order) and deployments to active/superseded by event time. Node pks, timestamps and
which request stored an event first are not compared.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests
from _common import GUNICORN, PYTHON, ROOT, children, deadline, git_state, log, percentile

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/integration/airflow"
RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET = "https://openlineage.io/spec/facets/1-0-0/{0}.json#/$defs/{0}"
PORTAL_FACET = "https://lineage-portal.invalid/spec/facets/1-0-0/{0}.json#/$defs/{0}"
BASE_TIME = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RELEASES = 12  # model versions in the preamble, each gets a release request
MODELS = 4


# -- events ------------------------------------------------------------------------------------------------
def _f(name: str, /, **body: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACET.format(name), **body}


def _pf(name: str, /, **body: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": PORTAL_FACET.format(name), **body}


def _ds(ns: str, name: str, version: str | None = None, **facets: Any) -> dict[str, Any]:
    fs = dict(facets)
    if version is not None:
        fs["version"] = _f("DatasetVersionDatasetFacet", datasetVersion=version)
    return {"namespace": ns, "name": name, "facets": fs}


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Run:
    run_id: str
    job_ns: str
    job_name: str
    start: datetime
    end: datetime
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    run_facets: dict[str, Any] = field(default_factory=dict)
    job_facets: dict[str, Any] = field(default_factory=dict)

    def event(self, event_type: str) -> bytes:
        t = self.start if event_type == "START" else self.end
        ev = {"eventType": event_type, "eventTime": _stamp(t), "producer": PRODUCER, "schemaURL": RUN_SCHEMA,
              "run": {"runId": self.run_id, "facets": self.run_facets},
              "job": {"namespace": self.job_ns, "name": self.job_name, "facets": self.job_facets},
              "inputs": self.inputs, "outputs": self.outputs}
        return json.dumps(ev, separators=(",", ":")).encode()


def _scl(path: str, sha: str) -> dict[str, Any]:
    return {"sourceCodeLocation": _f("SourceCodeLocationJobFacet", type="git",
                                     url=f"https://github.com/acme/pipelines/blob/{sha}/{path}",
                                     repoUrl="https://github.com/acme/pipelines", path=path, version=sha,
                                     branch="main")}


def _sha(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()  # noqa: S324 - a fake git sha


def _training(rng: random.Random, k: int, version: str, t: datetime) -> Run:
    m = f"model-{k % MODELS}"
    feat = f"features/set_{k % MODELS}"
    schema = _f("SchemaDatasetFacet", fields=[{"name": "customer_id", "type": "BIGINT"},
                                               {"name": "score", "type": "DOUBLE"}])
    return Run(str(uuid.UUID(int=rng.getrandbits(128), version=4)), "ml", f"train.{m}", t,
               t + timedelta(seconds=30),
               inputs=[_ds("s3://features", feat, f"f{version}", schema=schema)],
               outputs=[_ds("s3://models", f"{m}/v{version}", f"artifact-{version}",
                            portalModelVersion=_pf("PortalModelVersionDatasetFacet", name=m, version=version,
                                                   framework="sklearn", metrics={"auc": 0.8}))],
               job_facets=_scl(f"ml/train_{m}.py", _sha("train", m, version)))


def _deploy(rng: random.Random, k: int, version: str, t: datetime) -> Run:
    m = f"model-{k % MODELS}"
    return Run(str(uuid.UUID(int=rng.getrandbits(128), version=4)), "ml", f"deploy.{m}", t,
               t + timedelta(seconds=5), inputs=[_ds("s3://models", f"{m}/v{version}", f"artifact-{version}")],
               outputs=[],
               run_facets={"portalDeployment": _pf("PortalDeploymentRunFacet", environment="staging",
                                                    action="deploy", model={"name": m, "version": version})},
               job_facets=_scl(f"ml/deploy_{m}.py", _sha("deploy", m)))


def _etl(rng: random.Random, r: int, jobs: int, datasets: int, t: datetime) -> Run:
    j = r % jobs
    out = datasets - jobs + j
    a, b = rng.randrange(out), rng.randrange(out)

    def ds(i: int) -> tuple[str, str]:
        if i < datasets - jobs:
            return f"postgres://oltp-{i % 4}.internal:5432", f"shop.public.table_{i}"
        return ("bigquery", f"analytics-prod.mart_{i % 23}.table_{i}") if i % 3 else \
            (f"s3://lake-{i % 5}", f"curated/domain_{i % 37}/dataset_{i}")

    schema = _f("SchemaDatasetFacet", fields=[
        {"name": "id", "type": "BIGINT"}, {"name": "email", "type": "VARCHAR", "tags": [{"key": "PII"}]}
        if out % 11 == 0 else {"name": "amount", "type": "NUMERIC"}])
    dag = f"dag_{j // 8:04d}"
    run_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return Run(run_id, f"airflow-{j % 3}", f"{dag}.task_{j % 8}", t, t + timedelta(seconds=rng.randint(1, 600)),
               inputs=[_ds(*ds(a), f"v{rng.randrange(50)}", schema=schema), _ds(*ds(b), f"v{rng.randrange(50)}")],
               outputs=[_ds(*ds(out), None, schema=schema)],
               run_facets={"nominalTime": _f("NominalTimeRunFacet", nominalStartTime=_stamp(t))},
               job_facets=_scl(f"dags/{dag}.py", _sha(dag, r // 2000)))


@dataclass
class EventSet:
    preamble: list[bytes]  # sent serially first: training runs of the release candidates
    distinct: list[bytes]  # every distinct event, preamble included, in generation order
    stream: list[bytes]  # what the concurrent clients send: bulk + duplicates, some COMPLETE before START
    keys: set[tuple[str, str]]  # (run id, event type) of every distinct event
    swapped: set[str]  # run ids whose COMPLETE is sent before their START
    candidates: list[str]  # model versions to release (preamble)
    duplicates: int


def generate(n: int, *, seed: int, dup_rate: float, swap_rate: float) -> EventSet:
    rng = random.Random(seed)
    t = BASE_TIME
    preamble_runs = []
    for k in range(RELEASES):
        preamble_runs.append(_training(rng, k, str(k + 1), t))
        t += timedelta(minutes=1)
    preamble = [e for run in preamble_runs for e in (run.event("START"), run.event("COMPLETE"))]
    runs: list[Run] = []
    trained: list[tuple[int, str]] = []
    jobs, datasets = 400, 1000
    r = 0
    while len(preamble) + 2 * len(runs) < n:
        t += timedelta(milliseconds=rng.randint(50, 400))
        if r % 250 == 17:
            k = r // 250
            v = str(1000 + k)
            runs.append(_training(rng, k, v, t))
            trained.append((k, v))
        elif r % 250 == 150 and trained:
            k, v = trained[-1]
            runs.append(_deploy(rng, k, v, t))
        else:
            runs.append(_etl(rng, r, jobs, datasets, t))
        r += 1
    # Runs overlap as with real producers: each run's COMPLETE follows a few later STARTs.
    stream: list[bytes] = []
    pending: list[tuple[int, Run]] = []
    swapped: set[str] = set()
    for run in runs:
        swap = rng.random() < swap_rate
        if swap:
            swapped.add(run.run_id)
            stream += [run.event("COMPLETE"), run.event("START")]
            continue
        stream.append(run.event("START"))
        pending.append((rng.randint(1, 12), run))
        for item in [p for p in pending if p[0] <= 0]:
            stream.append(item[1].event("COMPLETE"))
        pending = [(d - 1, p) for d, p in pending if d > 0]
    stream += [p.event("COMPLETE") for _, p in pending]
    distinct = preamble + stream
    if len(distinct) > n:  # the last run overshot by one event: drop that run whole
        last = runs[-1]
        stream = [e for e in stream if last.run_id.encode() not in e]
        distinct = preamble + stream
        swapped.discard(last.run_id)
    keys = set()
    for e in distinct:
        ev = json.loads(e)
        keys.add((ev["run"]["runId"], ev["eventType"]))
    assert len(keys) == len(distinct), "generated events are not distinct"
    dups = int(len(stream) * dup_rate)
    out = list(stream)
    for _ in range(dups):
        out.insert(rng.randrange(len(out) + 1), stream[rng.randrange(len(stream))])
    return EventSet(preamble, distinct, out, keys, swapped, [str(k + 1) for k in range(RELEASES)], dups)


# -- stats -------------------------------------------------------------------------------------------------
class Stats:
    """Latency of every HTTP attempt by endpoint, and outcomes by kind, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.kinds: Counter[str] = Counter()
        self.by_endpoint: dict[str, Counter[str]] = defaultdict(Counter)
        self.first_ok_after: dict[float, float] = {}
        self.ok_times: list[float] = []
        self.failures: list[tuple[float, str, str]] = []  # (time, endpoint, kind) of every 5xx or connection error
        self.slowest: tuple[float, str, str] = (0.0, "", "")

    def record(self, endpoint: str, kind: str, seconds: float, t_end: float) -> None:
        with self.lock:
            self.latency[endpoint].append(seconds)
            self.kinds[kind] += 1
            self.by_endpoint[endpoint][kind] += 1
            if kind.startswith("2"):
                self.ok_times.append(t_end)
            elif not kind.startswith("4"):
                self.failures.append((t_end, endpoint, kind))
            if seconds > self.slowest[0]:
                self.slowest = (seconds, endpoint, kind)

    def first_ok_after_time(self, t: float) -> float | None:
        with self.lock:
            later = [x for x in self.ok_times if x > t]
        return min(later) if later else None


def _kind(code: int | None, exc: BaseException | None) -> str:
    if exc is not None:
        text = str(exc).lower()
        if isinstance(exc, requests.Timeout):
            return "timeout"
        if "refused" in text:
            return "connection refused"
        return "connection error (reset/closed)"
    assert code is not None
    if 200 <= code < 300:
        return "2xx"
    if code == 503:
        return "503"
    if 400 <= code < 500:
        return f"4xx ({code})"
    return f"5xx other ({code})"


class Http:
    """One keep-alive session; retries 503, other 5xx and connection errors for up to ``give_up`` seconds."""

    def __init__(self, base: str, token: str, stats: Stats, *, give_up: float = 300) -> None:
        self.base, self.stats, self.give_up = base, stats, give_up
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        self.retries = 0

    def call(self, method: str, path: str, endpoint: str, body: bytes | None = None,
             retry: bool = True) -> tuple[int, Any, int]:
        """(status, parsed body, attempts). Raises if the retries run out."""
        first = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            t0 = time.perf_counter()
            code: int | None = None
            exc: BaseException | None = None
            resp = None
            try:
                resp = self.session.request(method, self.base + path, data=body, timeout=120)
                code = resp.status_code
            except requests.RequestException as e:
                exc = e
            t1 = time.perf_counter()
            kind = _kind(code, exc)
            self.stats.record(endpoint, kind, t1 - t0, time.monotonic())
            if code is not None and code < 500:
                try:
                    data = resp.json() if resp is not None and resp.content else None
                except ValueError:
                    data = resp.text if resp is not None else None
                return code, data, attempts
            if not retry or time.monotonic() - first > self.give_up:
                raise RuntimeError(f"{method} {path}: gave up after {attempts} attempts ({kind})")
            self.retries += 1
            wait = 0.2 * attempts
            if resp is not None and resp.headers.get("Retry-After", "").isdigit():
                wait = int(resp.headers["Retry-After"])
            time.sleep(min(wait, 1.0))


# -- services we start ---------------------------------------------------------------------------------------
def _as_postgres(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True,
                          timeout=timeout, check=False)


class PgInstance:
    """A private PostgreSQL 15 cluster: its own data directory and port, started and stopped with pg_ctl."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "pgdata"
        self.logfile = root / "postgres.log"

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres", "postgres")
        out = _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "-E", "UTF8", "--no-instructions")
        if out.returncode:
            raise RuntimeError(f"initdb failed: {out.stderr[-2000:]}")
        with (self.data / "postgresql.conf").open("a") as fh:
            fh.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                     "max_connections = 100\nshared_buffers = 256MB\n")

    def start(self) -> float:
        t0 = time.monotonic()
        out = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w", "-t",
                           "60", "start")
        if out.returncode:
            raise RuntimeError(f"pg_ctl start failed: {out.stdout[-1000:]} {out.stderr[-1000:]}")
        return time.monotonic() - t0

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def dsn(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def create_db(self, db: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')


class Redis:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.pidfile = root / "redis.pid"

    def start(self) -> None:
        out = subprocess.run(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(self.pidfile),
                              "--dir", str(self.root), "--logfile", str(self.root / "redis.log")],
                             capture_output=True, text=True, timeout=30, check=False)
        if out.returncode:
            raise RuntimeError(f"redis-server failed: {out.stderr}")
        for _ in range(50):
            if self.pidfile.exists():
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not write its pidfile")

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(self.pidfile.read_text().strip()), signal.SIGTERM)


def _stop_group(proc: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# -- the soak ----------------------------------------------------------------------------------------------
@dataclass
class Shared:
    stats: Stats
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    ingest_done: threading.Event = field(default_factory=threading.Event)
    pg_down: threading.Event = field(default_factory=threading.Event)
    releases_requested: threading.Event = field(default_factory=threading.Event)
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, n: int, outcomes: dict[str, int] | None = None) -> None:
        with self.lock:
            self.sent += n
            for k, v in (outcomes or {}).items():
                self.outcomes[k] += v


def batch_client(idx: int, chunks: list[list[bytes]], base: str, token: str, sh: Shared, single_every: int) -> None:
    http = Http(base, token, sh.stats)
    try:
        for c, chunk in enumerate(chunks):
            if sh.stop.is_set():
                return
            if single_every and c % single_every == single_every - 1:
                for ev in chunk:
                    code, data, _ = http.call("POST", "/api/v1/lineage", "POST /api/v1/lineage", ev)
                    if code not in (200, 201):
                        sh.errors.append(f"client {idx}: single event refused: {code} {str(data)[:300]}")
                    sh.add(1, {"created" if code == 201 else "duplicate" if code == 200 else "error": 1})
            else:
                body = b"[" + b",".join(chunk) + b"]"
                code, data, _ = http.call("POST", "/api/v1/lineage/batch", "POST /api/v1/lineage/batch", body)
                if code != 200 or data.get("error"):
                    sh.errors.append(f"client {idx}: batch refused: {code} {str(data)[:300]}")
                    sh.add(len(chunk))
                else:
                    sh.add(len(chunk), {"created": data["created"], "duplicate": data["duplicate"]})
    except Exception as exc:  # noqa: BLE001 - reported, the check fails
        sh.errors.append(f"client {idx}: {exc!r}")


def ol_client(events: list[bytes], base: str, token: str, sh: Shared) -> None:
    """The real openlineage-python HTTP transport, one event per request; its urllib3 Retry does the retrying."""
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    transport = HttpTransport(HttpConfig.from_dict({
        "url": base, "auth": {"type": "api_key", "apiKey": token}, "timeout": 120,
        # The default (5 retries, backoff 0.3, honouring Retry-After) gives up inside a PostgreSQL restart.
        "retry": {"total": 40, "read": 40, "connect": 40, "status": 40, "backoff_factor": 0.3},
    }))
    for raw in events:
        if sh.stop.is_set():
            return
        ev = json.loads(raw)
        t0 = time.perf_counter()
        for attempt in range(5):
            try:
                resp = transport.emit(ev)
                sh.stats.record("POST /api/v1/lineage (openlineage-python, incl. its retries)", f"{resp.status_code}"
                                [:1] + "xx", time.perf_counter() - t0, time.monotonic())
                sh.add(1, {"created" if resp.status_code == 201 else "duplicate": 1})
                break
            except Exception as exc:  # noqa: BLE001 - the transport raised after its own retries
                sh.stats.record("POST /api/v1/lineage (openlineage-python, incl. its retries)",
                                f"client gave up ({type(exc).__name__})", time.perf_counter() - t0,
                                time.monotonic())
                if attempt == 4:
                    sh.errors.append(f"openlineage client: {exc!r}")
                    return
                time.sleep(1)


@dataclass
class Votes:
    cast: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    confirmed_on_retry: list[tuple[int, str]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def approvals(base: str, tokens: dict[str, str], password: str, candidates: list[str], sh: Shared,
              votes: Votes, release_ids: list[int], total: int) -> None:
    """Request a release per candidate, then sign each with racing approvers over HTTP, spread over the load."""
    req = Http(base, tokens["requester"], sh.stats)
    try:
        for i, version in enumerate(candidates):
            body = json.dumps({"model": f"model-{i % MODELS}", "version": version, "environment": "staging",
                               "justification": f"Soak release of model-{i % MODELS} {version}."}).encode()
            code, data, _ = req.call("POST", "/api/v1/releases", "POST /api/v1/releases", body)
            if code != 201:
                sh.errors.append(f"release request refused: {code} {str(data)[:300]}")
                continue
            release_ids.append(data["id"])
    finally:
        sh.releases_requested.set()

    def sign(rid: int, who: str) -> None:
        http = Http(base, tokens[who], sh.stats)
        # As a signer does: load the release, then sign the subject digest that was shown.
        _, shown, _ = http.call("GET", f"/api/v1/releases/{rid}", "GET /api/v1/releases/<id>", None)
        body = json.dumps({"password": password, "meaning": "approval", "subject_digest": (shown or {}).get(
            "subject_digest", ""), "reason": f"{who} reviewed release {rid} during the soak."}).encode()
        code, data, attempts = http.call("POST", f"/api/v1/releases/{rid}/approve",
                                         "POST /api/v1/releases/<id>/approve", body)
        text = json.dumps(data) if data is not None else ""
        with votes.lock:
            if 200 <= code < 300:
                votes.cast[rid].add(who)
            elif attempts > 1 and "already signed" in text:
                # An earlier attempt committed and then failed to answer (the database went down after the
                # commit): the retry learns that the vote was cast.
                votes.cast[rid].add(who)
                votes.confirmed_on_retry.append((rid, who))
            else:
                detail = data.get("detail", "") if isinstance(data, dict) else str(data)
                votes.refused[f"{code}: {re.sub(r'Release [0-9]+', 'Release N', detail)[:70]}"] += 1

    in_outage = len(release_ids) // 3
    for round_no, rid in enumerate(release_ids):
        if round_no == in_outage:
            # This round signs while PostgreSQL is down: the approvers get 503 and retry until it is back.
            sh.pg_down.wait(timeout=1800)
        # Spread the other rounds over the first 90% of the events.
        while sh.sent < total * 0.9 * round_no / len(release_ids) and not sh.ingest_done.is_set():
            time.sleep(0.2)
        if sh.stop.is_set():
            return
        # mr1 and co1 race; mr2 races them (the quorum needs one model-risk vote); mr1 double-submits.
        signers = ["mr1", "co1", "mr2", "mr1"] if round_no % 2 == 0 else ["mr2", "co2", "mr1", "co2"]
        threads = [threading.Thread(target=sign, args=(rid, w)) for w in signers]
        for th in threads:
            th.start()
        for th in threads:
            th.join()


def main() -> None:  # noqa: C901, PLR0915 - one script, read top to bottom
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=250)
    ap.add_argument("--single-every", type=int, default=25, help="every Nth chunk is sent one event per request")
    ap.add_argument("--ol-share", type=float, default=0.01, help="share of the stream the openlineage client sends")
    ap.add_argument("--dup-rate", type=float, default=0.05)
    ap.add_argument("--swap-rate", type=float, default=0.10)
    ap.add_argument("--pg-restart-at", type=float, default=0.35)
    ap.add_argument("--pg-down", type=float, default=5.0)
    ap.add_argument("--report-at", type=float, default=0.55)
    ap.add_argument("--report-timeout", type=float, default=600.0, help="stop waiting for the report after this")
    ap.add_argument("--latency-bound", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--pg-port", type=int, default=55432)
    ap.add_argument("--redis-port", type=int, default=56379)
    ap.add_argument("--http-port", type=int, default=18080)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--max-seconds", type=int, default=3600)
    ap.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="soak-"))
    root.chmod(0o755)  # the postgres OS user must reach its data directory inside
    pg, redis_srv = PgInstance(root / "pg", args.pg_port), Redis(root, args.redis_port)
    failed = True
    log(f"soak: {args.events:,} events, {args.clients} clients; code {git_state()}; work dir {root}")
    try:
        with deadline(args.max_seconds):
            failed = run(args, root, pg, redis_srv)
    finally:
        for proc in RUNNING:
            _stop_group(proc)
        redis_srv.stop()
        pg.stop("immediate")
        if not args.keep and not failed:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"logs kept in {root}")
    sys.exit(1 if failed else 0)


RUNNING: list[subprocess.Popen[bytes]] = []


def _start(cmd: list[str], env: dict[str, str], logpath: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logpath.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    RUNNING.append(proc)
    return proc


def _manage(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    out = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout, check=False)
    if out.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {out.stdout[-1500:]} {out.stderr[-3000:]}")
    return out.stdout


def _helper(env: dict[str, str], *args: str, timeout: float = 1800) -> dict[str, Any]:
    out = subprocess.run([PYTHON, str(ROOT / "bench" / "_soak_django.py"), *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode:
        raise RuntimeError(f"_soak_django {args[0]} failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env(root: Path, pg: PgInstance, db: str, redis_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": pg.url(db), "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_DEBUG": "0",
        "PORTAL_ALLOWED_HOSTS": "127.0.0.1", "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "PORTAL_VAR_DIR": str(root / "var"), "PORTAL_AUDIT_KEY": str(root / "var" / "audit.pem"),
        "PORTAL_AUDIT_CHECKPOINT_DIR": str(root / "var" / "checkpoints"),
        "PORTAL_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    })
    return env


def _wait_port(port: int, timeout: float = 60) -> None:
    import socket

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def _graph(dsn: str) -> dict[str, set[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        nodes = set(conn.execute("SELECT node_id, kind FROM lineage_node").fetchall())
        states = set(conn.execute("SELECT node_id, state FROM lineage_node WHERE kind IN ('run', 'deployment')")
                     .fetchall())
        edges = set(conn.execute("SELECT s.node_id, d.node_id, e.kind FROM lineage_edge e JOIN lineage_node s ON "
                                 "s.id = e.src_id JOIN lineage_node d ON d.id = e.dst_id").fetchall())
        tags = set(conn.execute("SELECT n.node_id, t.field, t.tag, t.source FROM lineage_nodetag t JOIN lineage_node n "
                                "ON n.id = t.node_id").fetchall())
    return {"nodes": nodes, "states": states, "edges": edges, "tags": tags}


def run(args: argparse.Namespace, root: Path, pg: PgInstance, redis_srv: Redis) -> bool:
    t_all = time.monotonic()
    pg.init()
    pg.start()
    redis_srv.start()
    pg.create_db("soak")
    env = _env(root, pg, "soak", args.redis_port)
    (root / "var").mkdir(exist_ok=True)
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "audit_keygen")
    setup = _helper(env, "setup")
    tokens, password = setup["tokens"], setup["password"]
    log(f"setup: own PostgreSQL on {args.pg_port}, own Redis on {args.redis_port}, migrated "
        f"({time.monotonic() - t_all:.0f}s)")

    t0 = time.monotonic()
    es = generate(args.events, seed=args.seed, dup_rate=args.dup_rate, swap_rate=args.swap_rate)
    log(f"generated {len(es.distinct):,} distinct events ({len(es.swapped):,} runs with COMPLETE before START), "
        f"{es.duplicates:,} exact duplicates, stream of {len(es.preamble) + len(es.stream):,} in "
        f"{time.monotonic() - t0:.1f}s")

    _start([GUNICORN, "portal.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{args.http_port}",
                       "--timeout", "120"], env, root / "gunicorn.log")
    worker = _start([PYTHON, "-m", "celery", "-A", "portal", "worker", "-P", "prefork", "-c", "1",
                     "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"], env,
                    root / "worker.log")
    _wait_port(args.http_port)
    base = f"http://127.0.0.1:{args.http_port}"
    stats = Stats()
    sh = Shared(stats)

    # Preamble: the training runs of the models to release, serially.
    pre = Http(base, tokens["ingest"], stats)
    for ev in es.preamble:
        code, data, _ = pre.call("POST", "/api/v1/lineage", "POST /api/v1/lineage", ev)
        if code != 201:
            raise RuntimeError(f"preamble event refused: {code} {data}")
    sh.add(len(es.preamble), {"created": len(es.preamble)})

    # Split the stream: a share for the openlineage-python client, the rest in chunks round-robin.
    rng = random.Random(args.seed + 1)
    ol_events, rest = [], []
    for ev in es.stream:
        (ol_events if rng.random() < args.ol_share else rest).append(ev)
    chunks = [rest[i:i + args.batch_size] for i in range(0, len(rest), args.batch_size)]
    n_batch_clients = max(1, args.clients - 1)
    per_client = [chunks[i::n_batch_clients] for i in range(n_batch_clients)]
    total = len(es.preamble) + len(es.stream)

    votes, release_ids = Votes(), []
    threads = [threading.Thread(target=batch_client, args=(i + 1, per_client[i], base, tokens["ingest"], sh,
                                                           args.single_every), daemon=True)
               for i in range(n_batch_clients)]
    threads.append(threading.Thread(target=ol_client, args=(ol_events, base, tokens["ingest"], sh), daemon=True))
    approver = threading.Thread(target=approvals, args=(base, tokens, password, es.candidates, sh, votes,
                                                        release_ids, total), daemon=True)
    log(f"load: {len(rest):,} events in {len(chunks)} chunks of {args.batch_size} over {n_batch_clients} clients "
        f"(every {args.single_every}th chunk one event per request), {len(ol_events):,} through openlineage-python; "
        f"gunicorn -w {args.workers}, celery prefork -c 1")
    t_load = time.monotonic()
    for th in threads:
        th.start()
    approver.start()

    officer = Http(base, tokens["officer"], stats)
    pg_stopped_at = pg_started_at = None
    report_id = None
    kill_at = None
    kill_pids: list[int] = []
    progress_mark = 0.1
    report_done_at = None
    report: dict[str, Any] = {}
    report_asked_at = 0.0
    while any(th.is_alive() for th in threads) or (report_id and report_done_at is None):
        time.sleep(0.2)
        if report_id and not any(th.is_alive() for th in threads) and \
                time.monotonic() - report_asked_at > args.report_timeout:
            log(f"  report not finished {args.report_timeout:.0f}s after it was requested: not waiting any longer")
            break
        done = sh.sent / total
        if done >= progress_mark:
            log(f"  {done:4.0%} sent, {time.monotonic() - t_load:6.1f}s, errors so far {dict(stats.kinds)}")
            progress_mark += 0.1
        if pg_stopped_at is None and done >= args.pg_restart_at and sh.releases_requested.is_set():
            log(f"  fault: stopping PostgreSQL at {sh.sent:,} events sent")
            pg_stopped_at = time.monotonic()
            pg.stop("fast")
            sh.pg_down.set()
            time.sleep(args.pg_down)
            pg.start()
            pg_started_at = time.monotonic()
            log(f"  fault: PostgreSQL back after {pg_started_at - pg_stopped_at:.1f}s down")
        if report_id is None and done >= args.report_at:
            body = json.dumps({"kind": "framework", "framework": "model-risk"}).encode()
            code, data, _ = officer.call("POST", "/api/v1/reports", "POST /api/v1/reports", body)
            if code != 202:
                raise RuntimeError(f"report request refused: {code} {data}")
            report_id = data["id"]
            report_asked_at = time.monotonic()
            log(f"  report {report_id} requested at {sh.sent:,} events sent")
        if report_id and report_done_at is None:
            _, report, _ = officer.call("GET", f"/api/v1/reports/{report_id}", "GET /api/v1/reports/<id>")
            if kill_at is None and report["state"] == "running" and report["progress"] >= 5:
                kill_pids = children(worker.pid)
                for pid in kill_pids:
                    os.kill(pid, signal.SIGKILL)
                kill_at = time.monotonic()
                log(f"  fault: SIGKILL to the worker's pool process {kill_pids} at {report['progress']}% "
                    f"({report['step']})")
            if report["state"] in ("done", "failed"):
                report_done_at = time.monotonic()
                log(f"  report {report['state']} after {report['attempts']} attempts")
    t_load_end = time.monotonic()
    sh.ingest_done.set()
    for th in threads:
        th.join()
    approver.join(timeout=300)
    load_seconds = t_load_end - t_load
    log(f"load finished in {load_seconds:.1f}s; client errors: {len(sh.errors)}")
    for e in sh.errors[:20]:
        log(f"  ! {e}")

    # -- proofs -------------------------------------------------------------------------------------------
    results: list[tuple[str, bool, str]] = []
    with psycopg.connect(pg.dsn("soak")) as conn:
        stored = conn.execute("SELECT run_id, event_type FROM lineage_rawevent").fetchall()
        sigs = conn.execute("SELECT release_id, u.username FROM approvals_signature s JOIN accounts_user u "
                            "ON u.id = s.signer_id").fetchall()
        releases_stored = [r for (r,) in conn.execute("SELECT id FROM approvals_release ORDER BY id").fetchall()]
        swapped_states = dict(conn.execute(
            "SELECT name, state FROM lineage_node WHERE kind = 'run' AND name = ANY(%s)",
            [list(es.swapped)]).fetchall())
    stored_keys = Counter((r, t) for r, t in stored)
    dup_stored = sum(1 for v in stored_keys.values() if v > 1)
    missing = es.keys - set(stored_keys)
    extra = set(stored_keys) - es.keys
    results.append(("every distinct event stored exactly once", len(stored) == len(es.keys) and not missing
                    and not extra and not dup_stored,
                    f"{len(stored):,} stored, {len(es.keys):,} distinct sent; missing {len(missing)}, unexpected "
                    f"{len(extra)}, stored twice {dup_stored}"))
    not_done = [r for r, s in swapped_states.items() if s != "COMPLETED"]
    results.append(("runs whose COMPLETE came before START end COMPLETED", not not_done and
                    len(swapped_states) == len(es.swapped),
                    f"{len(swapped_states):,} such runs, {len(not_done)} not COMPLETED"))

    # The same distinct events, serially, into a second database of the same instance.
    pg.create_db("soak_serial")
    env2 = _env(root, pg, "soak_serial", args.redis_port)
    env2["CELERY_BROKER_URL"] = ""  # nothing to enqueue: no releases there
    _manage(env2, "migrate", "--noinput", "-v", "0")
    events_file = root / "distinct.ndjson"
    events_file.write_bytes(b"\n".join(es.distinct) + b"\n")
    t_serial = time.monotonic()
    _helper(env2, "serial", str(events_file))
    serial_seconds = time.monotonic() - t_serial
    g1, g2 = _graph(pg.dsn("soak")), _graph(pg.dsn("soak_serial"))
    diffs = []
    for key in ("nodes", "edges", "tags", "states"):
        only1, only2 = g1[key] - g2[key], g2[key] - g1[key]
        if only1 or only2:
            diffs.append(f"{key}: {len(only1)} only in the soak (e.g. {sorted(only1)[:3]}), {len(only2)} only "
                         f"serial (e.g. {sorted(only2)[:3]})")
    results.append(("graph equals the serially built one", not diffs,
                    f"{len(g1['nodes']):,} nodes, {len(g1['edges']):,} edges, {len(g1['tags']):,} tags, "
                    f"{len(g1['states']):,} run/deployment states" + ("; " + "; ".join(diffs) if diffs else "")))

    signed: dict[int, set[str]] = defaultdict(set)
    sig_rows = Counter(sigs)
    for rid, who in sigs:
        signed[rid].add(who)
    wrong = [rid for rid in release_ids if signed.get(rid, set()) != votes.cast.get(rid, set())]
    twice = [k for k, v in sig_rows.items() if v > 1]
    n_votes = sum(len(v) for v in votes.cast.values())
    results.append(("every release has exactly the votes cast", bool(release_ids) and n_votes > 0 and not wrong
                    and not twice,
                    f"{len(release_ids)} releases, {n_votes} votes got 2xx "
                    f"({len(votes.confirmed_on_retry)} confirmed on retry), {len(sigs)} signatures; refused "
                    f"{dict(votes.refused)}; mismatched {wrong[:5]}"))

    results.append(("PostgreSQL was restarted and the worker killed mid-load", bool(pg_started_at and kill_pids),
                    f"restart {'done' if pg_started_at else 'NOT done'}, pool processes killed {kill_pids}"))
    results.append(("one release per request answered 201 (a retried request creates no second release)",
                    sorted(release_ids) == releases_stored,
                    f"{len(release_ids)} answered 201, {len(releases_stored)} stored"))
    window_end = (stats.first_ok_after_time(pg_started_at) or time.monotonic()) if pg_started_at else 0.0
    outside = [f for f in stats.failures if not (pg_stopped_at and pg_stopped_at <= f[0] <= window_end + 1.0)]
    results.append(("no 5xx or connection error outside the PostgreSQL restart window", not outside,
                    f"{len(stats.failures)} in the window, {len(outside)} outside {Counter(k for _, _, k in outside)}"))
    verify = subprocess.run([PYTHON, "manage.py", "verify_audit"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900, check=False)
    results.append(("verify_audit OK over the whole chain", verify.returncode == 0 and "OK" in verify.stdout,
                    (verify.stdout.strip() or verify.stderr.strip())[-300:]))
    results.append(("report done after its worker was killed, attempts >= 2",
                    report.get("state") == "done" and report.get("attempts", 0) >= 2 and bool(kill_pids),
                    f"state {report.get('state')}, attempts {report.get('attempts')}, killed {kill_pids}"))
    slowest = stats.slowest
    results.append((f"no HTTP request over {args.latency_bound:.0f} s", slowest[0] <= args.latency_bound,
                    f"slowest {slowest[0]:.2f}s ({slowest[1]}, {slowest[2]})"))
    results.append(("no client gave up or was refused", not sh.errors, f"{len(sh.errors)} errors"))

    # -- figures ------------------------------------------------------------------------------------------
    log("\n== Figures ==")
    log(f"events: {len(es.distinct):,} distinct + {es.duplicates:,} duplicates = {total:,} sent in {load_seconds:.1f}s "
        f"= {total / load_seconds:,.0f} events/s held (including the restart and the report); outcomes "
        f"{dict(sh.outcomes)}")
    for ep, lat in sorted(stats.latency.items()):
        log(f"  {ep:62} n={len(lat):6,} p50={percentile(lat, 50) * 1000:8.1f} ms "
            f"p99={percentile(lat, 99) * 1000:8.1f} ms max={max(lat) * 1000:8.1f} ms  {dict(stats.by_endpoint[ep])}")
    log(f"responses by kind (every attempt): {dict(stats.kinds)}")
    if pg_started_at and pg_stopped_at:
        first_ok = stats.first_ok_after_time(pg_started_at)
        log(f"PostgreSQL down {pg_started_at - pg_stopped_at:.1f}s (stop to ready); recovery: first 2xx "
            f"{(first_ok - pg_started_at) if first_ok else float('nan'):.2f}s after it was ready")
    if kill_at and report_done_at:
        log(f"worker kill to report done: {report_done_at - kill_at:.1f}s (attempts {report.get('attempts')})")
    log(f"serial ingest of the same {len(es.distinct):,} events (in-process, batches of 500): {serial_seconds:.1f}s")
    reasons = Counter(line.split("database unavailable: ", 1)[1][:90].strip()
                      for line in (root / "gunicorn.log").read_text(errors="replace").splitlines()
                      if "database unavailable: " in line)
    log(f"503 causes logged by gunicorn: {dict(reasons)}")
    log(f"whole soak {time.monotonic() - t_all:.0f}s")
    log("\n== Proofs ==")
    for name, ok, detail in results:
        log(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return not all(ok for _, ok, _ in results)


if __name__ == "__main__":
    main()
