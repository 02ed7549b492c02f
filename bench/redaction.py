"""Redaction benchmark: what hiding other teams' node ids costs an API answer (issue 16).

Every API answer goes through ``lineage.redaction.RedactingJSONRenderer``, which finds the node ids in it and asks
the database once which of them the reader may not see. Measured in-process with Django's test client on the
demo plus a credit-team run reading ``--hidden`` clinical datasets (so answers do hold hidden ids), for a
team-bound viewer (redaction does work) and an auditor (org-wide: skipped), each request ``--runs`` times. The
**baseline in the same run** is the same request answered by DRF's plain ``JSONRenderer`` (no redaction).

    .venv/bin/python bench/redaction.py            # ~1 min

The database (``--db``) is dropped and re-created at the start and dropped at the end unless ``--keep-db``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from urllib.parse import quote

from _common import (
    ROOT,
    database_url,
    deadline,
    drop_database,
    log,
    machine_line,
    manage,
    migrate,
    recreate_database,
)


def _timed(client: object, url: str, runs: int, plain: object) -> tuple[float, float, float, int]:
    """Median and max of the redacted answer, median of the baseline: the two alternate, so drift on a shared
    machine hits both alike."""
    client.get(url)  # warm-up
    redacted, baseline = [], []
    for _ in range(runs):
        for times, ctx in ((redacted, None), (baseline, plain)):
            if ctx is not None:
                ctx.enable()
            try:
                t0 = time.perf_counter()
                r = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
            finally:
                if ctx is not None:
                    ctx.disable()
            assert r.status_code == 200, (url, r.status_code)
    return statistics.median(redacted), max(redacted), statistics.median(baseline), len(r.content)


def measure(runs: int, hidden: int) -> None:
    from django.test import override_settings
    from rest_framework.test import APIClient

    from lineage.models import Node
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest
    from portal.accounts.models import User
    from portal.demo import story as demo

    run_id = str(uuid.uuid4())
    inputs = [{"namespace": demo.EHR_DB, "name": f"clinical.extract_{i}", "facets": {}} for i in range(hidden)]
    target = Node.objects.filter(namespace=demo.BANK_DB, kind="dataset").order_by("pk").first()
    ev = {"eventType": "COMPLETE", "eventTime": "2026-03-01T10:00:00Z", "producer": "bench", "schemaURL":
          "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
          "run": {"runId": run_id, "facets": {}}, "job": {"namespace": demo.CREDIT_ML, "name": "bench_enrich",
                                                          "facets": {}},
          "inputs": inputs, "outputs": [{"namespace": target.namespace, "name": target.name, "facets": {}}]}
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    urls = {
        "run detail": f"/api/v1/runs/{run_id}",
        "node list (500)": "/api/v1/nodes?limit=500",
        "graph of the run": f"/api/v1/nodes/{quote('run:' + run_id, safe='')}/graph?depth=2&limit=1000",
        "node detail": f"/api/v1/nodes/{quote(target.node_id, safe='')}",
    }
    plain = {"DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
    from django.conf import settings

    log(f"\n{'answer':<20} {'reader':<8} {'redacted ms (median/max)':>26} {'baseline ms':>14} {'overhead':>9} "
        f"{'bytes':>9}")
    baseline = override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, **plain})
    for reader in (demo.PRIYA.username, demo.INGRID.username):
        client = APIClient()
        client.force_authenticate(User.objects.get(username=reader))
        for name, url in urls.items():
            med, worst, base, size = _timed(client, url, runs, baseline)
            log(f"{name:<20} {reader.split('.')[0]:<8} {med:>15.1f} / {worst:>7.1f} {base:>14.1f} "
                f"{(med - base) / base * 100:>8.0f}% {size:>9,}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--hidden", type=int, default=300, help="clinical datasets the credit run reads")
    p.add_argument("--db", default="lineage_bench_redaction")
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--max-seconds", type=float, default=900)
    args = p.parse_args()
    log(f"bench/redaction.py  {machine_line()}")
    try:
        with deadline(args.max_seconds):
            recreate_database(args.db)
            log(f"database {args.db}: re-created, migrated in {migrate(args.db):.1f}s")
            manage(args.db, "load_demo")
            os.environ.update({"DATABASE_URL": database_url(args.db), "DJANGO_SETTINGS_MODULE": "portal.settings",
                               "PORTAL_ALLOWED_HOSTS": "127.0.0.1,testserver", "PORTAL_DEBUG": "0"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            measure(args.runs, args.hidden)
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            drop_database(args.db)


if __name__ == "__main__":
    main()
