"""The subject under review: a model version and its exact upstream lineage, canonicalised and hashed.

Approvers sign the digest; if anything in it changes (a new upstream dataset version, another commit,
changed metrics, another policy version) the digest changes and earlier votes are void.

The lineage is the whole upstream lineage, however deep (``lineage.selectors.upstream_all``): a depth or size
cut here would silently turn separation of duties and sensitive-tag policies off. ``truncated`` is only ever
true when the safety bound ``PORTAL_SUBJECT_MAX_NODES`` was reached, and such a release cannot be approved.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT

from lineage import selectors
from lineage.models import Node
from lineage.redaction import Redactor
from portal.audit.verifier import canonical
from portal.lib.sql import chunks

from .models import Policy

SUBJECT_KINDS = ("datasetVersion", "commit", "run")


@dataclass(slots=True)
class Lineage:
    """What a decision about a model version rests on: every upstream node, the sensitive tags reaching the
    model (stopping at de-identifying runs), and whether the safety bound cut either walk."""

    pks: list[int]
    sensitive: dict[str, list[str]]
    cut: bool


def lineage_of(model_version: Node) -> Lineage:
    bound = settings.APPROVALS_SUBJECT_MAX_NODES
    walk = selectors.upstream_all(seeds=[model_version.pk], max_nodes=bound)
    sensitive, cut = selectors.sensitive_upstream_all(node=model_version, max_nodes=bound, whole=walk)
    return Lineage(pks=walk.pks, sensitive=sensitive, cut=walk.cut or cut)


def lineages_of(model_versions: list[Node]) -> dict[int, Lineage]:
    """``lineage_of`` of each model version, by pk: the walks of all of them in one statement and their sensitive
    tags read together (``selectors.upstream_all_each``)."""
    if len(model_versions) < 2:
        return {mv.pk: lineage_of(mv) for mv in model_versions}
    bound = settings.APPROVALS_SUBJECT_MAX_NODES
    walks = selectors.upstream_all_each(seeds=[mv.pk for mv in model_versions], max_nodes=bound)
    sensitive = selectors.sensitive_upstream_each(nodes=model_versions, max_nodes=bound, wholes=walks)
    return {mv.pk: Lineage(pks=walks[mv.pk].pks, sensitive=sensitive[mv.pk][0],
                           cut=walks[mv.pk].cut or sensitive[mv.pk][1]) for mv in model_versions}


def truncated_reason() -> str:
    return (f"the upstream lineage reaches the safety bound of {settings.APPROVALS_SUBJECT_MAX_NODES} nodes "
            "(PORTAL_SUBJECT_MAX_NODES); it cannot be approved on a partial walk")


def node_rows(pks: list[int]) -> list[dict[str, Any]]:
    """The fields a subject and the lineage kept at approval (``diff.lineage_capture``) hold, one read for both:
    JSON keys are read in SQL, whole facets never leave the database. In no particular order."""
    out: list[dict[str, Any]] = []
    # PostgreSQL: one array parameter (a 100,000-placeholder IN list costs five times the query itself).
    parts = [RawSQL("SELECT unnest(%s::bigint[])", [pks])] if connection.vendor == "postgresql" else chunks(pks, 20000)
    for part in parts:
        out.extend(dict(row) for row in Node.objects.filter(pk__in=part).values(
            "pk", "node_id", "kind", "name", "version", "environment", "state", "parent_id",
            dataset_version=KT("facets__version__datasetVersion"), content_hash=KT("attrs__content_hash"),
            author_email=KT("attrs__author_email"), committer_email=KT("attrs__committer_email"),
            launched_by=KT("attrs__launched_by")))
    return out


def subject_build(*, model_version: Node, policy: Policy, lineage: Lineage | None = None,
                  rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The subject of ``model_version`` under ``policy``. ``rows``: ``node_rows`` of the lineage's nodes when the
    caller already read them."""
    lineage = lineage or lineage_of(model_version)
    rows = sorted((r for r in (node_rows(lineage.pks) if rows is None else rows) if r["kind"] in SUBJECT_KINDS),
                  key=lambda r: r["node_id"])
    return {
        "model_version": {"id": model_version.node_id, "metrics": model_version.attrs.get("metrics", {}),
                          "parameters": model_version.attrs.get("parameters", {}),
                          "artifact": model_version.attrs.get("artifact")},
        "dataset_versions": [{"id": r["node_id"], "version": r["version"],
                              "content_hash": r["dataset_version"] or r["content_hash"]}
                             for r in rows if r["kind"] == "datasetVersion"],
        "commits": [{"id": r["node_id"], "author_email": r["author_email"] or "",
                     "committer_email": r["committer_email"] or ""}
                    for r in rows if r["kind"] == "commit"],
        "runs": [{"id": r["node_id"], "state": r["state"], "launched_by": r["launched_by"] or ""}
                 for r in rows if r["kind"] == "run"],
        "policy": {"id": policy.pk, "key": policy.key, "version": policy.version},
        "truncated": lineage.cut,
    }


def subject_digest(subject: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(subject)).hexdigest()


def _few(ids: list[str], limit: int = 5) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def subject_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two subjects, one plain line per change (for people, not for machines)."""
    lines: list[str] = []
    om, nm = old.get("model_version") or {}, new.get("model_version") or {}
    for part in ("metrics", "parameters"):
        a, b = om.get(part) or {}, nm.get(part) or {}
        lines += [f"{part}: {k} {a.get(k, '(none)')} → {b.get(k, '(none)')}"
                  for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if om.get("artifact") != nm.get("artifact"):
        lines.append(f"artifact: {om.get('artifact')} → {nm.get('artifact')}")
    for part, label in (("dataset_versions", "dataset versions"), ("commits", "commits"), ("runs", "runs")):
        a = {e["id"]: e for e in old.get(part) or []}
        b = {e["id"]: e for e in new.get(part) or []}
        if added := sorted(set(b) - set(a)):
            lines.append(f"{label} added: {_few(added)}")
        if removed := sorted(set(a) - set(b)):
            lines.append(f"{label} removed: {_few(removed)}")
        if changed := sorted(k for k in set(a) & set(b) if a[k] != b[k]):
            lines.append(f"{label} changed: {_few(changed)}")
    op, np_ = old.get("policy") or {}, new.get("policy") or {}
    if op != np_:
        lines.append(f"policy: {op.get('key')} v{op.get('version')} → {np_.get('key')} v{np_.get('version')}")
    if bool(old.get("truncated")) != bool(new.get("truncated")):
        lines.append("lineage walk: " + ("reached its safety bound" if new.get("truncated") else "complete"))
    return lines


_MORE = re.compile(r" and \d+ more$")


def subject_diff_for(user: Any, lines: list[str]) -> list[str]:
    """``subject_diff`` lines as ``user`` may read them: the ids of nodes they may not see (``lineage.redaction``)
    replaced by "a dataset of another team", told once per line. Each line is ``what: a, b`` or ``what: a → b``."""
    parsed = []
    for line in lines:
        head, sep, rest = line.partition(": ")
        found = _MORE.search(rest)
        rest = rest[:found.start()] if found else rest
        arrow = " → " in rest
        parsed.append((head, sep, rest.split(" → " if arrow else ", "), arrow, found.group(0) if found else ""))
    redactor = Redactor(user)
    redactor.load({t for _, sep, tokens, _, _ in parsed if sep for t in tokens})
    if not redactor.hidden:
        return lines
    out = []
    for (head, sep, tokens, arrow, more), line in zip(parsed, lines, strict=True):
        if not sep:
            out.append(line)
            continue
        shown = [redactor.hidden.get(t, t) for t in tokens]
        if not arrow:
            shown = list(dict.fromkeys(shown))  # one label however many hidden nodes: no count is told
        out.append(f"{head}: {(' → ' if arrow else ', ').join(shown)}{more}")
    return out
