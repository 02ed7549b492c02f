"""Releases and what followed them: approvals, deployments, violations, evidence documents and the EU AI
Act Annex IV dossier."""

from __future__ import annotations

from ..pdf_text import clean
from .base import StoryBase, _list

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



class ReleaseSections(StoryBase):
    def approvals(self, level: int) -> None:
        approvals = [a for a in _list(self.b.get("approvals")) if isinstance(a, dict)]
        self.heading("Approval signature manifests", level)
        if not approvals:
            self.p("No approvals in this report.", "note")
        for a in approvals:
            self.mark("approvals")
            self.heading(f"Release {clean(a.get('release'))} \u00b7 {clean(a.get('model'))} \u2192 "
                         f"{clean(a.get('environment'))}", level + 1)
            pairs = [("Model", a.get("model")), ("Environment", a.get("environment")), ("State", a.get("state")),
                     ("Policy", a.get("policy")), ("Subject digest", a.get("subject_digest")),
                     ("Decided at", a.get("decided_at"))]
            if "break_glass" in a:
                pairs.append(("Break glass", "YES" if a.get("break_glass") is True else "no"))
            self.kv(pairs, mono=("Subject digest",))
            if a.get("break_glass") is True:
                self.p("Break-glass release: deployed under the emergency procedure, outside the normal approval "
                       "quorum.", "warn")
            sigs = [s for s in _list(a.get("signatures")) if isinstance(s, dict)]
            self.table(["Printed name", "Username", "Signed at", "Meaning", "Reason", "Voided", "Audit seq"],
                       [[s.get("printed_name"), s.get("username"), s.get("signed_at"), s.get("meaning"),
                         s.get("reason"), "VOIDED" if s.get("voided") is True else "no", s.get("audit_seq")]
                        for s in sigs],
                       weights=[2.2, 1.4, 2.2, 1.3, 3, 1.1, 1], empty="No signatures.")

    def deployments(self, level: int) -> None:
        self.mark("deployments")
        deps = [d for d in _list(self.b.get("deployments")) if isinstance(d, dict)]
        self.heading("Deployments", level)
        self.table(["Model", "Environment", "State", "Deployed at", "Release", "Approved", "Node id"],
                   [[d.get("model"), d.get("environment"), d.get("state"), d.get("deployed_at"), d.get("release"),
                     d.get("approved"), d.get("node_id")] for d in deps],
                   weights=[2.5, 1.5, 1, 2.2, 1.1, 1.4, 3], flag_col=5, where="deployments",
                   empty="No deployments in this report.")

    def violations(self, level: int) -> None:
        self.mark("violations")
        vs = [v for v in _list(self.b.get("violations")) if isinstance(v, dict)]
        self.heading("Violations", level)
        self.table(["Id", "Model", "Deployment", "Environment", "Found at", "Reason"],
                   [[v.get("id"), v.get("model"), v.get("deployment"), v.get("environment"), v.get("found_at"),
                     v.get("reason")] for v in vs],
                   weights=[0.7, 2, 2.5, 1.4, 2, 3], where="violations", empty="No violations in this report.")

    def documents(self, level: int, docs: list, *, title: str = "Evidence documents") -> None:
        self.mark("documents")
        docs = [d for d in docs if isinstance(d, dict)]
        self.heading(title, level)
        self.table(
            ["Document", "Author and approval", "Effective / retention", "SHA-256", "Covers"],
            [[f"{clean(d.get('title'))}\n{clean(d.get('type'))} v{clean(d.get('version'))}\n{clean(d.get('id'))}",
              f"by {clean(d.get('author'))}\napproved by {clean(d.get('approved_by'))}\n{clean(d.get('approved_at'))}",
              f"from {clean(d.get('effective_from'))}\nuntil {clean(d.get('retention_until'))}",
              d.get("sha256"), "\n".join(clean(c) for c in _list(d.get("covers"))[:20])] for d in docs],
            weights=[3, 2.6, 2.4, 2.6, 2.4], mono=(3,), where="documents", empty="No evidence documents.")

    def annex_iv(self) -> None:
        by_point: dict[int, list] = {i: [] for i in ANNEX_IV_POINTS}
        for d in _list(self.b.get("documents")):
            if not isinstance(d, dict):
                continue
            wanted = d.get("annex_iv")
            points = wanted if isinstance(wanted, list) else [wanted]
            points = [p for p in points if isinstance(p, int) and p in ANNEX_IV_POINTS]
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
                self.deployments(1)
            elif point == 9:
                self.violations(1)
            if by_point[point]:
                self.documents(1, by_point[point], title=f"Documents for point {point}")
            elif len(self.out) == before or point == 1:
                self.p("No evidence document for this point in the bundle.", "note")
