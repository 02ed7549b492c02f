"""Evidence-backed de-identification stops: what the per-tag stop rule (``lineage/stops.py``) costs a question.

``--sources`` EHR tables (columns ``mrn`` PHI, ``zip`` PII), each de-identified by its own run marked
de-identifying into a table of ``mrn_hash``/``zip3`` (column lineage DIRECT), all read by one feature run,
then ``--chain`` further runs, then a training run and the model version. Asked of the model: the dataset-level
``sensitive_upstream`` and the column-level ``column_sensitivity``, in three settings, in the same run:

- baseline: ``PORTAL_DEID_EVIDENCE_TAGS`` empty, the mark alone stops every tag (the rule before evidence);
- no determination attached: PHI passes every de-identifying run (a second walk, beyond them);
- an approved determination attached to every run: the evidence lookup, then the baseline's single walk.

    .venv/bin/python bench/deid_stops.py                    # 300 sources
    .venv/bin/python bench/deid_stops.py --sources 1000

The database is dropped and re-created at the start and dropped at the end unless ``--keep-db``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

from _common import (
    ROOT,
    database_url,
    deadline,
    drop_database,
    git_state,
    log,
    machine_line,
    migrate,
    recreate_database,
    run_name,
    summary_ms,
)

PRODUCER = "https://example.com/bench"


def _facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json", **fields}


def _ds(ns: str, name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": ns, "name": name, "facets": facets}


def _event(job: str, t: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
           run_facets: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": t, "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
            "run": {"runId": str(uuid.uuid4()), "facets": run_facets or {}},
            "job": {"namespace": "bench", "name": job, "facets": {}}, "inputs": inputs, "outputs": outputs}


def _lineage(fields: dict[str, list[tuple[str, str, str]]]) -> dict[str, Any]:
    direct = [{"type": "DIRECT", "subtype": "TRANSFORMATION"}]
    return _facet(fields={out: {"inputFields": [{"namespace": ns, "name": name, "field": f, "transformations": direct}
                                                for ns, name, f in ins]} for out, ins in fields.items()})


def events(sources: int, chain: int) -> list[dict[str, Any]]:
    schema = _facet(fields=[{"name": "mrn", "type": "VARCHAR", "tags": [{"key": "classification", "value": "PHI"}]},
                            {"name": "zip", "type": "VARCHAR", "tags": [{"key": "classification", "value": "PII"}]}])
    out = []
    deid = []
    for i in range(sources):
        src = _ds("ehr", f"t{i}", schema=schema)
        dst = _ds("deid", f"t{i}", columnLineage=_lineage({"mrn_hash": [("ehr", f"t{i}", "mrn")],
                                                          "zip3": [("ehr", f"t{i}", "zip")]}))
        out.append(_event(f"deidentify_{i}", "2026-01-10T08:00:00Z", [src], [dst],
                          {"portalRun": _facet(deidentifies=True)}))
        deid.append(_ds("deid", f"t{i}"))
    prev = _ds("features", "f0", columnLineage=_lineage(
        {"mrn_hash": [("deid", f"t{i}", "mrn_hash") for i in range(sources)],
         "zip3": [("deid", f"t{i}", "zip3") for i in range(sources)]}))
    out.append(_event("features_0", "2026-01-10T09:00:00Z", deid, [prev]))
    for k in range(1, chain + 1):
        nxt = _ds("features", f"f{k}", columnLineage=_lineage({"mrn_hash": [("features", f"f{k - 1}", "mrn_hash")],
                                                              "zip3": [("features", f"f{k - 1}", "zip3")]}))
        out.append(_event(f"features_{k}", f"2026-01-10T09:{k % 60:02d}:30Z", [_ds("features", f"f{k - 1}")], [nxt]))
    model = _ds("s3://models", "risk/1/model.pkl",
                portalModelVersion=_facet(name="risk", version="1", namespace="bench", framework="xgboost"))
    out.append(_event("train", "2026-01-10T11:00:00Z", [_ds("features", f"f{chain}")], [model]))
    return out


def timed(fn: Any, n: int) -> tuple[list[float], Any]:
    fn()
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sources", type=int, default=300)
    p.add_argument("--chain", type=int, default=10)
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--db", default=run_name("lineage_bench_deid"))
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--max-seconds", type=float, default=900)
    args = p.parse_args()
    log(machine_line())
    log(git_state())
    recreate_database(args.db)
    try:
        with deadline(args.max_seconds):
            migrate(args.db)
            os.environ.update({"DATABASE_URL": database_url(args.db), "DJANGO_SETTINGS_MODULE": "portal.settings"})
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from datetime import date, timedelta

            from django.conf import settings
            from django.utils import timezone

            from lineage import selectors
            from lineage.column_selectors import column_sensitivity
            from lineage.models import Node
            from lineage.openlineage import parse_event
            from lineage.services import events_ingest
            from portal.accounts.services import user_ensure
            from portal.evidence.models import Document

            t0 = time.perf_counter()
            events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events(args.sources, args.chain)],
                          by=None)
            model = Node.objects.get(kind="modelVersion")
            log(f"graph: {args.sources:,} de-identifying runs, a chain of {args.chain} feature runs, "
                f"{Node.objects.count():,} nodes (ingested in {time.perf_counter() - t0:.1f} s)")

            def ask() -> tuple[list[str], list[str]]:
                return (sorted(selectors.sensitive_upstream(node=model)),
                        sorted(column_sensitivity(user=None, node=model).carries))

            rows = []
            settings.LINEAGE_DEID_EVIDENCE_TAGS = []
            rows.append(("baseline: the mark alone stops (one walk)", *timed(ask, args.samples)))
            settings.LINEAGE_DEID_EVIDENCE_TAGS = ["PHI"]
            rows.append(("PHI, no determination (PHI walks on)", *timed(ask, args.samples)))
            author = user_ensure(username="bench-author", role="admin")
            approver = user_ensure(username="bench-approver", role="admin")
            now = timezone.now()
            doc = Document.objects.create(
                doc_type="deid_determination", title="Safe harbor", filename="d.md", content_type="text/markdown",
                size=1, sha256="0" * 64, content=b"x", author=author, approved_by=approver, approved_at=now,
                effective_from=now - timedelta(days=1), retention_until=date(2040, 1, 1),
                attributes={"method": "safe_harbor"})
            doc.nodes.set(Node.objects.filter(kind="run", deidentifies=True))
            rows.append(("PHI, determination on every run", *timed(ask, args.samples)))
            base = statistics.median(rows[0][1])
            log(f"sensitive_upstream + column_sensitivity of the model, {args.samples} samples each:")
            for name, times, answer in rows:
                log(f"  {name:<44} {summary_ms(times)}  ({statistics.median(times) / base:.2f} x baseline)  "
                    f"tags {answer[0]}, columns {answer[1]}")
    finally:
        if not args.keep_db:
            drop_database(args.db)


if __name__ == "__main__":
    main()
