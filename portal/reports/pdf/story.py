"""The story: the sections a report of each kind is made of, in order."""

from __future__ import annotations

from reportlab.platypus import Flowable

from .annex_iv import AnnexIVSections
from .appendix import AppendixSection
from .base import _list
from .columns import ColumnSections
from .document import _PageCount
from .erasure import ErasureSections
from .summary import SummarySections


class Story(SummarySections, AnnexIVSections, ColumnSections, ErasureSections, AppendixSection):
    """Turns the bundle into a list of flowables; one method per section, grouped by family in the mixins
    (the Annex IV dossier brings the lineage, control and release sections it arranges)."""

    def build(self) -> list[Flowable]:
        self.cover()
        self.contents()
        if self.kind == "erasure":
            self.erasure_summary()
            self.erasure_affected()
            if _list(self.b.get("lineage")):
                self.lineage(0)
            if _list(self.b.get("deployments")):
                self.deployments(0)
        elif self.kind == "dossier" and self.report.get("annex_iv") is True:
            self.dossier_summary()
            self.annex_iv()
            self.column_paths(0)
        elif self.kind == "dossier":
            self.dossier_summary()
            self.model(0)
            self.lineage(0)
            self.data(0)
            self.column_paths(0)
            self.approvals(0)
            self.approved_lineage(0)
            self.deployments(0)
            self.violations(0)
            self.documents(0, _list(self.b.get("documents")))
            if _list(self.b.get("controls")):
                self.controls(0)
        else:
            self.framework_summary()
            self.controls(0)
            self.lineage(0)
            self.approvals(0)
            if _list(self.b.get("approved_lineage")):
                self.approved_lineage(0)
            self.deployments(0)
            self.violations(0)
            if _list(self.b.get("documents")):
                self.documents(0, _list(self.b.get("documents")))
        self.appendix()
        self.mark("finishing")
        for i, m in enumerate(self.marks):
            m.fraction = (i + 1) / len(self.marks)
        toc = self._toc
        # Contents that fit one page: sections and their sub-sections, or only the sections when there are many.
        # A section's line takes about two of a sub-section's (its bold style has space before it).
        depth = 1 if sum(2 if e[0] == 0 else 1 for e in self.toc_entries if e[0] <= 1) <= TOC_MAX_LINES else 0
        self.doc.toc_depth = depth
        entries = [(lvl, _toc_text(text), page, key) for lvl, text, page, key in self.toc_entries if lvl <= depth]
        self.doc.toc_text = {key: text for _, text, _, key in entries}
        toc._entries = entries  # seeded: pass 1 already lays out the final contents pages
        return [_PageCount(self.doc), *self.out]


TOC_MAX_LINES = 46  # sub-section lines that fit on one page with the heading (a section counts two)
TOC_TEXT = 72  # characters of a heading in the contents: a wrapped entry squeezes its page number


def _toc_text(text: str) -> str:
    return text if len(text) <= TOC_TEXT else text[: TOC_TEXT - 1].rstrip() + "\u2026"
