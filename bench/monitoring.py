"""Monitoring results and /metrics: what the monitoring observer adds to ingestion, and what a scrape costs.

1. Ingest ``--events`` monitoring runs (each a ``portalMonitoring`` facet with ``--metrics`` metrics against a
   production deployment, a tenth of them breaching) in batches of 200 through the ingest service, beside the
   baseline: the same runs without the facet, ingested in the same run. The difference is the monitoring
   observer (results, thresholds, alerts, their audit entries).
2. Scrape ``/metrics`` (in process, Django's test client) with ``--incidents`` open incidents and the alerts of
   step 1, beside ``/healthz`` (one ``SELECT 1``) as the baseline.

    .venv/bin/python bench/monitoring.py [--events 2000] [--metrics 10] [--incidents 500] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import (
    database_url,
    drop_database,
    git_state,
    log,
    machine_line,
    migrate,
    percentile,
    portal_env,
    recreate_database,
)

DB = "bench_monitoring"
BATCH = 200


def _event(i: int, metrics: int, monitored: bool, t0: datetime) -> bytes:
    facets = {}
    if monitored:
        facets["portalMonitoring"] = {
            "_producer": "bench", "_schemaURL": "https://lineage-portal.example/spec/facets/1-0-0/X.json",
            "deployment": {"namespace": "bench", "name": "credit", "version": "1", "environment": "production"},
            "metrics": [{"name": f"m{k}", "value": 0.5 if i % 10 else 0.9, "threshold": 0.8} for k in range(metrics)]}
    return json.dumps({
        "eventType": "COMPLETE", "eventTime": (t0 + timedelta(minutes=i)).isoformat(), "producer": "bench",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4()), "facets": facets},
        "job": {"namespace": "bench", "name": "monitor" if monitored else "plain", "facets": {}},
        "inputs": [{"namespace": "s3://bench", "name": "scores", "facets": {}}], "outputs": []}).encode()


def _ingest(events: int, metrics: int, monitored: bool) -> float:
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest

    t0 = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=400 if monitored else 0)
    bodies = [_event(i, metrics, monitored, t0) for i in range(events)]
    start = time.perf_counter()
    for i in range(0, events, BATCH):
        events_ingest(events=[parse_event(b) for b in bodies[i : i + BATCH]], by=None)
    return time.perf_counter() - start


def _timed(client: object, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(path)  # type: ignore[attr-defined]
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.status_code
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--incidents", type=int, default=500)
    ap.add_argument("--keep", action="store_true", help="keep the database")
    args = ap.parse_args()
    log(machine_line())
    log(git_state())
    recreate_database(DB)
    try:
        migrate(DB)
        os.environ.update(portal_env(DB))
        os.environ["DATABASE_URL"] = database_url(DB)
        import django

        django.setup()
        from django.test import Client
        from django.utils import timezone

        from lineage.services import portal_record_ingest
        from portal.accounts.services import user_ensure
        from portal.incidents.models import Incident

        officer = user_ensure(username="bench-officer", role="compliance_officer")
        portal_record_ingest(kind="deployment", by=None, payload={
            "model": {"namespace": "bench", "name": "credit", "version": "1"}, "environment": "production",
            "action": "deploy", "time": "2025-12-01T00:00:00+00:00"})
        plain = _ingest(args.events, args.metrics, monitored=False)
        monitored = _ingest(args.events, args.metrics, monitored=True)
        results = args.events * args.metrics
        log(f"ingest, {args.events} runs in batches of {BATCH}:")
        log(f"  baseline (no facet)      {args.events / plain:8.0f} events/s  ({plain:.1f} s)")
        log(f"  portalMonitoring x{args.metrics:<3}    {args.events / monitored:8.0f} events/s  ({monitored:.1f} s),"
            f" {results / monitored:.0f} results/s, {monitored / plain:.2f}x the baseline's time")
        now = timezone.now()
        Incident.objects.bulk_create([Incident(
            title=f"incident {i}", kinds=["personal_data_breach"] if i % 2 else ["ai_act_serious"], severity="high",
            ai_act_category="standard", detected_at=now - timedelta(hours=i % 100), opened_by=officer,
            opened_at=now) for i in range(args.incidents)])
        client = Client(HTTP_HOST="127.0.0.1")
        _timed(client, "/metrics", 2)  # warm up
        scrape = _timed(client, "/metrics", 20)
        health = _timed(client, "/healthz", 20)
        log(f"/metrics with {args.incidents} open incidents and {args.events // 10} open alerts (20 scrapes):")
        log(f"  baseline /healthz        p50 {percentile(health, 50):7.1f} ms  p95 {percentile(health, 95):7.1f} ms")
        log(f"  /metrics                 p50 {percentile(scrape, 50):7.1f} ms  p95 {percentile(scrape, 95):7.1f} ms")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(DB)


if __name__ == "__main__":
    main()
