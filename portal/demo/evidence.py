"""Demo evidence for `load_demo`: the documents Northwind's reviewers look at.

- readmission: a DPIA (v1 for model version 1, superseded by v2 after the EHR schema change) and a risk
  register, signed off by the data protection officer and model risk;
- credit-scoring: an independent validation report per version by model risk (the production policy requires
  one, SR 11-7), and a monitoring plan;
- churn: model documentation for version 4, still awaiting approval.

The files are fixed text, so their SHA-256 identifies them: loading twice adds nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage import ids
from lineage.models import Node
from portal.accounts.models import User
from portal.evidence import services
from portal.evidence.models import Document

from . import story as demo


@dataclass(frozen=True, slots=True)
class DemoDocument:
    key: str
    doc_type: str
    title: str
    version: str
    file_name: str
    content_type: str
    text: str
    author: demo.DemoUser
    approver: demo.DemoUser | None
    effective_from: datetime
    models: tuple[tuple[str, str], ...]  # (model, version) attached
    sections: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    supersedes: str = ""
    description: str = ""
    nodes: tuple[str, ...] = ()  # other node ids attached

    @property
    def content(self) -> bytes:
        return self.text.encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _validation_text(model: str, version: str, metrics: dict[str, float], findings: list[str]) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in metrics.items())
    listed = "\n".join(f"- {f}" for f in findings)
    return (f"# Independent validation report: {model} v{version}\n\nPrepared by Model Risk Management, "
            f"independent of the development team (SR 11-7, section V).\n\n## Scope\nConceptual soundness, "
            f"data quality, outcomes analysis and ongoing monitoring of {model} v{version}.\n\n## Performance on "
            f"the out-of-time sample\n\n| metric | value |\n|---|---|\n{rows}\n\n## Findings\n{listed}\n\n"
            "## Conclusion\nFit for use within the documented limitations.\n")


def _findings(texts: list[str]) -> list[dict[str, str]]:
    return [{"severity": "low", "status": "open", "text": t} for t in texts]


def _credit_report(version: str, findings: list[str]) -> DemoDocument:
    m = demo.CREDIT_MODELS[version]
    day = {"5": 1, "6": 16, "7": 29}[version]
    return DemoDocument(
        f"credit-validation-{version}", "validation_report", f"Credit scoring v{version} validation", "1.0",
        f"credit-scoring-v{version}-validation.md", "text/markdown",
        _validation_text(demo.CREDIT_MODEL, version, m.metrics, findings), demo.ELENA, demo.SAM, demo.at(day, 9),
        ((demo.CREDIT_MODEL, version),), ("conceptual soundness", "outcomes analysis", "ongoing monitoring"),
        {"outcome": "approved with conditions" if len(findings) > 1 else "approved",
         "findings": _findings(findings), "metrics": dict(m.metrics)})


def _readmission_report(version: str, findings: list[str]) -> DemoDocument:
    m = demo.READMISSION_MODELS[version]
    day = {"1": 6, "2": 37}[version]
    return DemoDocument(
        f"readmission-validation-{version}", "validation_report", f"Readmission v{version} validation", "1.0",
        f"readmission-v{version}-validation.md", "text/markdown",
        _validation_text(demo.READMISSION_MODEL, version, m.metrics, findings), demo.MARCUS, demo.ELENA,
        demo.at(day, 9), ((demo.READMISSION_MODEL, version),), ("conceptual soundness", "outcomes analysis"),
        {"outcome": "approved", "findings": _findings(findings), "metrics": dict(m.metrics)})


DPIA_V1 = """# Data protection impact assessment: 30-day readmission model

Controller: Northwind Health. DPO consulted: Sam Okafor.

## 35(7)(a) Description of the processing
Admissions and patient records from the EHR are de-identified (HIPAA Safe Harbor) before training a
logistic-regression model that scores the risk of readmission within 30 days of discharge.

## 35(7)(b) Necessity and proportionality
Only de-identified extracts reach the training job; scores are used by care coordinators, never to deny care.

## 35(7)(c) Risks to data subjects
Re-identification from quasi-identifiers; unequal performance across age groups; automation bias.

## 35(7)(d) Measures
Safe Harbor de-identification run in the pipeline; subgroup AUROC reported each release; human review of
every outreach decision.
"""

DPIA_V2 = DPIA_V1.replace("# Data protection impact assessment: 30-day readmission model",
                          "# Data protection impact assessment: 30-day readmission model (revision 2)") + """
## Changes in revision 2
The EHR release 2025.10 renamed discharge fields; the de-identification step was re-verified against the new
schema and the discharge disposition is now generalised to five categories.
"""

RISK_REGISTER = """id,risk,likelihood,impact,owner,mitigation,status
R1,Re-identification from the training extract,low,high,Tomas Weber,Safe Harbor de-identification,mitigated
R2,Lower recall for patients over 80,medium,medium,Tomas Weber,Subgroup metrics gate each release,monitoring
R3,Automation bias in care coordination,medium,high,Clinical AI lead,Human review of every outreach,mitigated
R4,EHR schema change breaks features,medium,medium,Tomas Weber,Schema checks before training,mitigated
"""

MONITORING_PLAN = """# Monitoring plan: credit scoring

| signal | threshold | cadence | owner |
|---|---|---|---|
| Population stability index on score | > 0.25 investigate | weekly | Credit Risk Analytics |
| AUC on matured 12-month outcomes | < 0.76 escalate to model risk | monthly | Model Risk |
| Approval-rate gap across protected groups | > 5 points review | monthly | Compliance |
| Input data freshness (core banking) | > 24 h stale | daily | ML platform |

Breaches open an incident and are reported to the model risk committee.
"""

CHURN_DOC = """# Model documentation: churn v4

Purpose: rank customers by 90-day churn risk for retention offers.
Data: CRM customers and web events from the analytics lake (PII, pseudonymised before training).
Algorithm: LightGBM, 63 leaves, 400 trees. Out-of-time AUC 0.858.
Limitations: not validated for business customers; scores older than 30 days should not be used.
"""

DEID_DETERMINATION = """# De-identification determination: readmission training extract

Method: HIPAA Safe Harbor, 45 CFR 164.514(b)(2). The pipeline step `deidentify` removes the 18 identifiers
(names, MRNs, full dates, postcodes below three digits...) from admissions and patients, keeps age bands and
shifts no date into the extract. The covered entity has no actual knowledge that the remainder could identify
an individual. Re-verified after the EHR 2025.10 schema change.
"""

DOCUMENTS: tuple[DemoDocument, ...] = (
    DemoDocument("deid-readmission", "deid_determination", "Readmission extract de-identification determination",
                 "1.0", "readmission-deid-determination.md", "text/markdown", DEID_DETERMINATION, demo.TOMAS,
                 demo.SAM, demo.at(3, 9), (), ("164.514(b)(2)",), {"method": "safe_harbor"},
                 nodes=(ids.dataset_id(demo.ADMISSIONS_DEID.namespace, demo.ADMISSIONS_DEID.name),),
                 description="Attached to the extract: every run that writes it de-identifies by this method."),
    DemoDocument("dpia-readmission-1", "dpia", "Readmission model DPIA", "1.0", "readmission-dpia-v1.md",
                 "text/markdown", DPIA_V1, demo.TOMAS, demo.SAM, demo.at(4, 10),
                 ((demo.READMISSION_MODEL, "1"),), ("35(7)(a)", "35(7)(b)", "35(7)(c)", "35(7)(d)"),
                 {"residual_risk": "low", "dpo_consulted": True, "prior_consultation_required": False}),
    DemoDocument("dpia-readmission-2", "dpia", "Readmission model DPIA", "2.0", "readmission-dpia-v2.md",
                 "text/markdown", DPIA_V2, demo.TOMAS, demo.SAM, demo.at(36, 9),
                 ((demo.READMISSION_MODEL, "2"),), ("35(7)(a)", "35(7)(b)", "35(7)(c)", "35(7)(d)"),
                 {"residual_risk": "low", "dpo_consulted": True, "prior_consultation_required": False},
                 supersedes="dpia-readmission-1", description="Revised after the EHR 2025.10 schema change."),
    DemoDocument("risk-register-readmission", "risk_register", "Readmission risk register", "3",
                 "readmission-risk-register.csv", "text/csv", RISK_REGISTER, demo.TOMAS, demo.ELENA,
                 demo.at(36, 11), ((demo.READMISSION_MODEL, "2"),), (), {"open_risks": 1, "high_impact": 2}),
    _readmission_report("1", ["Calibration slightly optimistic above 0.6 predicted risk."]),
    _readmission_report("2", ["Subgroup AUROC for patients over 80 is 0.69: monitor."]),
    _credit_report("5", ["Reject inference documented."]),
    _credit_report("6", ["Reject inference documented.", "Sensitivity to income imputation: add a monitor."]),
    _credit_report("7", ["Deeper trees raise variance; back-test within limits.",
                         "Stability across vintages acceptable (PSI 0.04)."]),
    DemoDocument("monitoring-credit", "monitoring_plan", "Credit scoring monitoring plan", "2.1",
                 "credit-scoring-monitoring-plan.md", "text/markdown", MONITORING_PLAN, demo.PRIYA, demo.MARCUS,
                 demo.at(16, 14), ((demo.CREDIT_MODEL, "6"), (demo.CREDIT_MODEL, "7")), (),
                 {"thresholds": {"psi": 0.25, "auc_min": 0.76, "approval_rate_gap_points": 5,
                                 "input_staleness_hours": 24}, "cadence": "weekly to monthly"}),
    DemoDocument("churn-model-doc-4", "model_documentation", "Churn v4 model documentation", "1.0",
                 "churn-v4-model-card.md", "text/markdown", CHURN_DOC, demo.PRIYA, None, demo.at(40, 9),
                 ((demo.CHURN_MODEL, "4"),), ("purpose", "data", "limitations"), {"model_card": True}),
)


def _node_ids(models: tuple[tuple[str, str], ...]) -> list[str]:
    out = []
    for name, version in models:
        node_id = Node.objects.filter(kind="modelVersion", name=name, version=version).values_list(
            "node_id", flat=True).first()
        if node_id:
            out.append(node_id)
    return out


def load(users: dict[str, User], *, doc_types: set[str] | None = None) -> int:
    """Create what is missing (of ``doc_types``, or all); return how many documents were created. Approving a
    validation report completes the production releases waiting for it."""
    created = 0
    by_key: dict[str, Document] = {}
    for d in DOCUMENTS:
        if doc_types is not None and d.doc_type not in doc_types:
            continue
        doc = Document.objects.filter(sha256=d.sha256).first()
        if doc is None:
            doc = services.document_upload(
                by=users[d.author.username], file_name=d.file_name, content=d.content, content_type=d.content_type,
                doc_type=d.doc_type, title=d.title, version=d.version, description=d.description,
                effective_from=d.effective_from, sections=d.sections, attributes=d.attributes,
                node_ids=_node_ids(d.models) + list(d.nodes), supersedes=by_key.get(d.supersedes))
            created += 1
        if d.approver is not None and doc.approved_at is None:
            doc = services.document_approve(document=doc, by=users[d.approver.username],
                                            password=d.approver.password, reason=f"Reviewed {d.title} {d.version}.")
        by_key[d.key] = doc
    return created
