"""Which de-identifying runs stop which sensitive tags: the one rule every propagation of tags applies.

A run marked de-identifying (``Node.deidentifies``) stops a sensitive tag on its way downstream. For the tags of
``settings.LINEAGE_DEID_EVIDENCE_TAGS`` (PHI unless configured otherwise) the mark alone is not enough: the run
stops them only when a consumer vouches for it, through ``deid_evidence_sources`` (the evidence app answers
which runs have an approved de-identification determination attached, ``portal/evidence/apps.py``). A run
without it lets those tags through, and the pages say why (``DEID_NOT_EVIDENCED``).

Walks apply the rule through ``split_walk``: the walk that stops at every marked run answers for the other
tags; the walk that passes the marked runs nobody vouched for answers for the evidence-requiring tags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.conf import settings

from .models import SENSITIVE_TAGS, Node

if TYPE_CHECKING:
    from portal.accounts.models import User

# Each source gets the pks of de-identifying runs (and a moment: None for now) and answers those whose
# de-identification it vouches for then.
deid_evidence_sources: list[Callable[[list[int], datetime | None], set[int]]] = []

DEID_NOT_EVIDENCED = ("marked de-identifying, but no approved de-identification determination (HIPAA §164.514(b) "
                      "safe harbor or expert determination) is attached to it")

T = TypeVar("T")


def evidence_tags() -> frozenset[str]:
    """The sensitive tags a de-identifying run stops only with an approved determination attached."""
    configured = {t for t in settings.LINEAGE_DEID_EVIDENCE_TAGS}
    if "*" in configured:
        return frozenset(str(t) for t in SENSITIVE_TAGS)
    return frozenset(t for t in configured if t in SENSITIVE_TAGS)


def deid_evidenced(run_pks: Iterable[int], at: datetime | None = None) -> set[int]:
    """The de-identifying runs among ``run_pks`` that some registered source vouches for (at ``at``: lineage as
    of a time asks what vouched for them then)."""
    pks = sorted(set(run_pks))
    out: set[int] = set()
    if pks:
        for source in deid_evidence_sources:
            out |= source(pks, at) & set(pks)
    return out


@dataclass(slots=True)
class SplitWalk(Generic[T]):
    """A walk as it stops at every de-identifying run (``all_stops``, for most tags) and as it passes those
    without evidence (``evidence_stops``, for ``tags``); ``passed`` are the runs the second walk went through."""

    all_stops: T
    evidence_stops: T
    tags: frozenset[str]
    passed: set[int] = field(default_factory=set)

    def for_tag(self, tag: str) -> T:
        return self.evidence_stops if tag in self.tags else self.all_stops


def split_walk(walk: Callable[[frozenset[int]], tuple[T, set[int]]], *,
               walked: frozenset[int] = frozenset(), at: datetime | None = None) -> SplitWalk[T]:
    """Run ``walk(passable)``, which answers what it reached and the de-identifying runs it stopped at (not
    passing those in ``passable``), with no run passable, then again passing the runs without evidence until no
    new such run is met. One walk when no de-identifying run lacks evidence (or no tag needs it), or when those
    are all in ``walked``, runs the walk goes through anyway (its seeds): then only ``passed`` tells them apart."""
    first, stopped = walk(frozenset())
    tags = evidence_tags()
    if not tags or not stopped:
        return SplitWalk(first, first, tags)
    passable = frozenset(stopped - deid_evidenced(stopped, at))
    if not passable:
        return SplitWalk(first, first, tags)
    if passable <= walked:
        return SplitWalk(first, first, tags, set(passable))
    while True:
        second, stopped_again = walk(passable)
        new = stopped_again - passable
        new -= deid_evidenced(new, at)
        if not new:
            return SplitWalk(first, second, tags, set(passable))
        passable |= new


def deid_notes(*, user: User | None, run_pks: Iterable[int]) -> tuple[list[dict[str, Any]], bool]:
    """Why tags went through ``run_pks``: ``[{"run", "job", "reason", "tags"}]`` for the runs ``user`` may see (None:
    all, for reports), and whether some they may not see let tags through too (never named)."""
    pks = set(run_pks)
    if not pks:
        return [], False
    nodes = Node.objects.all() if user is None else Node.objects.visible_to(user)
    rows = list(nodes.filter(pk__in=pks).values_list("pk", "node_id", "parent__name").order_by("node_id"))
    tags = sorted(evidence_tags())
    notes = [{"run": node_id, "job": job or "", "reason": DEID_NOT_EVIDENCED, "tags": tags}
             for _, node_id, job in rows]
    return notes, len(rows) < len(pks)
