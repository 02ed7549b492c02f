"""The erasure impact report's sections (GDPR Art. 17)."""

from __future__ import annotations

from ..pdf_text import clean
from .base import ERASURE_ROW_CAP, StoryBase, _dict, _list


class ErasureSections(StoryBase):
    def erasure_summary(self) -> None:
        self.mark("erasure request")
        e = _dict(self.b.get("erasure"))
        q = _dict(e.get("query"))
        self.heading("Erasure request", 0)
        self.kv([("Dataset", q.get("dataset")), ("Data-subject key", q.get("subject_key"))])
        if e.get("truncated") is True:
            self.p("The downstream walk was cut by its bound: the list below may be incomplete.", "warn")
        self.label("Sources resolved from the request")
        self.table(["Name", "Node id"], [[s.get("name"), s.get("node_id")] for s in _list(e.get("sources"))
                                         if isinstance(s, dict)], weights=[1, 1.4], where="erasure.sources",
                   empty="No dataset matched the request.")
        self.label("Downstream, by kind")
        counts = _dict(e.get("counts"))
        self.table(["Kind", "Count"], [[k, v] for k, v in counts.items()], weights=[2, 1], empty="Nothing.")

    def erasure_affected(self) -> None:
        e = _dict(self.b.get("erasure"))
        affected = [a for a in _list(e.get("affected")) if isinstance(a, dict)]
        self.mark("affected")
        self.heading("Affected entities", 0)
        active = [a for a in affected if _list(a.get("active_deployments"))]
        self.p(f"{len(affected):,} entities downstream, {len(active):,} with active deployments. Each row gives "
               "the lineage path from the source to the entity.")
        self.table(["Kind", "Name / node id", "Namespace", "Active deployments", "Path"],
                   [[a.get("kind"), f"{clean(a.get('name'))}\n{clean(a.get('node_id'))}", a.get("namespace"),
                     "\n".join(clean(x) for x in _list(a.get("active_deployments"))) or "none",
                     " \u2192 ".join(clean(x) for x in _list(a.get("path")))] for a in affected],
                   weights=[1.2, 2.6, 1.4, 2.2, 4], cap=ERASURE_ROW_CAP, where="erasure.affected",
                   empty="Nothing downstream.")
