"""What changed since a release was approved: the lineage as approved against the lineage now.

At approval (``lineage_capture``, called by the approving service in its transaction) the release keeps the
subject its approvers signed and the whole upstream lineage around it: every node with the attributes decisions
rest on (versions, content hashes, commit authors, run states and launchers, tags), every edge between them,
the sensitive tags reaching the model and its metrics. ``lineage_compare`` (pure) sets that against the lineage
now, node by node and edge by edge, says of each change whether it touches the approved subject (it is in the
digest: the approval is void) or lies outside it, and classifies it with the policy's material-change rules
(``materiality``). ``release_diff`` answers for one reader: changes about nodes they may not see keep their kind
and classification but lose every id, name and attribute, and collapse so no count is told.

The comparison itself is for no reader in particular, so it is kept in Django's cache under a key of everything
it depends on (``_cache_key``: the lineage as approved, the lineage core's change marker, the policies and
de-identification determinations in effect) and redacted per reader on each look: a repeated look with nothing
changed walks nothing, and a change shows at once. ``release_diffs`` answers for many releases together (the
report section "lineage as approved"): the walks of all their model versions in one statement, their node rows,
tags and edges read once.

Releases approved before subjects were stored hold a marker (migration 0005) saying from when: for those that are
still approved, the digested subject itself is the baseline (it is what was approved), without edges or tags.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from lineage.changes import lineage_change_marker
from lineage.labels import node_label
from lineage.models import SENSITIVE_TAGS, Node
from lineage.redaction import Redactor, redacted_label
from portal.evidence.selectors import deid_determinations_now
from portal.lib.sql import select_in

from . import materiality
from .models import Policy, Release
from .subject import SUBJECT_KINDS, Lineage, lineage_of, lineages_of, node_rows, subject_build, subject_digest

SNAPSHOT_FORMAT = 1
# Attributes kept per node kind: what the subject digests, and what a reviewer compares.
_ATTRS = {
    "datasetVersion": ("content_hash",),
    "commit": ("author_email", "committer_email"),
    "run": ("launched_by",),
}
CACHE_SECONDS = 24 * 3600  # keys are exact (``_cache_key``): the timeout only frees what is no longer asked for
APPROVED_STATES = (Release.State.APPROVED, Release.State.SUPERSEDED, Release.State.EXPIRED)


# -- capture ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Read:
    """What captures read from the database, once for any number of lineages: node rows by pk (the lineages'
    nodes and their parents), tags by pk, edges by their downstream end."""

    rows: dict[int, dict[str, Any]]
    tags: dict[int, list[str]]
    edges: dict[int, list[tuple[int, int, str]]]


def _read(lineages: list[Lineage]) -> _Read:
    pks = sorted({pk for lin in lineages for pk in lin.pks})
    rows = {r["pk"]: r for r in node_rows(pks)}
    parents = sorted({r["parent_id"] for r in rows.values() if r["parent_id"] and r["parent_id"] not in rows})
    rows.update((r["pk"], r) for r in node_rows(parents))  # a dataset version's dataset: the data source
    tags: dict[int, list[str]] = {}
    for pk, column, tag in select_in("SELECT node_id, field, tag FROM lineage_nodetag WHERE node_id", list(rows)):
        tags.setdefault(pk, []).append(f"{tag}@{column}" if column else tag)
    edges: dict[int, list[tuple[int, int, str]]] = {}
    for s, d, k in select_in("SELECT src_id, dst_id, kind FROM lineage_edge WHERE dst_id", pks):
        edges.setdefault(d, []).append((s, d, k))
    return _Read(rows, tags, edges)


def _lineage_rows(read: _Read, lineage: Lineage) -> list[dict[str, Any]]:
    return [read.rows[pk] for pk in lineage.pks if pk in read.rows]


def _graph(read: _Read, lineage: Lineage) -> tuple[dict[str, dict[str, Any]], list[list[str]]]:
    """A lineage's nodes (with their attributes and tags) and edges as a snapshot keeps them: the same for every
    release of the model version, whatever its policy."""
    rows = _lineage_rows(read, lineage)
    known = {r["pk"] for r in rows}
    by_pk = {r["pk"]: r for r in rows}
    by_pk.update((p, read.rows[p]) for p in sorted({r["parent_id"] for r in rows if r["parent_id"]} - known)
                 if p in read.rows)
    nodes: dict[str, dict[str, Any]] = {}
    for r in by_pk.values():
        parent = by_pk.get(r["parent_id"]) if r["parent_id"] else None
        job = parent["name"] if parent and r["kind"] == "run" else ""
        attrs = {a: r[a] or "" for a in _ATTRS.get(r["kind"], ())}
        if r["kind"] == "datasetVersion":
            attrs["content_hash"] = r["dataset_version"] or r["content_hash"] or ""
        nodes[r["node_id"]] = {
            "kind": r["kind"], "label": node_label(kind=r["kind"], name=r["name"], version=r["version"],
                                                   environment=r["environment"], job=job),
            "version": r["version"], "state": r["state"] if r["kind"] in ("run", "deployment") else "",
            "parent": parent["node_id"] if parent else None, "tags": sorted(read.tags.get(r["pk"], [])),
            "attrs": attrs}
    edges = sorted({(by_pk[s]["node_id"], by_pk[d]["node_id"], k) for pk in known for s, d, k in
                    read.edges.get(pk, ()) if s in by_pk})
    return dict(sorted(nodes.items())), [list(e) for e in edges]


def _capture(graph: tuple[dict[str, dict[str, Any]], list[list[str]]], lineage: Lineage, subject: dict[str, Any],
             approved_at: Any) -> dict[str, Any]:
    nodes, edges = graph
    return {"format": SNAPSHOT_FORMAT, "captured_at": _iso(timezone.now()), "approved_at": _iso(approved_at),
            "subject_digest": subject_digest(subject), "subject": subject, "nodes": nodes, "edges": edges,
            "sensitive": lineage.sensitive, "truncated": lineage.cut}


def lineage_capture(*, model_version: Node, subject: dict[str, Any], lineage: Lineage | None = None,
                    approved_at: Any = None) -> dict[str, Any]:
    """The lineage a release is approved on: ``subject`` (the digested subject) and the whole upstream graph."""
    lineage = lineage or lineage_of(model_version)
    return _capture(_graph(_read([lineage]), lineage), lineage, subject, approved_at)


def _iso(t: Any) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


# -- compare (pure) ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Change:
    """One difference between the lineage as approved and now. ``element``: node, edge, tag, sensitive (a tag
    reaching the model), metric, parameter, artifact, policy or walk. ``node`` and ``target`` are node ids
    (an edge's ends; the node a tag is on; the dataset a sensitive tag comes from)."""

    element: str
    change: str  # added | removed | changed
    kind: str
    node: str
    target: str
    detail: str
    in_subject: bool
    rules: list[str] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)
    label: str = ""  # the node's readable name (``lineage.labels.node_label``)
    target_label: str = ""


def _subject_nodes(subject: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The digested subject's nodes in the snapshot's shape (the baseline of releases approved before snapshots)."""
    out: dict[str, dict[str, Any]] = {}
    for part, kind in (("dataset_versions", "datasetVersion"), ("commits", "commit"), ("runs", "run")):
        for e in subject.get(part) or []:
            attrs = {a: e.get(a) or "" for a in _ATTRS[kind]}
            out[e["id"]] = {"kind": kind, "label": e["id"], "version": e.get("version", ""),
                            "state": e.get("state", "") if kind == "run" else "", "parent": None, "tags": [],
                            "attrs": attrs}
    return out


def _node_text(n: dict[str, Any]) -> str:
    """A node's attributes for the detail column (its name is in ``label``)."""
    bits = ([f"version {n['version']}"] if n["version"] and n["kind"] == "datasetVersion" else []) + [
        f"{k} {v}" for k, v in n["attrs"].items() if v] + ([n["state"]] if n["state"] else [])
    return ", ".join(bits)


def _subject_fields(n: dict[str, Any]) -> tuple[Any, ...]:
    return (n["version"], n["state"] if n["kind"] == "run" else "", tuple(sorted(n["attrs"].items())))


def _nodes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], *, full: bool) -> list[Change]:
    out: list[Change] = []
    for nid in sorted(after.keys() - before.keys()):
        n = after[nid]
        if not full and n["kind"] not in SUBJECT_KINDS:
            continue  # the old baseline knows subject nodes only: others are not "new"
        rules = []
        if n["kind"] == "dataset" or (n["kind"] == "datasetVersion" and n.get("parent")
                                      and n["parent"] not in before and full):
            rules.append("new_data_source")
        if n["kind"] == "commit":
            rules.append("new_training_code")
        out.append(Change("node", "added", n["kind"], nid, "", _node_text(n), n["kind"] in SUBJECT_KINDS, rules))
    for nid in sorted(before.keys() - after.keys()):
        n = before[nid]
        out.append(Change("node", "removed", n["kind"], nid, "", _node_text(n), n["kind"] in SUBJECT_KINDS))
    for nid in sorted(before.keys() & after.keys()):
        a, b = before[nid], after[nid]
        if a == b:  # most nodes of a large lineage: nothing below would find a difference
            continue
        diffs = [f"{k} {a['attrs'].get(k) or '(none)'} → {b['attrs'].get(k) or '(none)'}"
                 for k in sorted(set(a["attrs"]) | set(b["attrs"])) if a["attrs"].get(k) != b["attrs"].get(k)]
        if a["version"] != b["version"]:
            diffs.insert(0, f"version {a['version'] or '(none)'} → {b['version'] or '(none)'}")
        if a["state"] != b["state"] and (full or b["kind"] == "run"):
            diffs.append(f"state {a['state'] or '(none)'} → {b['state'] or '(none)'}")
        if diffs:
            out.append(Change("node", "changed", b["kind"], nid, "", "; ".join(diffs),
                              b["kind"] in SUBJECT_KINDS and _subject_fields(a) != _subject_fields(b)))
        if full:
            for tag in sorted(set(b["tags"]) - set(a["tags"])):
                sensitive = tag.split("@", 1)[0] in SENSITIVE_TAGS
                out.append(Change("tag", "added", b["kind"], nid, "", tag, False,
                                  ["new_sensitive_tag"] if sensitive else []))
            for tag in sorted(set(a["tags"]) - set(b["tags"])):
                out.append(Change("tag", "removed", b["kind"], nid, "", tag, False))
    return out


def _model(before: dict[str, Any], after: dict[str, Any], mv: str, rules: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    for part, element in (("metrics", "metric"), ("parameters", "parameter")):
        a, b = before.get(part) or {}, after.get(part) or {}
        for k in sorted(set(a) | set(b)):
            if a.get(k) == b.get(k):
                continue
            change = "added" if k not in a else "removed" if k not in b else "changed"
            detail = f"{k} {a.get(k, '(none)')} → {b.get(k, '(none)')}"
            fired = []
            if element == "metric" and (drop := materiality.metric_drop(k, a.get(k), b.get(k), rules)) is not None:
                detail += f" ({drop:.1f}% worse)"
                if drop > rules["metric_drop_percent"]:
                    fired.append("metric_drop")
            out.append(Change(element, change, "modelVersion", mv, "", detail, True, fired))
    if before.get("artifact") != after.get("artifact"):
        out.append(Change("artifact", "changed", "modelVersion", mv, "",
                          f"{before.get('artifact')} → {after.get('artifact')}", True))
    return out


def lineage_compare(approved: dict[str, Any], now: dict[str, Any], rules: dict[str, Any]) -> list[Change]:
    """Every change from ``approved`` to ``now`` (snapshots of ``lineage_capture``; ``approved`` may hold only a
    ``subject``, for releases approved before snapshots: then only subject nodes and the model are compared),
    classified by ``rules`` (``materiality.normalise``). A rule that is disabled fires nothing."""
    full = "nodes" in approved
    old_subject, new_subject = approved.get("subject") or {}, now.get("subject") or {}
    mv = (new_subject.get("model_version") or {}).get("id", "")
    before = approved["nodes"] if full else _subject_nodes(old_subject)
    after = now["nodes"] if full else {k: v for k, v in now["nodes"].items() if v["kind"] in SUBJECT_KINDS}
    out = _nodes(before, after, full=full)
    if full:
        old_edges = {tuple(e) for e in approved.get("edges") or []}
        new_edges = {tuple(e) for e in now.get("edges") or []}
        out += [Change("edge", "added", k, s, d, k, False) for s, d, k in sorted(new_edges - old_edges)]
        out += [Change("edge", "removed", k, s, d, k, False) for s, d, k in sorted(old_edges - new_edges)]
        old_reach = {(t, h) for t, holders in (approved.get("sensitive") or {}).items() for h in holders}
        for tag, holder in sorted({(t, h) for t, hs in (now.get("sensitive") or {}).items() for h in hs} - old_reach):
            new_to_model = all(t != tag for t, _ in old_reach)
            out.append(Change("sensitive", "added", "", holder, "", tag + (" (new to the model)" if new_to_model
                                                                           else ""), False,
                              ["new_sensitive_tag"] if new_to_model else []))
    out += _model(old_subject.get("model_version") or {}, new_subject.get("model_version") or {}, mv, rules)
    op, np_ = old_subject.get("policy") or {}, new_subject.get("policy") or {}
    if op != np_:
        out.append(Change("policy", "changed", "", "", "", f"{op.get('key')} v{op.get('version')} → "
                          f"{np_.get('key')} v{np_.get('version')}" if np_ else "no governing policy now", True))
    if bool(old_subject.get("truncated")) != bool(new_subject.get("truncated")):
        out.append(Change("walk", "changed", "", "", "", "the upstream walk " + (
            "now reaches its safety bound" if new_subject.get("truncated") else "is complete again"), True))
    names = {**{k: v["label"] for k, v in before.items()}, **{k: v["label"] for k, v in after.items()}}
    for c in out:
        c.label, c.target_label = names.get(c.node, c.node), names.get(c.target, c.target)
        c.rules = [r for r in c.rules if rules["rules"][r]["enabled"]]
        c.triggers = [t for t in materiality.TRIGGERS if any(t in rules["rules"][r]["triggers"] for r in c.rules)]
    return out


# -- one reader's answer -----------------------------------------------------------------------------------
def _baseline(release: Release) -> tuple[str, dict[str, Any] | None, str]:
    """(``stored`` | ``subject`` | ``none``, the approved snapshot, a note for people)."""
    stored = release.approved_lineage or {}
    if stored.get("format") == SNAPSHOT_FORMAT:
        return "stored", stored, ""
    if release.approved_at is None:
        return "none", None, "This release has not been approved: there is no lineage as approved to compare."
    since = str(stored.get("not_stored_before") or "")[:10]
    note = f"Subject not stored; approved before {since or 'subjects were stored'}."
    if release.state in APPROVED_STATES:  # a release keeps the subject it was approved on until it is reopened
        return "subject", {"subject": release.subject}, note + (
            " Compared on the digested subject only (dataset versions, commits, runs, metrics, policy): no edges "
            "or tags were kept.")
    return "none", None, note + " The release was reopened since, so nothing is left to compare."


def _policy_of(approved: dict[str, Any]) -> int | None:
    pid = ((approved.get("subject") or {}).get("policy") or {}).get("id")
    return pid if isinstance(pid, int) else None


def lineages_now(releases: list[Release], effective: dict[str, list[Policy]] | None = None
                 ) -> dict[int, dict[str, Any]]:
    """Each release's model version's lineage now, captured like at approval (with the policy in force now), by
    release pk. Set-based: the walks of all the distinct model versions in one statement, and the node rows, tags,
    edges and policies of all of them read once. ``effective``: ``policies_effective`` of their environments."""
    from .services import policies_effective, policy_in_force  # services call capture: not at module level

    # Now, not copies the caller loaded earlier.
    models = Node.objects.in_bulk(sorted({r.model_version_id for r in releases}))
    walks = lineages_of([models[pk] for pk in sorted(models)])
    read = _read(list(walks.values()))
    if effective is None:
        effective = policies_effective(environments={r.environment for r in releases})
    graphs = {pk: _graph(read, lineage) for pk, lineage in walks.items()}
    out = {}
    for r in releases:
        mv, lineage = models[r.model_version_id], walks[r.model_version_id]
        policy = policy_in_force(model_version=mv, environment=r.environment, lineage=lineage,
                                 effective=effective[r.environment]) or r.policy
        subject = subject_build(model_version=mv, policy=policy, lineage=lineage, rows=_lineage_rows(read, lineage))
        out[r.pk] = _capture(graphs[r.model_version_id], lineage, subject, None)
    return out


def _cache_key(release: Release, approved: dict[str, Any], marker: str, effective: dict[str, list[Policy]],
               determinations: list[tuple[Any, list[int]]]) -> str:
    """What a release's unredacted comparison depends on: the lineage as approved (a snapshot is written once,
    at approval: its capture time and digest name it), the release's state and policy, the lineage now (the core's
    change marker), the policies effective now in its environment (versions are never edited) and the
    de-identification determinations in effect now (they decide which sensitive tags reach the model)."""
    parts = [release.pk, release.state, release.policy_id, _iso(release.approved_at), release.subject_digest,
             approved.get("captured_at"), approved.get("subject_digest") or subject_digest(approved["subject"]),
             marker, sorted(p.pk for p in effective.get(release.environment, [])), determinations]
    return "approvals.diff:" + hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _compared(pairs: list[tuple[Release, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Each release's comparison of its lineage as approved with the lineage now, for no reader in particular
    (``release_diffs`` redacts it per reader), by release pk. Kept in Django's cache under ``_cache_key``: a
    repeated look with nothing changed walks nothing; any change to the lineage moves the key."""
    from .services import policies_effective

    # Before any reading: a comparison is never newer than the key it is kept under.
    marker = lineage_change_marker()
    effective = policies_effective(environments={r.environment for r, _ in pairs})
    determinations = deid_determinations_now()
    keys = {r.pk: _cache_key(r, approved, marker, effective, determinations)
            for r, approved in pairs} if marker is not None else {}
    found = cache.get_many(list(keys.values())) if keys else {}
    out = {pk: found[k] for pk, k in keys.items() if k in found}
    missing = [(r, approved) for r, approved in pairs if r.pk not in out]
    if not missing:
        return out
    nows = lineages_now([r for r, _ in missing], effective)
    pids = {pid for _, approved in missing if (pid := _policy_of(approved)) is not None}
    policies = Policy.objects.in_bulk(sorted(pids))
    fresh = {}
    for r, approved in missing:
        policy = policies.get(_policy_of(approved) or 0) or r.policy
        rules, defaults = materiality.in_force(policy.material_change)
        fresh[r.pk] = {"current_digest": nows[r.pk]["subject_digest"],
                       "changes": [asdict(c) for c in lineage_compare(approved, nows[r.pk], rules)],
                       "rules": {"policy": f"{policy.scope_label} v{policy.version}", "policy_id": policy.pk,
                                 "defaults": defaults, "values": rules}}
    if keys:
        cache.set_many({keys[pk]: v for pk, v in fresh.items()}, timeout=CACHE_SECONDS)
    return {**out, **fresh}


def _hide(changes: list[dict[str, Any]], redactor: Redactor) -> list[dict[str, Any]]:
    """Changes about nodes the reader may not see keep their classification, lose ids, names and attributes,
    and collapse (one entry per shape, so their number is not told)."""
    out, seen = [], set()
    for c in changes:
        hidden = [k for k in ("node", "target") if c[k] and redactor.is_hidden(c[k])]
        if hidden:
            c = {**c, **{k: redactor.hidden[c[k]] for k in hidden},
                 **{f"{k}_label" if k == "target" else "label": redactor.hidden[c[k]] for k in hidden}}
            if c["element"] in ("tag", "sensitive"):  # tags name no one; a hidden dataset's column names might
                c["detail"] = c["detail"].split("@", 1)[0]
            elif c["element"] != "edge":
                c["detail"] = ""
            key = tuple(sorted((k, str(v)) for k, v in c.items()))
            if key in seen:
                continue
            seen.add(key)
        out.append(c)
    return out


def approved_nodes_for(snapshot: dict[str, Any], redactor: Redactor) -> list[dict[str, Any]]:
    """The lineage as approved as a list for one reader: visible nodes with their attributes, hidden ones as one
    "a dataset of another team" entry per kind."""
    nodes = snapshot.get("nodes") or _subject_nodes(snapshot.get("subject") or {})
    out, kinds = [], set()
    for nid, n in nodes.items():
        if redactor.is_hidden(nid):
            if n["kind"] not in kinds:
                kinds.add(n["kind"])
                out.append({"id": redacted_label(n["kind"]), "kind": n["kind"], "label": redacted_label(n["kind"]),
                            "version": "", "state": "", "tags": [], "attrs": {}, "hidden": True})
            continue
        out.append({"id": nid, "kind": n["kind"], "label": n["label"], "version": n["version"],
                    "state": n["state"], "tags": n["tags"], "attrs": n["attrs"], "hidden": False})
    order = {k: i for i, k in enumerate(("modelVersion", "run", "job", "commit", "datasetVersion", "dataset"))}
    return sorted(out, key=lambda n: (order.get(n["kind"], 9), n["hidden"], n["id"]))


def release_diff(*, release: Release, user: Any, only: str = "") -> dict[str, Any]:
    """The answer of ``GET /api/v1/releases/<id>/diff`` and of the release page, for ``user``. ``only``:
    ``material`` (a rule fired), ``subject`` (in the digest) or ``outside``; empty for every change."""
    return release_diffs(releases=[release], user=user, only=only)[0]


def release_diffs(*, releases: list[Release], user: Any, only: str = "") -> list[dict[str, Any]]:
    """``release_diff`` of each of ``releases``, in their order: the comparisons made together (``_compared``)
    and redacted for ``user`` with one redactor."""
    baselines = [_baseline(r) for r in releases]
    compared = _compared([(r, approved) for r, (_, approved, _) in zip(releases, baselines, strict=True)
                          if approved is not None])
    redactor = Redactor(user)
    redactor.load({nid for r, (_, approved, _) in zip(releases, baselines, strict=True) if approved is not None
                   for nid in [*(approved.get("nodes") or {}),
                               *(c[k] for c in compared[r.pk]["changes"] for k in ("node", "target") if c[k])]})
    return [_answer(r, mode, approved, note, compared.get(r.pk), redactor, only)
            for r, (mode, approved, note) in zip(releases, baselines, strict=True)]


def _answer(release: Release, mode: str, approved: dict[str, Any] | None, note: str,
            compared: dict[str, Any] | None, redactor: Redactor, only: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "release": release.pk, "model_version": release.model_version.node_id, "state": release.state,
        "approved_at": (approved or {}).get("approved_at") or _iso(release.approved_at), "baseline": mode,
        "note": note,
        "captured_at": (approved or {}).get("captured_at"), "approved_digest": None, "current_digest": None,
        "voids_approval": False, "rules": None, "changes": [], "triggers": [], "approved_lineage": [],
        "approved_edges": 0, "summary": {"changes": 0, "in_subject": 0, "outside": 0, "material": 0},
    }
    if approved is None or compared is None:
        return body
    rules = compared["rules"]["values"]
    approved_digest = approved.get("subject_digest") or subject_digest(approved["subject"])
    rows = _hide([dict(c) for c in compared["changes"]], redactor)
    if only:
        rows = [c for c in rows if (only == "material" and c["rules"]) or (only == "subject" and c["in_subject"])
                or (only == "outside" and not c["in_subject"])]
    fired: dict[str, set[str]] = {}
    for c in rows:
        for t in c["triggers"]:
            fired.setdefault(t, set()).update(r for r in c["rules"] if t in rules["rules"][r]["triggers"])
    body.update({
        "approved_digest": approved_digest, "current_digest": compared["current_digest"],
        "voids_approval": approved_digest != compared["current_digest"],
        "rules": compared["rules"],
        "changes": rows,
        "triggers": [{"trigger": t, "rules": sorted(fired[t])} for t in materiality.TRIGGERS if t in fired],
        "approved_lineage": approved_nodes_for(approved, redactor),
        "approved_edges": sum(1 for s, d, _ in approved.get("edges") or []
                              if not (redactor.is_hidden(s) or redactor.is_hidden(d))),
        "summary": {"changes": len(rows), "in_subject": sum(1 for c in rows if c["in_subject"]),
                    "outside": sum(1 for c in rows if not c["in_subject"]),
                    "material": sum(1 for c in rows if c["rules"])},
    })
    return body
