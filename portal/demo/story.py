"""Demo data for Northwind Group: three ML pipelines as OpenLineage events, CI commit records, users and teams.

Pure: no ORM, no Django. Everything is a function of the constants below: run ids are uuid5 of a fixed
namespace, event times are offsets from ``BASE_TIME``, git shas are hashes of fixed labels. ``BASE_TIME`` is
relative to today, so the story always lies in the last months (inside a report's default 12-month period):
it ends three to seven weeks before the day the demo is loaded. Today is quantised to 28-day blocks, so
loading the demo twice within a block sends byte-identical events, which the ingest service stores once
(``PORTAL_DEMO_ANCHOR``, an ISO date, fixes the anchor for screenshots and tests).

The story, told by the events:

- **credit-scoring** (team ``credit-risk``): features from the bank's customers (PII), transactions
  (PCI, FINANCIAL) and loans (FINANCIAL), then XGBoost. Versions 5, 6 and 7; one training run fails on
  memory and is fixed by a commit. Production serves 6, staging 7.
- **readmission** (team ``clinical-ai``): EHR patients and admissions (PHI) are de-identified by a run
  that says so (``portalRun.deidentifies``), then a model is trained on the de-identified extract only.
  Versions 1 and 2; one run fails on an EHR schema change. Production serves 2.
- **churn** (team ``customer-analytics``): CRM customers and web events (PII) in the S3 lake. Versions 3
  and 4; one run fails on S3 permissions. Production serves 3, staging 4.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

EPOCH = date(2024, 1, 1)  # a Monday: anchors are Mondays 28 days apart
SPREAD = 2  # calendar days per story day: the story's ~45 days spread over three months
STORY_WEEKS = 16  # from the first event to the anchor


def anchor(today: date | None = None) -> date:
    """The Monday that starts the current 28-day block (or ``PORTAL_DEMO_ANCHOR``)."""
    fixed = os.environ.get("PORTAL_DEMO_ANCHOR")
    if fixed:
        return date.fromisoformat(fixed)
    today = today or datetime.now(UTC).date()
    return EPOCH + timedelta(days=(today - EPOCH).days // 28 * 28)


BASE_TIME = datetime.combine(anchor() - timedelta(weeks=STORY_WEEKS), time(), UTC)  # a Monday
RUN_UUID_NAMESPACE = uuid.UUID("6f1d3c52-8a4e-4b7f-9d21-0c5e7a9b3f48")

AIRFLOW_PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/2.1.3"
CLIENT_PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
OL_FACETS = "https://openlineage.io/spec/facets"
PORTAL_FACETS = "https://lineage-portal.example/spec/facets/1-0-0"

DOMAIN = "northwind.example"
GIT = f"https://git.{DOMAIN}"
SERVING = f"https://ml.{DOMAIN}"

# Namespaces.
BANK_DB = "postgres://bank-db:5432"
EHR_DB = "postgres://ehr-db:5432"
LAKE = "s3://analytics-lake"
CREDIT_ML = "s3://credit-risk-ml"
CLINICAL_ML = "s3://clinical-ai-ml"
CREDIT_NS = "credit-risk"
CLINICAL_NS = "clinical-ai"
ANALYTICS_NS = "customer-analytics"

CREDIT_REPO = f"{GIT}/credit-risk/credit-scoring"
CLINICAL_REPO = f"{GIT}/clinical-ai/readmission"
CHURN_REPO = f"{GIT}/analytics/churn-model"
DEPLOY_REPO = f"{GIT}/platform/ml-deploy"

# Model names (their namespace is the team's job namespace).
CREDIT_MODEL = "credit-scoring"
READMISSION_MODEL = "readmission"
CHURN_MODEL = "churn"

INGESTOR_TOKEN_NAME = "demo"  # noqa: S105 - the label of the token, not a secret


# -- people --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DemoTeam:
    name: str
    display_name: str
    namespaces: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str
    title: str
    teams: tuple[str, ...] = ()
    password_tag: str = ""  # tells apart two users of one role

    @property
    def email(self) -> str:
        return f"{self.username}@{DOMAIN}"

    @property
    def password(self) -> str:
        # Well-known on purpose: the command prints them. Not in Django's common-password list, >= 10 chars.
        return f"demo-{self.role.replace('_', '-')}{self.password_tag}-pass"

    @property
    def printed_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


TEAMS: tuple[DemoTeam, ...] = (
    DemoTeam("credit-risk", "Credit Risk Analytics", (BANK_DB, CREDIT_ML, CREDIT_NS, CREDIT_REPO)),
    DemoTeam("clinical-ai", "Clinical AI", (EHR_DB, CLINICAL_ML, CLINICAL_NS, CLINICAL_REPO)),
    DemoTeam("customer-analytics", "Customer Analytics", (LAKE, ANALYTICS_NS, CHURN_REPO)),
)
ALL_TEAMS = tuple(t.name for t in TEAMS)

# The teams' shared pipeline account, in every team: its token writes only in its teams' namespaces and may ask
# the deploy gate about their models.
INGESTOR = DemoUser("svc-lineage", "ingestor", "Lineage", "Ingest", "Service account for Airflow and CI", ALL_TEAMS)
PRIYA = DemoUser("priya.raman", "viewer", "Priya", "Raman", "Data scientist, credit risk and churn",
                 ("credit-risk", "customer-analytics"))
TOMAS = DemoUser("tomas.weber", "viewer", "Tomas", "Weber", "Clinical data scientist", ("clinical-ai",), "2")
MARCUS = DemoUser("marcus.chen", "approver", "Marcus", "Chen", "Model risk approver", (*ALL_TEAMS, "model-risk"))
ELENA = DemoUser("elena.garcia", "approver", "Elena", "Garcia", "Compliance approver",
                 (*ALL_TEAMS, "model-risk", "compliance"), "2")
SAM = DemoUser("sam.okafor", "compliance_officer", "Sam", "Okafor", "Data protection officer", ("compliance",))
INGRID = DemoUser("ingrid.larsen", "auditor", "Ingrid", "Larsen", "Internal auditor")
ALEX = DemoUser("alex.morgan", "admin", "Alex", "Morgan", "ML platform lead (deploys models)")
USERS: tuple[DemoUser, ...] = (INGESTOR, PRIYA, TOMAS, MARCUS, ELENA, SAM, INGRID, ALEX)

# Commit authors who have no portal login.
LENA = ("Lena Fischer", f"lena.fischer@{DOMAIN}")
GIT_BOT = ("Northwind Git", f"git@{DOMAIN}")


# -- small helpers -------------------------------------------------------------------------------------
def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return BASE_TIME + timedelta(days=day * SPREAD, hours=hour, minutes=minute)


def iso(t: datetime) -> str:
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def run_uuid(key: str) -> str:
    return str(uuid.uuid5(RUN_UUID_NAMESPACE, key))


def git_sha(repo: str, label: str) -> str:
    return hashlib.sha1(f"{repo}@{label}".encode(), usedforsecurity=False).hexdigest()


def event_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def _facet(schema: str, version: str, producer: str, /, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": f"{OL_FACETS}/{version}/{schema}.json#/$defs/{schema}", **fields}


def _portal_facet(schema: str, producer: str, /, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": f"{PORTAL_FACETS}/{schema}.json#/$defs/{schema}", **fields}


# -- datasets ------------------------------------------------------------------------------------------
Column = tuple[str, str, tuple[str, ...]]  # name, type, classification tags


@dataclass(frozen=True, slots=True)
class Dataset:
    namespace: str
    name: str
    team: str
    description: str
    columns: tuple[Column, ...] = ()
    tags: tuple[str, ...] = ()  # dataset-level, through the standard ``tags`` facet
    classification: dict[str, Any] = field(default_factory=dict)  # the portalClassification facet
    # Column lineage of a derived dataset, as its writer reports it: (output column or "" for the whole dataset,
    # input dataset, input column, type, subtype, description).
    lineage: tuple[tuple[str, Dataset, str, str, str, str], ...] = ()

    def column_lineage(self, producer: str) -> dict[str, Any]:
        """The OpenLineage columnLineage facet (1-2-0) of ``lineage``."""
        fields: dict[str, Any] = {}
        whole: list[dict[str, Any]] = []

        def link(d: Dataset, col: str, typ: str, subtype: str, description: str) -> dict[str, Any]:
            return {"namespace": d.namespace, "name": d.name, "field": col, "transformations": [
                {"type": typ, "subtype": subtype, "description": description, "masking": False}]}

        for out, d, col, typ, subtype, description in self.lineage:
            target = whole if not out else fields.setdefault(out, {"inputFields": []})["inputFields"]
            target.append(link(d, col, typ, subtype, description))
        return _facet("ColumnLineageDatasetFacet", "1-2-0", producer, fields=fields, dataset=whole)

    def facets(self, producer: str) -> dict[str, Any]:
        source = self.namespace.split("://", 1)[-1].split(":")[0]
        out: dict[str, Any] = {
            "dataSource": _facet("DatasourceDatasetFacet", "1-0-1", producer, name=source, uri=self.namespace),
            "documentation": _facet("DocumentationDatasetFacet", "1-1-0", producer, description=self.description),
            "ownership": _facet("OwnershipDatasetFacet", "1-0-1", producer,
                                owners=[{"name": f"team:{self.team}", "type": "OWNER"}]),
        }
        if self.columns:
            out["schema"] = _facet("SchemaDatasetFacet", "1-2-0", producer, fields=[
                {"name": name, "type": typ,
                 **({"tags": [{"key": "classification", "value": t, "source": "manual"} for t in tags]} if tags
                    else {})}
                for name, typ, tags in self.columns
            ])
        if self.tags:
            out["tags"] = _facet("TagsDatasetFacet", "1-0-0", producer, tags=[
                {"key": "classification", "value": t, "source": "manual"} for t in self.tags
            ])
        if self.classification:
            out["portalClassification"] = _portal_facet("PortalClassificationDatasetFacet", producer,
                                                        **self.classification)
        return out


PII, PHI, PCI, FIN, SPECIAL = ("PII",), ("PHI",), ("PCI",), ("FINANCIAL",), ("SPECIAL_CAT",)

CUSTOMERS = Dataset(BANK_DB, "core.customers", "credit-risk", "Retail banking customers (system of record).", (
    ("customer_id", "BIGINT", ()), ("full_name", "VARCHAR", PII), ("ssn", "CHAR(11)", PII),
    ("dob", "DATE", PII), ("email", "VARCHAR", PII), ("postcode", "VARCHAR", PII),
    ("annual_income", "NUMERIC(12,2)", FIN), ("employment_status", "VARCHAR", ()), ("created_at", "TIMESTAMP", ()),
))
TRANSACTIONS = Dataset(BANK_DB, "core.transactions", "credit-risk", "Card and account transactions.", (
    ("txn_id", "BIGINT", ()), ("customer_id", "BIGINT", ()), ("card_number", "CHAR(16)", PCI),
    ("merchant_category", "VARCHAR", ()), ("amount", "NUMERIC(12,2)", FIN), ("currency", "CHAR(3)", ()),
    ("posted_at", "TIMESTAMP", ()),
), tags=FIN)
LOANS = Dataset(BANK_DB, "core.loans", "credit-risk", "Loan book with repayment outcomes (training labels).", (
    ("loan_id", "BIGINT", ()), ("customer_id", "BIGINT", ()), ("principal", "NUMERIC(12,2)", FIN),
    ("interest_rate", "NUMERIC(5,3)", FIN), ("days_past_due", "INT", FIN), ("defaulted", "BOOLEAN", FIN),
    ("opened_at", "DATE", ()),
))
CREDIT_FEATURES = Dataset(CREDIT_ML, "features/credit_applicant_features", "credit-risk",
                          "One row per applicant: aggregates used by credit-scoring.", (
    ("customer_id", "BIGINT", ()), ("age_band", "VARCHAR", ()), ("income_to_limit", "DOUBLE", ()),
    ("txn_count_180d", "INT", ()), ("avg_txn_amount_180d", "DOUBLE", ()), ("max_days_past_due", "INT", ()),
    ("defaulted", "BOOLEAN", ()),
), lineage=(
    ("customer_id", CUSTOMERS, "customer_id", "DIRECT", "IDENTITY", ""),
    ("age_band", CUSTOMERS, "dob", "DIRECT", "TRANSFORMATION", "10-year band of age at snapshot"),
    ("income_to_limit", CUSTOMERS, "annual_income", "DIRECT", "TRANSFORMATION", "annual_income / credit limit"),
    ("txn_count_180d", TRANSACTIONS, "txn_id", "DIRECT", "AGGREGATION", "COUNT over 180 days"),
    ("avg_txn_amount_180d", TRANSACTIONS, "amount", "DIRECT", "AGGREGATION", "AVG over 180 days"),
    ("max_days_past_due", LOANS, "days_past_due", "DIRECT", "AGGREGATION", "MAX per customer"),
    ("defaulted", LOANS, "defaulted", "DIRECT", "IDENTITY", ""),
    ("", TRANSACTIONS, "customer_id", "INDIRECT", "JOIN", "joined on customer_id"),
    ("", LOANS, "customer_id", "INDIRECT", "JOIN", "joined on customer_id"),
    ("", TRANSACTIONS, "posted_at", "INDIRECT", "FILTER", "last 180 days"),
))

PATIENTS = Dataset(EHR_DB, "clinical.patients", "clinical-ai", "EHR patient master index.", (
    ("patient_id", "BIGINT", PHI), ("mrn", "VARCHAR", PHI), ("full_name", "VARCHAR", ("PII", "PHI")),
    ("dob", "DATE", PHI), ("postcode", "VARCHAR", PII), ("sex", "CHAR(1)", ()), ("ethnicity", "VARCHAR", ()),
), classification={"tags": ["PHI"], "columns": {"ethnicity": ["SPECIAL_CAT"]}})
ADMISSIONS = Dataset(EHR_DB, "clinical.admissions", "clinical-ai", "Inpatient admissions from the EHR.", (
    ("admission_id", "BIGINT", ()), ("patient_id", "BIGINT", PHI), ("admit_date", "DATE", PHI),
    ("discharge_date", "DATE", PHI), ("diagnosis_codes", "VARCHAR[]", PHI), ("ward", "VARCHAR", ()),
    ("discharge_disposition", "VARCHAR", ()),
))
ADMISSIONS_DEID = Dataset(CLINICAL_ML, "deidentified/admissions_deid", "clinical-ai",
                          "Admissions with direct identifiers removed and dates shifted (Safe Harbor).", (
    ("pseudo_id", "VARCHAR", ()), ("age_band", "VARCHAR", ()), ("length_of_stay_days", "INT", ()),
    ("dx_group", "VARCHAR", ()), ("prior_admissions_12m", "INT", ()), ("readmitted_30d", "BOOLEAN", ()),
))

CRM_CUSTOMERS = Dataset(LAKE, "raw/crm/customers", "customer-analytics", "CRM export of retail customers.", (
    ("customer_id", "STRING", ()), ("full_name", "STRING", PII), ("email", "STRING", PII),
    ("phone", "STRING", PII), ("plan", "STRING", ()), ("tenure_months", "INT", ()),
    ("cancelled_at", "TIMESTAMP", ()),
))
WEB_EVENTS = Dataset(LAKE, "raw/web/events", "customer-analytics", "Clickstream from the customer portal.", (
    ("event_id", "STRING", ()), ("customer_id", "STRING", ()), ("ip_address", "STRING", PII),
    ("page", "STRING", ()), ("ts", "TIMESTAMP", ()),
))
CHURN_FEATURES = Dataset(LAKE, "curated/churn_features", "customer-analytics",
                         "Weekly customer snapshot with churn label.", (
    ("customer_id", "STRING", ()), ("tenure_months", "INT", ()), ("sessions_30d", "INT", ()),
    ("support_tickets_90d", "INT", ()), ("plan", "STRING", ()), ("churned_60d", "BOOLEAN", ()),
), lineage=(
    ("customer_id", CRM_CUSTOMERS, "customer_id", "DIRECT", "IDENTITY", ""),
    ("tenure_months", CRM_CUSTOMERS, "tenure_months", "DIRECT", "IDENTITY", ""),
    ("plan", CRM_CUSTOMERS, "plan", "DIRECT", "IDENTITY", ""),
    ("churned_60d", CRM_CUSTOMERS, "cancelled_at", "DIRECT", "CONDITIONAL", "cancelled within 60 days"),
    ("sessions_30d", WEB_EVENTS, "event_id", "DIRECT", "AGGREGATION", "COUNT DISTINCT sessions over 30 days"),
    # Test accounts are dropped by e-mail domain: the PII column shapes which rows exist, never a value.
    ("", CRM_CUSTOMERS, "email", "INDIRECT", "FILTER", "email NOT LIKE '%@example.test'"),
    ("", WEB_EVENTS, "customer_id", "INDIRECT", "JOIN", "joined on customer_id"),
))


@dataclass(frozen=True, slots=True)
class Model:
    namespace: str
    name: str
    version: str
    framework: str
    metrics: dict[str, float]
    parameters: dict[str, Any]
    bucket: str
    team: str

    @property
    def artifact(self) -> Dataset:
        return Dataset(self.bucket, f"models/{self.name}/{self.version}/model.bin", self.team,
                       f"{self.name} model version {self.version} ({self.framework}).")

    @property
    def ref(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name, "version": self.version}


_XGB = {"max_depth": 6, "eta": 0.05, "n_estimators": 600, "subsample": 0.8}
CREDIT_MODELS = {
    v: Model(CREDIT_NS, CREDIT_MODEL, v, "xgboost", metrics, {**_XGB, **params}, CREDIT_ML, "credit-risk")
    for v, metrics, params in (
        ("5", {"auc": 0.781, "ks": 0.412, "gini": 0.562}, {}),
        ("6", {"auc": 0.794, "ks": 0.431, "gini": 0.588}, {"n_estimators": 800}),
        ("7", {"auc": 0.803, "ks": 0.447, "gini": 0.606}, {"n_estimators": 800, "max_depth": 7}),
    )
}
READMISSION_MODELS = {
    v: Model(CLINICAL_NS, READMISSION_MODEL, v, "scikit-learn", metrics,
             {"estimator": "LogisticRegression", "C": c, "penalty": "l2", "class_weight": "balanced"},
             CLINICAL_ML, "clinical-ai")
    for v, metrics, c in (
        ("1", {"auroc": 0.712, "auprc": 0.338, "brier": 0.121}, 1.0),
        ("2", {"auroc": 0.741, "auprc": 0.365, "brier": 0.115}, 0.5),
    )
}
CHURN_MODELS = {
    v: Model(ANALYTICS_NS, CHURN_MODEL, v, "lightgbm", metrics,
             {"num_leaves": leaves, "learning_rate": 0.03, "n_estimators": 400}, LAKE, "customer-analytics")
    for v, metrics, leaves in (
        ("3", {"auc": 0.846, "f1": 0.611, "precision_at_10pct": 0.574}, 31),
        ("4", {"auc": 0.858, "f1": 0.629, "precision_at_10pct": 0.592}, 63),
    )
}


# -- commits -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Commit:
    repo: str
    label: str
    message: str
    author: tuple[str, str]
    committer: tuple[str, str]
    time: datetime
    branch: str = "main"

    @property
    def sha(self) -> str:
        return git_sha(self.repo, self.label)

    def payload(self) -> dict[str, Any]:
        """The payload ``CommitCreateApi`` builds for ``portal_record_ingest(kind="commit")``."""
        return {"repo": self.repo, "sha": self.sha, "message": self.message, "branch": self.branch,
                "time": self.time.isoformat(), "author_name": self.author[0], "author_email": self.author[1],
                "committer_name": self.committer[0], "committer_email": self.committer[1]}


def _person(u: DemoUser) -> tuple[str, str]:
    return (u.printed_name, u.email)


COMMITS: dict[str, Commit] = {c.label: c for c in (
    Commit(DEPLOY_REPO, "p1", "Deploy job: report deployments to the lineage portal (portalDeployment facet)",
           _person(ALEX), _person(ALEX), at(-10, 16, 12)),
    Commit(CREDIT_REPO, "c1", "Train credit-scoring on 24 months of applications\n\nBaseline for model v5.",
           _person(PRIYA), _person(MARCUS), at(-3, 11, 40)),
    Commit(CREDIT_REPO, "c2", "Add 180-day transaction aggregates to the applicant features",
           _person(PRIYA), _person(MARCUS), at(12, 15, 5)),
    Commit(CREDIT_REPO, "c3", "Cast features to float32 to halve training memory\n\nFixes the OOM in train_model.",
           _person(PRIYA), _person(PRIYA), at(15, 9, 50)),
    Commit(CREDIT_REPO, "c4", "Add delinquency features; tune max_depth to 7", _person(PRIYA), _person(MARCUS),
           at(26, 17, 30)),
    Commit(CLINICAL_REPO, "r1", "Readmission pipeline: Safe Harbor de-identification, then logistic regression",
           _person(TOMAS), _person(TOMAS), at(2, 14, 0)),
    Commit(CLINICAL_REPO, "r2", "Add prior-admissions-in-12-months feature", _person(TOMAS), GIT_BOT,
           at(30, 10, 20)),
    Commit(CLINICAL_REPO, "r3", "Map disposition_code (EHR release 2025.10) to discharge_disposition",
           _person(TOMAS), _person(TOMAS), at(36, 11, 45)),
    Commit(CHURN_REPO, "k1", "Churn model: weekly snapshot features and LightGBM", LENA, LENA, at(4, 9, 15)),
    Commit(CHURN_REPO, "k2", "Add support-ticket features; widen num_leaves", _person(PRIYA), LENA, at(18, 16, 0)),
)}


def commits() -> list[dict[str, Any]]:
    """Commit payloads in commit-time order."""
    return [c.payload() for c in sorted(COMMITS.values(), key=lambda c: c.time)]


# -- jobs and runs -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Job:
    namespace: str
    name: str
    repo: str
    path: str
    team: str
    maintainer: DemoUser
    description: str
    job_type: str = "TASK"  # Airflow's TASK or DAG; JOB for the deploy scripts
    integration: str = "AIRFLOW"

    @property
    def producer(self) -> str:
        return AIRFLOW_PRODUCER if self.integration == "AIRFLOW" else CLIENT_PRODUCER

    def facets(self, commit: Commit) -> dict[str, Any]:
        p = self.producer
        return {
            "jobType": _facet("JobTypeJobFacet", "2-0-4", p, processingType="BATCH", integration=self.integration,
                              jobType=self.job_type),
            "documentation": _facet("DocumentationJobFacet", "1-1-0", p, description=self.description),
            "ownership": _facet("OwnershipJobFacet", "1-0-1", p, owners=[
                {"name": f"team:{self.team}", "type": "OWNER"},
                {"name": f"user:{self.maintainer.email}", "type": "MAINTAINER"},
            ]),
            "sourceCodeLocation": _facet("SourceCodeLocationJobFacet", "1-1-0", p, type="git",
                                         url=f"{self.repo}/blob/{commit.sha}/{self.path}", repoUrl=self.repo,
                                         path=self.path, version=commit.sha, branch=commit.branch),
        }


class _Timeline:
    """Collects the events of runs. Each run is a START and a COMPLETE or FAIL."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.deploy_runs: list[str] = []

    def _event(self, event_type: str, t: datetime, run_id: str, run_facets: dict[str, Any], job: Job,
               commit: Commit, inputs: list[Dataset], outputs: list[dict[str, Any]]) -> None:
        p = job.producer
        self.events.append({
            "eventType": event_type,
            "eventTime": iso(t),
            "producer": p,
            "schemaURL": RUN_EVENT_SCHEMA,
            "run": {"runId": run_id, "facets": run_facets},
            "job": {"namespace": job.namespace, "name": job.name, "facets": job.facets(commit)},
            "inputs": [{"namespace": d.namespace, "name": d.name, "facets": d.facets(p)} for d in inputs],
            "outputs": outputs,
        })

    def run(
        self,
        key: str,
        job: Job,
        commit: Commit,
        start: datetime,
        end: datetime,
        *,
        inputs: Sequence[Dataset] = (),
        outputs: Sequence[tuple[Dataset, int]] = (),
        model: Model | None = None,
        fail: str = "",
        launched_by: DemoUser | None = None,
        parent: tuple[str, Job] | None = None,
        deidentifies: bool = False,
        deploy: tuple[Model, str] | None = None,
    ) -> str:
        """Emit one run. Outputs are reported on COMPLETE only: a failed run writes nothing."""
        run_id = run_uuid(key)
        p = job.producer
        facets: dict[str, Any] = {}
        if launched_by is not None or deidentifies:
            portal: dict[str, Any] = {}
            if launched_by is not None:
                portal["launchedBy"] = launched_by.email
            if deidentifies:
                portal["deidentifies"] = True
            facets["portalRun"] = _portal_facet("PortalRunFacet", p, **portal)
        if parent is not None:
            parent_id, parent_job = parent
            facets["parent"] = _facet("ParentRunFacet", "1-2-0", p, run={"runId": parent_id},
                                      job={"namespace": parent_job.namespace, "name": parent_job.name})
        if job.integration == "AIRFLOW":
            facets["processing_engine"] = _facet("ProcessingEngineRunFacet", "1-1-1", p, name="Airflow",
                                                 version="2.10.5", openlineageAdapterVersion="2.1.3")
        self._event("START", start, run_id, facets, job, commit, list(inputs), [])
        end_facets = dict(facets)
        if fail:
            end_facets["errorMessage"] = _facet("ErrorMessageRunFacet", "1-0-1", p, message=fail,
                                                programmingLanguage="python")
        if deploy is not None:
            m, environment = deploy
            end_facets["portalDeployment"] = _portal_facet(
                "PortalDeploymentRunFacet", p, environment=environment, action="deploy",
                endpoint=f"{SERVING}/{environment}/{m.name}", model=m.ref,
            )
        out: list[dict[str, Any]] = []
        if not fail:
            for d, rows in outputs:
                out_facets = d.facets(p)
                if d.lineage:
                    out_facets["columnLineage"] = d.column_lineage(p)
                out.append({"namespace": d.namespace, "name": d.name, "facets": out_facets, "outputFacets": {
                    "outputStatistics": _facet("OutputStatisticsOutputDatasetFacet", "1-0-2", p, rowCount=rows),
                }})
            if model is not None:
                art = model.artifact
                facets_ = art.facets(p)
                facets_["portalModelVersion"] = _portal_facet(
                    "PortalModelVersionDatasetFacet", p, name=model.name, version=model.version,
                    namespace=model.namespace, framework=model.framework, metrics=model.metrics,
                    parameters=model.parameters,
                )
                out.append({"namespace": art.namespace, "name": art.name, "facets": facets_})
        self._event("FAIL" if fail else "COMPLETE", end, run_id, end_facets, job, commit, list(inputs), out)
        return run_id

    def deploy(self, job: Job, model: Model, environment: str, day: int, hour: int) -> str:
        """A CI deploy job: reads the model artifact; its COMPLETE carries the portalDeployment facet."""
        self.deploy_runs.append(run_uuid(f"deploy/{model.name}/{model.version}/{environment}"))
        return self.run(f"deploy/{model.name}/{model.version}/{environment}", job, COMMITS["p1"], at(day, hour),
                        at(day, hour, 4), inputs=[model.artifact], launched_by=ALEX, deploy=(model, environment))


def _dag(ns: str, dag_id: str, repo: str, team: str, maintainer: DemoUser, description: str,
         tasks: dict[str, tuple[str, str]]) -> tuple[Job, dict[str, Job]]:
    dag = Job(ns, dag_id, repo, f"dags/{dag_id}.py", team, maintainer, description, job_type="DAG")
    return dag, {task: Job(ns, f"{dag_id}.{task}", repo, path, team, maintainer, doc, job_type="TASK")
                 for task, (path, doc) in tasks.items()}


def _deploy_job(ns: str, model: str, team: str) -> Job:
    return Job(ns, f"deploy_{model.replace('-', '_')}", DEPLOY_REPO, "deploy/deploy_model.py", team, ALEX,
               f"Deploys {model} to a serving environment.", job_type="JOB", integration="CI")


def _credit(tl: _Timeline) -> None:
    dag, task = _dag(CREDIT_NS, "credit_scoring_weekly", CREDIT_REPO, "credit-risk", PRIYA,
                     "Weekly rebuild of applicant features and retraining of credit-scoring.", {
                         "build_features": ("pipelines/features.py", "Applicant features from core banking."),
                         "train_model": ("pipelines/train.py", "XGBoost credit-scoring model."),
                     })
    deploy = _deploy_job(CREDIT_NS, CREDIT_MODEL, "credit-risk")
    sources = [CUSTOMERS, TRANSACTIONS, LOANS]

    def cycle(key: str, commit: str, day: int, hour: int, version: str | None, fail: str = "",
              manual: bool = False) -> None:
        c = COMMITS[commit]
        dag_run = run_uuid(f"credit/{key}")
        tl.run(f"credit/{key}/features", task["build_features"], c, at(day, hour, 1), at(day, hour, 25),
               inputs=sources, outputs=[(CREDIT_FEATURES, 2_150_000 + 10_000 * day)], launched_by=PRIYA,
               parent=(dag_run, dag))
        tl.run(f"credit/{key}/train", task["train_model"], c, at(day, hour, 27), at(day, hour + 1, 40),
               inputs=[CREDIT_FEATURES], model=CREDIT_MODELS[version] if version else None, fail=fail,
               launched_by=PRIYA, parent=(dag_run, dag))
        tl.run(f"credit/{key}", dag, c, at(day, hour), at(day, hour + 1, 42), fail=fail and "Task train_model failed",
               launched_by=PRIYA if manual else None)

    cycle("2025-09-01", "c1", 0, 2, "5")
    tl.deploy(deploy, CREDIT_MODELS["5"], "staging", 1, 10)
    tl.deploy(deploy, CREDIT_MODELS["5"], "production", 3, 14)
    cycle("2025-09-15", "c2", 14, 2, None, fail="MemoryError: Unable to allocate 3.21 GiB for an array with "
                                                "shape (2290000, 188) and data type float64")
    cycle("2025-09-16-manual", "c3", 15, 11, "6", manual=True)
    tl.deploy(deploy, CREDIT_MODELS["6"], "staging", 16, 10)
    tl.deploy(deploy, CREDIT_MODELS["6"], "production", 18, 14)
    cycle("2025-09-29", "c4", 28, 2, "7")
    tl.deploy(deploy, CREDIT_MODELS["7"], "staging", 29, 10)


def _readmission(tl: _Timeline) -> None:
    dag, task = _dag(CLINICAL_NS, "readmission_monthly", CLINICAL_REPO, "clinical-ai", TOMAS,
                     "Monthly de-identified extract and retraining of the 30-day readmission model.", {
                         "deidentify": ("pipelines/deidentify.py",
                                        "Safe Harbor de-identification of EHR admissions."),
                         "train_model": ("pipelines/train.py", "30-day readmission risk model."),
                     })
    deploy = _deploy_job(CLINICAL_NS, READMISSION_MODEL, "clinical-ai")

    def cycle(key: str, commit: str, day: int, hour: int, version: str | None, fail: str = "",
              manual: bool = False) -> None:
        c = COMMITS[commit]
        dag_run = run_uuid(f"readmission/{key}")
        tl.run(f"readmission/{key}/deidentify", task["deidentify"], c, at(day, hour, 1),
               at(day, hour, 5 if fail else 38), inputs=[PATIENTS, ADMISSIONS],
               outputs=[(ADMISSIONS_DEID, 184_000 + 300 * day)], fail=fail, launched_by=TOMAS,
               deidentifies=True, parent=(dag_run, dag))
        if version:
            tl.run(f"readmission/{key}/train", task["train_model"], c, at(day, hour, 40), at(day, hour + 1, 35),
                   inputs=[ADMISSIONS_DEID], model=READMISSION_MODELS[version], launched_by=TOMAS,
                   parent=(dag_run, dag))
        tl.run(f"readmission/{key}", dag, c, at(day, hour), at(day, hour + 1, 37) if version else at(day, hour, 6),
               fail=fail and "Task deidentify failed", launched_by=TOMAS if manual else None)

    cycle("2025-09-06", "r1", 5, 3, "1")
    tl.deploy(deploy, READMISSION_MODELS["1"], "staging", 6, 10)
    tl.deploy(deploy, READMISSION_MODELS["1"], "production", 8, 15)
    cycle("2025-10-06", "r2", 35, 3, None, fail="KeyError: 'discharge_disposition' (EHR release 2025.10 "
                                                "renamed it to disposition_code)")
    cycle("2025-10-07-manual", "r3", 36, 13, "2", manual=True)
    tl.deploy(deploy, READMISSION_MODELS["2"], "staging", 37, 10)
    tl.deploy(deploy, READMISSION_MODELS["2"], "production", 40, 15)


def _churn(tl: _Timeline) -> None:
    dag, task = _dag(ANALYTICS_NS, "churn_weekly", CHURN_REPO, "customer-analytics", PRIYA,
                     "Weekly churn snapshot and LightGBM retraining.", {
                         "build_features": ("jobs/snapshot.py", "Customer snapshot from CRM and clickstream."),
                         "train_model": ("jobs/train.py", "LightGBM churn model."),
                     })
    deploy = _deploy_job(ANALYTICS_NS, CHURN_MODEL, "customer-analytics")

    def cycle(key: str, commit: str, day: int, version: str | None, fail: str = "") -> None:
        c = COMMITS[commit]
        dag_run = run_uuid(f"churn/{key}")
        tl.run(f"churn/{key}/features", task["build_features"], c, at(day, 4, 1), at(day, 4, 2 if fail else 40),
               inputs=[CRM_CUSTOMERS, WEB_EVENTS], outputs=[(CHURN_FEATURES, 412_000 + 500 * day)], fail=fail,
               launched_by=PRIYA, parent=(dag_run, dag))
        if version:
            tl.run(f"churn/{key}/train", task["train_model"], c, at(day, 4, 42), at(day, 5, 20),
                   inputs=[CHURN_FEATURES], model=CHURN_MODELS[version], launched_by=PRIYA, parent=(dag_run, dag))
        tl.run(f"churn/{key}", dag, c, at(day, 4), at(day, 5, 22) if version else at(day, 4, 3),
               fail=fail and "Task build_features failed")

    cycle("2025-09-08", "k1", 7, "3")
    tl.deploy(deploy, CHURN_MODELS["3"], "staging", 8, 10)
    tl.deploy(deploy, CHURN_MODELS["3"], "production", 9, 16)
    cycle("2025-09-15", "k2", 14, None, fail="botocore.exceptions.ClientError: An error occurred (AccessDenied) "
                                             "when calling the GetObject operation: Access Denied")
    cycle("2025-09-22", "k2", 21, "4")
    tl.deploy(deploy, CHURN_MODELS["4"], "staging", 22, 10)


def events(*, deploys_from: datetime | None = None) -> list[dict[str, Any]]:
    """Every demo OpenLineage RunEvent, in event-time order. Deterministic.

    With ``deploys_from``, the deploy runs happen from that instant on instead of on their story days, in
    story order, a millisecond apart: ``load_demo`` approves the releases now (the approval services stamp
    their own time, as they must), so the deploys that follow those approvals are sent after them, at the time
    they are actually made, rather than back-dated before the approvals they depend on."""
    tl = _Timeline()
    _credit(tl)
    _readmission(tl)
    _churn(tl)
    story = sorted(tl.events, key=lambda e: e["eventTime"])
    if deploys_from is None:
        return story
    deploys = sorted(tl.deploy_runs, key=lambda r: next(e["eventTime"] for e in story if e["run"]["runId"] == r))
    order = {run_id: i for i, run_id in enumerate(deploys)}
    for e in story:
        i = order.get(e["run"]["runId"])
        if i is not None:
            tick = 2 * i + (0 if e["eventType"] == "START" else 1)
            e["eventTime"] = iso(deploys_from + timedelta(milliseconds=tick))
    return sorted(story, key=lambda e: e["eventTime"])


def deploy_runs(events_: Sequence[dict[str, Any]]) -> set[str]:
    """The run ids of the deploy jobs among ``events_`` (their COMPLETE carries the portalDeployment facet)."""
    return {e["run"]["runId"] for e in events_ if "portalDeployment" in e["run"]["facets"]}


# What the events should leave in the graph: (model, version, environment) of active deployments.
EXPECTED_ACTIVE_DEPLOYMENTS = (
    (CREDIT_MODEL, "6", "production"),
    (CREDIT_MODEL, "7", "staging"),
    (READMISSION_MODEL, "2", "production"),
    (READMISSION_MODEL, "2", "staging"),
    (CHURN_MODEL, "3", "production"),
    (CHURN_MODEL, "4", "staging"),
)
