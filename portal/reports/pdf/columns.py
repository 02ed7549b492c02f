"""Column paths of sensitive data: which sensitive column reaches which column a model was trained on."""

from __future__ import annotations

from ..pdf_text import clean
from .base import StoryBase, _dict, _list


def _column(ref: object) -> str:
    r = _dict(ref)
    dataset = clean(r.get("dataset")).removeprefix("dataset:")
    return f"{dataset}\n\u00b7 {clean(r.get('field'))}"


class ColumnSections(StoryBase):
    def column_paths(self, level: int) -> None:
        models = [m for m in _list(self.b.get("column_paths")) if isinstance(m, dict)]
        if not models:
            return
        self.mark("column paths")
        self.heading("Sensitive data by column", level)
        self.p("Over the column lineage the pipelines report, for each sensitive column upstream: the column the "
               "model was trained on that it reaches. Carries: the values are derived from the tagged column "
               "through DIRECT edges only (identity, transformation, aggregation). Influenced by: the tagged "
               "column only filters, joins or groups the rows on the way (an INDIRECT edge), never a value. "
               "De-identification stops apply as in the rest of the report.", "note")
        for m in models:
            if len(models) > 1:
                self.heading(clean(m.get("model")), level + 1)
            paths = [p for p in _list(m.get("paths")) if isinstance(p, dict)]
            self.table(["Tag", "Sensitive column", "Reaches (trained on)", "How"],
                       [[p.get("tag"), _column(p.get("source")), _column(p.get("feature")),
                         "carries (DIRECT)" if p.get("kind") == "carries" else "influenced by (INDIRECT)"]
                        for p in paths],
                       weights=[1, 3.2, 3.2, 1.8], where="column_paths[].paths",
                       empty=f"No tagged column reaches the {clean(m.get('trained_on'))} columns it was trained on.")
            for raw in _list(m.get("not_stopped")):
                n = _dict(raw)
                tags = ", ".join(clean(t) for t in _list(n.get("tags"))) or "its tags"
                self.p(f"Not stopped: run {clean(n.get('run'))} ({clean(n.get('job'))}) is {clean(n.get('reason'))}; "
                       f"{tags} go on downstream.", "warn")
            if m.get("truncated") is True:
                self.p("The column walk was cut by its depth or size bound: more columns may reach the model.",
                       "note")
