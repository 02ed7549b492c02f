"""Reading portalMonitoring and dataQualityAssertions: pure, no database."""

from __future__ import annotations

import json

from lineage import monitoring as M
from lineage.openlineage import parse_event
from lineage.plan import Planner
from tests.factories import dataset, facet, monitoring_facets, run_event


def test_it_reads_metrics_drift_window_and_reference() -> None:
    warnings: list[str] = []
    mon = M.monitoring_facet(monitoring_facets(
        "credit", "7", metrics=[{"name": "auc", "value": 0.71, "threshold": 0.75, "breachWhen": "below"},
                                {"name": "drift", "feature": "income", "psi": 0.31, "ks": 0.2}],
        reference={"namespace": "s3://lake", "name": "features", "version": "v1"},
        window=("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")), "ml", warnings)
    assert warnings == []
    assert mon.deployment == M.DeploymentKey("ml-pipelines", "credit", "7", "production")
    assert mon.reference == M.VersionKey("s3://lake", "features", "v1")
    assert mon.window_start.isoformat() == "2026-02-01T00:00:00+00:00"
    auc, drift = mon.measures
    assert (auc.value, auc.threshold, auc.breach_when) == (0.71, 0.75, "below")
    assert (drift.psi, drift.ks, drift.feature, drift.value) == (0.31, 0.2, "income", None)


def test_unusable_metrics_are_dropped_with_a_warning_each() -> None:
    warnings: list[str] = []
    mon = M.monitoring_facet({"portalMonitoring": facet(
        deployment={"name": "credit"}, metrics=[{"value": 1}, {"name": "x", "value": "high"},
                                               {"name": "nan", "value": float("inf")},
                                               {"name": "ok", "value": 1, "breachWhen": "sideways"}])}, "ml", warnings)
    assert mon.deployment is None and [m.name for m in mon.measures] == ["ok"]
    assert mon.measures[0].breach_when == "above"
    assert len(warnings) == 5 and "deployment needs name, version and environment" in warnings[0]


def test_the_planner_links_the_run_to_the_deployment_and_reads_the_reference() -> None:
    ev = parse_event(json.dumps(run_event(
        job="monitor", inputs=[dataset("s3://lake", "scores", version="2026-02")],
        run_facets=monitoring_facets("credit", "7", metrics=[{"name": "auc", "value": 0.7}],
                                     reference={"namespace": "s3://lake", "name": "features", "version": "v1"}),
    )).encode())
    delta = Planner().add_events([ev])
    run = f"run:{ev.run_id}"
    assert delta.existing_edges == {("deployment:ml-pipelines:credit#7@production", run, "monitors")}
    # The reference is read as named; which versions the inputs are is decided when the delta is applied.
    assert delta.reads[(run, "dataset:s3://lake:features")][1] == "v1"
    assert delta.reads[(run, "dataset:s3://lake:scores")][1] == "2026-02"
    (record,) = delta.monitoring
    assert record.deployment == "deployment:ml-pipelines:credit#7@production"
    assert record.reference == "datasetVersion:s3://lake:features#v1"
    assert record.datasets == ["dataset:s3://lake:scores", "dataset:s3://lake:features"] and record.inputs == []
    # A monitoring run names a deployment; it never creates one.
    assert not [n for n in delta.nodes if n.startswith("deployment:")]


def test_data_quality_assertions_on_inputs_are_read_as_results() -> None:
    d = dataset("s3://lake", "orders", version="42")
    d["inputFacets"] = {"dataQualityAssertions": facet(assertions=[
        {"assertion": "not_null", "success": True, "column": "id"},
        {"assertion": "unique", "success": False, "column": "id"}, {"assertion": "bad"}])}
    ev = parse_event(json.dumps(run_event(job="dbt.test", inputs=[d])).encode())
    (record,) = Planner().add_events([ev]).monitoring
    assert record.deployment is None
    assert [(m.name, m.column, m.success, m.dataset) for m in record.measures] == [
        ("not_null", "id", True, "dataset:s3://lake:orders"),
        ("unique", "id", False, "dataset:s3://lake:orders")]


def test_an_ordinary_run_has_no_monitoring_record() -> None:
    ev = parse_event(json.dumps(run_event(inputs=[dataset("s3://lake", "x")])).encode())
    assert Planner().add_events([ev]).monitoring == []


def test_the_facet_schema_is_valid_and_accepts_what_we_and_the_demo_send() -> None:
    from portal.demo import monitoring as demo
    from tests.lineage.test_facet_schemas import validator

    v = validator(M.MONITORING_FACET)
    sent = monitoring_facets("credit", "7", metrics=[{"name": "auc", "value": 0.7, "threshold": 0.75,
                                                      "breachWhen": "below"}, {"name": "drift", "psi": 0.2}],
                             reference={"namespace": "s3://lake", "name": "f", "version": "1"},
                             window=("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"))
    v.validate(sent[M.MONITORING_FACET])
    for event in demo.events():
        v.validate(event["run"]["facets"][M.MONITORING_FACET])
    rest = json.loads(M.rest_event({"deployment": {"namespace": "ml", "name": "credit", "version": "7",
                                                   "environment": "production"}, "time": "2026-03-01T00:00:00Z",
                                    "metrics": [{"name": "auc", "value": 0.7, "breach_when": "below"}]}))
    v.validate(rest["run"]["facets"][M.MONITORING_FACET])
    assert list(v.iter_errors(facet(metrics=[{"name": "auc"}])))  # no value, psi or ks: the reader drops it too
