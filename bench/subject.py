"""Release subject benchmark: the whole upstream lineage of one model version at ~100,000 upstream nodes.

The subject a release pins (and separation of duties and the sensitive-tag policy choice read) walks the model
version's whole upstream lineage, with no depth bound (``lineage.selectors.upstream_all``). This script builds,
directly in PostgreSQL with set-based ``INSERT ... SELECT generate_series``, a layered pipeline: ``--layers``
layers of ``--width`` runs, each run reading two dataset versions of the layer before (the first layer reads PII
source tables), writing one, executed by a job and built from a commit; the last layer's runs all produce one
model version. Everything is upstream of it: ~100,000 nodes by default, ~200 edges deep (far past
``PORTAL_MAX_DEPTH``).

Printed, each as a median over ``--repeat`` runs, beside the baseline measured in the same run: the bare recursive
CTE over the same graph (psycopg, ids only, every edge, no Django):

- ``upstream_all``: the set-based walk (ids);
- ``lineage_of``: that walk plus the sensitive-tag walk that stops at de-identifying runs;
- ``subject_build``: both walks plus the subject's rows (JSON keys read in SQL) and its canonical digest;
- ``release_request``: the whole service (policy choice, subject, the release row, the audit entry);
- ``lineage_capture``: the lineage an approval keeps (nodes with their attributes and tags, edges), its JSON size;
- ``lineage_compare``: the pure node-by-node, edge-by-edge comparison of two such snapshots;
- ``release_diff``: "what changed since approval" end to end (the walk now, its capture, the comparison);
  then again on a freshly loaded release with nothing changed (the release page viewed twice);
- the report section "lineage as approved" (``approved_lineages``) over one release and over five releases of the
  model version (one per environment), each with Django's cache emptied first.

    .venv/bin/python bench/subject.py                    # ~100,000 upstream nodes (default)
    .venv/bin/python bench/subject.py --layers 20        # ~20,000, quicker

The database (default ``lineage_bench_subject``) is dropped and re-created at the start and dropped at the end
unless ``--keep-db``. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
from _common import ROOT, database_url, deadline, drop_database, dsn, log, machine_line, migrate, recreate_database

NODE_COLS = ("id, node_id, kind, namespace, name, version, environment, parent_id, state, owners, facets, attrs, "
             "deidentifies, event_time, created_at, updated_at, times")
T0 = "timestamptz '2026-01-01 00:00:00+00'"
TAIL = f"'[]'::jsonb, {{facets}}, {{attrs}}, false, {T0}, {T0}, {T0}, '{{{{}}}}'::jsonb"
BARE_CTE = """WITH RECURSIVE up(id) AS (SELECT %(seed)s::bigint UNION
    SELECT e.src_id FROM up JOIN lineage_edge e ON e.dst_id = up.id) SELECT count(*) FROM up"""


def statements(width: int, layers: int, commits: int, sources: int) -> list[str]:
    runs = width * layers
    src0, job0, commit0, run0, dsv0 = 1, 1 + sources * 2, 1 + sources * 2 + width, 0, 0
    run0 = commit0 + commits
    dsv0 = run0 + runs
    mv = dsv0 + runs
    tail = TAIL.format
    dsv_of = (f"CASE WHEN r.l = 0 THEN {src0 + sources} + (r.c % {sources}) "
              f"ELSE {dsv0} + (r.l - 1) * {width} + {{col}} END")
    return [
        f"""INSERT INTO lineage_node ({NODE_COLS})
SELECT {src0} + s, 'dataset:postgres://bank:5432:crm.t' || s, 'dataset', 'postgres://bank:5432', 'crm.t' || s, '',
       '', NULL, '', {tail(facets="'{}'::jsonb", attrs="'{}'::jsonb")} FROM generate_series(0, {sources - 1}) s
UNION ALL
SELECT {src0 + sources} + s, 'datasetVersion:postgres://bank:5432:crm.t' || s || '#1', 'datasetVersion',
       'postgres://bank:5432', 'crm.t' || s, '1', '', {src0} + s, '',
       {tail(facets="jsonb_build_object('version', jsonb_build_object('datasetVersion', 'v1'))",
             attrs="'{}'::jsonb")} FROM generate_series(0, {sources - 1}) s""",
        f"""INSERT INTO lineage_node ({NODE_COLS})
SELECT {job0} + j, 'job:airflow:stage_' || j, 'job', 'airflow', 'stage_' || j, '', '', NULL::bigint, '',
       {tail(facets="'{}'::jsonb", attrs="'{}'::jsonb")} FROM generate_series(0, {width - 1}) j
UNION ALL
SELECT {commit0} + k, 'commit:https://git.example.com/ml.git:' || md5('c' || k), 'commit',
       'https://git.example.com/ml.git', md5('c' || k), '', '', NULL::bigint, '',
       {tail(facets="'{}'::jsonb",
             attrs="jsonb_build_object('author_email', 'dev' || (k % 50) || '@example.com', "
                   "'committer_email', 'git@example.com')")} FROM generate_series(0, {commits - 1}) k
UNION ALL
SELECT {run0} + i, 'run:' || md5('r' || i)::uuid, 'run', 'airflow', md5('r' || i)::uuid::text, '', '',
       {job0} + (i % {width}), 'COMPLETED',
       {tail(facets="'{}'::jsonb", attrs="jsonb_build_object('launched_by', 'airflow')")}
FROM generate_series(0, {runs - 1}) i
UNION ALL
SELECT {dsv0} + i, 'datasetVersion:s3://lake:stage/t' || (i % {width}) || '#' || i, 'datasetVersion', 's3://lake',
       'stage/t' || (i % {width}), i::text, '', NULL::bigint, '',
       {tail(facets="jsonb_build_object('version', jsonb_build_object('datasetVersion', md5('v' || i)))",
             attrs="'{}'::jsonb")} FROM generate_series(0, {runs - 1}) i
UNION ALL
SELECT {mv}, 'modelVersion:ml:credit#1', 'modelVersion', 'ml', 'credit', '1', '', NULL::bigint, '',
       {tail(facets="'{}'::jsonb", attrs="jsonb_build_object('metrics', jsonb_build_object('auc', 0.8))")}""",
        "SELECT setval(pg_get_serial_sequence('lineage_node', 'id'), (SELECT max(id) FROM lineage_node))",
        f"""INSERT INTO lineage_nodetag (node_id, field, tag, source, created_at)
SELECT {src0} + s, 'ssn', 'PII', 'facet', {T0} FROM generate_series(0, {sources - 1}) s""",
        f"""INSERT INTO lineage_edge (src_id, dst_id, kind, created_at)
SELECT e.src, e.dst, e.kind, {T0}
FROM (SELECT i, i / {width} AS l, i % {width} AS c FROM generate_series(0, {runs - 1}) i) r
CROSS JOIN LATERAL (VALUES
    ({dsv_of.format(col="r.c")}, {run0} + r.i, 'reads'),
    ({dsv_of.format(col=f"((r.c * 7 + 1) % {width})")}, {run0} + r.i, 'reads'),
    ({run0} + r.i, {dsv0} + r.i, 'writes'),
    ({job0} + r.c, {run0} + r.i, 'executes'),
    ({commit0} + (r.i % {commits}), {run0} + r.i, 'built_from')
) e(src, dst, kind)
ON CONFLICT DO NOTHING""",
        f"""INSERT INTO lineage_edge (src_id, dst_id, kind, created_at)
SELECT {run0} + i, {mv}, 'produces', {T0} FROM generate_series({runs - width}, {runs - 1}) i""",
        "ANALYZE lineage_node", "ANALYZE lineage_edge",
    ]


ENVIRONMENTS = ("staging", "qa", "uat", "dr")  # besides production: five releases of one model version


def _cold(fn: Callable[[], Any]) -> Any:
    """``fn`` with Django's cache emptied first: the report's first look, not a repeated view."""
    from django.core.cache import cache

    cache.clear()
    return fn()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def med(ts: list[float]) -> str:
    return f"median {statistics.median(ts) * 1000:,.0f} ms (min {min(ts) * 1000:,.0f}, max {max(ts) * 1000:,.0f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=500, help="runs per layer")
    ap.add_argument("--layers", type=int, default=98)
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--db", default="lineage_bench_subject")
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=1800)
    args = ap.parse_args()
    log(machine_line())
    recreate_database(args.db)
    try:
        with deadline(args.max_seconds):
            log(f"migrate: {migrate(args.db):.1f}s")
            t0 = time.perf_counter()
            with psycopg.connect(dsn(args.db)) as conn:
                for sql in statements(args.width, args.layers, args.commits, sources=10):
                    conn.execute(sql)
                mv = conn.execute("SELECT id FROM lineage_node WHERE kind = 'modelVersion'").fetchone()[0]
                nodes, edges = (conn.execute(f"SELECT count(*) FROM lineage_{t}").fetchone()[0]
                                for t in ("node", "edge"))
            log(f"graph: {nodes:,} nodes, {edges:,} edges in {time.perf_counter() - t0:.1f}s")

            with psycopg.connect(dsn(args.db)) as conn:
                bare_t, upstream = timed(lambda: conn.execute(BARE_CTE, {"seed": mv}).fetchone()[0], args.repeat)
            log(f"upstream of the model version: {upstream:,} nodes")
            log(f"  baseline, bare recursive CTE (psycopg, ids, count): {med(bare_t)}")

            os.environ.update({"DATABASE_URL": database_url(args.db), "DJANGO_SETTINGS_MODULE": "portal.settings",
                               "PORTAL_ALLOWED_HOSTS": "127.0.0.1", "PORTAL_DEBUG": "0", "CELERY_BROKER_URL": "",
                               "PORTAL_AUDIT_KEY": f"/tmp/{args.db}-audit-key.pem",
                               "PORTAL_AUDIT_CHECKPOINT_DIR": f"/tmp/{args.db}-checkpoints"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from django.conf import settings

            from lineage import selectors
            from lineage.models import Node
            from portal.accounts.services import user_ensure
            from portal.approvals import services
            from portal.approvals.subject import lineage_of, subject_build, subject_digest

            node = Node.objects.get(pk=mv)
            bound = settings.APPROVALS_SUBJECT_MAX_NODES
            walk_t, walk = timed(lambda: selectors.upstream_all(seeds=[mv], max_nodes=bound), args.repeat)
            log(f"  upstream_all (set-based CTE, ids):                  {med(walk_t)}; {len(walk.pks):,} nodes, "
                f"cut={walk.cut}")
            lin_t, lin = timed(lambda: lineage_of(node), args.repeat)
            log(f"  lineage_of (+ sensitive-tag walk):                  {med(lin_t)}; tags {sorted(lin.sensitive)}")
            admin = user_ensure(username="bench-admin", role="admin", password="bench-password-123")
            user_ensure(username="bench-approver", role="approver", team="model-risk")
            policy = services.policy_create(by=admin, environment="production", groups=[("model-risk", 1)],
                                            reason="bench")

            def build() -> tuple[int, str]:
                subject = subject_build(model_version=node, policy=policy)
                return len(subject["runs"]) + len(subject["commits"]) + len(subject["dataset_versions"]), \
                    subject_digest(subject)

            sub_t, (entries, _) = timed(build, args.repeat)
            log(f"  subject_build + digest:                             {med(sub_t)}; {entries:,} entries")
            req_t = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                release = services.release_request(by=admin, model="credit", version="1", environment="production",
                                                   justification="bench")
                req_t.append(time.perf_counter() - t0)
                # One pending request per model version and environment: withdraw it before the next (untimed).
                services.release_withdraw(release=release, by=admin, reason="bench")
            log(f"  release_request (whole service, one transaction):   {med(req_t)}; truncated="
                f"{release.subject['truncated']}")

            # What approving now adds (the lineage kept as approved) and what "what changed since approval" costs.
            import json

            from django.utils import timezone

            from portal.approvals.diff import lineage_capture, lineage_compare, release_diff
            from portal.approvals.materiality import normalise
            from portal.approvals.models import Release
            from portal.reports.approved_lineage import approved_lineages

            subject = subject_build(model_version=node, policy=policy)
            cap_t, snap = timed(lambda: lineage_capture(model_version=node, subject=subject), args.repeat)
            size = len(json.dumps(snap)) / 1e6
            log(f"  lineage_capture (kept at approval):                 {med(cap_t)}; {len(snap['nodes']):,} nodes, "
                f"{len(snap['edges']):,} edges, {size:.1f} MB of JSON")
            cmp_t, changes = timed(lambda: lineage_compare(snap, snap, normalise(None)), args.repeat)
            log(f"  lineage_compare (pure, nothing changed):            {med(cmp_t)}; {len(changes)} changes")
            release = services.release_request(by=admin, model="credit", version="1", environment="production",
                                               justification="bench")
            release.approved_lineage, release.approved_at = snap, timezone.now()
            release.save()
            diff_t, d = timed(lambda: release_diff(release=release, user=admin), args.repeat)
            log(f"  release_diff (walk now + capture + compare):        {med(diff_t)}; "
                f"{d['summary']['changes']} changes")
            # The release page viewed again with nothing changed (a cached answer, where there is one).
            again_t, _ = timed(lambda: release_diff(release=Release.objects.get(pk=release.pk), user=admin),
                               args.repeat)
            log(f"  release_diff again, nothing changed (fresh row):    {med(again_t)}")
            # The report section over several approved releases of the model version (one per environment).
            ids = [release.pk]
            for env in ENVIRONMENTS:
                services.policy_create(by=admin, environment=env, groups=[("model-risk", 1)], reason="bench")
                other = services.release_request(by=admin, model="credit", version="1", environment=env,
                                                 justification="bench")
                other.approved_lineage, other.approved_at = snap, timezone.now()
                other.save()
                ids.append(other.pk)
            one_t, _ = timed(lambda: _cold(lambda: approved_lineages(release_ids=ids[:1], user=admin)), args.repeat)
            log(f"  report section, 1 release (cold):                   {med(one_t)}")
            all_t, entries_ = timed(lambda: _cold(lambda: approved_lineages(release_ids=ids, user=admin)),
                                    args.repeat)
            log(f"  report section, {len(ids)} releases of it (cold):          {med(all_t)}; "
                f"{len(entries_)} entries; {statistics.median(all_t) / statistics.median(one_t):.2f} x 1 release")
    finally:
        if not args.keep_db:
            drop_database(args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
