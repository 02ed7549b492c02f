"""The control catalog as data: one entry per control of ``controls.md`` beside this module (the catalog as the
compliance team wrote it, shipped with the package).

A control is evaluated by the check registered for its id in ``checks/`` (one small function over the
``Facts`` of a scope). A control without a check is reported "not evaluated" with the data it needs:
never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    citation: str
    title: str
    evidence_shown: str
    type: str  # P (pass/fail), E (evidence listing), P+E
    needs: str = ""  # for controls without a check: the data the portal would need
    reading: str = ""  # how the check reads the catalog's rule where its words leave room (printed with it)


@dataclass(frozen=True, slots=True)
class Framework:
    id: str
    name: str
    controls: tuple[Control, ...]


C = Control

HIPAA = Framework("hipaa", "HIPAA Security Rule (45 CFR 164)", (
    C("H1", "§164.312(b) Audit controls", "Record ePHI activity",
      "Runs with PHI inputs and their audit entries; status of the log's hash chain", "P"),
    C("H2", "§164.308(a)(1)(ii)(D) Information system activity review", "Regular log review",
      "Review records: reviewer, window, anomalies, dispositions", "P",
      needs="activity-review records (reviewer, window, anomalies, dispositions)"),
    C("H3", "§164.312(a)(1); (a)(2)(i)", "Access control; unique user IDs",
      "Each run reading PHI matched to an individual or registered service account and a namespace grant", "P"),
    C("H4", "§164.308(a)(4)(ii)(B)-(C); (a)(3)(ii)(C)", "Access authorisation, review and termination",
      "Grant history, access reviews, deprovision dates", "P",
      needs="access reviews and grant history with deprovision dates"),
    C("H5", "§164.312(d) Person or entity authentication", "Verified identity",
      "Authentication method per session for PHI access, approvals and deploys", "P",
      needs="the authentication method (SSO+MFA) of each session; the portal records password sign-ins only"),
    C("H6", "§164.312(c)(1); (c)(2) Integrity", "No undetected change",
      "Content hash at registration vs at read; versions written more than once", "P"),
    C("H7", "§164.316(b)(1), (b)(2)(i)", "6-year documentation retention",
      "Retention ledger: policies, risk analyses, reviews, approvals, reports", "P"),
    C("H8", "§164.502(b); §164.514(d) Minimum necessary", "Use only the PHI needed",
      "Columns each run read vs the approved data-use request", "P",
      needs="approved data-use requests listing the PHI columns per purpose and role"),
    C("H9", "§164.514(a)-(b) De-identification", "Back de-identification claims",
      "Method and determination document per de-identified dataset", "P"),
    C("H10", "§164.308(a)(1)(ii)(A) Risk analysis", "Risk-assess systems that use ePHI",
      "Each risk analysis and the production deployments it covers", "P"),
    # Not in the shared catalog (2026-11): the breach-notification clocks, evaluated from incident records.
    C("H11", "§164.404(b); §164.406; §164.408 Breach notification", "Notify breaches of unsecured PHI in time",
      "Each PHI breach incident: discovery, the 60-day deadline, when and to whom it was notified", "P"),
))

GDPR = Framework("gdpr", "GDPR (Regulation (EU) 2016/679)", (
    C("G1", "Art. 5(1)(b); 6(4)", "Purpose limitation", "Purposes per dataset and per run; compatibility assessments",
      "P", needs="the purpose of each run (data-use request reference)"),
    C("G2", "Art. 5(1)(c)", "Data minimisation", "Personal-data columns read vs the approved feature spec", "P",
      needs="approved feature specifications listing the columns needed and why"),
    C("G3", "Art. 5(1)(e)", "Storage limitation", "Retention dates, expired datasets, legal holds", "P"),
    C("G4", "Art. 5(2)", "Accountability",
      "A pack per processing activity: lineage, lawful bases, DPIA, ROPA entry, approvals", "E"),
    C("G5", "Art. 6(1)", "Lawful basis", "Basis per personal-data dataset; consent references; balancing assessments",
      "P"),
    C("G6", "Art. 9(1)-(2)", "Special-category condition", "The Art. 9(2) condition of each special-category dataset",
      "P"),
    C("G7", "Art. 17(1), (3); 12(3)", "Erasure: impact and completion",
      "Erasure requests and dispositions; what each personal-data dataset feeds", "E+P"),
    C("G8", "Art. 22", "Solely automated decisions",
      "Deployments with legal or similarly significant effect and no human in the loop", "P",
      needs="the decision effect of each deployment and its Art. 22(2) ground"),
    C("G9", "Art. 25(1)-(2)", "By design and by default", "Pseudonymisation status; default grants", "P",
      needs="pseudonymisation status of training datasets and grant history"),
    C("G10", "Art. 30(1)", "Records of processing (ROPA)", "A ROPA entry per production deployment with personal data",
      "P+E"),
    C("G11", "Art. 32(1)", "Security of processing", "Encryption and storage location; security tests", "P",
      needs="encryption-at-rest and storage-location attributes and security test records"),
    C("G12", "Art. 35(1), (3), (7), (11)", "DPIA", "DPIA status for each triggering production deployment", "P"),
    # Not in the shared catalog (2026-11): the Art. 33 clock, evaluated from incident records.
    C("G13", "Art. 33(1), (5); 34", "Personal-data breach notification",
      "Each personal-data breach incident: awareness, the 72-hour deadline, the notification or the documented "
      "reason none was due", "P"),
))

MODEL_RISK = Framework("model-risk", "Model risk management (SR 11-7, superseded by SR 26-2)", (
    C("F1", "SR 11-7 §VI (model inventory); SR 26-2 inventory", "Complete model inventory",
      "The inventory reconciled against the deployments in the graph", "P"),
    C("F2", "SR 11-7 §IV; SR 26-2 development", "Documented development",
      "Model documentation tied to the training run; data-quality results", "P"),
    C("F3", "SR 11-7 §V (validation, independence); SR 26-2 effective challenge",
      "Independent validation before use, including changes", "Validation reports; the validator vs authors(MV)", "P"),
    C("F4", "SR 11-7 §V (ongoing monitoring); SR 26-2", "Ongoing monitoring",
      "Monitoring plans with thresholds; monitoring results; breaches", "P"),
    C("F5", "SR 11-7 §V (outcomes analysis), §VI; SR 26-2", "Outcomes analysis and periodic review",
      "Back-tests; review sign-offs", "P"),
    C("F9", "EBA/GL/2020/06 §4.3.4", "Automated credit-decision models",
      "Bias tests, data-quality checks, traceability, back-tests, overrides", "P",
      needs="bias-test and override records for credit-decisioning deployments"),
))

SOX = Framework("sox", "SOX §404 IT general controls (COSO 2013 P11; PCAOB AS 2201 ¶.36)", (
    C("F6", "SOX §404; Exchange Act Rule 13a-15(c); COSO 2013 Principle 11; PCAOB AS 2201 ¶.36",
      "ITGC: change management", "Each change record (release) matched to its deployment", "P"),
    C("F7", "As F6; DORA RTS (EU) 2024/1774 Art. 17(1)(b)", "Segregation of duties",
      "Approvers vs authors vs deployer", "P"),
    C("F8", "COSO Principle 11; AS 2201 ¶.36", "ITGC: logical access",
      "Who holds which roles; access reviews; terminations", "P",
      needs="quarterly access reviews and deprovisioning times of role holders"),
    C("F10", "DORA Art. 9(4)(e); RTS 2024/1774 Art. 17(1)(d)-(e)", "Emergency changes",
      "Emergency deployments (break-glass) and their retrospective approvals", "P"),
))

AI_ACT = Framework("eu-ai-act", "EU AI Act (Regulation (EU) 2024/1689), high-risk systems", (
    C("A1", "Art. 9", "Risk management", "A risk-register version for each high-risk model version", "P"),
    C("A2", "Art. 10(2)-(5)", "Data governance", "A datasheet for each train/val/test dataset", "P",
      needs="datasheets: origin, collection process, bias examination and known gaps per input dataset"),
    C("A3", "Art. 11; Annex IV", "Technical documentation", "An Annex IV bundle for each release", "P+E"),
    C("A4", "Art. 12(1)-(2); 19(1); 26(6)", "Automatic logging", "Log coverage and retention per high-risk deployment",
      "P"),
    C("A5", "Art. 13; 15(3)", "Instructions for use", "Instructions written for the exact deployed model version", "P"),
    C("A6", "Art. 14", "Human oversight", "Overseers and their training; stop and override control tests", "P"),
    C("A7", "Art. 15(1), (3)-(5)", "Accuracy, robustness, cybersecurity", "Evaluation results vs declared levels", "P",
      needs="test-set record-id overlap results, declared accuracy levels and robustness/security test records"),
    C("A8", "Art. 17", "Quality management system (QMS)", "The QMS procedure in force; gates passed per release", "P",
      needs="the QMS procedure's list of required gates per release"),
    C("A9", "Art. 18(1)", "10-year documentation keeping", "Retention ledger of technical documentation", "P"),
    C("A10", "Art. 72 (with Art. 73)", "Post-market monitoring",
      "Post-market monitoring plans; monitoring results collected; serious incidents and their Art. 73 reports", "P"),
    C("A11", "Art. 26(5); 27", "Deployer monitoring; FRIA", "Deployer monitoring records; FRIA", "P",
      needs="whether the organisation is a public body or deploys Annex III 5(b)/5(c) as a deployer; FRIA records"),
))

# How each check reads the rule text of ``controls.md`` where the words leave room. Common to all: prod(D) is a
# production deployment active at any time in the report's period (from its deploy event until the next deploy
# of the same model and environment, or its retirement); personal, PHI and special-category data are found by
# propagation through runs, stopping at recorded de-identification runs (a model's artifact file counts as the
# model version, not as a dataset); document ages use the date a document
# took effect; "before" rules compare both its approval and its effective date with the event's own time.
READINGS: dict[str, str] = {
    "H1": "The audit entry's time is measured from when the portal received the run's event, not the event time: "
          "backfilled history (sent long after it happened) cannot be audited before it arrives; such runs are "
          "listed as backfilled. Only runs are checked (reads outside runs are not recorded).",
    "H3": "The launcher (or, failing that, the sending account) is matched to a registered user by username or "
          "any of the user's e-mails; a grant is the owning team of the PHI dataset's namespace (ingestors and "
          "admins are service accounts with organisation-wide grants).",
    "H6": "Only content hashes the runs report on read are compared; a read without a reported hash is not a "
          "mismatch.",
    "H7": "Every policy, risk analysis, DPIA, validation report, monitoring plan and QMS procedure on file.",
    "H9": "Checked on de-identified datasets whose upstream holds a PHI-tagged dataset.",
    "H10": "≤ 12 months old by the date the analysis took effect; 'updated after the last significant change' "
           "is read as: took effect after the deployed model version was created. A deployment is in scope with "
           "PHI upstream or with HIPAA scope in its profile at any time in the period.",
    "G3": "Personal-data datasets include those derived from personal data. A run 'started after the date' is "
          "a run whose event time is after the retention date.",
    "G5": "Checked per dataset (its basis covers its recorded purposes), not per (dataset, purpose) pair.",
    "G6": "PHI counts as special-category (health) data. The purpose of each reading run is not recorded, so "
          "the second sentence is not checked.",
    "G7": "Not applicable when no erasure request was received or answered in the period; the evidence table "
          "lists every personal-data dataset either way.",
    "G10": "A ROPA entry in effect at some time in the period counts.",
    "G12": "'Its first production deploy' is read as the deploy event of the deployment checked; a risk-changing "
           "event is a new special-category input version created after the DPIA took effect.",
    "F3": "'Before deploy time': the validation report was approved and in effect before the deploy event.",
    "F5": "The outcomes analysis document stands for both the analysis and the periodic review.",
    "F6": "SOX scope: the profile flag set at any time in the period. 'Passing tests' is read as a completed "
          "training run; the change record is the approved release in force at the deploy event.",
    "F7": "Authors are the authors and committers of every commit upstream and the launchers of every run "
          "upstream, matched to users by e-mail.",
    "F10": "Emergency deployments are break-glass releases; 'within 5 business days' uses the release's "
           "retrospective due date.",
    "A1": "'Reviewed after the MV was created' is read as: a risk register that took effect after it.",
    "A9": "Ten years from the date each document took effect.",
}


def _with_readings(fw: Framework) -> Framework:
    return Framework(fw.id, fw.name, tuple(replace(c, reading=READINGS.get(c.id, c.reading)) for c in fw.controls))


HIPAA, GDPR, MODEL_RISK, SOX, AI_ACT = (_with_readings(f) for f in (HIPAA, GDPR, MODEL_RISK, SOX, AI_ACT))

FRAMEWORKS: dict[str, Framework] = {f.id: f for f in (HIPAA, GDPR, MODEL_RISK, SOX, AI_ACT)}


def framework_get(framework_id: str) -> Framework:
    try:
        return FRAMEWORKS[framework_id]
    except KeyError:
        raise KeyError(f"unknown framework {framework_id!r}; one of {', '.join(FRAMEWORKS)}") from None
