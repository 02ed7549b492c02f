"""The front of every report: cover, contents, and the framework or dossier summary."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.platypus import PageBreak, Paragraph, Spacer
from reportlab.platypus.tableofcontents import TableOfContents

from .. import pdf_draw
from .. import pdf_words as W
from ..pdf_text import clean, para
from .base import KIND_TITLES, STATUS, StoryBase, _dict, _list, _model_label, _title


class SummarySections(StoryBase):
    def cover(self) -> None:
        """The workpaper's cover: who, what, which scope and period, prepared and reviewed by whom; the policy
        parameters are in an appendix table."""
        r = self.report
        self.out.append(Spacer(1, 30))
        if r.get("organisation"):
            self.out.append(Paragraph(para(r.get("organisation")), self.s["org"]))
        self.out.append(Paragraph(para(_title(r)), self.s["title"]))
        subtitle = KIND_TITLES.get(self.kind, clean(r.get("kind")) or "Report")
        if self.kind == "dossier" and r.get("annex_iv") is True:
            subtitle += " \u00b7 EU AI Act Annex IV structure"
        self.out.append(Paragraph(para(subtitle), self.s["subtitle"]))
        if r.get("marking"):
            self.out.append(Paragraph(para(r.get("marking")), self.s["marking"]))
        fw = _dict(r.get("framework"))
        scope = _dict(r.get("scope"))
        period = _dict(r.get("period"))
        by = _dict(r.get("generated_by"))
        params = _dict(r.get("parameters"))
        pairs: list[tuple[str, Any]] = []
        if fw:
            pairs.append(("Framework", clean(fw.get("name"))))
        model = _dict(self.report.get("model"))
        if model:
            pairs.append(("Model version", _model_label(model)))
        if self.kind == "erasure":
            q = _dict(_dict(self.b.get("erasure")).get("query"))
            asked = f"the dataset {clean(q.get('dataset'))}" if q.get("dataset") else \
                f"the data subject whose key hashes to {clean(q.get('subject_key'))}"
            pairs.append(("Scope", f"Everything derived from {asked}"))
        else:
            pairs.append(("Scope", W.scope(scope).capitalize()))
        if period:
            pairs.append(("Period", W.period(period.get("start"), period.get("end"))))
        pairs.append(("Report id", r.get("id")))
        name, username = by.get("name"), by.get("username")
        pairs.append(("Prepared by", f"{clean(name)} ({clean(username)})" if name else clean(username)))
        pairs.append(("Generated", W.human_date(r.get("generated_at"), time=True)))
        if params:
            version = params.get("version")
            pairs.append(("Policy parameters", (f"version {clean(version)}, in force from "
                                                f"{W.human_date(params.get('effective_from'))}" if version
                                                else "the defaults") + " (listed in the appendix)"))
        self.kv(pairs, mono=("Report id",))
        self.label("Reviewed by")
        review = _dict(r.get("reviewed_by"))
        if review:
            self.kv([("Reviewer", f"{clean(review.get('name'))} ({clean(review.get('username'))})"),
                     ("Signed", W.human_date(review.get("signed_at"), time=True) + ", re-authenticated; recorded "
                                "in the audit trail"),
                     ("Statement", review.get("reason")),
                     ("Reviewed PDF", review.get("reviewed_sha256"))], mono=("Reviewed PDF",))
        else:
            self.kv([("Reviewer", "not yet countersigned"), ("Signed", "\u2014"), ("Statement", "\u2014")])
        portal = _dict(self.b.get("portal"))
        self.p(f"Drawn from the report's evidence bundle ({clean(self.b.get('schema'))}), which holds every row; "
               "long tables are cut where they say so. Lineage Portal "
               f"{clean(portal.get('version') or '')}.", "note")
        self.out.append(PageBreak())

    def contents(self) -> None:
        self.out.append(Paragraph("Contents", self.s["h0"]))
        toc = TableOfContents(dotsMinLevel=0)
        toc.levelStyles = [self.s["toc0"], self.s["toc1"], self.s["toc2"]]
        self._toc = toc
        self.out.append(toc)
        self.out.append(PageBreak())

    def _counts(self) -> dict[str, int]:
        summary = _dict(self.b.get("summary"))
        controls = [c for c in _list(self.b.get("controls")) if isinstance(c, dict)]
        counts = {}
        for key in ("pass", "fail", "not_applicable", "not_evaluated", "evidence"):
            value = summary.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                value = sum(1 for c in controls if clean(c.get("status")).lower() == key)
            counts[key] = value
        total = summary.get("total")
        counts["total"] = total if isinstance(total, int) and not isinstance(total, bool) else len(controls)
        return counts

    def _chart(self) -> None:
        counts = self._counts()
        keys = ("pass", "fail", "not_applicable", "not_evaluated", "evidence")
        bars = [(STATUS[k][0].title() if k != "not_applicable" else "N/A", counts[k], colors.HexColor(STATUS[k][1]))
                for k in keys]
        def n(key: str) -> str:
            return "none" if counts[key] == 0 else W.number(counts[key])

        self.p(f"{W.count(counts['total'], 'control').capitalize()}. Pass: {n('pass')}; fail: {n('fail')}; not "
               f"applicable (nothing in scope, never a pass): {n('not_applicable')}; not evaluated (the portal "
               f"lacks the data): {n('not_evaluated')}; evidence only: {n('evidence')}.")
        rows = [[k, counts[k]] for k in keys]
        self.table(["Status", "Controls"], rows, weights=[2, 1], status_col=0)
        self.out.append(pdf_draw.summary_chart(bars, font=self.f.regular))

    def _chain_line(self) -> None:
        chain = _dict(_dict(self.b.get("audit")).get("chain"))
        if chain:
            ok = chain.get("ok") is True
            if chain.get("ok") is None:
                self.p("Audit chain: no verification on record.", "warn")
                return
            self.p(f"Audit chain: {'VERIFIED' if ok else 'NOT VERIFIED'}, {W.count(chain.get('entries'), 'entry')}, "
                   f"last verified {W.human_date(chain.get('verified_at'), time=True)}; this report's approvals are "
                   "proven against a checkpoint signed when it was generated (appendix).", "body" if ok else "warn")

    def framework_summary(self) -> None:
        self.mark("executive summary")
        self.heading("Executive summary", 0)
        fw = _dict(self.report.get("framework"))
        if fw:
            period = _dict(self.report.get("period"))
            self.p(f"Framework: {clean(fw.get('name'))}. Scope: {W.scope(_dict(self.report.get('scope')))}. "
                   f"Period: {W.period(period.get('start'), period.get('end'))}.")
        self._chart()
        self._chain_line()
        controls = [c for c in _list(self.b.get("controls")) if isinstance(c, dict)]
        self.label("Controls at a glance")
        self.table(["Control", "Title", "Status", "Failing"],
                   [[c.get("id"), c.get("title"), c.get("status"), len(_list(c.get("failing")))] for c in controls],
                   weights=[1.2, 5, 1.6, 0.9], status_col=2, cap=len(controls) or 1, empty="No controls.")

    def dossier_summary(self) -> None:
        self.mark("summary")
        self.heading("Summary", 0)
        lineage = [d for d in _list(self.b.get("lineage")) if isinstance(d, dict)]
        approvals = [a for a in _list(self.b.get("approvals")) if isinstance(a, dict)]
        deployments = [d for d in _list(self.b.get("deployments")) if isinstance(d, dict)]
        models = _list(_dict(self.report.get("scope")).get("models"))
        model = models[0] if models else (lineage[0].get("title") if lineage else None)
        if _dict(self.report.get("model")):
            model = _model_label(_dict(self.report.get("model")))
        self.kv([
            ("Model version", model),
            ("Lineage diagrams", len(lineage)),
            ("Releases", len(approvals)),
            ("Signatures", sum(len(_list(a.get("signatures"))) for a in approvals)),
            ("Deployments", f"{len(deployments)} ({sum(1 for d in deployments if d.get('state') == 'active')} active)"),
            ("Violations", len(_list(self.b.get("violations")))),
            ("Evidence documents", len(_list(self.b.get("documents")))),
        ])
        if _list(self.b.get("controls")):
            self._chart()
        self._chain_line()
