"""A production deployment of credit 7 (tier 2) for monitoring runs to watch, owned by the credit-risk team."""

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
from portal.governance.models import ModelInventory
from tests.conftest import api_client
from tests.factories import dataset, deploy_facets, model_output, monitoring_facets, run_event
from tests.reports.conftest import officer  # noqa: F401 - the compliance officer persona

BANK = "postgres://bank-db:5432"
ML = "ml-pipelines"
DEPLOYMENT = ids.deployment_id(ML, "credit", "7", "production")


def ingest(*events: dict[str, Any], by: User | None = None) -> list[Any]:
    return events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=by)


def monitor_event(*metrics: dict[str, Any], time: str = "2026-03-01T00:00:00Z", reads: str = "2026-02",
                  **kw: Any) -> dict[str, Any]:
    """A monitoring run scoring February's applications against the training snapshot."""
    return run_event(job="monitor.credit", time=time,
                     inputs=[dataset(BANK, "applications", version=reads)],
                     run_facets=monitoring_facets("credit", "7", metrics=list(metrics),
                                                  reference={"namespace": BANK, "name": "features.credit",
                                                             "version": "train-2026-01"}, **kw))


@pytest.fixture
def deployment(db: Any, credit_ns_owned: str) -> Node:
    namespace_assign(namespace=ML, team="credit-risk")
    ingest(run_event(job="train", inputs=[dataset(BANK, "features.credit", version="train-2026-01",
                                                  tags={"income": ["PII"]})],
                     outputs=[model_output("credit", "7", auc=0.8)], time="2026-01-20T00:00:00Z"),
           run_event(job="deploy", run_facets=deploy_facets("credit", "7", "production"), time="2026-01-25T00:00:00Z"))
    mv = Node.objects.get(node_id=ids.model_version_id(ML, "credit", "7"))
    ModelInventory.objects.create(node=mv, tier=2, intended_use="credit scoring")
    return Node.objects.get(node_id=DEPLOYMENT)


@pytest.fixture
def officer_client(officer: User) -> APIClient:  # noqa: F811 - the imported fixture
    return api_client(officer)


@pytest.fixture
def ingest_client(db: Any) -> APIClient:
    """The credit team's monitoring service: its token may write the credit namespaces (``lineage/guard.py``)."""
    return api_client(user_ensure(username="svc-credit-monitor", role="ingestor", team="credit-risk"))
