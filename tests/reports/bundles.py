"""Small evidence bundles for the PDF tests, one per report kind. Plain dicts, as the bundle endpoint serves."""

from __future__ import annotations

import copy
from typing import Any

REPORT_ID = "3f0c2a9e-7d41-4c1b-9a0e-5b6f2d8c1e47"
ROOT_HASH = "9a1f" * 16
HOSTILE = [
    "<script>alert(1)</script>",
    "<para>",
    "<b>x</b>",
    "&amp;",
    "a\u202eb",
    "x\x00y",
]
LONG_NAME = "n" * 5000


def _report(kind: str, **extra: Any) -> dict:
    return {
        "id": REPORT_ID,
        "kind": kind,
        "title": {"framework": "HIPAA compliance report", "dossier": "credit-scoring v7 dossier",
                  "erasure": "Erasure impact of patients_raw"}[kind],
        "framework": {"id": "hipaa", "name": "HIPAA (45 CFR 164)"} if kind == "framework" else None,
        "scope": {"namespaces": ["clinical"], "models": ["credit-scoring v7"], "tags": ["PHI"],
                  "description": "namespaces: clinical; tags: PHI"},
        "period": {"start": "2026-01-01T00:00:00Z", "end": "2026-11-24T00:00:00Z"},
        "generated_by": {"username": "ada", "name": "Ada Lovelace"},
        "generated_at": "2026-11-24T02:00:00Z",
        "parameters": {"version": 3, "effective_from": "2026-06-01T00:00:00Z", "values": {"approvers_min": 2}},
        "annex_iv": False,
        **extra,
    }


def _lineage(names: list[str] | None = None) -> list[dict]:
    names = names or ["patients_raw", "patients_clean", "train run 41", "credit-scoring v7"]
    kinds = ["dataset", "datasetVersion", "run", "modelVersion"]
    nodes = [
        {"id": f"{k}:{i}", "kind": k, "name": n, "tags": ["PHI"] if i < 2 else [], "x": i * 220.0, "y": 0.0}
        for i, (k, n) in enumerate(zip(kinds, names, strict=False))
    ]
    edges = [{"src": nodes[i]["id"], "dst": nodes[i + 1]["id"], "kind": "reads"} for i in range(len(nodes) - 1)]
    return [{"title": "credit-scoring v7", "root": nodes[-1]["id"], "truncated": True, "nodes": nodes,
             "edges": edges, "width": 660.0, "height": 0.0}]


def _audit() -> dict:
    return {
        "chain": {"ok": True, "entries": 10234, "head": "c0ffee" * 10, "verified_at": "2026-11-24T01:59:00Z",
                  "problems": []},
        "checkpoint": {"size": 10200, "root": ROOT_HASH, "key_id": "ab12" * 8, "signature": "TUVFVA==" * 11,
                       "created_at": "2026-11-24T01:00:00Z"},
        "proofs": [{"label": "release 12 approved", "seq": 845, "leaf_hash": "1e" * 32,
                    "path": ["2f" * 32, "3a" * 32, "4b" * 32], "tree_size": 10200}],
    }


def _approvals() -> list[dict]:
    return [{
        "release": 12, "model": "credit-scoring v7", "environment": "production", "state": "approved",
        "policy": "production-default v2", "subject_digest": "sha256:" + "5d" * 32,
        "decided_at": "2026-11-02T10:00:00Z",
        "signatures": [
            {"printed_name": "Bob Stone", "username": "bob", "signed_at": "2026-11-02T09:00:00Z",
             "meaning": "approve", "reason": "metrics reviewed", "voided": False, "audit_seq": 845,
             "reviewed_digest": "sha256:" + "5d" * 32},
            {"printed_name": "Dana Reyes", "username": "dana", "signed_at": "2026-11-02T09:30:00Z",
             "meaning": "approve", "reason": "bias report OK", "voided": True, "audit_seq": 846,
             "reviewed_digest": "sha256:" + "d4" * 32},
        ],
    }]


def _deployments() -> list[dict]:
    return [{"node_id": "deployment:cs7@production", "model": "credit-scoring v7", "environment": "production",
             "deployed_at": "2026-11-03T08:00:00Z", "state": "active", "release": 12, "approved": True},
            {"node_id": "deployment:cs6@staging", "model": "credit-scoring v6", "environment": "staging",
             "deployed_at": "2026-10-03T08:00:00Z", "state": "active", "release": None, "approved": False}]


def _documents() -> list[dict]:
    return [
        {"id": "doc-1", "type": "dpia", "title": "DPIA credit scoring", "version": "2", "sha256": "7e" * 32,
         "author": "ada", "approved_by": "bob", "approved_at": "2026-05-01T00:00:00Z",
         "effective_from": "2026-05-01T00:00:00Z", "retention_until": "2032-05-01T00:00:00Z",
         "covers": ["modelVersion:3"]},
        {"id": "doc-2", "type": "evaluation", "title": "Holdout evaluation", "version": "1", "sha256": "8f" * 32,
         "author": "ada", "approved_by": "bob", "approved_at": "2026-05-02T00:00:00Z",
         "effective_from": "2026-05-02T00:00:00Z", "retention_until": "2032-05-02T00:00:00Z",
         "covers": ["modelVersion:3"]},
    ]


def framework(*, evidence_rows: int = 3) -> dict:
    controls = [
        {"id": "H1", "framework": "hipaa", "citation": "\u00a7164.312(b) Audit controls",
         "title": "Record ePHI activity", "evidence_shown": "Reads and exports of PHI datasets", "type": "P",
         "status": "pass", "reason": "12 runs with PHI inputs, each has an audit entry; chain verifies.",
         "missing": [], "failing": [],
         "evidence": {"columns": ["Run", "Audit entry", "Time"],
                      "rows": [[f"run:{i}", f"#{100 + i}", "2026-11-01T00:00:00Z"] for i in range(evidence_rows)]}},
        {"id": "H2", "framework": "hipaa", "citation": "\u00a7164.308(a)(4) Access management",
         "title": "Minimum necessary access", "evidence_shown": "Grants on PHI namespaces", "type": "P",
         "status": "fail", "reason": "2 runs read PHI without an approved purpose.", "missing": [],
         "failing": [{"node_id": "run:77", "kind": "run", "name": "nightly_export_job", "why": "no purpose"},
                     {"node_id": "run:78", "kind": "run", "name": "adhoc_query_eve", "why": "no purpose"}],
         "evidence": {"columns": ["Run", "Dataset"], "rows": [["run:77", "patients_raw"]]}},
        {"id": "H3", "framework": "hipaa", "citation": "\u00a7164.308(a)(1)(ii)(D)", "title": "Access reviews",
         "evidence_shown": "Quarterly review records", "type": "P+E", "status": "not_evaluated",
         "reason": "No grant history.", "missing": ["access reviews (grant history)"], "failing": [],
         "evidence": {"columns": [], "rows": []}},
        {"id": "H4", "framework": "hipaa", "citation": "\u00a7164.316 Documentation", "title": "Policies on file",
         "evidence_shown": "Signed policy documents", "type": "E", "status": "evidence",
         "reason": "1 document attached.", "missing": [], "failing": [], "evidence": {"columns": [], "rows": []}},
    ]
    return {
        "schema": "lineage-portal/report-bundle/1",
        "report": _report("framework"),
        "summary": {"pass": 1, "fail": 1, "not_evaluated": 1, "evidence": 1, "total": 4},
        "controls": controls,
        "lineage": _lineage(),
        "approvals": _approvals(),
        "deployments": _deployments(),
        "violations": [{"id": 3, "deployment": "deployment:cs6@staging", "model": "credit-scoring v6",
                        "environment": "staging", "found_at": "2026-10-04T00:00:00Z",
                        "reason": "deployed without an approved release"}],
        "documents": _documents(),
        "erasure": None,
        "audit": _audit(),
    }


def dossier(*, annex_iv: bool) -> dict:
    b = framework()
    b["report"] = _report("dossier", annex_iv=annex_iv)
    b["report"]["model"] = {
        "node_id": "modelVersion:3", "name": "credit-scoring", "version": "7",
        "metrics": {"auc": 0.91, "fairness": {"dp_gap": 0.03}}, "parameters": {"max_depth": 6, "features": ["a", "b"]},
        "inventory": {"owner": "risk-team", "intended_use": "consumer credit limits", "tier": "high",
                      "limitations": "not for mortgages", "status": "in production", "high_risk_annex": "5(b)"},
    }
    b["controls"] = []
    b["summary"] = {"pass": 0, "fail": 0, "not_evaluated": 0, "evidence": 0, "total": 0}
    b["datasets"] = [{"node_id": "dataset:1", "name": "patients_raw", "namespace": "clinical", "tags": ["PHI"],
                      "versions": ["v1", "v2"], "lawful_basis": "Art. 6(1)(b) contract", "purposes": ["credit"],
                      "special_category_condition": "Art. 9(2)(h)", "retention_until": "2030-01-01",
                      "legal_hold": True}]
    b["approvals"][0]["break_glass"] = True
    b["audit"]["checkpoint"]["signed_time"] = "2026-11-24T01:00:00.123Z"
    b["portal"] = {"version": "0.1.0+test"}
    return b


def erasure() -> dict:
    b = framework()
    b["report"] = _report("erasure")
    b["controls"] = []
    b["summary"] = {}
    b["approvals"] = []
    b["documents"] = []
    b["erasure"] = {
        "query": {"dataset": "dataset:patients_raw", "subject_key": None},
        "sources": [{"node_id": "dataset:1", "name": "patients_raw"}],
        "affected": [
            {"node_id": "modelVersion:3", "kind": "modelVersion", "name": "credit-scoring v7", "namespace": "clinical",
             "active_deployments": ["deployment:cs7@production"],
             "path": ["dataset:1", "datasetVersion:1", "run:2", "modelVersion:3"]},
            {"node_id": "run:2", "kind": "run", "name": "train run 41", "namespace": "clinical",
             "active_deployments": [], "path": ["dataset:1", "datasetVersion:1", "run:2"]},
        ],
        "counts": {"datasetVersion": 1, "run": 1, "modelVersion": 1, "deployment": 1},
        "truncated": False,
    }
    return b


def hostile() -> dict:
    """A framework bundle whose user strings are all markup, controls, or very long."""
    b = framework()
    b = copy.deepcopy(b)
    b["report"]["title"] = "Report <b>bold</b> & <para>"
    for i, c in enumerate(b["controls"]):
        c["title"] = HOSTILE[i]
    b["controls"][1]["failing"] = [
        {"node_id": f"dataset:{i}", "kind": "dataset", "name": name, "why": name} for i, name in enumerate(HOSTILE)
    ] + [{"node_id": "dataset:" + "z" * 300, "kind": "dataset", "name": LONG_NAME, "why": "long"}]
    b["lineage"] = _lineage(HOSTILE[:3] + [LONG_NAME])
    b["approvals"][0]["signatures"][0]["printed_name"] = "<script>alert(1)</script>"
    b["approvals"][0]["signatures"][0]["reason"] = LONG_NAME
    b["deployments"][0]["model"] = "&amp;"
    return b
