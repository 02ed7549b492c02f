"""The MLflow importer against real MLflow: a tracking store on SQLite and a real ``mlflow server`` process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from lineage.importers import mlflow as M
from lineage.importers.services import mlflow_import
from lineage.models import Edge, Node, RawEvent
from lineage.services import lineage_rebuild
from portal.audit.models import AuditEntry
from tests.conftest import need_service

from . import mlflow_world as world

try:
    import mlflow  # noqa: F401
except ImportError:  # pragma: no cover - the mlflow extra is not installed
    HAVE_MLFLOW = False
else:
    HAVE_MLFLOW = True

pytestmark = pytest.mark.django_db
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its tables made once (MLflow's migrations take ~15 s here); tests copy it."""
    if not HAVE_MLFLOW:
        need_service("mlflow", "the mlflow package is not installed: pip install '.[mlflow]'")
    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    M._client(f"sqlite:///{path}", None).search_experiments()
    return path


@pytest.fixture
def store(empty_store: Path, tmp_path: Path) -> str:
    path = tmp_path / "mlflow.db"
    shutil.copy(empty_store, path)
    return f"sqlite:///{path}"


def _graph() -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str]]]:
    nodes = sorted(Node.objects.values_list("node_id", "kind", "state", "version", "facets", "attrs", "event_time"))
    edges = sorted(Edge.objects.values_list("src__node_id", "dst__node_id", "kind"))
    return nodes, edges


def _node(nid: str) -> Node:
    return Node.objects.get(node_id=nid)


def _run_id(mlflow_id: str) -> str:
    return f"run:{M.RunRecord(mlflow_id, '', '', '', '', '', None, None).uuid}"


def test_an_mlflow_store_becomes_runs_datasets_commits_and_model_versions(store) -> None:
    w = world.build(store)
    ns = M.namespace_for(store)
    summary = mlflow_import(tracking_uri=store)
    assert (summary.runs, summary.model_versions, summary.alias_moves) == (2, 2, 1)

    r1, r2 = (_node(_run_id(r)) for r in w["runs"])
    assert r1.state == r2.state == "COMPLETED"
    assert r1.attrs["launched_by"] == "dana"  # the run's mlflow.user
    facet = r1.facets["mlflowRun"]
    assert facet["params"] == {"lr": "0.1"}
    assert [p[0] for p in facet["metricHistory"]["auc"]] == [0, 1, 2]
    assert facet["tags"]["team"] == "credit-risk"
    assert _node(f"job:{ns}:credit").kind == "job"

    # The training data changed between the runs: two versions (MLflow digests) of one dataset, each read.
    versions = Node.objects.filter(kind="datasetVersion", namespace="s3://acme-data", name="credit/train.parquet")
    assert versions.count() == 2
    reads = set(Edge.objects.filter(kind="reads", src__in=versions).values_list("dst__node_id", flat=True))
    assert reads == {r1.node_id, r2.node_id}
    dsv = versions.get(in_edges__isnull=True, out_edges__dst=r1)
    dataset = dsv.parent  # the dataset carries the facets; the version is the digest
    assert facet["inputs"][0]["context"] == "training" and dataset.facets["mlflowDataset"]["name"] == "credit-train"
    assert [f["name"] for f in dataset.facets["schema"]["fields"]] == ["income", "default"]

    # The commit each run was built from, linked like an OpenLineage sourceCodeLocation.
    commit = _node(f"commit:{world.REPO}:{world.SHA1}")
    assert Edge.objects.filter(src=commit, dst=r1, kind="built_from").exists()
    assert commit.attrs["branch"] == "main"

    # Registered versions produced by their source runs, with the registry's facts and the alias.
    v1, v2 = _node(f"modelVersion:{ns}:credit-scoring#1"), _node(f"modelVersion:{ns}:credit-scoring#2")
    assert Edge.objects.filter(src=r1, dst=v1, kind="produces").exists()
    assert Edge.objects.filter(src=r2, dst=v2, kind="produces").exists()
    assert v1.attrs["registry"]["tags"] == {"validated": "yes"} and v1.attrs["description"] == "first cut"
    assert v1.attrs["registry"]["modelDescription"] == "Retail credit default model"
    assert v1.attrs["artifact"] == f"datasetVersion:{ns}:models/{w['models'][0]}#{r1.name}"
    assert Node.objects.filter(node_id=v1.attrs["artifact"]).exists()
    assert (v1.attrs["aliases"], v2.attrs.get("aliases", [])) == (["champion"], [])
    assert AuditEntry.objects.filter(action="lineage.import_completed", target_id=ns).count() == 1


def test_importing_twice_changes_nothing(store) -> None:
    world.build(store)
    mlflow_import(tracking_uri=store)
    before, raw = _graph(), RawEvent.objects.count()
    audit = AuditEntry.objects.exclude(action="lineage.import_completed").count()
    again = mlflow_import(tracking_uri=store)
    assert (again.runs_changed, again.events_created, again.model_versions_changed, again.alias_moves) == (0, 0, 0, 0)
    assert _graph() == before
    assert RawEvent.objects.count() == raw
    # The repeat read did not even fetch the metric histories: both runs' summaries matched what the portal holds.
    known = {n.name: n.facets["mlflowRun"]["summaryDigest"] for n in Node.objects.filter(kind="run")}
    snap = M.read(tracking_uri=store, known=known)
    assert (snap.runs, snap.unchanged_runs) == ([], 2)
    assert AuditEntry.objects.exclude(action="lineage.import_completed").count() == audit


def test_a_moved_alias_is_recorded_with_when_and_by_whom_it_was_seen(store, ingestor) -> None:
    world.build(store)
    ns = M.namespace_for(store)
    mlflow_import(tracking_uri=store, by=ingestor)
    world.move_champion(store)
    summary = mlflow_import(tracking_uri=store, by=ingestor)
    assert (summary.alias_moves, summary.model_versions_changed) == (1, 1)  # v2 gained a tag too

    v1, v2 = _node(f"modelVersion:{ns}:credit-scoring#1"), _node(f"modelVersion:{ns}:credit-scoring#2")
    assert (v1.attrs["aliases"], v2.attrs["aliases"]) == ([], ["champion"])
    assert v2.attrs["registry"]["tags"] == {"validated": "yes"}
    first, move = v1.attrs["alias_history"]
    assert (first["from"], first["to"], move["from"], move["to"]) == ("", "1", "1", "2")
    assert move["observedBy"] == "pipeline" and move["at"]
    assert v2.attrs["alias_history"] == [move]
    entry = AuditEntry.objects.filter(action="lineage.modelAlias_recorded").order_by("-seq").first()
    assert entry.actor_name == "pipeline" and entry.target_id == v2.node_id
    assert json.loads(entry.payload)["moves"] == [move]


def test_rebuilding_from_the_raw_log_gives_the_same_graph(store) -> None:
    world.build(store)
    mlflow_import(tracking_uri=store)
    world.move_champion(store)
    mlflow_import(tracking_uri=store)
    before = _graph()
    lineage_rebuild()
    after = _graph()
    # A rebuild replays the same facts; only the nodes' own event times may not move (they are replayed too).
    assert after == before


def test_a_tag_set_on_a_finished_run_arrives_as_an_update(store) -> None:
    w = world.build(store)
    mlflow_import(tracking_uri=store)
    world.client(store).set_tag(w["runs"][0], "reviewed", "yes")
    summary = mlflow_import(tracking_uri=store)
    assert (summary.runs_changed, summary.events_created) == (1, 1)
    run = _node(_run_id(w["runs"][0]))
    assert run.facets["mlflowRun"]["tags"]["reviewed"] == "yes" and run.state == "COMPLETED"
    assert RawEvent.objects.filter(run_id=run.name, event_type="OTHER").count() == 1


def test_only_the_named_experiment_is_read_and_an_unknown_one_is_refused(store) -> None:
    w = world.build(store)
    c = world.client(store)
    other = c.create_experiment("fraud")
    c.set_terminated(c.create_run(other).info.run_id)
    mlflow_import(tracking_uri=store, experiments=["credit"])
    assert Node.objects.filter(kind="run").count() == 2
    assert set(Node.objects.filter(kind="run").values_list("node_id", flat=True)) == {_run_id(r) for r in w["runs"]}
    with pytest.raises(M.MlflowSourceError, match="nope"):
        mlflow_import(tracking_uri=store, experiments=["nope"])


def test_the_management_command_imports_and_prints_a_summary(store) -> None:
    world.build(store)
    out = StringIO()
    call_command("import_mlflow", "--tracking-uri", store, "--experiment", "credit", "--since", "1d", stdout=out)
    assert "2 runs (2 new or changed" in out.getvalue() and "1 alias moves" in out.getvalue()


def test_the_beat_task_imports_from_the_configured_server(store, settings) -> None:
    from lineage.tasks import lineage_import_mlflow_task

    world.build(store)
    settings.PORTAL_MLFLOW_TRACKING_URI = store
    assert "2 runs" in lineage_import_mlflow_task.delay().get()
    assert Node.objects.filter(kind="modelVersion").count() == 2


# -- a real tracking server ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(store: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--default-artifact-root", str(tmp_path / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"),  # noqa: SIM115
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # noqa: S310 - our own server
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("mlflow server exited: " + (tmp_path / "server.log").read_text()[-2000:])
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer /health in 120 s")
        yield url
    finally:
        # The server runs its workers as children: stop the process group it leads, and only that.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def test_a_real_mlflow_server_over_rest_imports_the_same_facts_under_its_own_namespace(mlflow_server) -> None:
    w = world.build(mlflow_server)
    summary = mlflow_import(tracking_uri=mlflow_server)
    ns = M.namespace_for(mlflow_server)
    assert ns.startswith("mlflow://127.0.0.1:")
    assert (summary.runs, summary.model_versions, summary.alias_moves) == (2, 2, 1)
    assert _node(f"modelVersion:{ns}:credit-scoring#1").attrs["aliases"] == ["champion"]
    before = _graph()
    assert mlflow_import(tracking_uri=mlflow_server).events_created == 0
    assert _graph() == before
    world.move_champion(mlflow_server)
    assert mlflow_import(tracking_uri=mlflow_server).alias_moves == 1
    assert _node(f"modelVersion:{ns}:credit-scoring#2").attrs["aliases"] == ["champion"]
    assert Node.objects.filter(kind="run", node_id__in=[_run_id(r) for r in w["runs"]], state="COMPLETED").count() == 2
