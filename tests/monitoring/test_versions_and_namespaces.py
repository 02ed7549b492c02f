"""A monitoring run reads like any run: the version of each input is decided by event time when the batch is
applied (``lineage/versions.py``), and its token writes only in its own namespaces (``lineage/guard.py``).

Monitoring another team's deployment is allowed, as reading another team's dataset is: the run, its job and
its results live in the monitor's namespace; the deployment it watches and the data it scored are only read.
What the monitor says *about* another team's dataset (``dataQualityAssertions`` on that input) is ignored, like
any facet on an input outside the token's namespaces.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from lineage.models import Edge, Node
from portal.accounts.services import namespace_assign, user_ensure
from portal.monitoring.models import MonitoringResult
from tests.conftest import api_client
from tests.factories import dataset, facet, run_event

from .conftest import BANK, ingest, monitor_event
from .test_api import body

pytestmark = pytest.mark.django_db

AUC = {"name": "auc", "value": 0.70, "threshold": 0.75, "breachWhen": "below"}


def write(version: str, time: str) -> None:
    ingest(run_event(job="load.applications", namespace=BANK, time=time,
                     outputs=[dataset(BANK, "applications", version=version)]))


def test_a_result_names_the_version_written_before_the_monitoring_run_started(deployment: Node) -> None:
    """No version facet on the input: the latest write finished before the run is the one it scored, whatever
    the order the writes arrived in."""
    write("2026-02", "2026-02-28T00:00:00Z")
    write("2026-04", "2026-04-30T00:00:00Z")  # after the monitoring run: not what it read
    event = monitor_event(AUC, time="2026-03-01T00:00:00Z", reads="")
    event["inputs"][0]["inputFacets"] = {"dataQualityAssertions": facet(assertions=[
        {"assertion": "not_null", "column": "income", "success": True}])}
    ingest(event)
    versions = dict(MonitoringResult.objects.values_list("metric", "dataset_version__node_id"))
    assert versions == {"auc": None, "not_null": f"datasetVersion:{BANK}:applications#2026-02"}
    run = MonitoringResult.objects.get(metric="auc").run
    assert Edge.objects.filter(src__node_id=f"datasetVersion:{BANK}:applications#2026-02", dst=run,
                               kind="reads").exists()
    assert MonitoringResult.objects.get(metric="auc").reference.node_id == (
        f"datasetVersion:{BANK}:features.credit#train-2026-01")


@pytest.fixture
def risk_client(db: Any) -> APIClient:
    """Another team's monitoring service, with a namespace of its own."""
    namespace_assign(namespace="risk-monitors", team="model-risk")
    return api_client(user_ensure(username="svc-risk-monitor", role="ingestor", team="model-risk"))


def test_another_team_may_not_write_its_monitor_in_the_models_namespace(deployment: Node,
                                                                       risk_client: APIClient) -> None:
    r = risk_client.post("/api/v1/monitoring", body(), format="json")  # the job defaults to ml-pipelines
    assert r.status_code == 403, r.json()
    (error,) = r.json()["errors"]
    assert error["field"] == "namespace" and "ml-pipelines" in error["message"]
    assert not MonitoringResult.objects.exists()
    assert not Edge.objects.filter(src=deployment, kind="monitors").exists()


def test_another_team_may_monitor_the_deployment_from_its_own_namespace(deployment: Node,
                                                                       risk_client: APIClient) -> None:
    r = risk_client.post("/api/v1/monitoring", body(namespace="risk-monitors"), format="json")
    assert r.status_code == 201, r.json()
    # Its metrics are recorded against the credit team's deployment, linked like a read ...
    assert {x["metric"] for x in r.json()} == {"auc", "drift"}
    run = Node.objects.get(node_id=r.json()[0]["run"])
    assert run.namespace == "risk-monitors"
    assert Edge.objects.filter(src=deployment, dst=run, kind="monitors").exists()
    assert Edge.objects.filter(src__node_id=f"datasetVersion:{BANK}:applications#2026-02", dst=run,
                               kind="reads").exists()
    # ... but its assertion about the credit team's dataset is a facet on a foreign input: ignored.
    assert not MonitoringResult.objects.filter(metric="not_null").exists()
