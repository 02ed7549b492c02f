"""The MLMD importer on a real ML Metadata store written by the ml-metadata package (a TFX-shaped pipeline run)."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lineage.importers import mlmd as MD
from lineage.importers.services import mlmd_import
from lineage.models import Edge, Node, RawEvent
from lineage.services import lineage_rebuild
from tests.conftest import need_service

from . import mlmd_world as world

try:
    import ml_metadata  # noqa: F401
except ImportError:  # pragma: no cover - the mlmd extra is not installed (or not Python 3.11)
    HAVE_MLMD = False
else:
    HAVE_MLMD = True

pytestmark = pytest.mark.django_db


def _need_mlmd() -> None:
    if HAVE_MLMD:
        return
    if os.environ.get("PORTAL_MLMD_ELSEWHERE") == "1":
        pytest.skip("ml-metadata's protobuf pin conflicts with dbt's: .ci/run runs these tests in .venv-mlmd")
    need_service("ml-metadata", "pip install '.[mlmd]' (wheels for Python 3.11 only)")


@pytest.fixture
def store(tmp_path: Path) -> str:
    _need_mlmd()
    path = str(tmp_path / "mlmd.sqlite")
    world.build(path)
    return path


def _run(snap_ns: str, kind: str, ident: int) -> Node:
    return Node.objects.get(node_id=f"run:{MD.run_uuid(snap_ns, kind, ident)}")


def test_a_tfx_pipeline_run_becomes_runs_reads_writes_a_blessed_model_and_a_deployment(store) -> None:
    summary = mlmd_import(sqlite=store)
    ns = MD.namespace_for(f"sqlite://{store}")
    assert (summary.runs, summary.events_created, summary.model_versions) == (4, 8, 1)
    trainer, pusher = _run(ns, "execution", 2), _run(ns, "execution", 4)
    assert trainer.state == "COMPLETED" and trainer.parent.node_id == f"job:{ns}:tfx.components.Trainer"
    assert trainer.facets["mlmdExecution"]["type"] == "tfx.components.Trainer"
    # INPUT and OUTPUT events: the trainer reads ExampleGen's examples and writes the model.
    examples = Node.objects.get(kind="datasetVersion", namespace="gs://acme-pipelines",
                                name="credit/ExampleGen/examples/1")
    assert examples.version == "1" and Edge.objects.filter(kind="reads", src=examples, dst=trainer).exists()
    mv = Node.objects.get(node_id=f"modelVersion:{ns}:credit#2")
    assert Edge.objects.filter(kind="produces", src=trainer, dst=mv).exists()
    assert mv.attrs["registry"]["blessed"] is True
    assert mv.attrs["registry"]["blessing"]["type"] == "tfx.components.Evaluator"
    # The Pusher deployed the model it read.
    dep = Node.objects.get(node_id=f"deployment:{ns}:credit#2@production")
    assert dep.state == "active" and dep.attrs["endpoint"] == "gs://acme-serving/credit/2"
    assert Edge.objects.filter(kind="deploys", src=mv, dst=dep).exists() and dep.attrs["run"] == pusher.node_id
    # The pipeline run is every execution's parent; its properties name the commit and the launcher.
    parent = _run(ns, "context", 2)
    assert Edge.objects.filter(kind="parent_of", src=parent, dst=trainer).exists()
    assert parent.parent.node_id == f"job:{ns}:credit"
    assert trainer.attrs["launched_by"] == "dana@acme.example"
    commit = Node.objects.get(node_id=f"commit:{world.REPO}:{world.SHA}")
    assert Edge.objects.filter(kind="built_from", src=commit, dst=trainer).exists()


def test_importing_again_or_rebuilding_changes_nothing(store) -> None:
    mlmd_import(sqlite=store)
    graph = sorted(Node.objects.values_list("node_id", "state", "facets", "attrs", "event_time"))
    count = RawEvent.objects.count()
    again = mlmd_import(sqlite=store)
    assert (again.events_created, again.model_versions_changed) == (0, 0) and RawEvent.objects.count() == count
    lineage_rebuild()
    assert sorted(Node.objects.values_list("node_id", "state", "facets", "attrs", "event_time")) == graph


def test_a_failed_execution_writes_no_model(tmp_path) -> None:
    _need_mlmd()
    path = str(tmp_path / "failed.sqlite")
    world.build(path, failed_trainer=True)
    mlmd_import(sqlite=path)
    ns = MD.namespace_for(f"sqlite://{path}")
    assert _run(ns, "execution", 2).state == "FAILED"
    assert not Edge.objects.filter(kind="produces", src=_run(ns, "execution", 2)).exists()


def test_the_command_reads_a_sqlite_store_and_refuses_a_missing_one(store) -> None:
    out = StringIO()
    call_command("import_mlmd", "--sqlite", store, "--environment", "serving", stdout=out)
    assert "4 executions (8 events stored), 1 blessings (1 new)" in out.getvalue()
    # A PushedModel without an environment property went to the environment the importer was given.
    assert list(Node.objects.filter(kind="deployment").values_list("environment", flat=True)) == ["serving"]
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_mlmd", "--sqlite", store + ".missing")
