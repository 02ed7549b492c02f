"""Governance personas and a small graph: the bank's customers (PII), a model version and its deployment."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from lineage import ids
from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.models import User
from portal.accounts.services import namespace_assign, user_ensure
from portal.audit.models import AuditEntry
from tests.conftest import api_client
from tests.factories import dataset, deploy_facets, facet, model_output, run_event
from tests.reports.conftest import officer, small_graph  # noqa: F401 - shared fixtures for erasure requests

BANK = "postgres://bank-db:5432"
ML = "ml-pipelines"


def ingest(*events: dict[str, Any], by: User | None = None) -> list[Any]:
    return events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=by)


def entries(action: str) -> list[AuditEntry]:
    """Audit entries of ``action`` in order, their payload parsed."""
    out = list(AuditEntry.objects.filter(action=action).order_by("seq"))
    for e in out:
        e.payload = json.loads(e.payload) if isinstance(e.payload, str) else e.payload
    return out


def governance_facet(**fields: Any) -> dict[str, Any]:
    return {"portalGovernance": facet(**fields)}


@pytest.fixture
def dpo(db: Any) -> User:
    return user_ensure(username="dana", role="compliance_officer", email="dana@example.com")


@pytest.fixture
def dpo_client(dpo: User) -> APIClient:
    return api_client(dpo)


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    return api_client(bob)


@pytest.fixture
def graph(db: Any, credit_ns_owned: str) -> dict[str, Node]:
    """customers (PII) -> train run -> credit 7 -> production. The bank and ML namespaces belong to credit-risk."""
    namespace_assign(namespace=ML, team="credit-risk")
    ingest(run_event(inputs=[dataset(BANK, "core.customers", tags={"ssn": ["PII"]}, version="v1")],
                     outputs=[model_output("credit", "7")]))
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "7", "production"),
                     time="2026-01-11T10:00:00Z"))
    get = Node.objects.get
    return {"dataset": get(node_id=ids.dataset_id(BANK, "core.customers")),
            "version": get(node_id=ids.dataset_version_id(BANK, "core.customers", "v1")),
            "model": get(node_id=ids.model_version_id(ML, "credit", "7")),
            "deployment": get(node_id=ids.deployment_id(ML, "credit", "7", "production"))}
