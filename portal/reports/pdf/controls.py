"""The controls section: each control's verdict, reason, failing entities and evidence."""

from __future__ import annotations

from .. import pdf_words as W
from ..pdf_text import clean
from .base import LIST_CAP, StoryBase, _dict, _list


class ControlSections(StoryBase):
    def controls(self, level: int) -> None:
        controls = [c for c in _list(self.b.get("controls")) if isinstance(c, dict)]
        self.heading("Controls", level)
        if not controls:
            self.p("No controls in this report.", "note")
        for i, c in enumerate(controls):
            self.mark(f"control {clean(c.get('id'))}")
            self.heading(f"{clean(c.get('id'))} \u00b7 {clean(c.get('title'))}", level + 1)
            self.kv([
                ("Status", c.get("status")),
                ("Citation", c.get("citation")),
                ("Type", {"P": "P (platform-checked)", "E": "E (evidence document)",
                          "P+E": "P+E (checked and documented)"}.get(clean(c.get("type")), c.get("type"))),
                ("Evidence shown", c.get("evidence_shown")),
                ("Result", c.get("reason")),
            ] + ([("How the rule is read", c.get("reading"))] if c.get("reading") else []), status="Status")
            missing = _list(c.get("missing"))
            if missing:
                self.label("Data needed to evaluate it")
                for m in missing[:LIST_CAP]:
                    self.p(f"\u2022 {clean(m)}")
            failing = [x for x in _list(c.get("failing")) if isinstance(x, dict)]
            if failing:
                self.label(f"Failing entities: {W.count(len(failing), 'entity')}")
                self.table(["Kind", "Name", "Node id", "Why"],
                           [[x.get("kind"), x.get("name"), x.get("node_id"), x.get("why")] for x in failing],
                           weights=[1.2, 3, 3, 3.2], where=f"controls[{i}].failing")
            ev = _dict(c.get("evidence"))
            rows = _list(ev.get("rows"))
            if rows or _list(ev.get("columns")):
                self.label(f"Evidence: {W.count(len(rows), 'row')}")
                self.table(_list(ev.get("columns")), rows, where=f"controls[{i}].evidence.rows",
                           empty="No evidence rows.")
