"""The EU AI Act Annex IV dossier: the other sections arranged under the nine points of the Annex, with the
evidence documents filed under the point they belong to."""

from __future__ import annotations

from ..pdf_text import clean
from .approved_lineage import ApprovedLineageSections
from .base import _list
from .controls import ControlSections
from .lineage import LineageSections
from .release import ReleaseSections

ANNEX_IV_POINTS = {
    1: "General description of the AI system",
    2: "Detailed description of the elements of the AI system and of the process for its development",
    3: "Monitoring, functioning and control of the AI system",
    4: "Appropriateness of the performance metrics",
    5: "Risk management system (Article 9)",
    6: "Relevant changes made to the system through its lifecycle",
    7: "Harmonised standards and other specifications applied",
    8: "EU declaration of conformity (Article 47)",
    9: "System to evaluate performance in the post-market phase (Article 72)",
}
# Where an evidence document goes in an Annex IV dossier when it does not say (``documents[].annex_iv``).
ANNEX_IV_BY_TYPE = {
    "model_card": 1, "intended_purpose": 1, "instructions_for_use": 1, "system_description": 1,
    "datasheet": 2, "data_sheet": 2, "data_governance": 2, "design": 2, "architecture": 2, "training": 2,
    "human_oversight": 3, "logging": 3,
    "evaluation": 4, "metrics": 4, "validation": 4, "test_report": 4, "performance": 4,
    "risk_assessment": 5, "risk_management": 5, "dpia": 5, "fria": 5,
    "change_log": 6, "changelog": 6, "release_notes": 6,
    "standards": 7, "harmonised_standards": 7,
    "declaration_of_conformity": 8, "eu_declaration": 8,
    "post_market_monitoring": 9, "monitoring_plan": 9, "incident_report": 9,
}


class AnnexIVSections(LineageSections, ControlSections, ReleaseSections, ApprovedLineageSections):
    def annex_iv(self) -> None:
        by_point: dict[int, list] = {i: [] for i in ANNEX_IV_POINTS}
        for d in _list(self.b.get("documents")):
            if not isinstance(d, dict):
                continue
            wanted = d.get("annex_iv")
            given = wanted if isinstance(wanted, list) else [wanted]
            points: list[int] = [p for p in given if isinstance(p, int) and p in ANNEX_IV_POINTS]
            if not points:
                points = [ANNEX_IV_BY_TYPE.get(clean(d.get("type")).lower(), 2)]
            for p in points:
                by_point[p].append(d)
        for point, name in ANNEX_IV_POINTS.items():
            self.mark(f"Annex IV point {point}")
            self.heading(f"Annex IV point {point}: {name}", 0)
            before = len(self.out)
            if point == 1:
                self.p("The model version, its scope and the report parameters are on the cover and in the "
                       "summary above.", "note")
                self.model(1, parts=("identity",), title="Model version and intended use")
            elif point == 2:
                self.model(1, parts=("parameters",), title="Design: parameters")
                self.lineage(1)
                self.data(1)
            elif point == 3:
                self.approvals(1)
            elif point == 4:
                self.model(1, parts=("metrics",), title="Performance metrics")
            elif point == 5 and _list(self.b.get("controls")):
                self.controls(1)
            elif point == 6:
                self.approved_lineage(1)
                self.deployments(1)
            elif point == 9:
                self.violations(1)
            if by_point[point]:
                self.documents(1, by_point[point], title=f"Documents for point {point}")
            elif len(self.out) == before or point == 1:
                self.p("No evidence document for this point in the bundle.", "note")
