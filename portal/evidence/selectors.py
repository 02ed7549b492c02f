"""Reads of evidence documents: lists with filters, a node's or a release's documents, missing evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from lineage.models import Edge, Node
from portal.approvals.models import Release

from .models import Document, DocumentQuerySet

LIST_FIELDS_DEFERRED = ("content",)


def document_list(*, user: Any, node: Node | None = None, release: Any = None, doc_type: str | None = None,
                  q: str | None = None, approved: bool | None = None) -> QuerySet[Document]:
    """Documents the user may see, newest first, without their bytes."""
    qs: DocumentQuerySet = Document.objects.visible_to(user)
    if node is not None:
        qs = qs.filter(pk__in=Document.nodes.through.objects.filter(node=node).values("document_id"))
    if release is not None:
        qs = qs.filter(pk__in=Document.releases.through.objects.filter(release=release).values("document_id"))
    if doc_type:
        qs = qs.filter(doc_type=doc_type)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(sha256=q.lower()) | Q(filename__icontains=q))
    if approved is not None:
        qs = qs.filter(approved_at__isnull=not approved)
    return with_attachments(qs.defer(*LIST_FIELDS_DEFERRED).select_related("author", "approved_by"), user=user
                            ).order_by("-created_at")


def with_attachments(qs: QuerySet[Document], *, user: Any) -> QuerySet[Document]:
    """Prefetch the nodes and releases the user may see as ``visible_nodes`` and ``visible_releases``: ids of
    other teams' nodes are not disclosed, and a page of documents costs two queries, not two per document."""
    return qs.prefetch_related(
        Prefetch("nodes", queryset=Node.objects.visible_to(user).only("pk", "node_id").order_by("node_id"),
                 to_attr="visible_nodes"),
        Prefetch("releases", queryset=Release.objects.visible_to(user).only("pk").order_by("pk"),
                 to_attr="visible_releases"))


def release_documents(*, user: Any, release: Any) -> QuerySet[Document]:
    """What a release's reviewers look at: documents attached to the release or to its model version."""
    on_release = Document.releases.through.objects.filter(release=release).values("document_id")
    on_model = Document.nodes.through.objects.filter(node_id=release.model_version_id).values("document_id")
    return (Document.objects.visible_to(user).filter(Q(pk__in=on_release) | Q(pk__in=on_model))
            .defer(*LIST_FIELDS_DEFERRED).select_related("author", "approved_by").order_by("doc_type", "-created_at"))


def evidence_missing(*, release: Any, at: Any = None) -> list[str]:
    """The policy's required document types with no approved document in effect attached to the release or to
    its model version, in the policy's order. Empty when nothing is missing."""
    required = list(dict.fromkeys(release.policy.required_evidence or []))
    if not required:
        return []
    on_release = Document.releases.through.objects.filter(release=release).values("document_id")
    on_model = Document.nodes.through.objects.filter(node_id=release.model_version_id).values("document_id")
    present = set(Document.objects.approved().in_effect(at).filter(doc_type__in=required).filter(
        Q(pk__in=on_release) | Q(pk__in=on_model)).values_list("doc_type", flat=True))
    return [t for t in required if t not in present]


def node_ids_visible(*, user: Any, document: Document) -> list[str]:
    if hasattr(document, "visible_nodes"):
        return [n.node_id for n in document.visible_nodes]
    return list(document.nodes.filter(pk__in=Node.objects.visible_to(user).values("pk"))
                .order_by("node_id").values_list("node_id", flat=True))


def release_ids_visible(*, user: Any, document: Document) -> list[int]:
    if hasattr(document, "visible_releases"):
        return [r.pk for r in document.visible_releases]
    return list(document.releases.filter(pk__in=Release.objects.visible_to(user).values("pk"))
                .order_by("pk").values_list("pk", flat=True))


DEID_METHODS = ("safe_harbor", "expert_determination")


def deid_determinations_now() -> list[tuple[str, list[int]]]:
    """The de-identification determinations ``deid_determined_runs`` counts now, each with the nodes it is
    attached to: what answers computed from the lineage's sensitive tags depend on, besides the lineage."""
    docs = (Document.objects.approved().in_effect().filter(doc_type="deid_determination",
                                                          attributes__method__in=DEID_METHODS))
    out: dict[str, list[int]] = {}
    for doc, node in Document.nodes.through.objects.filter(document__in=docs).values_list("document_id", "node_id"):
        out.setdefault(str(doc), []).append(node)
    return sorted((doc, sorted(nodes)) for doc, nodes in out.items())


def deid_determined_runs(run_pks: list[int], at: datetime | None = None) -> set[int]:
    """The runs among ``run_pks`` vouched for by a de-identification determination approved and in effect at
    ``at`` (default now; ``method`` safe harbor or expert determination) attached to the run, its job, a dataset
    version it wrote or that version's dataset: the targets control H9 accepts too. Registered as a
    ``lineage.stops`` source. (When a document was attached is not recorded: as of a past time, a determination
    attached since counts if it was approved and in effect then.)

    One query, whatever the number of runs (the attachments as a subquery)."""
    docs = (Document.objects.approved().in_effect(at).filter(doc_type="deid_determination",
                                                             attributes__method__in=DEID_METHODS))
    if at is not None:
        docs = docs.filter(approved_at__lte=at)
    vouched = Document.nodes.through.objects.filter(document__in=docs).values("node_id")
    wrote = Edge.objects.filter(kind="writes").filter(Q(dst_id__in=vouched) | Q(dst__parent_id__in=vouched))
    return set(Node.objects.filter(pk__in=run_pks).filter(
        Q(pk__in=vouched) | Q(parent_id__in=vouched) | Q(pk__in=wrote.values("src_id"))).values_list("pk", flat=True))
