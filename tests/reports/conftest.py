"""A small real graph, ingested through the OpenLineage service: PHI and PII data, two models, deployments."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.audit.services import audit_verify_and_store, checkpoint_create
from tests.approvals.conftest import model, people, policy, release  # noqa: F401 - a release to approve
from tests.factories import dataset, deploy_facets, model_output, run_event


def ingest(*events: dict[str, Any]) -> None:
    events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)


def recent(minutes: int) -> str:
    """Events sent as they happen: a few minutes ago (HIPAA H1 wants the audit entry within 5 minutes)."""
    return (timezone.now() - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def small_graph(db: Any) -> dict[str, Node]:
    ingest(
        run_event(job="train_readmission", inputs=[dataset("postgres://ehr:5432", "clinical.admissions",
                                                           tags={"diagnosis": ["PHI"]})],
                  outputs=[model_output("readmission", "3")], time=recent(3)),
        run_event(job="deploy", run_facets=deploy_facets("readmission", "3", "production"),
                  time=recent(2)),
        run_event(job="train_churn", inputs=[dataset("s3://lake", "customers", tags={"email": ["PII"]})],
                  outputs=[model_output("churn", "1")], time=recent(1)),
    )
    checkpoint_create(force=True)
    audit_verify_and_store()
    prefix = {"dataset": "ds", "modelVersion": "mv", "deployment": "dep"}
    return {f"{prefix[n.kind]}:{n.name}": n for n in Node.objects.filter(kind__in=list(prefix))}


@pytest.fixture
def officer(db: Any) -> User:
    return user_ensure(username="olivia", role="compliance_officer", email="olivia@example.com", password="pw-olivia",
                       first_name="Olivia", last_name="Officer")


@pytest.fixture
def auditor(db: Any) -> User:
    return user_ensure(username="aude", role="auditor", email="aude@example.com", first_name="Aude",
                       last_name="Auditor")
