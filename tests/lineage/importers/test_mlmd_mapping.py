"""MLMD records -> OpenLineage events: pure mapping, no ml-metadata, no database."""

from __future__ import annotations

from lineage.importers import mlmd as MD
from lineage.openlineage import parse_event

NS = "mlmd+mysql://mlmd:3306/kfp"


def _snap(state: str = "CACHED", **props) -> MD.Snapshot:
    snap = MD.Snapshot(namespace=NS, source="mysql://mlmd:3306/kfp")
    snap.artifacts = {1: MD.Artifact(1, "system.Dataset", "/data/in.csv"),
                      2: MD.Artifact(2, "system.Model", "", name="", properties=props)}
    snap.contexts = {7: MD.Context(7, "system.PipelineRun", "run-7")}
    snap.executions = [MD.Execution(3, "system.ContainerExecution", state, 1_700_000_000_000, 1_700_000_060_000,
                                    inputs=[1], outputs=[2], contexts=[7])]
    return snap


def test_a_cached_execution_completes_and_writes_its_model_named_by_fallbacks() -> None:
    start, end = (parse_event(raw) for raw in MD.Mapper(_snap(), MD.Options()).events())
    assert (start.event_type, end.event_type) == ("START", "COMPLETE") and end.warnings == []
    assert (end.inputs[0].namespace, end.inputs[0].name) == ("file", "/data/in.csv")
    (out,) = end.outputs
    assert (out.namespace, out.name) == (NS, "artifacts/2")  # no URI: named by its id in the store's namespace
    # No name anywhere and no pipeline context: "model", versioned by the artifact id.
    assert {k: out.facets["portalModelVersion"][k] for k in ("name", "version")} == {"name": "model", "version": "2"}
    # A pipeline run without a pipeline context: the parent's job is named after the context type.
    assert end.run_facets["parent"]["job"]["name"] == "system.PipelineRun"


def test_a_running_execution_has_only_its_start_and_writes_nothing_yet() -> None:
    (start,) = (parse_event(raw) for raw in MD.Mapper(_snap("RUNNING"), MD.Options()).events())
    assert start.event_type == "START" and start.outputs == []


def test_name_and_version_properties_name_the_model() -> None:
    _, end = (parse_event(raw) for raw in MD.Mapper(_snap(name="credit", version="v9"), MD.Options()).events())
    facet = end.outputs[0].facets["portalModelVersion"]
    assert (facet["name"], facet["version"]) == ("credit", "v9")


def test_the_namespace_is_the_store() -> None:
    assert MD.namespace_for("sqlite:///srv/mlmd.db") == "mlmd+sqlite:///srv/mlmd.db"
    assert MD.namespace_for("mysql://u:p@db:3306/kfp") == "mlmd+mysql://db:3306/kfp"
