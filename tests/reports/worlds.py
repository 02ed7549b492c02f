"""Test worlds built only through the portal's services (OpenLineage ingestion, governance, evidence,
approvals, erasure), for the per-framework verdict tables of ``test_worlds.py``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.audit.services import audit_verify_and_store, checkpoint_create
from portal.evidence import services as evidence
from portal.governance.parameters import parameters_in_force
from portal.reports.catalog import FRAMEWORKS
from portal.reports.checks import evaluate
from portal.reports.selectors import facts_load
from tests.factories import dataset, deploy_facets, facet, model_output, run_event

PASSWORD = "world-password-1"
NS = "ml-pipelines"


class World:
    """``w = World(); w.run("etl", reads=[...], writes=[...], days=200)`` ... ``w.verdicts("hipaa")``."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.officer = self.user("olivia", "compliance_officer")
        self.reviewer = self.user("sam", "compliance_officer")

    def user(self, username: str, role: str, *, email: str | None = None, team: str | None = None) -> User:
        return user_ensure(username=username, role=role, email=email or f"{username}@world.example",
                           password=PASSWORD, team=team)

    def at(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def iso(self, days: float) -> str:
        return self.at(days).isoformat().replace("+00:00", "Z")

    def ingest(self, *events: dict[str, Any]) -> None:
        events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)

    def run(self, job: str, *, days: float, reads: list[dict[str, Any]] = (), writes: list[dict[str, Any]] = (),
            launched_by: str | None = None, deidentifies: bool = False, run_id: str | None = None,
            sha: str | None = None) -> str:
        portal: dict[str, Any] = {}
        if launched_by:
            portal["launchedBy"] = launched_by
        if deidentifies:
            portal["deidentifies"] = True
        facets = {"portalRun": facet(**portal)} if portal else {}
        event = run_event(job=job, namespace=NS, run_id=run_id, time=self.iso(days), inputs=list(reads),
                          outputs=list(writes), run_facets=facets, sha=sha)
        self.ingest(event)
        return f"run:{event['run']['runId']}"

    def train(self, model: str, version: str, *, days: float, reads: list[dict[str, Any]],
              launched_by: str | None = None) -> Node:
        self.last_run = self.run(f"train_{model}", days=days, reads=reads,
                                 writes=[model_output(model, version, auc=0.8)], launched_by=launched_by)
        return Node.objects.get(kind="modelVersion", name=model, version=version)

    def deploy(self, model: str, version: str, *, days: float | None, environment: str = "production") -> Node:
        """Deploy ``days`` ago, or (None) at this moment: after approvals the services just recorded."""
        when = self.iso(days) if days is not None else timezone.now().isoformat().replace("+00:00", "Z")
        self.ingest(run_event(job=f"deploy_{model}", namespace=NS, time=when,
                              run_facets=deploy_facets(model, version, environment)))
        return Node.objects.get(kind="deployment", name=model, version=version, environment=environment)

    def document(self, doc_type: str, *, on: list[Node], effective_days: float, approve: bool = True,
                 sections: list[str] = (), author: User | None = None, **attributes: Any) -> Any:
        doc = evidence.document_upload(
            by=author or self.officer, file_name=f"{doc_type}.md", content=f"# {doc_type}\n".encode(),
            content_type="text/markdown", doc_type=doc_type, title=f"{doc_type} {len(on)}", version="1",
            description="", effective_from=self.at(effective_days), sections=list(sections), attributes=attributes,
            node_ids=[n.node_id for n in on])
        if approve:
            doc = evidence.document_approve(document=doc, by=self.reviewer, password=PASSWORD, reason="reviewed")
        return doc

    def verdicts(self, framework: str, *, days: int = 365) -> dict[str, tuple[str, set[str]]]:
        """Evaluate one framework over the whole organisation and the last ``days``: control -> (status, failing
        node ids)."""
        checkpoint_create(force=True)
        audit_verify_and_store()
        end = timezone.now()
        _, params = parameters_in_force(end)
        facts = facts_load(scope={}, period=(end - timedelta(days=days), end), now=end, params=params)
        return {c.id: (r.status, {f.node_id for f in r.failing})
                for c, r in evaluate(FRAMEWORKS[framework], facts)}


def phi_source(column: str = "diagnosis") -> dict[str, Any]:
    return dataset("postgres://ehr:5432", "clinical.admissions", tags={column: ["PHI"]})


def pii_source(name: str = "crm.customers") -> dict[str, Any]:
    return dataset("postgres://crm:5432", name, tags={"email": ["PII"]})


def plain(name: str) -> dict[str, Any]:
    return dataset("s3://lake", name)
