"""The model and its lineage: identity, metrics and parameters, the lineage diagrams and the data used."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.platypus import KeepTogether, NextPageTemplate, PageBreak, Paragraph, Spacer

from .. import pdf_draw, pdf_layers
from .. import pdf_words as W
from ..pdf_text import clean, para
from .base import StoryBase, _dict, _flatten, _join, _list
from .document import _Diagram

DIAGRAM_CAP = 40  # diagrams drawn in one report; legible ones take pages (the rest stay in the bundle)


class LineageSections(StoryBase):
    def model(self, level: int, *, parts: Sequence[str] = ("identity", "metrics", "parameters"),
              title: str = "Model version") -> None:
        """The model version itself (``report.model``, dossiers): identity and inventory, metrics, parameters."""
        model = _dict(self.report.get("model"))
        if not model:
            return
        self.mark("model")
        self.heading(title, level)
        if "identity" in parts:
            inv = _dict(model.get("inventory"))
            pairs: list[tuple[str, Any]] = [("Name", model.get("name")), ("Version", model.get("version")),
                                            ("Node id", model.get("node_id"))]
            if inv:
                pairs += [("Owner", inv.get("owner")), ("Intended use", inv.get("intended_use")),
                          ("Risk tier", inv.get("tier")), ("High-risk (Annex III)", inv.get("high_risk_annex")),
                          ("Limitations", inv.get("limitations")), ("Inventory status", inv.get("status"))]
            else:
                pairs.append(("Inventory", "no model-inventory entry for this model version"))
            self.kv(pairs)
        for part, title in (("metrics", "Metrics"), ("parameters", "Parameters")):
            values = model.get(part)
            if part in parts and isinstance(values, dict):
                self.label(f"{title} ({len(values):,})")
                self.table([title[:-1], "Value"], _flatten(values), weights=[2, 3],
                           where=f"report.model.{part}", empty=f"No {title.lower()} recorded.")

    def lineage(self, level: int) -> None:
        diagrams = [d for d in _list(self.b.get("lineage")) if isinstance(d, dict)]
        self.heading("Lineage", level)
        if not diagrams:
            self.p("No lineage diagrams in this report.", "note")
            return
        self.p("Each diagram is the bounded lineage subgraph around one model version, laid out in layers from "
               "sources (left) to consumers (right). Boxes are coloured by kind; a red badge names a sensitive "
               "tag.", "note")
        kinds = sorted({clean(n.get("kind")) for d in diagrams for n in _list(d.get("nodes")) if isinstance(n, dict)})
        self.out.append(pdf_draw.legend_drawing(kinds, font=self.f.regular, bold=self.f.bold, width=self.width))
        if len(diagrams) > DIAGRAM_CAP:
            self.p(f"{W.count(len(diagrams), 'diagram').capitalize()} in the bundle: the first "
                   f"{W.number(DIAGRAM_CAP)} are drawn here; every one is in the JSON bundle (lineage), and each "
                   "model version's dossier draws its own.", "note")
        for d in diagrams[:DIAGRAM_CAP]:
            self.mark("lineage diagrams")
            self.diagram(d, level + 1)

    def diagram(self, d: dict, level: int) -> None:
        nodes = [n for n in _list(d.get("nodes")) if isinstance(n, dict)]
        edges = _list(d.get("edges"))
        self.heading(f"Lineage: {clean(d.get('title') or d.get('root'))}", level)
        self.p(f"Root {clean(d.get('root'))} \u00b7 {len(nodes):,} nodes, {len(edges):,} edges.", "small")
        if d.get("truncated") is True:
            self.p("Graph cut by the depth bound: nodes beyond the bound are not shown.", "warn")
        sensitive = [clean(t) for t in _list(d.get("sensitive_tags"))] or pdf_draw.SENSITIVE_TAGS
        try:
            planned = pdf_draw.plan(d, width=self.width, max_height=self.doc.height - 90)
        except (TypeError, ValueError) as e:  # malformed positions: say so rather than fail the report
            planned = None
            self.p(f"The diagram could not be drawn: {e}", "warn")
        if planned is None and nodes:
            self.p(f"Not drawn: {len(nodes):,} nodes exceed the {pdf_draw.DIAGRAM_MAX_NODES:,} a page can show; "
                   "the nodes and edges are in the JSON bundle.", "note")
        elif planned is None:
            self.p("Empty graph.", "note")
        elif len(nodes) > pdf_draw.LABEL_LIMIT:
            self.p("Boxes only, no labels, at this size: the nodes and their names are in the JSON bundle.", "note")
            self.out.append(_Diagram(d, planned, self.doc, width=self.width, max_height=self.doc.height - 90,
                                     font=self.f.regular, bold=self.f.bold, sensitive=sensitive))
        elif planned.scale >= pdf_draw.MIN_SCALE:
            self.out.append(_Diagram(d, planned, self.doc, width=self.width, max_height=self.doc.height - 90,
                                     font=self.f.regular, bold=self.f.bold, sensitive=sensitive))
        else:
            self._landscape_parts(d, sensitive)
        upper = {t.upper() for t in sensitive}
        tagged = [n for n in nodes if any(clean(t).upper() in upper for t in _list(n.get("tags")))]
        if tagged:
            self.p("Sensitive: " + _join(f"{clean(n.get('name') or n.get('id'))} "
                                         f"({', '.join(clean(t) for t in _list(n.get('tags')))})" for n in tagged),
                   "small")

    def _landscape_parts(self, d: dict, sensitive: Any) -> None:
        """A diagram too large for a legible portrait page: landscape pages, one range of layers (and rows) each,
        drawn at no less than ``pdf_draw.MIN_SCALE``, with markers where an edge continues on another part."""
        width, height = self.doc.landscape_size
        parts = pdf_layers.split(d, width=width, height=height - 40, min_scale=pdf_draw.MIN_SCALE)
        self.p(f"Too large for one legible page: drawn in {W.count(len(parts), 'part')} on the landscape "
               "pages that follow, by ranges of layers from sources to consumers; a grey marker names the part "
               "and node where an edge goes on.", "note")
        self.out.append(NextPageTemplate("landscape"))
        self.out.append(PageBreak())
        for part in parts:  # as many parts on a page as fit, each kept whole
            planned = pdf_draw.plan(part, width=width, max_height=height - 40)
            if planned is None:
                continue
            self.out.append(KeepTogether([
                Paragraph(para(clean(part.get("title"))), self.s["label"]),
                _Diagram(part, planned, self.doc, width=width, max_height=height - 40, font=self.f.regular,
                         bold=self.f.bold, sensitive=sensitive),
                Spacer(1, 10)]))
        self.out.append(NextPageTemplate("page"))
        self.out.append(PageBreak())

    def data(self, level: int) -> None:
        self.mark("data")
        self.heading("Data", level)
        datasets = [d for d in _list(self.b.get("datasets")) if isinstance(d, dict)]
        if datasets:
            self.p("Each dataset behind the model: its own tags and its columns' tags, the sensitive tags reaching it "
                   "from upstream, its privacy attributes (they live on the dataset) and the exact versions the "
                   "lineage used.", "note")
            self.table(
                ["Dataset", "Tags", "Versions used", "Lawful basis and purposes", "Special category condition",
                 "Retention"],
                [[f"{clean(d.get('name'))}\n{clean(d.get('namespace'))}", _tags(d), _versions(d),
                  f"{clean(d.get('lawful_basis') or 'none recorded')}\n{_join(_list(d.get('purposes')), 20)}",
                  d.get("special_category_condition") or "none recorded",
                  (f"until {W.human_date(d.get('retention_until'))}" if d.get("retention_until") else
                   "no date recorded") + ("\nLEGAL HOLD" if d.get("legal_hold") is True else "")] for d in datasets],
                weights=[2.6, 2.2, 2.2, 2.2, 1.4, 1.4], where="datasets")
            return
        seen: dict[str, list] = {}
        for d in _list(self.b.get("lineage")):
            for n in _list(_dict(d).get("nodes")):
                if isinstance(n, dict) and n.get("kind") in ("dataset", "datasetVersion"):
                    seen.setdefault(clean(n.get("id")), [n.get("name"), n.get("kind"),
                                                         ", ".join(clean(t) for t in _list(n.get("tags"))),
                                                         n.get("id")])
        self.table(["Dataset", "Kind", "Tags", "Node id"], list(seen.values()), weights=[3, 1.3, 1.5, 3.5],
                   where="lineage[].nodes", empty="No datasets in the lineage of this model version.")


def _tags(d: dict) -> str:
    own = ", ".join(clean(t) for t in _list(d.get("tags"))) or "none"
    lines = [f"dataset: {own}"]
    columns = _dict(d.get("column_tags"))
    lines += [f"{clean(c)}: {', '.join(clean(t) for t in _list(ts))}" for c, ts in list(columns.items())[:20]]
    upstream = _list(d.get("upstream_tags"))
    if upstream:
        lines.append("from upstream: " + ", ".join(clean(t) for t in upstream))
    return "\n".join(lines)


def _versions(d: dict) -> str:
    out = []
    for v in _list(d.get("versions"))[:20]:
        if isinstance(v, dict):
            digest = clean(v.get("content_hash") or "")
            out.append(f"{clean(v.get('version'))}" + (f" (sha {digest[:12]})" if digest else ""))
        else:
            out.append(clean(v))
    return "\n".join(out) or "none recorded"
