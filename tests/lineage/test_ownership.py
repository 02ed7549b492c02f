"""Namespaces belong to their teams: an ingest token writes only where its user's teams may (issue 11).

Team B trains a model in its own namespaces; team A's token tries each takeover the hostile review found. Every
refusal must leave the graph, the raw log and B's records exactly as they were.
"""

from __future__ import annotations

import json
import uuid

import pytest

from lineage import ids
from lineage.models import Edge, Node, NodeTag, RawEvent
from portal.accounts.services import namespace_assign, user_ensure
from portal.audit.models import AuditEntry
from tests.conftest import api_client, post_event
from tests.factories import dataset, deploy_facets, facet, model_output, run_event

pytestmark = pytest.mark.django_db

B_RUN = "0190c6f5-0000-7000-8000-00000000000b"


@pytest.fixture
def world(db):
    for ns, team in (("team-a", "team-a"), ("s3://a", "team-a"), ("team-b", "team-b"), ("s3://b", "team-b"),
                     ("ml-b", "team-b")):
        namespace_assign(namespace=ns, team=team)
    a = api_client(user_ensure(username="svc-a", role="ingestor", team="team-a"))
    b = api_client(user_ensure(username="svc-b", role="ingestor", team="team-b"))
    r = post_event(b, run_event(job="train", namespace="team-b", run_id=B_RUN,
                                inputs=[dataset("s3://b", "raw", tags={"email": ["PII"]})],
                                outputs=[model_output("credit", "7", namespace="ml-b", auc=0.81)]))
    assert r.status_code == 201, r.content
    return {"a": a, "b": b}


def _snapshot() -> tuple:
    nodes = sorted(Node.objects.values_list("node_id", "state", "facets", "attrs", "deidentifies", "parent_id"))
    return (nodes, sorted(Edge.objects.values_list("src_id", "dst_id", "kind")),
            sorted(NodeTag.objects.values_list("node_id", "field", "tag")), RawEvent.objects.count())


def _refused(r, status: int, field: str, namespace: str | None = None) -> None:
    assert r.status_code == status, r.content
    error = r.json()["errors"][0]
    assert error["field"] == field
    if namespace:
        assert namespace in error["message"]


def test_reusing_another_teams_run_id_under_another_job_is_409_and_changes_nothing(world) -> None:
    before = _snapshot()
    ev = run_event(job="sneaky", namespace="team-a", run_id=B_RUN,
                   run_facets={"portalRun": facet(deidentifies=True)})
    _refused(post_event(world["a"], ev), 409, "run.runId")
    assert _snapshot() == before
    run = Node.objects.get(node_id=ids.run_id(B_RUN))
    assert run.attrs["job"] == ids.job_id("team-b", "train") and not run.deidentifies


def test_a_run_id_reused_under_another_job_is_409_even_within_one_namespace(world) -> None:
    before = _snapshot()
    _refused(post_event(world["b"], run_event(job="other", namespace="team-b", run_id=B_RUN)), 409, "run.runId")
    assert _snapshot() == before


def test_writing_a_job_in_another_teams_namespace_is_403_naming_it(world) -> None:
    before = _snapshot()
    _refused(post_event(world["a"], run_event(job="train", namespace="team-b")), 403, "job.namespace", "team-b")
    assert _snapshot() == before


def test_writing_an_output_in_another_teams_namespace_is_403(world) -> None:
    before = _snapshot()
    ev = run_event(job="etl", namespace="team-a", outputs=[dataset("s3://a", "ok"), dataset("s3://b", "raw")])
    _refused(post_event(world["a"], ev), 403, "outputs[1].namespace", "s3://b")
    assert _snapshot() == before


def test_claiming_another_teams_model_version_is_403_and_keeps_its_metrics(world) -> None:
    before = _snapshot()
    ev = run_event(job="train", namespace="team-a",
                   outputs=[model_output("credit", "7", namespace="ml-b", auc=0.99)])
    _refused(post_event(world["a"], ev), 403, "outputs[0].facets.portalModelVersion.namespace", "ml-b")
    assert _snapshot() == before
    mv = Node.objects.get(node_id=ids.model_version_id("ml-b", "credit", "7"))
    assert mv.attrs["metrics"] == {"auc": 0.81}


def test_a_model_version_in_an_unowned_namespace_belongs_to_the_namespace_that_first_produced_it(world) -> None:
    first = run_event(job="train", namespace="team-b", outputs=[model_output("shared", "1", namespace="models")])
    assert post_event(world["b"], first).status_code == 201
    before = _snapshot()
    claim = run_event(job="train", namespace="team-a", outputs=[model_output("shared", "1", namespace="models")])
    _refused(post_event(world["a"], claim), 403, "outputs[0].facets.portalModelVersion", "team-b")
    assert _snapshot() == before


def test_deploying_another_teams_model_is_403_and_deploys_nothing(world) -> None:
    before = _snapshot()
    ev = run_event(job="deploy", namespace="team-a", run_facets=deploy_facets("credit", "7", "production",
                                                                               namespace="ml-b"))
    _refused(post_event(world["a"], ev), 403, "run.facets.portalDeployment.model.namespace", "ml-b")
    assert _snapshot() == before
    assert not Node.objects.filter(kind="deployment").exists()


def test_a_parent_facet_naming_another_teams_run_under_another_job_is_409(world) -> None:
    before = _snapshot()
    parent = facet(run={"runId": B_RUN}, job={"namespace": "team-a", "name": "dag"})
    _refused(post_event(world["a"], run_event(job="task", namespace="team-a", run_facets={"parent": parent})),
             409, "run.facets.parent.run.runId")
    assert _snapshot() == before


def test_a_dataset_event_in_another_teams_namespace_is_403(world) -> None:
    before = _snapshot()
    ev = {"eventTime": "2026-01-10T11:00:00Z", "producer": "https://example.com", "schemaURL": "x",
          "dataset": {"namespace": "s3://b", "name": "raw", "facets": {"schema": {"_deleted": True}}}}
    _refused(post_event(world["a"], ev), 403, "dataset.namespace", "s3://b")
    assert _snapshot() == before


def test_reading_from_another_teams_namespace_is_lineage_but_its_facets_say_nothing_there(world) -> None:
    raw = ids.dataset_id("s3://b", "raw")
    facets_before = Node.objects.get(node_id=raw).facets
    gov = facet(lawfulBasis="f", purposes=["anything"])
    sneaky = dataset("s3://b", "raw", portalClassification=facet(tags=["DEIDENTIFIED"]), portalGovernance=gov)
    sneaky["facets"]["schema"] = {"_deleted": True}
    r = post_event(world["a"], run_event(job="report", namespace="team-a", inputs=[sneaky]))
    assert r.status_code == 201, r.content
    assert any("s3://b" in w and "ignored" in w for w in r.json()["warnings"])
    node = Node.objects.get(node_id=raw)
    assert node.facets == facets_before
    assert not NodeTag.objects.filter(node=node, tag="DEIDENTIFIED").exists()
    run = Node.objects.get(kind="run", attrs__job=ids.job_id("team-a", "report"))
    assert Edge.objects.filter(dst=run, kind="reads", src__parent=node).exists()


def test_in_a_batch_the_takeover_gets_its_own_error_and_the_rest_proceed(world) -> None:
    good = run_event(job="etl", namespace="team-a", outputs=[dataset("s3://a", "clean")])
    bad = run_event(job="etl", namespace="team-a", outputs=[dataset("s3://b", "raw")])
    body = json.dumps([good, bad]).encode()
    before = _snapshot()
    r = world["a"].post("/api/v1/lineage/batch?atomic=true", data=body, content_type="application/json")
    _refused(r, 403, "[1].outputs[0].namespace", "s3://b")
    assert _snapshot() == before
    r = world["a"].post("/api/v1/lineage/batch", data=body, content_type="application/json")
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["created", "error"]
    assert results[1]["error"]["field"] == "outputs[0].namespace" and results[1]["code"] == 403
    assert Node.objects.filter(node_id=ids.dataset_id("s3://a", "clean")).exists()


def test_rest_records_in_another_teams_namespace_are_403(world) -> None:
    before = _snapshot()
    r = world["a"].post("/api/v1/model-versions", {"namespace": "ml-b", "name": "credit", "version": "7",
                                                   "metrics": {"auc": 0.99}}, format="json")
    _refused(r, 403, "namespace", "ml-b")
    r = world["a"].post("/api/v1/deployments", {"model": {"namespace": "ml-b", "name": "credit", "version": "7"},
                                                "environment": "production"}, format="json")
    _refused(r, 403, "model.namespace", "ml-b")
    assert _snapshot() == before


def test_admin_tokens_write_anywhere(world, admin_client) -> None:
    r = post_event(admin_client, run_event(job="fix", namespace="team-b", outputs=[dataset("s3://b", "raw")]))
    assert r.status_code == 201, r.content


def test_a_token_without_teams_writes_only_where_nobody_owns(world, ingest_client) -> None:
    assert post_event(ingest_client, run_event(job="j", namespace="free", outputs=[dataset("s3://free", "x")])
                      ).status_code == 201
    _refused(post_event(ingest_client, run_event(job="j", namespace="team-a")), 403, "job.namespace", "team-a")


def test_a_de_identification_mark_is_its_own_audit_entry_with_before_and_after(world) -> None:
    run_id = str(uuid.uuid4())
    ev = run_event(job="mask", namespace="team-b", run_id=run_id, event_type="START")
    assert post_event(world["b"], ev).status_code == 201
    ev = run_event(job="mask", namespace="team-b", run_id=run_id, run_facets={"portalRun": facet(deidentifies=True)},
                   outputs=[dataset("s3://b", "masked")])
    assert post_event(world["b"], ev).status_code == 201
    entries = {(e.target_id, e.payload) for e in AuditEntry.objects.filter(action="lineage.classification_weakened")}
    payloads = {t: json.loads(p) for t, p in entries}
    assert payloads[ids.run_id(run_id)]["before"] == {"deidentifies": False}
    assert payloads[ids.run_id(run_id)]["after"] == {"deidentifies": True}
    masked = ids.dataset_id("s3://b", "masked")
    assert payloads[masked]["after"] == {"tags": ["DEIDENTIFIED"]}


def test_the_owning_team_may_register_its_model_version_by_rest_too(world) -> None:
    r = world["b"].post("/api/v1/model-versions", {"namespace": "ml-b", "name": "credit", "version": "7",
                                                   "description": "champion"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["attrs"]["produced_in"] == "team-b"
