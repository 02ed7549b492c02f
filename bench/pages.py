"""Page benchmark: server-side rendering time of the main pages, on the demo and on a ~1,000,000-edge graph.

Targets: every page renders in under **300 ms** (server time) on the demo data and under **1 s** on a graph of
1,000,000 edges. Each page is requested through Django's test client in-process (no HTTP, no browser: what is
measured is the view, its queries and its template) ``--runs`` times after one warm-up; the table gives the
median and the slowest run, the number of queries, and a **baseline measured in the same run**: the same data
read by one bare SQL statement through psycopg (the rows the page shows, without Django).

    .venv/bin/python bench/pages.py                     # the demo only (~1 min)
    .venv/bin/python bench/pages.py --edges 1000000     # and a 1M-edge graph built as bench/lineage_query.py does

Databases (``--db``, and ``<db>_big`` with ``--edges``) are dropped and re-created at the start and dropped at
the end unless ``--keep-db``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import psycopg
from _common import (
    ROOT,
    database_url,
    deadline,
    drop_database,
    dsn,
    issue_token,
    log,
    machine_line,
    manage,
    migrate,
    recreate_database,
    run_name,
)

DEMO_TARGET_MS, BIG_TARGET_MS = 300, 1000

NODE_SQL = """
SELECT n.node_id, n.kind, n.name, n.facets, n.attrs,
       (SELECT json_agg(json_build_object('kind', e.kind, 'id', s.node_id)) FROM lineage_edge e
        JOIN lineage_node s ON s.id = e.src_id WHERE e.dst_id = n.id),
       (SELECT json_agg(json_build_object('kind', e.kind, 'id', d.node_id)) FROM lineage_edge e
        JOIN lineage_node d ON d.id = e.dst_id WHERE e.src_id = n.id),
       (SELECT json_agg(m.node_id) FROM (SELECT node_id FROM lineage_node WHERE parent_id = n.id
                                         ORDER BY event_time DESC LIMIT 200) m)
FROM lineage_node n WHERE n.node_id = %s
"""
GRAPH_SQL = """
WITH RECURSIVE up(id, depth) AS (
    SELECT id, 0 FROM lineage_node WHERE node_id = %(id)s
    UNION SELECT e.src_id, u.depth + 1 FROM up u JOIN lineage_edge e ON e.dst_id = u.id WHERE u.depth < %(depth)s
), down(id, depth) AS (
    SELECT id, 0 FROM lineage_node WHERE node_id = %(id)s
    UNION SELECT e.dst_id, d.depth + 1 FROM down d JOIN lineage_edge e ON e.src_id = d.id WHERE d.depth < %(depth)s
), c AS (SELECT id FROM up UNION SELECT id FROM down)
SELECT n.node_id, n.kind, n.name, n.version FROM c JOIN lineage_node n ON n.id = c.id LIMIT 300
"""
DASHBOARD_SQL = """
SELECT (SELECT json_agg(node_id) FROM (SELECT node_id FROM lineage_node WHERE kind = 'deployment'
        AND environment = 'production' AND state = 'active' ORDER BY namespace, name, version LIMIT 100) d),
       (SELECT count(*) FROM approvals_violation), (SELECT count(*) FROM approvals_release WHERE state = 'pending'),
       (SELECT json_agg(action) FROM (SELECT action FROM audit_auditentry ORDER BY seq DESC LIMIT 8) a)
"""
SEARCH_SQL = """
SELECT node_id, kind, namespace, name, version FROM lineage_node
WHERE name ILIKE %s OR namespace ILIKE %s ORDER BY kind, namespace, name, version LIMIT 100
"""
INBOX_SQL = """
SELECT r.id, n.node_id, r.environment, r.state FROM approvals_release r JOIN lineage_node n ON n.id = r.model_version_id
ORDER BY r.created_at DESC LIMIT 40
"""
REPORTS_SQL = ("SELECT id, title, state, progress, summary FROM reports_report ORDER BY created_at DESC LIMIT 100")
EVIDENCE_SQL = ("SELECT id, doc_type, title, sha256, approved_at FROM evidence_document ORDER BY created_at DESC "
                "LIMIT 100")
AUDIT_SQL = ("SELECT seq, time, actor_name, action, target_kind, target_id FROM audit_auditentry "
             "ORDER BY seq DESC LIMIT 50")


def q(node_id: str) -> str:
    return quote(node_id, safe="")


def pages_for(ids: dict[str, str], release: int | None) -> list[tuple[str, str, tuple[str, Any]]]:
    """(name, url, (baseline SQL, params)) for every main page that has something to show."""
    out: list[tuple[str, str, tuple[str, Any]]] = [
        ("dashboard", "/dashboard/", (DASHBOARD_SQL, None)),
        ("search", "/?q=" + quote(ids["search"]), (SEARCH_SQL, (f"%{ids['search']}%",) * 2)),
        ("approvals inbox", "/approvals/", (INBOX_SQL, None)),
        ("audit log", "/audit/", (AUDIT_SQL, None)),
        ("explorer page", "/lineage/explore/?node=" + q(ids["modelVersion"]), (NODE_SQL, (ids["modelVersion"],))),
        ("explorer graph API (depth 5)", f"/api/v1/nodes/{q(ids['modelVersion'])}/graph?depth=5",
         (GRAPH_SQL, {"id": ids["modelVersion"], "depth": 5})),
        ("reports", "/reports/", (REPORTS_SQL, None)),
        ("erasure tool", "/reports/erasure", (REPORTS_SQL, None)),
        ("evidence documents", "/evidence/", (EVIDENCE_SQL, None)),
        ("policy parameters", "/governance/parameters", (REPORTS_SQL, None)),
    ]
    if release:
        out.append(("release page", f"/approvals/releases/{release}", (INBOX_SQL, None)))
    for kind in ("dataset", "datasetVersion", "run", "job", "modelVersion", "deployment", "commit"):
        if ids.get(kind):
            out.append((f"node page: {kind}", "/lineage/node/" + q(ids[kind]), (NODE_SQL, (ids[kind],))))
    return out


def pick_ids(db: str, search: str) -> tuple[dict[str, str], int | None]:
    """A representative node of each kind: the one in the middle of its kind's id range, with the most
    neighbours for a dataset (its versions) and a model version that is deployed."""
    ids = {"search": search}
    with psycopg.connect(dsn(db)) as conn:
        for kind in ("datasetVersion", "run", "job", "commit", "deployment"):
            row = conn.execute("SELECT node_id FROM lineage_node WHERE kind = %s ORDER BY id OFFSET "
                               "(SELECT count(*) / 2 FROM lineage_node WHERE kind = %s) LIMIT 1",
                               (kind, kind)).fetchone()
            ids[kind] = row[0] if row else ""
        row = conn.execute("SELECT p.node_id FROM lineage_node p JOIN lineage_node m ON m.parent_id = p.id "
                           "WHERE p.kind = 'dataset' GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 1").fetchone()
        ids["dataset"] = row[0] if row else ""
        row = conn.execute("SELECT s.node_id FROM lineage_edge e JOIN lineage_node s ON s.id = e.src_id "
                           "WHERE e.kind = 'deploys' ORDER BY s.id OFFSET (SELECT count(*) / 2 FROM lineage_edge "
                           "WHERE kind = 'deploys') LIMIT 1").fetchone()
        ids["modelVersion"] = row[0] if row else ""
        row = conn.execute("SELECT id FROM approvals_release ORDER BY (state = 'pending') DESC, id LIMIT 1").fetchone()
    return ids, (row[0] if row else None)


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()  # warm-up: template compilation, connection, caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def measure(db: str, username: str, runs: int, target_ms: int, search: str, title: str) -> list[str]:
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from portal.accounts.models import User

    connections.close_all()
    connection.settings_dict["NAME"] = db
    ids, release = pick_ids(db, search)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=username))
    rows = [f"\n== {title}: median and slowest of {runs} runs (ms), Django test client in-process; "
            f"target < {target_ms} ms ==",
            f"  {'page':<32} {'queries':>7} {'median':>8} {'max':>8} {'bare SQL':>9}  verdict"]
    with psycopg.connect(dsn(db), autocommit=True) as raw:
        for name, url, (sql, params) in pages_for(ids, release):
            def get(url: str = url) -> None:
                r = client.get(url)
                if r.status_code != 200:
                    raise RuntimeError(f"GET {url}: HTTP {r.status_code}")

            with CaptureQueriesContext(connection) as ctx:
                get()
            n_queries = len(ctx.captured_queries)
            t = timed(get, runs)
            base = timed(lambda sql=sql, params=params: raw.execute(sql, params).fetchall(), runs)
            med = statistics.median(t)
            verdict = "OK" if med < target_ms else "OVER"
            rows.append(f"  {name:<32} {n_queries:>7} {med:>8.1f} {max(t):>8.1f} "
                        f"{statistics.median(base):>9.2f}  {verdict}")
    for line in rows:
        log(line)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=15, help="timed requests per page (default %(default)s)")
    p.add_argument("--edges", type=int, default=0, help="also build a graph of about this many edges "
                   "(as bench/lineage_query.py does) and time the pages on it (default: demo only)")
    p.add_argument("--db", default=run_name("lineage_bench_pages"),
                   help="database to (re)create (default %(default)s: one per run)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the databases at the end")
    p.add_argument("--max-seconds", type=float, default=1800, help="overall time limit (default %(default)s)")
    args = p.parse_args()
    big = f"{args.db}_big"
    log(f"bench/pages.py  {machine_line()}")
    try:
        with deadline(args.max_seconds):
            recreate_database(args.db)
            log(f"database {args.db}: re-created, migrated in {migrate(args.db):.1f}s")
            t0 = time.perf_counter()
            manage(args.db, "load_demo")
            log(f"  load_demo in {time.perf_counter() - t0:.1f}s")
            if args.edges:
                from lineage_query import Layout, build_graph

                recreate_database(big)
                log(f"database {big}: re-created, migrated in {migrate(big):.1f}s")
                issue_token(big, "benchadmin", "admin")
                layout = Layout(edges=args.edges, model_every=50, commits_per_job=10)
                log(f"  building ~{layout.expected_edges:,} edges ...")
                log(f"  built in {build_graph(big, layout, far=0.01, window=1000, seed=0.42):.1f}s")

            os.environ.update({"DATABASE_URL": database_url(args.db), "DJANGO_SETTINGS_MODULE": "portal.settings",
                               "PORTAL_ALLOWED_HOSTS": "127.0.0.1", "PORTAL_DEBUG": "0"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            measure(args.db, "alex.morgan", args.runs, DEMO_TARGET_MS, "credit", "Demo organisation (admin)")
            if args.edges:
                with psycopg.connect(dsn(big)) as conn:
                    edges = conn.execute("SELECT count(*) FROM lineage_edge").fetchone()[0]
                measure(big, "benchadmin", args.runs, BIG_TARGET_MS, "mart_7",
                        f"Graph of {edges:,} edges (admin)")
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            drop_database(args.db)
            if args.edges:
                drop_database(big)


if __name__ == "__main__":
    main()
