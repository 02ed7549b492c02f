"""PDF rendering benchmark: a framework report over 500 model versions and 50,000 lineage nodes.

Target (issue 5): under 60 s, peak memory under 1 GiB, progress reported at least every 2 s.

    .venv/bin/python bench/report_pdf.py                 # the target size (~1-2 min with the baseline)
    .venv/bin/python bench/report_pdf.py --models 50     # quick

No database: the evidence bundle is synthetic, shaped like the one the report task assembles:

- ``--models`` (500) model versions in scope, each with a lineage diagram bounded to its neighbourhood:
  ``--nodes`` (50,000) nodes in all, split evenly (100 per diagram by default), laid out with
  ``lineage.layout`` as the bundle builder does, a third of the datasets tagged PHI or PII;
- ``--controls`` (30) controls; each has one evidence row per model version (500 rows), every fifth has
  four rows per model version (2,000 rows, cut at the renderer's 500), every third fails with failing
  entities (one per tenth model version);
- one release per model version with two or three signatures, and one inclusion proof each (path of 20
  hashes, a tree of 1,000,000 entries);
- two deployments per model version, 100 violations, 200 evidence documents.

Each measurement runs in its own child process so that peak RSS (``ru_maxrss``) is its own. The baseline,
measured in the same run: reportlab building a plain ``Table`` (no styling, one pass, no wrapping) with the
same number of rows as the tables the report prints, at the same column count; once as one table (reportlab
re-measures the rest of a table at every page break, so this grows faster than linearly) and once split into
tables of 500 rows, as the report prints them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _hex(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def _diagram(m: int, size: int, rng: random.Random) -> dict:
    """A model version's upstream: source datasets -> versions -> runs -> versions -> ... -> the model."""
    from lineage.layout import layout

    nodes: list[dict] = []
    edges: list[dict] = []
    previous: list[str] = []
    layer = 0
    while len(nodes) < size - 1:
        width = rng.randint(3, 9)
        kind = ("dataset", "datasetVersion", "run", "datasetVersion", "run")[layer % 5]
        current = []
        for j in range(min(width, size - 1 - len(nodes))):
            nid = f"{kind}:m{m}-l{layer}-{j}"
            tags = rng.choice([[], [], [], ["PHI"], ["PII"], ["finance"]]) if "dataset" in kind else []
            nodes.append({"id": nid, "kind": kind, "name": f"{kind}_{m}_{layer}_{j}_warehouse.schema.table",
                          "tags": tags})
            for src in rng.sample(previous, min(len(previous), 2)):
                edges.append({"src": src, "dst": nid, "kind": "reads"})
            current.append(nid)
        previous, layer = current, layer + 1
    root = f"modelVersion:m{m}"
    nodes.append({"id": root, "kind": "modelVersion", "name": f"model-{m} v{m % 9 + 1}", "tags": []})
    edges += [{"src": p, "dst": root, "kind": "produces"} for p in previous]
    placed = layout([n["id"] for n in nodes], [(e["src"], e["dst"]) for e in edges])
    for n in nodes:
        p = placed.positions[n["id"]]
        n["x"], n["y"] = p.x, p.y
    return {"title": f"model-{m} v{m % 9 + 1}", "root": root, "truncated": m % 7 == 0, "nodes": nodes,
            "edges": edges, "width": placed.width, "height": placed.height}


def build_bundle(models: int, nodes: int, controls: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    per = max(nodes // models, 2)
    lineage = [_diagram(m, per, rng) for m in range(models)]
    ctrl = []
    for c in range(controls):
        per_model = 4 if c % 5 == 0 else 1
        status = "fail" if c % 3 == 0 else ("not_evaluated" if c % 7 == 0 else "pass")
        rows = [[f"run:m{m}-{k}", f"#{100000 + m * 4 + k}", f"2026-{m % 12 + 1:02d}-01T00:00:00Z",
                 f"dataset_{m}_{k}_warehouse.schema.table", "audited"] for m in range(models) for k in range(per_model)]
        failing = [{"node_id": f"run:m{m}", "kind": "run", "name": f"train_model_{m}_nightly",
                    "why": "read PHI without an approved purpose"} for m in range(0, models, 10)]
        if status != "fail":
            failing = []
        ctrl.append({"id": f"C{c + 1}", "framework": "hipaa", "citation": f"\u00a7164.3{c:02d}(b)",
                     "title": f"Control number {c + 1}", "evidence_shown": "Runs, audit entries and datasets",
                     "type": "P", "status": status, "reason": f"{len(rows)} rows checked.",
                     "missing": ["grant history"] if status == "not_evaluated" else [], "failing": failing,
                     "evidence": {"columns": ["Run", "Audit entry", "Time", "Dataset", "Result"], "rows": rows}})
    approvals = [{
        "release": m, "model": f"model-{m} v{m % 9 + 1}", "environment": "production", "state": "approved",
        "policy": "production-default v2", "subject_digest": "sha256:" + _hex("subject", m), "decided_at":
        "2026-11-02T10:00:00Z",
        "signatures": [{"printed_name": f"Approver {m}-{s}", "username": f"user{s}", "signed_at":
                        "2026-11-02T09:00:00Z", "meaning": "approve", "reason": "reviewed metrics and lineage",
                        "voided": s == 2, "audit_seq": 1000 + m * 3 + s} for s in range(2 + m % 2)],
    } for m in range(models)]
    return {
        "schema": "lineage-portal/report-bundle/1",
        "report": {"id": "bench-0000-4000-8000-000000000500", "kind": "framework",
                   "title": "HIPAA compliance report (benchmark)", "framework": {"id": "hipaa", "name": "HIPAA"},
                   "scope": {"namespaces": ["clinical"], "models": [d["title"] for d in lineage], "tags": ["PHI"],
                             "description": f"{models} model versions"},
                   "period": {"start": "2026-01-01T00:00:00Z", "end": "2026-11-24T00:00:00Z"},
                   "generated_by": {"username": "bench", "name": "Bench Runner"},
                   "generated_at": "2026-11-24T02:00:00Z",
                   "parameters": {"version": 3, "effective_from": "2026-06-01T00:00:00Z", "values": {}}},
        "summary": {},
        "controls": ctrl,
        "lineage": lineage,
        "approvals": approvals,
        "deployments": [{"node_id": f"deployment:m{m}@{env}", "model": f"model-{m}", "environment": env,
                         "deployed_at": "2026-11-03T08:00:00Z", "state": "active", "release": m,
                         "approved": m % 50 != 0} for m in range(models) for env in ("staging", "production")],
        "violations": [{"id": v, "deployment": f"deployment:m{v}@production", "model": f"model-{v}",
                        "environment": "production", "found_at": "2026-11-04T00:00:00Z",
                        "reason": "deployed without an approved release"} for v in range(100)],
        "documents": [{"id": f"doc-{d}", "type": "dpia", "title": f"Document {d}", "version": "1",
                       "sha256": _hex("doc", d), "author": "ada", "approved_by": "bob",
                       "approved_at": "2026-05-01T00:00:00Z", "effective_from": "2026-05-01T00:00:00Z",
                       "retention_until": "2032-05-01T00:00:00Z", "covers": [f"modelVersion:m{d}"]}
                      for d in range(200)],
        "erasure": None,
        "audit": {"chain": {"ok": True, "entries": 1_000_000, "head": _hex("head"), "verified_at":
                            "2026-11-24T01:59:00Z", "problems": []},
                  "checkpoint": {"size": 1_000_000, "root": _hex("root"), "key_id": _hex("key")[:32],
                                 "signature": "A" * 88, "created_at": "2026-11-24T01:00:00Z"},
                  "proofs": [{"label": f"release {m} approved", "seq": 1000 + m * 3, "leaf_hash": _hex("leaf", m),
                              "path": [_hex("p", m, i) for i in range(20)], "tree_size": 1_000_000}
                             for m in range(models)]},
    }


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_render(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    bundle = build_bundle(args.models, args.nodes, args.controls)
    built = time.perf_counter() - t0
    size = len(json.dumps(bundle))
    rss_bundle = _rss_mib()

    from pypdf import PdfReader

    from portal.reports import pdf

    pdf._fonts()  # font registration is once per process, not per report
    stamps: list[float] = []
    last: list[tuple[int, str]] = []

    def progress(pct: int, step: str) -> None:
        stamps.append(time.perf_counter())
        last.append((pct, step))

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    data = pdf.render(bundle, progress=progress)
    end = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    if args.out:
        with open(args.out, "wb") as fh:
            fh.write(data)
    points = [start, *stamps, end]
    gaps = [b - a for a, b in zip(points, points[1:], strict=False)]
    worst = max(range(len(gaps)), key=gaps.__getitem__)
    import io

    pages = len(PdfReader(io.BytesIO(data)).pages)
    printed_rows = sum(min(len(c["evidence"]["rows"]), pdf.ROW_CAP) + min(len(c["failing"]), pdf.ROW_CAP)
                       for c in bundle["controls"])
    printed_rows += min(len(bundle["deployments"]), pdf.ROW_CAP) + len(bundle["violations"])
    printed_rows += sum(len(a["signatures"]) for a in bundle["approvals"]) + len(bundle["documents"])
    return {
        "bundle_seconds": built, "bundle_json_mb": size / 1e6, "rss_after_bundle_mib": rss_bundle,
        "render_seconds": end - start, "cpu_seconds": cpu, "peak_rss_mib": _rss_mib(), "pdf_mb": len(data) / 1e6,
        "pages": pages,
        "progress_calls": len(stamps), "max_gap_s": gaps[worst],
        "max_gap_after": last[worst - 1] if worst > 0 else (0, "start"),
        "diagrams": len(bundle["lineage"]), "nodes": sum(len(d["nodes"]) for d in bundle["lineage"]),
        "edges": sum(len(d["edges"]) for d in bundle["lineage"]), "printed_rows": printed_rows,
        "last_progress": last[-1] if last else None,
    }


def child_baseline(args: argparse.Namespace) -> dict:
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate, Table

    rows = args.rows
    data = [["Run", "Audit entry", "Time", "Dataset", "Result"]]
    data += [[f"run:m{i}", f"#{100000 + i}", "2026-01-01T00:00:00Z", f"dataset_{i}_w.s.t", "audited"]
             for i in range(rows)]
    start = time.perf_counter()
    buf = io.BytesIO()
    if args.chunk:
        story = [Table([data[0], *data[i : i + args.chunk]], repeatRows=1) for i in range(1, len(data), args.chunk)]
    else:
        story = [Table(data, repeatRows=1)]
    tables = len(story)  # build() consumes the list
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    SimpleDocTemplate(buf, pagesize=A4).build(story)
    end = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"render_seconds": end - start, "peak_rss_mib": _rss_mib(), "pdf_mb": len(buf.getvalue()) / 1e6,
            "rows": rows, "tables": tables,
            "cpu_seconds": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime}


def _run_child(kind: str, extra: list[str], timeout: float) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, *extra], cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=500)
    ap.add_argument("--nodes", type=int, default=50_000)
    ap.add_argument("--controls", type=int, default=30)
    ap.add_argument("--rows", type=int, default=0, help="baseline rows (default: as many as the report prints)")
    ap.add_argument("--chunk", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--out", default="", help="write the report's PDF here")
    ap.add_argument("--max-seconds", type=float, default=600, help="limit for each measurement")
    ap.add_argument("--child", choices=["render", "baseline"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "render":
        print(json.dumps(child_render(args)))
        return
    if args.child == "baseline":
        print(json.dumps(child_baseline(args)))
        return

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "portal/reports"], cwd=ROOT, capture_output=True,
                           text=True, check=False).stdout.strip()
    import reportlab

    print(f"Python {platform.python_version()}, reportlab {reportlab.Version}, {os.cpu_count()} CPUs, "
          f"commit {commit}{' (portal/reports has uncommitted changes)' if dirty else ''}", flush=True)
    common = ["--models", str(args.models), "--nodes", str(args.nodes), "--controls", str(args.controls)]
    r = _run_child("render", [*common, "--out", args.out] if args.out else common, args.max_seconds)
    print(f"bundle: {r['diagrams']} diagrams, {r['nodes']:,} lineage nodes, {r['edges']:,} edges, "
          f"{args.controls} controls; JSON {r['bundle_json_mb']:.1f} MB, built in {r['bundle_seconds']:.1f} s "
          f"(not timed), RSS after building it {r['rss_after_bundle_mib']:.0f} MiB", flush=True)
    ok = {"time": r["render_seconds"] < 60, "mem": r["peak_rss_mib"] < 1024, "gap": r["max_gap_s"] <= 2}

    def met(flag: bool) -> str:
        return "MET" if flag else "NOT MET"

    print(f"render:   {r['render_seconds']:.1f} s ({met(ok['time'])}, target < 60 s; CPU {r['cpu_seconds']:.1f} s); "
          f"peak RSS "
          f"{r['peak_rss_mib']:.0f} MiB ({met(ok['mem'])}, target < 1024 MiB); PDF {r['pdf_mb']:.1f} MB, "
          f"{r['pages']:,} pages; {r['printed_rows']:,} table rows printed", flush=True)
    print(f"progress: {r['progress_calls']} calls, max gap {r['max_gap_s']:.2f} s after {r['max_gap_after']} "
          f"({met(ok['gap'])}, target <= 2 s); last {r['last_progress']}", flush=True)
    if not args.skip_baseline:
        rows = ["--rows", str(args.rows or r["printed_rows"])]
        for chunk in (0, 500):
            b = _run_child("baseline", [*common, *rows, "--chunk", str(chunk)], args.max_seconds)
            shape = f"{b['tables']:,} tables of <= {chunk} rows" if chunk else "one table"
            print(f"baseline: plain reportlab Table, {b['rows']:,} rows x 5 columns in {shape}, no styling, one "
                  f"pass: {b['render_seconds']:.1f} s (CPU {b['cpu_seconds']:.1f} s), peak RSS "
                  f"{b['peak_rss_mib']:.0f} MiB, PDF {b['pdf_mb']:.1f} MB; report / baseline = "
                  f"{r['render_seconds'] / b['render_seconds']:.1f}x wall, "
                  f"{r['cpu_seconds'] / max(b['cpu_seconds'], 1e-3):.1f}x CPU", flush=True)


if __name__ == "__main__":
    main()
