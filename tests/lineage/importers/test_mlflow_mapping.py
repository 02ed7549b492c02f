"""MLflow records -> OpenLineage events and portal records: pure mapping, no MLflow, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lineage.importers import mlflow as M
from lineage.importers.common import since_parse, without_credentials
from lineage.openlineage import parse_event

RUN_ID = "5b1eeca4d10d43c0a6c0c9404e08f5ad"


def _run(**kw) -> M.RunRecord:
    base = dict(run_id=RUN_ID, experiment_id="1", experiment_name="credit", run_name="train", status="FINISHED",
                user="dana", start_ms=1_700_000_000_000, end_ms=1_700_000_060_000, params={"lr": "0.1"},
                tags={M.GIT_COMMIT: "A" * 40, M.GIT_REPO: "https://user:secret@github.com/acme/credit.git",
                      M.GIT_BRANCH: "main"},
                metrics={"auc": [(0, 1_700_000_001_000, 0.7), (1, 1_700_000_002_000, 0.75)]},
                inputs=[M.DatasetInput(name="credit-train", digest="4fb5574f", source_type="s3",
                                       source='{"uri": "s3://acme-data/credit/train.parquet"}',
                                       schema='{"mlflow_colspec": [{"type": "double", "name": "income"}]}',
                                       profile='{"num_rows": 3}', tags={"mlflow.data.context": "training"})],
                models=[M.LoggedModel(model_id="m-1", name="model", created_ms=1_700_000_050_000)])
    base.update(kw)
    return M.RunRecord(**base)


SNAP = M.Snapshot(namespace="mlflow://mlflow.acme:5000", tracking_uri="http://mlflow.acme:5000")


def _events(r: M.RunRecord) -> list:
    return [parse_event(raw) for raw in M.run_events(r, M.run_content(r, SNAP, M.Options()))]


def test_a_finished_run_is_a_start_at_its_start_and_a_complete_at_its_end() -> None:
    start, end = _events(_run())
    assert (start.event_type, end.event_type) == ("START", "COMPLETE")
    assert start.run_id == end.run_id == "5b1eeca4-d10d-43c0-a6c0-c9404e08f5ad"  # the MLflow id, as a UUID
    assert start.event_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert end.event_time - start.event_time == timedelta(minutes=1)
    assert (end.job_namespace, end.job_name) == ("mlflow://mlflow.acme:5000", "credit")
    assert start.warnings == end.warnings == []


def test_params_metrics_with_history_tags_and_user_ride_in_run_facets() -> None:
    _, end = _events(_run())
    facet = end.run_facets["mlflowRun"]
    assert facet["params"] == {"lr": "0.1"} and facet["metrics"] == {"auc": 0.75}
    assert facet["metricHistory"] == {"auc": [[0, 1_700_000_001_000, 0.7], [1, 1_700_000_002_000, 0.75]]}
    assert facet["status"] == "FINISHED" and facet["user"] == "dana"
    assert end.run_facets["portalRun"]["launchedBy"] == "dana"


def test_the_git_commit_is_a_source_code_location_without_the_credentials_in_the_url() -> None:
    _, end = _events(_run())
    scl = end.job_facets["sourceCodeLocation"]
    assert scl["version"] == "A" * 40 and scl["branch"] == "main"
    assert scl["repoUrl"] == "https://github.com/acme/credit.git"
    assert "secret" not in json.dumps(end.job_facets)


def test_a_commit_without_a_repository_uses_the_configured_one_or_says_why_it_is_not_linked() -> None:
    r = _run(tags={M.GIT_COMMIT: "c" * 40})
    content = M.run_content(r, SNAP, M.Options())
    assert "sourceCodeLocation" not in content["job"]["facets"]
    assert "not linked" in content["run"]["facets"]["mlflowRun"]["warnings"][0]
    mapped = M.run_content(r, SNAP, M.Options(git_repo="https://git.acme/credit"))
    assert mapped["job"]["facets"]["sourceCodeLocation"]["repoUrl"] == "https://git.acme/credit"


def test_a_dataset_input_is_named_by_its_source_and_versioned_by_its_digest() -> None:
    _, end = _events(_run())
    (d,) = end.inputs
    assert (d.namespace, d.name) == ("s3://acme-data", "credit/train.parquet")
    assert d.facets["version"]["datasetVersion"] == "4fb5574f"
    assert d.facets["schema"]["fields"] == [{"name": "income", "type": "double"}]
    assert d.facets["mlflowDataset"]["profile"] == {"num_rows": 3}
    assert d.input_facets["mlflowDatasetInput"]["context"] == "training"


@pytest.mark.parametrize(("source_type", "source", "expected"), [
    ("local", '{"uri": "/data/train.csv"}', ("file", "/data/train.csv")),
    ("http", '{"url": "https://data.acme/x.csv?token=1"}', ("https://data.acme", "x.csv")),
    ("delta_table", '{"delta_table_name": "main.credit.train"}', ("delta_table", "main.credit.train")),
    ("code", "", ("mlflow://mlflow.acme:5000", "datasets/credit-train")),
    ("s3", "not json", ("mlflow://mlflow.acme:5000", "datasets/credit-train")),
])
def test_dataset_names_follow_openlineage_naming_where_the_source_allows(source_type, source, expected) -> None:
    d = M.DatasetInput(name="credit-train", digest="1", source_type=source_type, source=source)
    assert M.dataset_location(d, SNAP.namespace) == expected


def test_a_failed_run_fails_and_writes_no_model() -> None:
    start, end = _events(_run(status="FAILED"))
    assert end.event_type == "FAIL" and end.outputs == []


def test_a_running_run_has_only_its_start() -> None:
    (start,) = _events(_run(status="RUNNING", end_ms=None))
    assert start.event_type == "START"


def test_a_finished_run_without_an_end_time_ends_at_its_last_metric() -> None:
    _, end = _events(_run(end_ms=None))
    assert end.event_time == datetime.fromtimestamp(1_700_000_002, UTC)


def test_a_logged_model_is_an_output_of_its_run() -> None:
    _, end = _events(_run())
    (out,) = end.outputs
    assert (out.namespace, out.name) == ("mlflow://mlflow.acme:5000", "models/m-1")


def test_nan_and_infinite_metrics_survive_as_text() -> None:
    r = _run(metrics={"loss": [(0, 1_700_000_001_000, float("nan")), (1, 1_700_000_002_000, float("inf"))]})
    _, end = _events(r)
    assert end.run_facets["mlflowRun"]["metricHistory"]["loss"] == [[0, 1_700_000_001_000, "nan"],
                                                                    [1, 1_700_000_002_000, "inf"]]


def test_a_long_metric_history_is_thinned_evenly_keeping_the_first_and_last_point() -> None:
    r = _run(metrics={"loss": [(i, 1_700_000_000_000 + i, float(i)) for i in range(10_001)]})
    hist = M.run_content(r, SNAP, M.Options(max_metric_points=101))["run"]["facets"]["mlflowRun"]["metricHistory"]
    assert len(hist["loss"]) == 101 and hist["loss"][0][0] == 0 and hist["loss"][-1][0] == 10_000
    assert hist["loss"][50][0] == 5000


def test_the_same_run_maps_to_the_same_bytes_and_a_change_to_a_new_digest() -> None:
    a, b = M.run_content(_run(), SNAP, M.Options()), M.run_content(_run(), SNAP, M.Options())
    assert M.run_events(_run(), a) == M.run_events(_run(), b)
    changed = M.run_content(_run(tags={"note": "late"}), SNAP, M.Options())
    assert M.run_digest(changed) != M.run_digest(a)


def test_a_model_version_record_links_its_source_run_and_artifact() -> None:
    mv = M.ModelVersionRecord(name="credit-scoring", version="2", created_ms=1_700_000_100_000,
                              updated_ms=1_700_000_200_000, run_id=RUN_ID, source="models:/m-1", model_id="m-1",
                              stage="Staging", status="READY", tags={"validated": "yes"}, description="second")
    rm = M.RegisteredModelRecord(name="credit-scoring", description="Retail credit", aliases={"champion": "2"})
    p = M.model_version_payload(mv, rm, SNAP, datetime(2026, 1, 1, tzinfo=UTC))
    assert p["run_id"] == "5b1eeca4-d10d-43c0-a6c0-c9404e08f5ad"
    assert p["artifact"] == ("datasetVersion:mlflow://mlflow.acme:5000:models/m-1#"
                             "5b1eeca4-d10d-43c0-a6c0-c9404e08f5ad")
    assert p["registry"]["stage"] == "Staging" and p["registry"]["tags"] == {"validated": "yes"}
    assert p["description"] == "second" and p["time"] == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize(("uri", "ns"), [
    ("http://127.0.0.1:5000", "mlflow://127.0.0.1:5000"),
    ("https://token:x@mlflow.acme/prefix/", "mlflow://mlflow.acme/prefix"),
    ("sqlite:////srv/mlflow.db", "mlflow+sqlite:////srv/mlflow.db"),
    ("postgresql://u:p@db:5432/mlflow", "mlflow+postgresql://db:5432/mlflow"),
    ("databricks", "mlflow:databricks"),
])
def test_the_namespace_is_the_tracking_server_without_credentials(uri, ns) -> None:
    assert M.namespace_for(uri) == ns


def test_uris_lose_credentials_and_queries() -> None:
    assert without_credentials("https://u:p@h:8443/x?sig=1#f") == "https://h:8443/x"


def test_since_takes_a_time_or_a_look_back() -> None:
    now = datetime(2026, 1, 8, tzinfo=UTC)
    assert since_parse("7d", now) == datetime(2026, 1, 1, tzinfo=UTC)
    assert since_parse("2026-01-02T03:00", now) == datetime(2026, 1, 2, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="look-back"):
        since_parse("yesterday", now)
