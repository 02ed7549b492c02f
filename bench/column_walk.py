"""Column walk benchmark: ``lineage.column_selectors.column_walk`` upstream over many column edges.

Printed beside a baseline measured in the same run: a bare recursive CTE over the same ``lineage_columnedge``
rows through psycopg (UNION on (version, field, depth), depth-limited, capped like the walk), with no Django.

The graph is built in PostgreSQL with set-based ``INSERT ... SELECT ... generate_series``: ``--versions``
dataset versions of ``--columns`` columns each; every column of version v > 0 is derived DIRECT from the same
column of a recent version (within ``--window``) and, for one column in three, also INDIRECT (a filter) from
a random column of another recent version. No whole-dataset edges (the CTE would not know their rule).

    .venv/bin/python bench/column_walk.py                         # ~1,000,000 column edges (default)
    .venv/bin/python bench/column_walk.py --versions 10000        # ~270,000 edges, quicker

The database is dropped and re-created at the start and dropped at the end unless ``--keep-db``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from typing import Any

import psycopg
from _common import (
    ROOT,
    database_url,
    deadline,
    drop_database,
    dsn,
    log,
    machine_line,
    migrate,
    recreate_database,
    run_name,
    summary_ms,
)

CTE = """
WITH RECURSIVE walk(id, field, depth) AS (
    SELECT %s::bigint, %s::varchar, 0
    UNION
    SELECT e.src_id, e.src_field, w.depth + 1
    FROM walk w JOIN lineage_columnedge e ON e.dst_id = w.id AND e.dst_field = w.field
    WHERE w.depth < %s
)
SELECT id, field, MIN(depth) FROM walk GROUP BY id, field ORDER BY 3 LIMIT %s
"""


def build(db: str, versions: int, columns: int, window: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    with psycopg.connect(dsn(db), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO lineage_node (node_id, kind, namespace, name, version, environment, state, owners, facets, "
            "attrs, deidentifies, created_at, updated_at, times) "
            "SELECT 'datasetVersion:bench:t' || v || '#1', 'datasetVersion', 'bench', 't' || v, '1', '', '', "
            "'[]', '{}', '{}', false, now(), now(), '{}' FROM generate_series(0, %s) v", [versions - 1])
        conn.execute("CREATE TEMP TABLE ids AS SELECT (regexp_match(node_id, 't(\\d+)#'))[1]::int AS v, id "
                     "FROM lineage_node WHERE namespace = 'bench'")
        conn.execute("CREATE INDEX ON ids (v)")
        conn.execute("SELECT setseed(0.42)")
        # DIRECT: column c of v from column c of a recent version.
        conn.execute(
            "INSERT INTO lineage_columnedge (src_id, src_field, dst_id, dst_field, type, subtype, description, "
            "masking, created_at) "
            "SELECT s.id, 'c' || x.c, x.id, 'c' || x.c, 'DIRECT', 'TRANSFORMATION', '', false, now() "
            "FROM (SELECT d.id, c, greatest(0, d.v - 1 - floor(random() * %s)::int) AS sv "
            "      FROM ids d CROSS JOIN generate_series(0, %s) c WHERE d.v > 0 OFFSET 0) x "
            "JOIN ids s ON s.v = x.sv",
            [window, columns - 1])
        # INDIRECT: one column in three also filtered by a random column of another recent version.
        conn.execute(
            "INSERT INTO lineage_columnedge (src_id, src_field, dst_id, dst_field, type, subtype, description, "
            "masking, created_at) "
            "SELECT s.id, 'c' || x.sc, x.id, 'c' || x.c, 'INDIRECT', 'FILTER', '', false, now() "
            "FROM (SELECT d.id, c, floor(random() * %s)::int AS sc, "
            "             greatest(0, d.v - 1 - floor(random() * %s)::int) AS sv "
            "      FROM ids d CROSS JOIN generate_series(0, %s) c WHERE d.v > 0 AND c %% 3 = 0 OFFSET 0) x "
            "JOIN ids s ON s.v = x.sv ON CONFLICT DO NOTHING", [columns, window, columns - 1])
        conn.execute("ANALYZE lineage_columnedge")
        conn.execute("ANALYZE lineage_node")
        (edges,) = conn.execute("SELECT count(*) FROM lineage_columnedge").fetchone() or (0,)
    return int(edges), time.perf_counter() - t0


def timed(fn: Any, items: list[Any]) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for item in items:
        t0 = time.perf_counter()
        results.append(fn(item))
        times.append(time.perf_counter() - t0)
    return times, results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--versions", type=int, default=37_000)
    p.add_argument("--columns", type=int, default=20)
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--db", default=run_name("lineage_bench_columns"))
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--reuse-db", action="store_true", help="walk the graph already in --db (kept by --keep-db)")
    p.add_argument("--max-seconds", type=float, default=1200)
    args = p.parse_args()
    log(machine_line())
    log(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.reuse_db:
        recreate_database(args.db)
    try:
        with deadline(args.max_seconds):
            migrate(args.db)
            if args.reuse_db:
                with psycopg.connect(dsn(args.db)) as conn:
                    edges, secs = (conn.execute("SELECT count(*) FROM lineage_columnedge").fetchone() or (0,))[0], 0.0
            else:
                edges, secs = build(args.db, args.versions, args.columns, args.window)
            log(f"graph: {args.versions:,} versions x {args.columns} columns, {edges:,} column edges "
                f"(built in {secs:.1f} s)")
            os.environ.update({"DATABASE_URL": database_url(args.db), "DJANGO_SETTINGS_MODULE": "portal.settings"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from django.conf import settings

            from lineage.column_selectors import column_walk

            max_nodes = settings.LINEAGE_MAX_NODES
            with psycopg.connect(dsn(args.db)) as conn:
                pks = [pk for (pk,) in conn.execute(
                    "SELECT id FROM lineage_node WHERE namespace = 'bench' ORDER BY id DESC LIMIT 2000")]
            rnd = random.Random(7)
            picks = [(rnd.choice(pks), f"c{rnd.randrange(args.columns)}") for _ in range(args.samples)]
            with psycopg.connect(dsn(args.db)) as conn:
                def bare(seed: tuple[int, str]) -> int:
                    return len(conn.execute(CTE, [seed[0], seed[1], args.depth, max_nodes + 1]).fetchall())

                timed(bare, picks[:5])
                cte_t, cte_n = timed(bare, picks)

            def walk(seed: tuple[int, str]) -> int:
                return len(column_walk(seeds=[seed], direction="upstream", depth=args.depth).distance)

            def direct(seed: tuple[int, str]) -> int:
                return len(column_walk(seeds=[seed], direction="upstream", depth=args.depth,
                                       types=frozenset({"DIRECT"})).distance)

            timed(walk, picks[:5])
            walk_t, walk_n = timed(walk, picks)
            direct_t, direct_n = timed(direct, picks)
            log(f"upstream column walks at depth {args.depth}, {len(picks)} random columns of recent versions, "
                f"cap {max_nodes:,} columns:")
            log(f"  baseline: bare recursive CTE (psycopg)       {summary_ms(cte_t)}  "
                f"columns median {statistics.median(cte_n):,.0f}")
            log(f"  column_walk(), all edges (Django)             {summary_ms(walk_t)}  "
                f"columns median {statistics.median(walk_n):,.0f}  "
                f"(median {statistics.median(walk_t) / statistics.median(cte_t):.1f} x the CTE)")
            log(f"  column_walk(), DIRECT only                    {summary_ms(direct_t)}  "
                f"columns median {statistics.median(direct_n):,.0f}")
    finally:
        if not args.keep_db:
            drop_database(args.db)


if __name__ == "__main__":
    main()
