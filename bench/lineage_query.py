"""Lineage query benchmark: upstream walks from deployments over a ~1,000,000-edge graph.

Targets: ``lineage.selectors.lineage_walk(seeds=[deployment], direction="upstream", depth=20)`` and
``GET /api/v1/nodes/<id>/upstream?depth=20`` with median < 100 ms and p99 < 500 ms; issue 19: the HTTP walk within
3 x the one-SQL "CTE + rows as JSON" baseline of the same run, and the explorer's graph API
(``GET /api/v1/nodes/<model version>/graph?depth=5``) under 200 ms median. Each is printed beside a baseline
measured in the same run: the bare recursive CTE through psycopg (and the CTE plus the edge and node rows the API
needs, in one raw SQL round trip; for the graph, both directions' neighbourhood with rows and edges as JSON).
Marquez's ``GET /api/v1/lineage?nodeId=<job>&depth=20`` (the same walks from a job and its runs, both ways, to 41
edges) is printed beside the JSON baseline too.

The graph is built directly in PostgreSQL with set-based ``INSERT ... SELECT ... generate_series`` and has the
shape of real pipelines: runs read two dataset versions written by recent runs (mostly local parents; a
fraction ``--far`` reach far back), write one new version, are executed by a job and built from a commit; every
``--model-every``-th run produces a model version, deployed to staging and (every other one) production.

    .venv/bin/python bench/lineage_query.py                       # 1,000,000 edges (default)
    .venv/bin/python bench/lineage_query.py --edges 200000        # smaller and quicker

The database (default ``lineage_bench_query``) is dropped and re-created at the start and dropped at the end
unless ``--keep-db``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
from typing import Any
from urllib.parse import quote

import psycopg
from _common import (
    ROOT,
    Gunicorn,
    database_url,
    deadline,
    drop_database,
    dsn,
    issue_token,
    log,
    machine_line,
    migrate,
    percentile,
    recreate_database,
    run_name,
    summary_ms,
)

EDGES_PER_RUN = 5  # 2 reads, 1 writes, 1 executes, 1 built_from


# -- building the graph ----------------------------------------------------------------------------------
class Layout:
    """Node primary keys by kind: contiguous ranges, so edges can be computed arithmetically in SQL."""

    def __init__(self, *, edges: int, model_every: int, commits_per_job: int) -> None:
        per_run = EDGES_PER_RUN + 2.5 / model_every
        runs_guess = int(edges / per_run)
        self.jobs = max(20, runs_guess // 200)
        self.commits_per_job = commits_per_job
        self.commits = self.jobs * commits_per_job
        self.runs = max(100, int((edges - self.commits) / per_run))
        self.sources = max(10, self.jobs // 10)
        self.source_versions = self.sources * 5
        self.models = self.runs // model_every
        self.deployments = self.models + (self.models + 1) // 2  # staging for all, prod for every other
        self.model_every = model_every
        self.commit0 = 0
        self.job0 = self.commit0 + self.commits
        self.dataset0 = self.job0 + self.jobs  # job j writes dataset j; sources come after the job datasets
        self.source0 = self.dataset0 + self.jobs
        self.sv0 = self.source0 + self.sources
        self.run0 = self.sv0 + self.source_versions
        self.dsv0 = self.run0 + self.runs
        self.mv0 = self.dsv0 + self.runs
        self.dep0 = self.mv0 + self.models
        self.total_nodes = self.dep0 + self.deployments

    @property
    def expected_edges(self) -> int:
        return self.commits + self.runs * EDGES_PER_RUN + self.models + self.deployments


NODE_COLS = ("id, node_id, kind, namespace, name, version, environment, parent_id, state, owners, facets, attrs, "
             "deidentifies, event_time, created_at, updated_at, times")
SCHEMA_FACET = json.dumps({"schema": {"_producer": "bench", "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/"
                                      "SchemaDatasetFacet.json", "fields": [
                                          {"name": n, "type": t} for n, t in (
                                              ("id", "BIGINT"), ("customer_id", "BIGINT"),
                                              ("amount", "NUMERIC(18,2)"), ("created_at", "TIMESTAMP"),
                                              ("status", "VARCHAR"))]}})


def build_statements(L: Layout, *, far: float, window: int, seed: float) -> list[tuple[str, str]]:
    """(label, SQL) in order. ``in1`` is 1-5 runs back; ``in2`` 6..window back (skewed near), or anywhere
    earlier with probability ``far``; inputs before the first run read a source dataset version."""
    t0 = "timestamptz '2025-01-01 00:00:00+00'"
    job_ns = "'airflow-' || (j % 5)"
    job_name = "'dag_' || lpad((j / 10)::text, 4, '0') || '.task_' || (j % 10)"
    ds_name = "'analytics.mart_' || (j % 20) || '.table_' || j"
    run_uuid = "md5('run' || i)::uuid::text"
    job_of = f"((i - 1) % {L.jobs})"
    runs_per_job = -(-L.runs // L.jobs)

    def dsv_of(x: str) -> str:
        """The dataset version written by run ``x``, or a source dataset version before the first run."""
        source = f"{L.sv0} + 1 + ((r.i * 7919 + abs({x})) % {L.source_versions})"
        return f"(CASE WHEN {x} >= 1 THEN {L.dsv0} + {x} ELSE {source} END)"

    schema = f"'{SCHEMA_FACET}'::jsonb"
    common = "'[]'::jsonb, {facets}, {attrs}, false, {t}, {t}, {t}, '{{}}'::jsonb"
    stmts = [
        ("commits", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.commit0} + c, 'commit:https://git.example.com/team-' || (j % 40) || '/repo-' || j || ':' || sha,
       'commit', 'https://git.example.com/team-' || (j % 40) || '/repo-' || j, sha, '', '', NULL::bigint, '',
       {common.format(facets="'{}'::jsonb", attrs="'{}'::jsonb", t=f"{t0} + c * interval '1 minute'")}
FROM (SELECT c, (c - 1) / {L.commits_per_job} AS j, md5('c' || c) || substr(md5('s' || c), 1, 8) AS sha
      FROM generate_series(1, {L.commits}) c) s"""),
        ("jobs", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.job0} + 1 + j, 'job:' || {job_ns} || ':' || {job_name}, 'job', {job_ns}, {job_name}, '', '', NULL::bigint, '',
       {common.format(facets="'{}'::jsonb", attrs="'{}'::jsonb", t=t0)}
FROM generate_series(0, {L.jobs - 1}) j"""),
        ("datasets", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.dataset0} + 1 + j, 'dataset:bigquery:' || {ds_name}, 'dataset', 'bigquery', {ds_name}, '', '',
       NULL::bigint, '',
       {common.format(facets=schema, attrs="'{}'::jsonb", t=t0)}
FROM generate_series(0, {L.jobs - 1}) j
UNION ALL
SELECT {L.source0} + 1 + s, 'dataset:postgres://oltp.internal:5432:shop.public.t_' || s, 'dataset',
       'postgres://oltp.internal:5432', 'shop.public.t_' || s, '', '', NULL::bigint, '',
       {common.format(facets=schema, attrs="'{}'::jsonb", t=t0)}
FROM generate_series(0, {L.sources - 1}) s"""),
        ("source dataset versions", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.sv0} + 1 + v, 'datasetVersion:postgres://oltp.internal:5432:shop.public.t_' || (v % {L.sources})
       || '#initial-' || v, 'datasetVersion', 'postgres://oltp.internal:5432', 'shop.public.t_' || (v % {L.sources}),
       'initial-' || v, '', {L.source0} + 1 + (v % {L.sources}), '',
       {common.format(facets=schema, attrs="'{}'::jsonb", t=t0)}
FROM generate_series(0, {L.source_versions - 1}) v"""),
        ("runs", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.run0} + i, 'run:' || {run_uuid}, 'run', {job_ns}, {run_uuid}, '', '', {L.job0} + 1 + j, 'COMPLETED',
       {common.format(facets="'{}'::jsonb",
                      attrs=f"jsonb_build_object('job', 'job:' || {job_ns} || ':' || {job_name})",
                      t=f"{t0} + i * interval '10 seconds'")}
FROM (SELECT i, {job_of} AS j FROM generate_series(1, {L.runs}) i) r"""),
        ("dataset versions", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.dsv0} + i, 'datasetVersion:bigquery:' || {ds_name} || '#' || {run_uuid}, 'datasetVersion', 'bigquery',
       {ds_name}, {run_uuid}, '', {L.dataset0} + 1 + j, '',
       {common.format(facets=schema, attrs=f"jsonb_build_object('run', 'run:' || {run_uuid})",
                      t=f"{t0} + i * interval '10 seconds'")}
FROM (SELECT i, {job_of} AS j FROM generate_series(1, {L.runs}) i) r"""),
        ("model versions", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.mv0} + k, 'modelVersion:ml:model_' || (k % 100) || '#' || k, 'modelVersion', 'ml', 'model_' || (k % 100),
       k::text, '', NULL::bigint, '',
       {common.format(facets="'{}'::jsonb", attrs="jsonb_build_object('framework', 'sklearn')",
                      t=f"{t0} + k * {L.model_every} * interval '10 seconds'")}
FROM generate_series(1, {L.models}) k"""),
        ("deployments", f"""
INSERT INTO lineage_node ({NODE_COLS})
SELECT {L.dep0} + row_number() OVER (ORDER BY k, env), 'deployment:ml:model_' || (k % 100) || '#' || k || '@' || env,
       'deployment', 'ml', 'model_' || (k % 100), k::text, env, NULL, 'active',
       {common.format(facets="'{}'::jsonb", attrs="'{}'::jsonb",
                      t=f"{t0} + k * {L.model_every} * interval '10 seconds'")}
FROM generate_series(1, {L.models}) k CROSS JOIN (VALUES ('staging'), ('production')) e(env)
WHERE env = 'staging' OR k % 2 = 1"""),
        ("sequence", "SELECT setval(pg_get_serial_sequence('lineage_node', 'id'), (SELECT max(id) FROM lineage_node))"),
        # As in a real catalog, the operational sources carry personal data: the explorer's sensitive-tag walk
        # finds tags and carries them down, instead of answering "none" early.
        ("tags: every source dataset PII, one in three also on a column", f"""
INSERT INTO lineage_nodetag (node_id, field, tag, source, created_at)
SELECT id, '', 'PII', 'api', {t0} FROM lineage_node WHERE kind = 'dataset' AND namespace LIKE 'postgres://%'
UNION ALL
SELECT id, 'customer_id', 'PII', 'api', {t0} FROM lineage_node
WHERE kind = 'dataset' AND namespace LIKE 'postgres://%' AND id % 3 = 0"""),
        ("random seed", f"SELECT setseed({seed})"),
        ("edges: commit -> job (built_from)", f"""
INSERT INTO lineage_edge (src_id, dst_id, kind, created_at)
SELECT {L.commit0} + c, {L.job0} + 1 + (c - 1) / {L.commits_per_job}, 'built_from', {t0}
FROM generate_series(1, {L.commits}) c"""),
        ("edges: per run (reads x2, writes, executes, built_from)", f"""
INSERT INTO lineage_edge (src_id, dst_id, kind, created_at)
SELECT e.src, e.dst, e.kind, {t0} + r.i * interval '10 seconds'
FROM (
    SELECT i, {job_of} AS j,
           i - 1 - floor(random() * 5)::int AS in1,
           CASE WHEN random() < {far} THEN i - 6 - floor(random() * greatest(i - 6, 1))::int
                ELSE i - 6 - floor(power(random(), 2) * {window})::int END AS in2
    FROM generate_series(1, {L.runs}) i
) r
CROSS JOIN LATERAL (VALUES
    ({dsv_of("r.in1")}, {L.run0} + r.i, 'reads'),
    ({dsv_of("r.in2")}, {L.run0} + r.i, 'reads'),
    ({L.run0} + r.i, {L.dsv0} + r.i, 'writes'),
    ({L.job0} + 1 + r.j, {L.run0} + r.i, 'executes'),
    ({L.commit0} + 1 + r.j * {L.commits_per_job}
     + least({L.commits_per_job} - 1, ((r.i - 1) / {L.jobs}) * {L.commits_per_job} / {runs_per_job}),
     {L.run0} + r.i, 'built_from')
) e(src, dst, kind)
ON CONFLICT DO NOTHING"""),
        ("edges: run -> model version (produces), model version -> deployment (deploys)", f"""
INSERT INTO lineage_edge (src_id, dst_id, kind, created_at)
SELECT {L.run0} + k * {L.model_every}, {L.mv0} + k, 'produces', {t0} FROM generate_series(1, {L.models}) k
UNION ALL
SELECT {L.mv0} + version::bigint, id, 'deploys', {t0} FROM lineage_node WHERE kind = 'deployment'"""),
    ]
    return stmts


def build_graph(db: str, L: Layout, *, far: float, window: int, seed: float) -> float:
    t_start = time.perf_counter()
    with psycopg.connect(dsn(db), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET work_mem = '64MB'")
        for label, stmt in build_statements(L, far=far, window=window, seed=seed):
            t0 = time.perf_counter()
            cur = conn.execute(stmt)
            log(f"  {label:<75} {cur.rowcount if cur.rowcount >= 0 else '':>9} rows {time.perf_counter() - t0:6.1f}s")
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) lineage_node")
        conn.execute("VACUUM (ANALYZE) lineage_edge")
        log(f"  {'VACUUM (ANALYZE) node and edge tables':<75} {'':>9}      {time.perf_counter() - t0:6.1f}s")
    return time.perf_counter() - t_start


# -- measuring -------------------------------------------------------------------------------------------
BARE_CTE = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT %(seed)s::bigint, 0
    UNION
    SELECT e.src_id, w.depth + 1 FROM walk w JOIN lineage_edge e ON e.dst_id = w.id WHERE w.depth < %(depth)s
)
SELECT id, min(depth) AS d FROM walk GROUP BY id
"""
NO_JOBS_CTE = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT %(seed)s::bigint, 0
    UNION
    SELECT e.src_id, w.depth + 1 FROM walk w JOIN lineage_edge e ON e.dst_id = w.id
    WHERE w.depth < %(depth)s AND e.kind <> 'executes'
)
SELECT id, min(depth) AS d FROM walk GROUP BY id
"""
FULL_SQL = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT %(seed)s::bigint, 0
    UNION
    SELECT e.src_id, w.depth + 1 FROM walk w JOIN lineage_edge e ON e.dst_id = w.id WHERE w.depth < %(depth)s
), closure AS (SELECT id, min(depth) AS d FROM walk GROUP BY id)
SELECT json_build_object(
    'nodes', (SELECT json_agg(json_build_object('id', n.node_id, 'kind', n.kind, 'namespace', n.namespace,
                                                'name', n.name, 'version', n.version, 'distance', c.d)
                              ORDER BY c.d, c.id)
              FROM closure c JOIN lineage_node n ON n.id = c.id),
    'edges', (SELECT json_agg(json_build_object('source', e.src_id, 'target', e.dst_id, 'kind', e.kind))
              FROM lineage_edge e JOIN closure a ON a.id = e.dst_id JOIN closure b ON b.id = e.src_id)
)::text
"""

# The explorer's neighbourhood in one statement: both directions to a depth, the nearest 300 nodes, their rows
# and the edges between them as JSON (no visibility, sensitive tags or layout).
GRAPH_SQL = """
WITH RECURSIVE up(id, depth) AS (
    SELECT %(seed)s::bigint, 0
    UNION SELECT e.src_id, u.depth + 1 FROM up u JOIN lineage_edge e ON e.dst_id = u.id WHERE u.depth < %(depth)s
), down(id, depth) AS (
    SELECT %(seed)s::bigint, 0
    UNION SELECT e.dst_id, d.depth + 1 FROM down d JOIN lineage_edge e ON e.src_id = d.id WHERE d.depth < %(depth)s
), near AS (
    SELECT id, min(depth) AS d FROM (SELECT * FROM up UNION ALL SELECT * FROM down) b GROUP BY id
    ORDER BY 2, 1 LIMIT 300
)
SELECT json_build_object(
    'nodes', (SELECT json_agg(json_build_object('id', n.node_id, 'kind', n.kind, 'namespace', n.namespace,
                                                'name', n.name, 'version', n.version, 'distance', c.d))
              FROM near c JOIN lineage_node n ON n.id = c.id),
    'edges', (SELECT json_agg(json_build_object('source', e.src_id, 'target', e.dst_id, 'kind', e.kind))
              FROM lineage_edge e JOIN near a ON a.id = e.dst_id JOIN near b ON b.id = e.src_id)
)::text
"""


def ratio_verdict(times: list[float], baseline: list[float], most: float) -> str:
    r = statistics.median(times) / statistics.median(baseline)
    return f"median {r:.2f} x the CTE + rows as JSON baseline [within {most:g} x: {'MET' if r <= most else 'NOT MET'}]"


def timed(fn: Any, items: list[Any], cap: float = 0) -> tuple[list[float], list[Any]]:
    """Call ``fn`` on each item, timing each call; stop early once ``cap`` seconds have passed (0: no cap)."""
    times, results = [], []
    start = time.perf_counter()
    for it in items:
        t0 = time.perf_counter()
        results.append(fn(it))
        times.append(time.perf_counter() - t0)
        if cap and t0 - start > cap:
            break
    return times, results


def capped(times: list[float], wanted: int) -> str:
    return f"  (stopped at {len(times)} of {wanted}: --series-seconds reached)" if len(times) < wanted else ""


class SqlTimer:
    """A Django execute wrapper: wall time of each statement (client-side query building, round trip and the
    server's work), keyed by the statement's first words and its parameter count."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self.params: list[int] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            n = len(params) if isinstance(params, list | tuple) else 0
            self.calls.append((" ".join(sql.split()[:6])[:60], time.perf_counter() - t0))
            self.params.append(n)


def graph_verdict(times: list[float]) -> str:
    return f"[median < 200 ms: {'MET' if statistics.median(times) * 1000 < 200 else 'NOT MET'}]"


def verdict(times: list[float]) -> str:
    med, p99 = statistics.median(times) * 1000, percentile(times, 99) * 1000
    ok = med < 100 and p99 < 500
    return f"[median < 100 ms and p99 < 500 ms: {'MET' if ok else 'NOT MET'}]"


def _plain_nodes(ids: list[int], distance: dict[int, int]) -> list[dict[str, Any]]:
    """The API's node list from two plain SQL statements (ids as one array parameter), dicts built by hand."""
    from collections import defaultdict

    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id, node_id, kind, namespace, name, version, environment, state, owners::text, updated_at "
                    "FROM lineage_node WHERE id = ANY(%s)", [ids])
        rows = cur.fetchall()
        cur.execute("SELECT node_id, field, tag, source FROM lineage_nodetag WHERE node_id = ANY(%s)", [ids])
        tags: dict[int, list[dict[str, str]]] = defaultdict(list)
        for nid, fld, tag, source in cur.fetchall():
            tags[nid].append({"field": fld, "tag": tag, "source": source})
    out = [{"id": r[1], "kind": r[2], "namespace": r[3], "name": r[4], "version": r[5], "environment": r[6],
            "state": r[7], "owners": json.loads(r[8]), "tags": tags.get(r[0], []),
            "updatedAt": r[9].isoformat().replace("+00:00", "Z"), "distance": distance[r[0]]} for r in rows]
    out.sort(key=lambda d: (d["distance"], d["id"]))
    return out


def breakdown(picks: list[tuple[int, str]], depth: int) -> None:
    """Time the steps of GET .../upstream one by one (the Python path of lineage/api/nodes.py's NodeWalkApi, which
    SQLite takes; on PostgreSQL the API answers with walk_json, timed on its own), per request, and two alternatives
    for the slow steps (measured here only; the portal's code is not changed)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.renderers import JSONRenderer

    from lineage import selectors
    from lineage.api import NodeSummarySerializer
    from lineage.api.nodes import walk_response

    user = get_user_model().objects.get(username="benchadmin")
    timer = SqlTimer()
    walk_sql: dict[str, list[float]] = {}
    walk_params: dict[str, list[int]] = {}
    steps: dict[str, list[float]] = {k: [] for k in (
        "node_get", "lineage_walk", "node_summaries", "_walk_response", "JSON render", "total")}
    sql_answer: list[float] = []
    alt: dict[str, list[float]] = {k: [] for k in (
        "nodes_by_pk objects -> NodeSummarySerializer(many=True)",
        "2 plain SQL (= ANY(array)) + dicts by hand",
        "lineage_walk's edge fetch as one = ANY(array) parameter")}
    for _, node_id in picks:
        t = [time.perf_counter()]
        node = selectors.node_get(user=user, node_id=node_id)
        t.append(time.perf_counter())
        with connection.execute_wrapper(timer):
            walk = selectors.lineage_walk(seeds=selectors.walk_seeds(node), direction="upstream", depth=depth)
        t.append(time.perf_counter())
        per_sql: dict[str, float] = {}
        for (label, sec), n in zip(timer.calls, timer.params, strict=True):
            per_sql[label] = per_sql.get(label, 0.0) + sec
            walk_params.setdefault(label, []).append(n)
        for label, sec in per_sql.items():
            walk_sql.setdefault(label, []).append(sec)
        timer.calls.clear()
        timer.params.clear()
        summaries = selectors.node_summaries(user=user, pks=list(walk.distance))
        t.append(time.perf_counter())
        data = walk_response(node, walk, summaries, None)
        t.append(time.perf_counter())
        JSONRenderer().render(data)
        t.append(time.perf_counter())
        for series, a, b in zip(list(steps.values())[:-1], t[:-1], t[1:], strict=True):
            series.append(b - a)
        steps["total"].append(t[-1] - t[0])
        if hasattr(selectors, "walk_json"):  # the API's own path on PostgreSQL since issue 19
            a0 = time.perf_counter()
            selectors.walk_json(user=user, root=node, direction="upstream", depth=depth, kinds=None)
            sql_answer.append(time.perf_counter() - a0)
        nodes = selectors.nodes_by_pk(user=user, pks=list(walk.distance))
        a0 = time.perf_counter()
        NodeSummarySerializer([nodes[pk] for pk in walk.distance if pk in nodes], many=True).data  # noqa: B018
        a1 = time.perf_counter()
        _plain_nodes(list(walk.distance), walk.distance)
        a2 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute("SELECT src_id, dst_id, kind FROM lineage_edge WHERE dst_id = ANY(%s)", [list(walk.distance)])
            cur.fetchall()
        a3 = time.perf_counter()
        alt["nodes_by_pk objects -> NodeSummarySerializer(many=True)"].append(a1 - a0)
        alt["2 plain SQL (= ANY(array)) + dicts by hand"].append(a2 - a1)
        alt["lineage_walk's edge fetch as one = ANY(array) parameter"].append(a3 - a2)
    log(f"  where the API's time goes ({len(picks)} requests, in-process, median and p99 per request):")
    for name, series in steps.items():
        log(f"    {name:<34} median {statistics.median(series) * 1000:8.1f} ms   "
            f"p99 {percentile(series, 99) * 1000:8.1f} ms")
    if sql_answer:
        log(f"    {'walk_json: the whole answer (API path)':<34} "
            f"median {statistics.median(sql_answer) * 1000:8.1f} ms   p99 {percentile(sql_answer, 99) * 1000:8.1f} ms")
    log("  SQL statements inside lineage_walk (wall time incl. psycopg's client-side query building):")
    for label, series in walk_sql.items():
        log(f"    {label:<60} median {statistics.median(series) * 1000:7.1f} ms per request "
            f"(median {statistics.median(walk_params[label]):,.0f} bound parameters)")
    log("  alternatives for the slow steps, same nodes (measured here, not in the portal):")
    for name, series in alt.items():
        log(f"    {name:<56} median {statistics.median(series) * 1000:8.1f} ms   "
            f"p99 {percentile(series, 99) * 1000:8.1f} ms")


def profile_api(client: Any, paths: list[str]) -> None:
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for path in paths:
        client.get(path)
    prof.disable()
    for sort in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(sort).print_stats(30)
        log(f"  -- cProfile of {len(paths)} API requests, top 30 by {sort} --")
        log("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--edges", type=int, default=1_000_000, help="approximate edge count (default %(default)s)")
    p.add_argument("--queries", type=int, default=200, help="random deployments to walk from (default %(default)s)")
    p.add_argument("--depth", type=int, default=20, help="walk depth (default %(default)s)")
    p.add_argument("--far", type=float, default=0.01, help="fraction of second inputs read from anywhere earlier "
                   "instead of the last --window runs (default %(default)s)")
    p.add_argument("--window", type=int, default=1000, help="how far back a run's second input reaches "
                   "(default %(default)s)")
    p.add_argument("--model-every", type=int, default=50, help="one run in N produces a model version "
                   "(default %(default)s)")
    p.add_argument("--commits-per-job", type=int, default=10)
    p.add_argument("--seed", type=float, default=0.42, help="PostgreSQL setseed() and Python seed")
    p.add_argument("--api-queries", type=int, default=200, help="API requests per HTTP series (default "
                   "%(default)s)")
    p.add_argument("--series-seconds", type=float, default=30, help="stop an HTTP series after this long "
                   "(default %(default)s)")
    p.add_argument("--no-gunicorn", action="store_true", help="skip the HTTP run against gunicorn")
    p.add_argument("--breakdown", type=int, default=10, metavar="N", help="time the API's steps one by one "
                   "for N requests (0: skip; default %(default)s)")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="cProfile N API requests in-process and print the top functions")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default %(default)s)")
    p.add_argument("--db", default=run_name("lineage_bench_query"),
                   help="database to (re)create (default %(default)s: one per run)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    p.add_argument("--reuse-db", action="store_true", help="use the graph already in --db (from a run with "
                   "--keep-db and the same graph flags) instead of re-building it")
    p.add_argument("--graph-depth", type=int, default=5, help="depth of the explorer graph API series "
                   "(default %(default)s)")
    p.add_argument("--max-seconds", type=float, default=1800, help="overall time limit (default %(default)s)")
    args = p.parse_args()

    log(f"bench/lineage_query.py  {machine_line()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    L = Layout(edges=args.edges, model_every=args.model_every, commits_per_job=args.commits_per_job)
    server: Gunicorn | None = None
    try:
        with deadline(args.max_seconds):
            if args.reuse_db:
                log(f"database {args.db}: re-used (--reuse-db), migrated in {migrate(args.db):.1f}s")
            else:
                recreate_database(args.db)
                log(f"database {args.db}: re-created, migrated in {migrate(args.db):.1f}s")
            token = issue_token(args.db, "benchadmin", "admin")
            log(f"\n== Building the graph: {L.runs:,} runs, {L.jobs:,} jobs, {L.commits:,} commits, "
                f"{L.models:,} model versions, {L.deployments:,} deployments (~{L.total_nodes:,} nodes, "
                f"~{L.expected_edges:,} edges) ==")
            build_s = 0.0 if args.reuse_db else build_graph(args.db, L, far=args.far, window=args.window,
                                                            seed=args.seed)
            with psycopg.connect(dsn(args.db)) as conn:
                n_nodes = conn.execute("SELECT count(*) FROM lineage_node").fetchone()[0]
                n_edges = conn.execute("SELECT count(*) FROM lineage_edge").fetchone()[0]
                kinds = conn.execute("SELECT kind, count(*) FROM lineage_edge GROUP BY kind ORDER BY 2 DESC").fetchall()
                size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
                deps = conn.execute("SELECT id, node_id FROM lineage_node WHERE kind = 'deployment' ORDER BY id"
                                    ).fetchall()
            log(f"  built in {build_s:.1f}s: {n_nodes:,} nodes, {n_edges:,} edges "
                f"({', '.join(f'{k} {c:,}' for k, c in kinds)}); database {size}")
            rng = random.Random(args.seed)
            picks = rng.sample(deps, min(args.queries, len(deps)))
            pks = [pk for pk, _ in picks]

            # Baseline: raw SQL through psycopg, same seeds, same run.
            log(f"\n== {len(picks)} upstream walks at depth {args.depth} from random deployments "
                "(warm cache: the bare CTE runs over all seeds untimed first; each other series warms up on a few) ==")
            with psycopg.connect(dsn(args.db), autocommit=True) as conn:
                def bare(pk: int) -> int:
                    return len(conn.execute(BARE_CTE, {"seed": pk, "depth": args.depth}).fetchall())

                def full(pk: int) -> int:
                    return len(conn.execute(FULL_SQL, {"seed": pk, "depth": args.depth}).fetchone()[0])

                timed(bare, pks)
                bare_t, sizes = timed(bare, pks)
                def no_jobs(pk: int) -> int:
                    return len(conn.execute(NO_JOBS_CTE, {"seed": pk, "depth": args.depth}).fetchall())

                nojob_t, nojob_sizes = timed(no_jobs, pks)
                timed(full, pks[:5])
                full_t, full_bytes = timed(full, pks, args.series_seconds)
                graph_roots = [r[0] for r in conn.execute(
                    "SELECT DISTINCT ON (e.dst_id) e.src_id, s.node_id FROM lineage_edge e JOIN lineage_node s "
                    "ON s.id = e.src_id WHERE e.kind = 'deploys' AND e.dst_id = ANY(%s)", [pks]).fetchall()]
                mq_jobs = [r[0] for r in conn.execute(
                    "SELECT j.node_id FROM lineage_edge d JOIN lineage_edge p ON p.dst_id = d.src_id AND p.kind = "
                    "'produces' JOIN lineage_node r ON r.id = p.src_id JOIN lineage_node j ON j.id = r.parent_id "
                    "WHERE d.kind = 'deploys' AND d.dst_id = ANY(%s)", [pks]).fetchall()]
                graph_ids = dict(conn.execute("SELECT id, node_id FROM lineage_node WHERE id = ANY(%s)",
                                              [graph_roots]).fetchall())

                def graph_base(pk: int) -> int:
                    return len(conn.execute(GRAPH_SQL, {"seed": pk, "depth": args.graph_depth}).fetchone()[0])

                timed(graph_base, graph_roots[:5])
                graph_base_t, _ = timed(graph_base, graph_roots)
            log(f"  closure size (nodes within depth {args.depth}): median {statistics.median(sizes):,.0f}, "
                f"p99 {percentile(sizes, 99):,.0f}, max {max(sizes):,}")
            with psycopg.connect(dsn(args.db)) as conn:
                by_kind = conn.execute(
                    f"SELECT n.kind, count(*) FROM ({BARE_CTE}) c JOIN lineage_node n ON n.id = c.id "
                    "GROUP BY n.kind ORDER BY 2 DESC", {"seed": pks[0], "depth": args.depth}).fetchall()
            log(f"    by kind, first seed: {', '.join(f'{k} {c:,}' for k, c in by_kind)}")
            log(f"  baseline, bare recursive CTE (psycopg):          {summary_ms(bare_t)}")
            log(f"  what-if, bare CTE not entering jobs (skips job -[executes]-> run, so no job and none of its "
                f"commits): {summary_ms(nojob_t)}; closure median {statistics.median(nojob_sizes):,.0f}, "
                f"max {max(nojob_sizes):,}")
            log(f"  baseline, CTE + node rows + edges as JSON (1 SQL): {summary_ms(full_t)}  "
                f"(median {statistics.median(full_bytes) / 1024:,.0f} KB){capped(full_t, len(pks))}")
            log(f"  baseline, explorer neighbourhood at depth {args.graph_depth} (both directions, nearest 300, rows "
                f"+ edges as JSON, 1 SQL) from the deployments' model versions: {summary_ms(graph_base_t)}")

            # lineage_walk in-process.
            os.environ.update({"DATABASE_URL": database_url(args.db), "DJANGO_SETTINGS_MODULE": "portal.settings",
                               "PORTAL_ALLOWED_HOSTS": "127.0.0.1", "PORTAL_DEBUG": "0"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from django.conf import settings
            from django.test import Client

            from lineage.selectors import lineage_walk

            def walk(pk: int) -> tuple[int, bool]:
                w = lineage_walk(seeds=[pk], direction="upstream", depth=args.depth)
                return len(w.distance), w.cut_by_size

            timed(walk, pks[:5])
            walk_t, walk_res = timed(walk, pks)
            cut = sum(1 for _, c in walk_res if c)
            log(f"  lineage_walk() in-process:                        {summary_ms(walk_t)}  {verdict(walk_t)}")
            log(f"    nodes returned: median {statistics.median(n for n, _ in walk_res):,.0f}; "
                f"{cut} of {len(walk_res)} cut at LINEAGE_MAX_NODES={settings.LINEAGE_MAX_NODES}")

            paths = [f"/api/v1/nodes/{quote(nid, safe='')}/upstream?depth={args.depth}" for _, nid in picks]
            client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

            def api(path: str) -> int:
                resp = client.get(path)
                if resp.status_code != 200:
                    raise RuntimeError(f"GET {path}: HTTP {resp.status_code} {resp.content[:300]!r}")
                return len(resp.content)

            timed(api, paths[:3])
            api_t, api_bytes = timed(api, paths[: args.api_queries], args.series_seconds)
            log(f"  GET .../upstream, Django test client in-process:  {summary_ms(api_t)}  {verdict(api_t)}"
                f"{capped(api_t, min(args.api_queries, len(paths)))}")
            log(f"    response size median {statistics.median(api_bytes) / 1024:,.0f} KB; "
                f"{ratio_verdict(api_t, full_t, 3)}")
            graph_paths = [f"/api/v1/nodes/{quote(graph_ids[pk], safe='')}/graph?depth={args.graph_depth}"
                           for pk in graph_roots]
            timed(api, graph_paths[:3])
            graph_t, graph_bytes = timed(api, graph_paths[: args.api_queries], args.series_seconds)
            log(f"  GET .../graph?depth={args.graph_depth} (explorer), test client:     {summary_ms(graph_t)}  "
                f"{graph_verdict(graph_t)}; response median {statistics.median(graph_bytes) / 1024:,.0f} KB"
                f"{capped(graph_t, min(args.api_queries, len(graph_paths)))}")

            if args.breakdown:
                breakdown(picks[: args.breakdown], args.depth)
            if args.profile:
                profile_api(client, paths[: args.profile])

            if not args.no_gunicorn:
                server = Gunicorn(args.db, workers=args.workers).start()
                log(f"  gunicorn: {' '.join(server.cmdline[1:])}")
                headers = {"Authorization": f"Bearer {token}"}
                conn_h = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)

                def http_get(path: str) -> int:
                    conn_h.request("GET", path, headers=headers)
                    resp = conn_h.getresponse()
                    body = resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"GET {path}: HTTP {resp.status} {body[:300]!r}")
                    return len(body)

                timed(http_get, paths[:3])
                http_t, _ = timed(http_get, paths[: args.api_queries], args.series_seconds)
                log(f"  GET .../upstream over HTTP, gunicorn -w {args.workers}:  {summary_ms(http_t)}  "
                    f"{verdict(http_t)}{capped(http_t, min(args.api_queries, len(paths)))}")
                log(f"    {ratio_verdict(http_t, full_t, 3)}")
                timed(http_get, graph_paths[:3])
                ghttp_t, _ = timed(http_get, graph_paths[: args.api_queries], args.series_seconds)
                log(f"  GET .../graph?depth={args.graph_depth} over HTTP, gunicorn -w {args.workers}: "
                    f"{summary_ms(ghttp_t)}  {graph_verdict(ghttp_t)}"
                    f"{capped(ghttp_t, min(args.api_queries, len(graph_paths)))}")
                # Marquez's lineage call for the job behind each deployment: the same walks, both directions,
                # to 2 x depth + 1 edges (Marquez counts job hops).
                mq_paths = [f"/api/v1/lineage?nodeId={quote(j, safe='')}&depth={args.depth}" for j in mq_jobs]
                timed(http_get, mq_paths[:3])
                mq_t, mq_bytes = timed(http_get, mq_paths[: args.api_queries], args.series_seconds)
                conn_h.close()
                log(f"  GET /api/v1/lineage?nodeId=<job>&depth={args.depth} (Marquez) over HTTP: {summary_ms(mq_t)}; "
                    f"response median {statistics.median(mq_bytes) / 1024:,.0f} KB; "
                    f"{ratio_verdict(mq_t, full_t, 3)}{capped(mq_t, min(args.api_queries, len(mq_paths)))}")
    finally:
        if server is not None:
            server.stop()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            drop_database(args.db)


if __name__ == "__main__":
    main()
