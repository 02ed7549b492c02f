"""The story: the sections a report of each kind is made of, in order."""

from __future__ import annotations

from reportlab.platypus import Flowable

from .annex_iv import AnnexIVSections
from .appendix import AppendixSection
from .base import _list
from .document import _PageCount
from .erasure import ErasureSections
from .summary import SummarySections


class Story(SummarySections, AnnexIVSections, ErasureSections, AppendixSection):
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
        elif self.kind == "dossier":
            self.dossier_summary()
            self.model(0)
            self.lineage(0)
            self.data(0)
            self.approvals(0)
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
            self.deployments(0)
            self.violations(0)
            if _list(self.b.get("documents")):
                self.documents(0, _list(self.b.get("documents")))
        self.appendix()
        self.mark("finishing")
        for i, m in enumerate(self.marks):
            m.fraction = (i + 1) / len(self.marks)
        toc = self._toc
        toc._entries = list(self.toc_entries)  # seeded: pass 1 already lays out the final contents pages
        return [_PageCount(self.doc), *self.out]
