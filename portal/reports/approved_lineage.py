"""The report section "lineage as approved": for each approved release in a report's scope, the lineage its
approvers signed (kept at approval, ``portal/approvals/diff.py``) and what changed since, classified by the
release policy's material-change rules, as the report's requester may see it."""

from __future__ import annotations

from typing import Any

from portal.approvals.diff import release_diffs
from portal.approvals.models import Release

# Kept whole in the bundle; the PDF prints the first rows of each table and says where the rest are.
NODE_FIELDS = ("kind", "id", "label", "version", "state", "attrs", "tags")


def approved_lineages(*, release_ids: list[int], user: Any) -> list[dict[str, Any]]:
    """One entry per release among ``release_ids`` that was approved (now or before it was reopened)."""
    out = []
    scope = Release.objects.filter(pk__in=release_ids).defer(None).select_related("model_version", "policy")
    # Never approved: nothing was signed on a lineage.
    releases = [r for r in scope.order_by("pk") if r.approved_lineage is not None or r.approved_at is not None]
    # All together: one walk for all their model versions, not one per release.
    for r, d in zip(releases, release_diffs(releases=releases, user=user), strict=True):
        mv = r.model_version
        out.append({
            "release": r.pk, "model": f"{mv.name} v{mv.version}", "environment": r.environment, "state": r.state,
            "approved_at": d["approved_at"], "baseline": d["baseline"], "note": d["note"],
            "captured_at": d["captured_at"], "approved_digest": d["approved_digest"],
            "current_digest": d["current_digest"], "voids_approval": d["voids_approval"],
            "rules": d["rules"],
            "nodes": [{k: n[k] for k in NODE_FIELDS} for n in d["approved_lineage"]],
            "edges": d["approved_edges"],
            "summary": d["summary"], "triggers": d["triggers"], "changes": d["changes"],
        })
    return out
