"""Monitoring runs through ingestion: results stored once, judged against policy limits, alerts on breaches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lineage.models import Edge, Node
from lineage.services import lineage_rebuild
from portal.audit.models import AuditEntry
from portal.governance.models import ModelInventory
from portal.governance.services import parameters_publish
from portal.monitoring.models import Alert, MonitoringResult
from portal.monitoring.rules import tier_limit
from tests.factories import dataset, facet, model_output, run_event

from .conftest import BANK, DEPLOYMENT, ingest, monitor_event

pytestmark = pytest.mark.django_db


def test_a_monitoring_run_is_linked_downstream_of_its_deployment_and_reads_the_reference(deployment: Node) -> None:
    ingest(monitor_event({"name": "auc", "value": 0.79, "threshold": 0.75, "breachWhen": "below"}))
    run = Node.objects.get(kind="run", parent__name="monitor.credit")
    assert Edge.objects.filter(src=deployment, dst=run, kind="monitors").exists()
    reads = set(Edge.objects.filter(dst=run, kind="reads").values_list("src__node_id", flat=True))
    assert reads == {f"datasetVersion:{BANK}:applications#2026-02",
                     f"datasetVersion:{BANK}:features.credit#train-2026-01"}
    (result,) = MonitoringResult.objects.all()
    assert (result.deployment, result.metric, result.value, result.tier, result.breaches) == (
        deployment, "auc", 0.79, 2, [])
    assert result.reference.node_id == f"datasetVersion:{BANK}:features.credit#train-2026-01"
    assert not Alert.objects.exists()


def test_a_breach_opens_one_alert_and_is_audited(deployment: Node) -> None:
    ingest(monitor_event({"name": "auc", "value": 0.70, "threshold": 0.75, "breachWhen": "below"},
                         {"name": "drift", "feature": "income", "psi": 0.15, "ks": 0.05}))
    (alert,) = Alert.objects.all()
    assert alert.deployment == deployment and alert.state == "open"
    assert alert.reason == "auc 0.7 is below its threshold 0.75"
    # Tier 2's PSI limit is 0.2 by default: 0.15 is no breach.
    assert MonitoringResult.objects.get(metric="drift").breaches == []
    assert AuditEntry.objects.filter(action="monitoring.alert_opened", target_id=DEPLOYMENT).count() == 1
    assert AuditEntry.objects.filter(action="monitoring.results_recorded").count() == 1


def test_drift_limits_follow_the_tier_and_the_parameters_in_force(deployment: Node, admin_user) -> None:
    ingest(monitor_event({"name": "drift", "feature": "income", "psi": 0.15}))
    assert not Alert.objects.exists()
    ModelInventory.objects.filter(node__node_id="modelVersion:ml-pipelines:credit#7").update(tier=1)
    ingest(monitor_event({"name": "drift", "feature": "income", "psi": 0.15}, time="2026-04-01T00:00:00Z"))
    assert Alert.objects.get().reason == "drift (income) PSI 0.15 exceeds the tier limit 0.1"
    parameters_publish(by=admin_user, values={"monitoring_psi_max": {"1": 0.3}}, reason="recalibrated",
                       effective_from=datetime(2026, 11, 1, tzinfo=UTC))
    ingest(monitor_event({"name": "drift", "feature": "income", "psi": 0.15}, time="2026-12-01T00:00:00Z"))
    latest = MonitoringResult.objects.order_by("-observed_at").first()
    assert latest.breaches == [] and latest.parameter_version == 1


def test_a_duplicate_and_a_rebuild_record_nothing_twice(deployment: Node) -> None:
    event = monitor_event({"name": "auc", "value": 0.70, "threshold": 0.75, "breachWhen": "below"})
    ingest(event)
    ingest(event)
    lineage_rebuild()
    assert MonitoringResult.objects.count() == 1 and Alert.objects.count() == 1
    run = MonitoringResult.objects.get().run
    assert Edge.objects.filter(src=deployment, dst=run, kind="monitors").exists()


def test_a_run_naming_an_unknown_deployment_creates_none_and_opens_no_alert(deployment: Node) -> None:
    event = monitor_event({"name": "auc", "value": 0.1, "threshold": 0.75, "breachWhen": "below"})
    event["run"]["facets"]["portalMonitoring"]["deployment"]["version"] = "99"
    ingest(event)
    assert not Node.objects.filter(node_id__contains="credit#99").exists()
    result = MonitoringResult.objects.get()
    assert result.deployment is None and result.deployment_ref.endswith("credit#99@production") and result.breaches
    assert not Alert.objects.exists()


def test_failed_dbt_assertions_are_recorded_on_the_dataset_version(deployment: Node) -> None:
    d = dataset(BANK, "applications", version="2026-03")
    d["inputFacets"] = {"dataQualityAssertions": facet(assertions=[
        {"assertion": "not_null", "success": False, "column": "income"}])}
    ingest(run_event(job="dbt.test", inputs=[d], time="2026-03-02T00:00:00Z"))
    result = MonitoringResult.objects.get()
    assert result.dataset_version.node_id == f"datasetVersion:{BANK}:applications#2026-03"
    assert result.breaches == ["assertion not_null on income failed"] and result.deployment is None


def test_tier_limits_fall_back_to_the_strictest_and_to_the_nearest_more_material_tier() -> None:
    limits = {"1": 0.1, "2": 0.2}
    assert tier_limit(limits, 2) == 0.2
    assert tier_limit(limits, None) == 0.1
    assert tier_limit(limits, 5) == 0.2
    assert tier_limit({}, 1) is None


def test_monitoring_a_model_leaves_the_subject_its_approvers_signed_unchanged(deployment: Node,
                                                                              ingest_client) -> None:
    """The reference is the very dataset version the model was trained on: reading it must not alter it (a
    version facet added to it would change the content hash its approvers signed)."""
    from portal.approvals.models import Policy
    from portal.approvals.subject import subject_build
    from tests.monitoring.test_api import body

    ingest(run_event(job="train", inputs=[dataset(BANK, "features.v2")], outputs=[model_output("credit", "8")],
                     time="2026-02-01T00:00:00Z"))
    mv = Node.objects.get(node_id="modelVersion:ml-pipelines:credit#8")
    policy = Policy(key="production", version=1)
    before = subject_build(model_version=mv, policy=policy)
    reference = {"namespace": BANK, "name": "features.v2", "version": "initial"}
    assert f"datasetVersion:{BANK}:features.v2#initial" in {d["id"] for d in before["dataset_versions"]}
    event = monitor_event({"name": "auc", "value": 0.70, "threshold": 0.75, "breachWhen": "below"})
    event["run"]["facets"]["portalMonitoring"]["reference"] = reference
    ingest(event)
    assert ingest_client.post("/api/v1/monitoring", body(reference=reference), format="json").status_code == 201
    assert subject_build(model_version=mv, policy=policy) == before
