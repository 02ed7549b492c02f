"""The subject under review: a model version and its exact upstream lineage, canonicalised and hashed.

Approvers sign the digest; if anything in it changes (a new upstream dataset version, another commit,
changed metrics, another policy version) the digest changes and earlier votes are void.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from lineage import selectors
from lineage.models import Node
from portal.audit.verifier import canonical

from .models import Policy


def _content_hash(n: Node) -> str | None:
    version = n.facets.get("version") if isinstance(n.facets.get("version"), dict) else None
    if version and version.get("datasetVersion"):
        return str(version["datasetVersion"])
    return n.attrs.get("content_hash")


def subject_build(*, model_version: Node, policy: Policy) -> dict[str, Any]:
    walk = selectors.lineage_walk(seeds=[model_version.pk], direction="upstream", depth=settings.LINEAGE_MAX_DEPTH)
    nodes = list(Node.objects.filter(pk__in=list(walk.distance)).order_by("node_id"))
    return {
        "model_version": {"id": model_version.node_id, "metrics": model_version.attrs.get("metrics", {}),
                          "parameters": model_version.attrs.get("parameters", {}),
                          "artifact": model_version.attrs.get("artifact")},
        "dataset_versions": [{"id": n.node_id, "version": n.version, "content_hash": _content_hash(n)}
                             for n in nodes if n.kind == "datasetVersion"],
        "commits": [{"id": n.node_id, "author_email": n.attrs.get("author_email", ""),
                     "committer_email": n.attrs.get("committer_email", "")}
                    for n in nodes if n.kind == "commit"],
        "runs": [{"id": n.node_id, "state": n.state, "launched_by": n.attrs.get("launched_by", "")}
                 for n in nodes if n.kind == "run"],
        "policy": {"id": policy.pk, "key": policy.key, "version": policy.version},
        "truncated": walk.cut_by_depth or walk.cut_by_size,
    }


def subject_digest(subject: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(subject)).hexdigest()
