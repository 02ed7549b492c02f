"""Lineage as of a time: upstream walks with ``asOf`` beside the current-time walk, on the same graph, same seeds.

Target (issue 14 item 3): an as-of query within 3 x the current-time query on the 1,000,000-edge graph. The graph
is ``bench/lineage_query.py``'s (built the same way), given history: each edge and node counts from its receipt
time (``created_at``, spread over the graph's synthetic timeline) and an event time 5 s earlier, and 1% of the
reads are given a replaced link (an ``EdgeRetired`` row that held for an hour), as late writes leave behind.

For each seed it times, in-process: ``selectors.lineage_walk`` (now) and ``asof.lineage_walk`` as of the newest
receipt time, as of the middle of the timeline (receipt and event clocks), then the API (``GET .../upstream``
with and without ``asOf``, and the explorer's ``GET .../graph``) through Django's test client, alternating request by
request. Prints medians and p99 side by side with the ratio.

    .venv/bin/python bench/asof.py                    # 1,000,000 edges
    .venv/bin/python bench/asof.py --edges 200000     # quicker
    .venv/bin/python bench/asof.py --ingest-only      # only what recording the history costs ingestion

What the history costs ingestion (``--ingest-batches``, on by default; a separate database): ``bench/ingest.py``'s
events through ``services.events_ingest`` in batches of 500, in-process, alternating batch by batch between the
real ``history_apply`` and a no-op in its place, so both see the same growing graph; prints events/s of each.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
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
    migrate,
    percentile,
    recreate_database,
    run_name,
    summary_ms,
)
from ingest import EventStream, Pool
from lineage_query import Layout, build_graph, timed

HISTORY = [
    ("edges: event time 5 s before receipt", "UPDATE lineage_edge SET event_from = created_at - interval '5 seconds'"),
    ("nodes: event time 5 s before receipt", "UPDATE lineage_node SET event_from = created_at - interval '5 seconds'"),
    ("retired reads: 1% of the reads held another link for an hour", """
INSERT INTO lineage_edgeretired (src_id, dst_id, kind, dataset_id, created_at, event_from, retired_at)
SELECT e.src_id - 1, e.dst_id, 'reads', NULL, e.created_at, e.event_from, e.created_at + interval '1 hour'
FROM lineage_edge e WHERE e.kind = 'reads' AND random() < 0.01"""),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--edges", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=100, help="random deployments to walk from (default %(default)s)")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--seed", type=float, default=0.42)
    p.add_argument("--db", default=run_name("lineage_bench_asof"))
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--reuse-db", action="store_true",
                   help="time on the graph a previous --keep-db run left in --db (same --edges and --seed)")
    p.add_argument("--max-seconds", type=float, default=1800)
    p.add_argument("--ingest-batches", type=int, default=40, help="batches of 500 for the ingestion cost (0: skip)")
    p.add_argument("--ingest-only", action="store_true")
    args = p.parse_args()
    if args.ingest_only:
        ingest_cost(args)
        return
    walks(args)
    if args.ingest_batches:  # its own process: Django is set up on the walks' database here
        subprocess.run([sys.executable, __file__, "--ingest-only", "--ingest-batches", str(args.ingest_batches),
                        "--db", args.db, *(["--keep-db"] if args.keep_db else [])], check=True)


def ingest_cost(args: argparse.Namespace) -> None:
    """Events/s through ``events_ingest`` with and without the history, alternating batches on one graph."""
    import time

    log(f"bench/asof.py --ingest-only  {machine_line()}")
    db = args.db + "_ingest"
    try:
        with deadline(args.max_seconds):
            recreate_database(db)
            log(f"\n== ingestion with and without the history: database {db} migrated in {migrate(db):.1f}s ==")
            os.environ.update({"DATABASE_URL": database_url(db), "DJANGO_SETTINGS_MODULE": "portal.settings"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from django.db import connections

            connections.close_all()
            from lineage import services
            from lineage.openlineage import parse_event

            real = services.history_apply
            stream = EventStream(Pool(datasets=3000, sources=200), seed=4242)
            for _ in range(4):  # warm-up: the graph exists before anything is timed
                services.events_ingest(events=[parse_event(raw) for raw in stream.take(500)], by=None)
            spent: dict[str, list[float]] = {"with history": [], "without (no-op in its place)": []}
            for i in range(args.ingest_batches):
                label = "with history" if i % 2 == 0 else "without (no-op in its place)"
                services.history_apply = real if i % 2 == 0 else (lambda delta, id_map, now: None)  # type: ignore[assignment]
                events = [parse_event(raw) for raw in stream.take(500)]
                t0 = time.perf_counter()
                services.events_ingest(events=events, by=None)
                spent[label].append(time.perf_counter() - t0)
            services.history_apply = real
            rates = {k: 500 / statistics.median(v) for k, v in spent.items()}
            for k, v in rates.items():
                log(f"  {k:<30} {v:8.0f} events/s (median batch {statistics.median(spent[k]) * 1000:.0f} ms, "
                    f"{len(spent[k])} batches of 500)")
            with_h, without = rates["with history"], rates["without (no-op in its place)"]
            log(f"    the history costs {100 * (without - with_h) / without:.1f}% of the ingestion rate")
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            drop_database(db)


def walks(args: argparse.Namespace) -> None:
    log(f"bench/asof.py  {machine_line()}")
    L = Layout(edges=args.edges, model_every=50, commits_per_job=10)
    try:
        with deadline(args.max_seconds):
            if args.reuse_db:
                log(f"database {args.db}: reused as a previous --keep-db run left it")
                token, build_s = issue_token(args.db, "benchadmin", "admin"), 0.0
            else:
                recreate_database(args.db)
                log(f"database {args.db}: re-created, migrated in {migrate(args.db):.1f}s")
                token = issue_token(args.db, "benchadmin", "admin")
                with psycopg.connect(dsn(args.db), autocommit=True) as conn:  # the build's INSERTs leave it out
                    conn.execute("ALTER TABLE lineage_node ALTER COLUMN times SET DEFAULT '{}'::jsonb")
                build_s = build_graph(args.db, L, far=0.01, window=1000, seed=args.seed)
            with psycopg.connect(dsn(args.db), autocommit=True) as conn:
                for label, stmt in HISTORY if not args.reuse_db else ():
                    cur = conn.execute(stmt)
                    log(f"  {label:<75} {cur.rowcount:>9} rows")
                conn.execute("VACUUM (ANALYZE) lineage_edge")
                conn.execute("VACUUM (ANALYZE) lineage_node")
                conn.execute("VACUUM (ANALYZE) lineage_edgeretired")
                n_edges = conn.execute("SELECT count(*) FROM lineage_edge").fetchone()[0]
                n_retired = conn.execute("SELECT count(*) FROM lineage_edgeretired").fetchone()[0]
                lo, hi = conn.execute("SELECT min(created_at), max(created_at) FROM lineage_edge").fetchone()
                deps = conn.execute("SELECT id, node_id, created_at FROM lineage_node WHERE kind = 'deployment' "
                                    "ORDER BY id").fetchall()
            log(f"  graph built in {build_s:.1f}s: {n_edges:,} edges and {n_retired:,} replaced reads, receipt times "
                f"{lo} .. {hi}")
            rng = random.Random(args.seed)
            picks = rng.sample(deps, min(args.queries, len(deps)))
            middle = lo + (hi - lo) / 2
            late = [(pk, nid) for pk, nid, t in picks if t <= middle] or [(pk, nid) for pk, nid, _ in picks]

            os.environ.update({"DATABASE_URL": database_url(args.db), "DJANGO_SETTINGS_MODULE": "portal.settings",
                               "PORTAL_ALLOWED_HOSTS": "127.0.0.1", "PORTAL_DEBUG": "0"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from django.test import Client

            from lineage import asof, selectors

            def now_walk(pk: int) -> int:
                return len(selectors.lineage_walk(seeds=[pk], direction="upstream", depth=args.depth).distance)

            def asof_walk(at: Any) -> Any:
                def run(pk: int) -> int:
                    return len(asof.lineage_walk(seeds=[pk], direction="upstream", depth=args.depth, at=at).distance)
                return run

            newest, mid_r = asof.AsOf(hi, "received"), asof.AsOf(middle, "received")
            mid_e = asof.AsOf(middle, "event")
            pks = [pk for pk, _, _ in picks]
            mids = [pk for pk, _ in late]
            log(f"\n== {len(pks)} upstream walks at depth {args.depth} from random deployments "
                f"({len(mids)} of them deployed by the middle of the timeline, {middle}) ==")
            rows: list[tuple[str, list[float], list[float], list[int]]] = []
            for label, seeds, fn in (("as of the newest receipt (= now)", pks, asof_walk(newest)),
                                     ("as of the middle, receipt clock", mids, asof_walk(mid_r)),
                                     ("as of the middle, event clock", mids, asof_walk(mid_e))):
                timed(now_walk, seeds[:3])
                timed(fn, seeds[:3])
                base: list[float] = []
                t: list[float] = []
                sizes: list[int] = []
                for seed in seeds:  # alternating, so both see the same load
                    base += timed(now_walk, [seed])[0]
                    took, found = timed(fn, [seed])
                    t += took
                    sizes += found
                rows.append((label, base, t, sizes))
            for label, base, t, sizes in rows:
                ratio = statistics.median(t) / statistics.median(base)
                log(f"  lineage_walk now: {summary_ms(base)}\n  {label}: {summary_ms(t)}\n"
                    f"    ratio of medians {ratio:.2f} x, p99 {percentile(t, 99) / percentile(base, 99):.2f} x  "
                    f"[within 3 x: {'MET' if ratio <= 3 else 'NOT MET'}]; nodes median {statistics.median(sizes):,.0f}")

            client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

            def api(path: str) -> int:
                resp = client.get(path)
                if resp.status_code != 200:
                    raise RuntimeError(f"GET {path}: HTTP {resp.status_code} {resp.content[:300]!r}")
                return len(resp.content)

            stamp = quote(middle.isoformat())
            for label, suffix in ((f"GET .../upstream?depth={args.depth}", f"/upstream?depth={args.depth}"),
                                  ("GET .../graph (explorer, depth 5)", "/graph?depth=5")):
                now_paths = [f"/api/v1/nodes/{quote(nid, safe='')}{suffix}" for _, nid in late]
                pairs = [(p, f"{p}&asOf={stamp}") for p in now_paths]
                timed(api, [x for pair in pairs[:2] for x in pair])
                now_t: list[float] = []
                asof_t: list[float] = []
                for now_path, asof_path in pairs:  # alternating, so both see the same load
                    now_t += timed(api, [now_path])[0]
                    asof_t += timed(api, [asof_path])[0]
                ratio = statistics.median(asof_t) / statistics.median(now_t)
                log(f"  {label} now (test client):       {summary_ms(now_t)}")
                log(f"  {label} ?asOf=<middle>:          {summary_ms(asof_t)}")
                log(f"    ratio of medians {ratio:.2f} x  [within 3 x: {'MET' if ratio <= 3 else 'NOT MET'}]")
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            drop_database(args.db)


if __name__ == "__main__":
    main()
