"""For each approved release in the report: the lineage as approved (kept at approval) and what changed since,
with the material-change rule each change meets and the reviews it may trigger."""

from __future__ import annotations

from portal.approvals.materiality import SHORT

from .. import pdf_words as W
from ..pdf_text import clean
from .base import StoryBase, _dict, _list

NODE_ROWS = 150  # per release: a model's whole upstream can be long; the bundle keeps every node
CHANGE_ROWS = 150


class ApprovedLineageSections(StoryBase):
    def approved_lineage(self, level: int) -> None:
        entries = [e for e in _list(self.b.get("approved_lineage")) if isinstance(e, dict)]
        self.mark("approved lineage")
        self.heading("Lineage as approved, and changes since", level)
        if not entries:
            self.p("No approved release in this report.", "note")
            return
        self.p("For each approved release: the lineage its approvers signed, kept when it was approved, against "
               "the lineage when this report was generated. A change in the approved subject (the digest the "
               "approvers signed) voids the approval; the material-change rules of the release's policy name the "
               "reviews a change may trigger.", "note")
        for e in entries:
            self.heading(f"Release {clean(e.get('release'))} \u00b7 {clean(e.get('model'))} \u2192 "
                         f"{clean(e.get('environment'))}", level + 1)
            summary = _dict(e.get("summary"))
            rules = _dict(e.get("rules"))
            verdict = ("CHANGED: the approval is void" if e.get("voids_approval") is True
                       else "unchanged: the approval stands")
            pairs = [("State now", e.get("state")), ("Approved", W.human_date(e.get("approved_at"), time=True)),
                     ("Approved digest", e.get("approved_digest")), ("Subject now", verdict),
                     ("Digest now", e.get("current_digest")),
                     ("Changes", f"{clean(summary.get('changes'))}: {clean(summary.get('in_subject'))} in the "
                                 f"subject, {clean(summary.get('outside'))} outside it, "
                                 f"{clean(summary.get('material'))} material"),
                     ("Rules", f"{clean(rules.get('policy'))}"
                               + (" (defaults)" if rules.get("defaults") is True else ""))]
            for t in _list(e.get("triggers")):
                if isinstance(t, dict):
                    fired = ", ".join(clean(r) for r in _list(t.get("rules")))
                    pairs.append(("May trigger", f"{clean(t.get('trigger'))} ({fired})"))
            self.kv(pairs, mono=("Approved digest", "Digest now"))
            if e.get("note"):
                self.p(e.get("note"), "warn" if e.get("baseline") != "stored" else "note")
            if e.get("baseline") == "none":
                continue
            if e.get("voids_approval") is True:
                self.p("The approved subject changed after approval: the approval no longer covers the model as it "
                       "is now.", "warn")
            changes = [c for c in _list(e.get("changes")) if isinstance(c, dict) and c.get("element") != "edge"]
            edges = sum(1 for c in _list(e.get("changes")) if isinstance(c, dict) and c.get("element") == "edge")
            self.label("Changes since approval" + (f" ({edges} edge changes, outside the subject, are in the JSON "
                                                   "bundle)" if edges else ""))
            self.table(["Change", "Node", "What", "Subject", "Material rule", "May trigger"],
                       [[f"{clean(c.get('element'))} {clean(c.get('change'))}\n{clean(c.get('kind'))}",
                         c.get("label") or c.get("node"), c.get("detail") or None,
                         "IN: voids" if c.get("in_subject") is True else "outside",
                         ", ".join(clean(r) for r in _list(c.get("rules"))) or None,
                         "; ".join(SHORT.get(clean(t), clean(t)) for t in _list(c.get("triggers"))) or None]
                        for c in changes],
                       weights=[1.4, 2.4, 3, 1, 1.6, 2.2], cap=CHANGE_ROWS, where="approved_lineage[].changes",
                       empty="No change since approval.")
            nodes = [n for n in _list(e.get("nodes")) if isinstance(n, dict)]
            self.label(f"Lineage as approved: {len(nodes)} nodes, {clean(e.get('edges'))} edges"
                       + (" (the digested subject only: kept before lineage was)" if e.get("baseline") == "subject"
                          else ""))
            self.table(["Kind", "Node", "Attributes", "Tags then", "Node id"],
                       [[n.get("kind"), n.get("label"),
                         ", ".join(f"{clean(k)} {clean(v)}" for k, v in _dict(n.get("attrs")).items() if v)
                         + (f" {clean(n.get('state'))}" if n.get("state") else "") or None,
                         " ".join(clean(t) for t in _list(n.get("tags"))) or None, n.get("id")] for n in nodes],
                       weights=[1.2, 2.4, 2.6, 1.6, 3.2], mono=(4,), cap=NODE_ROWS,
                       where="approved_lineage[].nodes", empty="No node kept.")
