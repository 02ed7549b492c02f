"""Assemble the evidence bundle (``docs/evidence-bundle.md``) that the PDF and the JSON export share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings

from lineage import selectors as lineage_selectors
from lineage import stops
from lineage.column_selectors import column_sensitivity
from lineage.layout import layout
from lineage.models import Node
from portal.approvals.models import Violation
from portal.audit.merkle import ChainTree
from portal.audit.models import AuditCheckpoint, AuditEntry
from portal.audit.services import checkpoint_create
from portal.audit.verifier import verify_inclusion

from .catalog import Control, Framework
from .checks import EVIDENCE, FAIL, NOT_APPLICABLE, NOT_EVALUATED, PASS, Result
from .facts import Facts, NodeFact

SCHEMA = "lineage-portal/report-bundle/1"
MAX_PROOFS = 60
DIAGRAM_NODES = 300


def iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t else None


def header(report: Any, *, framework: Framework | None, parameters: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    pset, values = parameters
    scope = dict(report.scope or {})
    parts = [f"{k}: {', '.join(v)}" for k, v in scope.items() if v and k in ("namespaces", "models", "tags")]
    scope["description"] = "; ".join(parts) or "the whole organisation"
    user = report.requested_by
    return {
        "id": str(report.id), "kind": report.kind, "title": report.title,
        "organisation": settings.PORTAL_ORGANISATION, "marking": settings.PORTAL_REPORT_MARKING,
        "framework": {"id": framework.id, "name": framework.name} if framework else None,
        "scope": scope,
        "period": {"start": iso(report.period_start), "end": iso(report.period_end)},
        "generated_by": {"username": user.username, "name": user.get_full_name() or user.username},
        "generated_at": iso(report.started_at),
        "parameters": {"version": pset.version if pset else None,
                       "effective_from": iso(pset.effective_from) if pset else None, "values": values},
        "annex_iv": report.annex_iv,
    }


def control_dict(control: Control, framework_id: str, result: Result) -> dict[str, Any]:
    return {
        "id": control.id, "framework": framework_id, "citation": control.citation, "title": control.title,
        "evidence_shown": control.evidence_shown, "type": control.type, "reading": control.reading,
        "status": result.status,
        "reason": result.reason, "missing": result.missing,
        "failing": [f.as_dict() for f in result.failing],
        "evidence": {"columns": result.columns, "rows": [[_cell(c) for c in row] for row in result.rows]},
    }


def _cell(value: Any) -> Any:
    return value if isinstance(value, str | int | float) or value is None else str(value)


def summary(controls: list[dict[str, Any]]) -> dict[str, int]:
    """Counts by outcome; "not applicable" (nothing in scope) is its own count, never a pass."""
    counts = {PASS: 0, FAIL: 0, NOT_APPLICABLE: 0, NOT_EVALUATED: 0, EVIDENCE: 0}
    for c in controls:
        counts[c["status"]] += 1
    return {"pass": counts[PASS], "fail": counts[FAIL], "not_applicable": counts[NOT_APPLICABLE],
            "not_evaluated": counts[NOT_EVALUATED], "evidence": counts[EVIDENCE], "total": len(controls)}


def diagram(facts: Facts, root: NodeFact, *, title: str) -> dict[str, Any]:
    """The bounded upstream subgraph of ``root`` (and its deployments), laid out like the explorer draws it."""
    members = {root.pk} | {d.pk for d in facts.succs(root.pk, "deployment")}
    ordered = sorted(facts.up(root.pk), key=lambda pk: (facts.nodes[pk].kind, facts.nodes[pk].node_id))
    truncated = len(ordered) + len(members) > DIAGRAM_NODES
    members |= set(ordered[: DIAGRAM_NODES - len(members)])
    edges = [(s, d, k) for s, d, k in facts.edges if s in members and d in members]
    placed = layout(sorted(members), [(s, d) for s, d, _ in edges])
    return {
        "title": title, "root": root.node_id, "truncated": truncated or facts.truncated,
        "nodes": [{"id": facts.nodes[pk].node_id, "kind": facts.nodes[pk].kind, "name": facts.nodes[pk].label,
                   "tags": sorted(facts.sensitive.get(pk, set()) | (facts.nodes[pk].tags & {"DEIDENTIFIED"})),
                   "x": p.x, "y": p.y} for pk, p in placed.positions.items()],
        "edges": [{"src": facts.nodes[s].node_id, "dst": facts.nodes[d].node_id, "kind": k} for s, d, k in edges],
        "width": placed.width, "height": placed.height,
    }


def approvals(facts: Facts, model_pks: set[int]) -> list[dict[str, Any]]:
    out = []
    for r in facts.releases:
        if r.model_version not in model_pks:
            continue
        mv = facts.nodes[r.model_version]
        out.append({
            "release": r.id, "model": mv.label, "environment": r.environment, "state": r.state, "policy": r.policy,
            "subject_digest": f"sha256:{r.subject_digest}", "decided_at": iso(r.approved_at),
            "break_glass": r.break_glass,
            "signatures": [{"printed_name": s.printed_name, "username": s.username, "signed_at": iso(s.signed_at),
                            "meaning": s.meaning, "reason": s.reason, "voided": s.voided,
                            "reviewed_digest": f"sha256:{s.subject_digest}",
                            "auth_methods": s.auth_methods} for s in r.signatures],
        })
    return out


def deployments(facts: Facts, deployments: list[NodeFact]) -> list[dict[str, Any]]:
    out = []
    for d in sorted(deployments, key=lambda d: (d.environment, d.node_id)):
        mv = facts.model_of(d)
        approved = [r for r in facts.releases_for(mv.pk, d.environment) if r.approved_at] if mv else []
        out.append({"node_id": d.node_id, "model": mv.label if mv else d.name, "environment": d.environment,
                    "deployed_at": iso(d.created_at), "state": d.state,
                    "release": approved[-1].id if approved else None, "approved": bool(approved)})
    return out


def violations(facts: Facts) -> list[dict[str, Any]]:
    rows = Violation.objects.select_related("deployment", "model_version").order_by("detected_at")
    return [{"id": v.pk, "deployment": v.deployment.node_id,
             "model": f"{v.model_version.name} v{v.model_version.version}",
             "environment": v.environment, "found_at": iso(v.detected_at), "reason": v.reason}
            for v in rows if v.deployment_id in facts.nodes]


def documents(facts: Facts, node_pks: set[int] | None = None) -> list[dict[str, Any]]:
    out = []
    for d in facts.documents:
        if node_pks is not None and not (d.nodes & node_pks):
            continue
        out.append({"id": d.id, "type": d.doc_type, "title": d.title, "version": d.version, "sha256": d.sha256,
                    "author": d.author, "approved_by": d.approved_by or None, "approved_at": iso(d.approved_at),
                    "effective_from": iso(d.effective_from), "retention_until": str(d.retention_until),
                    "covers": sorted(facts.nodes[p].node_id for p in d.nodes if p in facts.nodes)})
    return out


def audit_appendix(release_ids: list[int], progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Chain status, a checkpoint made now (so it covers the approvals the report shows, however recent) and
    inclusion proofs of those approvals, each verified against that checkpoint's root."""
    from portal.audit.models import AuditVerification
    from portal.audit.services import audit_integrate

    audit_integrate()  # approvals still pending get their sequence number and a checkpoint first
    latest = AuditVerification.objects.order_by("-time").first()
    chain = {"ok": latest.ok if latest else None, "entries": latest.entries if latest else 0,
             "head": latest.head if latest else "", "verified_at": iso(latest.time) if latest else None,
             "problems": [latest.message] if latest and not latest.ok else []}
    fresh = checkpoint_create()  # None when nothing was appended since the last one: that one is current
    cp = fresh or AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
    if cp is None:
        return {"chain": chain, "checkpoint": None, "proofs": []}
    checkpoint = {"size": cp.tree_size, "root": cp.root, "key_id": cp.key_id, "signature": cp.signature,
                  "created_at": iso(cp.time), "signed_time": cp.time_text, "made_for_this_report": fresh is not None}
    entries = list(AuditEntry.objects.filter(
        target_kind="release", target_id__in=[str(i) for i in release_ids], seq__lte=cp.tree_size,
        action__in=("approval.release_approved", "approval.signed", "approval.release_requested"),
    ).order_by("seq")[:MAX_PROOFS])
    tree = ChainTree(cp.tree_size)
    tree.preload_blocks()
    root = bytes.fromhex(cp.root)
    proofs = []
    for e in entries:
        path = tree.inclusion_proof(e.seq - 1)
        ok = verify_inclusion(e.seq - 1, cp.tree_size, bytes.fromhex(e.entry_hash), path, root)
        proofs.append({"label": f"release {e.target_id}: {e.action.split('.', 1)[1].replace('_', ' ')}",
                       "seq": e.seq, "leaf_hash": e.entry_hash, "path": [h.hex() for h in path],
                       "tree_size": cp.tree_size, "verified": ok})
        if progress:
            progress(f"inclusion proof {len(proofs)}/{len(entries)}")
    return {"chain": chain, "checkpoint": checkpoint, "proofs": proofs}


def assemble(*, head: dict[str, Any], controls: list[dict[str, Any]], audit: dict[str, Any],
             **sections: Any) -> dict[str, Any]:
    """The bundle: ``sections`` are lineage, approvals, deployments, violations, documents, datasets,
    column_paths, erasure."""
    body: dict[str, Any] = {"lineage": [], "approvals": [], "deployments": [], "violations": [], "documents": [],
                            "datasets": [], "column_paths": [], "erasure": None}
    unknown = set(sections) - set(body)
    if unknown:
        raise TypeError(f"unknown bundle sections {sorted(unknown)}")
    body.update(sections)
    return {"schema": SCHEMA, "report": head, "summary": summary(controls), "controls": controls, **body,
            "audit": audit, "portal": {"version": settings.PORTAL_VERSION}}


def datasets(facts: Facts, pks: set[int]) -> list[dict[str, Any]]:
    """The datasets behind ``pks`` (a dossier's "data" section): each dataset's own tags and column tags, the
    sensitive tags reaching it from upstream, its privacy attributes (which live on the dataset, not on its
    versions) and the exact versions used."""
    seen: dict[int, NodeFact] = {}
    for pk in pks:
        n = facts.nodes[pk]
        if n.kind in ("dataset", "datasetVersion"):
            ds = facts.dataset_of(pk)
            seen[ds.pk] = ds
    out = []
    for ds in sorted(seen.values(), key=lambda d: d.node_id):
        gov = facts.governance.get(ds.pk)
        versions = sorted((facts.nodes[v] for v in facts.members.get(ds.pk, []) if v in pks),
                          key=lambda v: v.version)
        if ds.kind == "datasetVersion":  # its dataset is not loaded: show what the version has
            versions = [ds]
        reaching = set().union(*(facts.sensitive.get(v.pk, set()) for v in versions)) if versions else set()
        out.append({"node_id": ds.node_id, "name": ds.name, "namespace": ds.namespace,
                    "tags": sorted(ds.tags),
                    "column_tags": {c: sorted(t) for c, t in sorted(ds.column_tags.items())},
                    "upstream_tags": sorted(reaching - ds.tags),
                    "versions": [{"node_id": v.node_id, "version": v.version,
                                  "content_hash": v.attrs.get("content_hash") or None,
                                  "created_at": iso(facts.created(v))} for v in versions],
                    "lawful_basis": gov.lawful_basis if gov else "", "purposes": gov.purposes if gov else [],
                    "special_category_condition": gov.special_category_condition if gov else "",
                    "retention_until": str(gov.retention_until) if gov and gov.retention_until else None,
                    "legal_hold": gov.legal_hold if gov else False})
    return out


def column_paths(model_node_ids: list[str]) -> list[dict[str, Any]]:
    """For each model version: which sensitive column reaches which column it was trained on, carried (DIRECT
    edges only) or only influencing it (a filter or join on the way), over the column lineage, with the
    de-identification stops applied; and the de-identifying runs a tag went through for want of an approved
    determination. The whole lineage, as the rest of the report shows it."""
    out = []
    for node in Node.objects.filter(node_id__in=model_node_ids, kind="modelVersion").order_by("node_id"):
        cs = column_sensitivity(user=None, node=node)
        _, passed = lineage_selectors.sensitive_upstream_explained(node=node)
        notes, _ = stops.deid_notes(user=None, run_pks=passed | set(cs.passed))
        out.append({"model": node.node_id, "trained_on": len(cs.trained_on),
                    "paths": [{"tag": tag, "kind": kind, "source": {"dataset": sd, "field": sf},
                               "feature": {"dataset": fd, "field": ff}} for tag, kind, sd, sf, fd, ff in cs.paths],
                    "not_stopped": notes, "truncated": cs.cut})
    return out
