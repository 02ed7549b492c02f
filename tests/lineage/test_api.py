"""The lineage API: status codes, effects and denials."""

from __future__ import annotations

import gzip
import json
import uuid
from urllib.parse import quote

import pytest
from django.test import override_settings

from lineage.models import Node, RawEvent
from tests.conftest import post_event
from tests.factories import dataset, model_output, run_event

pytestmark = pytest.mark.django_db


def nodes_url(node_id: str, suffix: str = "") -> str:
    return f"/api/v1/nodes/{quote(node_id, safe='')}{suffix}"


# -- ingestion -------------------------------------------------------------------------------------------
def test_it_answers_201_then_200_for_a_duplicate(ingest_client) -> None:
    ev = run_event(inputs=[dataset("db", "a")])
    assert post_event(ingest_client, ev).status_code == 201
    r = post_event(ingest_client, ev)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert RawEvent.objects.count() == 1


def test_it_accepts_gzip_bodies(ingest_client) -> None:
    body = gzip.compress(json.dumps(run_event()).encode())
    r = ingest_client.post("/api/v1/lineage", data=body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["job"].pop("name"), "job.name"),
        (lambda e: e["run"].update(runId="nope"), "run.runId"),
        (lambda e: e.update(eventTime="not a time"), "eventTime"),
        (lambda e: e.update(eventType="DONE"), "eventType"),
        (lambda e: e.update(inputs=[{"namespace": "x", "name": ["y"]}]), "inputs[0].name"),
    ],
)
def test_bad_events_get_400_naming_the_field_and_store_nothing(ingest_client, mutate, field) -> None:
    ev = run_event(inputs=[dataset("db", "a")])
    mutate(ev)
    r = post_event(ingest_client, ev)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == field
    assert RawEvent.objects.count() == 0 and Node.objects.count() == 0


def test_malformed_json_and_an_empty_body_are_400(ingest_client) -> None:
    assert post_event(ingest_client, b'{"eventTime": ').status_code == 400
    assert post_event(ingest_client, b"").status_code == 400
    assert post_event(ingest_client, b"[1, 2]").status_code == 400


@override_settings(LINEAGE_MAX_EVENT_BYTES=2000)
def test_a_body_over_the_limit_is_413(ingest_client) -> None:
    ev = run_event(run_facets={"big": {"x": "y" * 5000}})
    r = post_event(ingest_client, ev)
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "body"
    assert "limit of 2000 bytes" in r.json()["detail"]
    body = gzip.compress(json.dumps(ev).encode())  # small on the wire, too big once inflated
    r = ingest_client.post("/api/v1/lineage", data=body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 413
    assert RawEvent.objects.count() == 0


def test_no_token_is_401_and_a_reader_token_is_403(client, alice_client) -> None:
    r = post_event(client, run_event())
    assert r.status_code == 401
    assert r.json()["detail"]
    assert post_event(alice_client, run_event()).status_code == 403
    assert RawEvent.objects.count() == 0


def test_a_revoked_or_unknown_token_is_401(client, ingestor) -> None:
    from portal.accounts.services import token_issue, token_revoke

    token, raw = token_issue(user=ingestor)
    token_revoke(token=token)
    r = client.post("/api/v1/lineage", data=json.dumps(run_event()), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.status_code == 401
    r = client.post("/api/v1/lineage", data=json.dumps(run_event()), content_type="application/json",
                    HTTP_AUTHORIZATION="Bearer lp_guess")
    assert r.status_code == 401


def test_a_batch_answers_per_event(ingest_client) -> None:
    good = run_event(inputs=[dataset("db", "a")])
    bad = run_event()
    bad["run"]["runId"] = "x"
    body = json.dumps([good, bad, good]).encode()
    r = ingest_client.post("/api/v1/lineage/batch", data=body, content_type="application/json")
    assert r.status_code == 200
    data = r.json()
    assert [x["status"] for x in data["results"]] == ["created", "error", "duplicate"]
    assert data["results"][1]["error"]["field"] == "run.runId"
    assert (data["created"], data["duplicate"], data["error"]) == (1, 1, 1)


def test_an_atomic_batch_with_one_bad_event_stores_nothing(ingest_client) -> None:
    bad = run_event()
    del bad["eventTime"]
    body = "\n".join(json.dumps(e) for e in (run_event(), bad)).encode()
    r = ingest_client.post("/api/v1/lineage/batch?atomic=true", data=body, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "[1].eventTime"
    assert RawEvent.objects.count() == 0


@override_settings(LINEAGE_MAX_BATCH_EVENTS=2)
def test_a_batch_over_the_count_limit_is_400(ingest_client) -> None:
    body = json.dumps([run_event(), run_event(), run_event()]).encode()
    r = ingest_client.post("/api/v1/lineage/batch", data=body, content_type="application/json")
    assert r.status_code == 400 and "limit" in r.json()["detail"]
    assert RawEvent.objects.count() == 0


# -- REST records ----------------------------------------------------------------------------------------
def test_commits_model_versions_and_deployments_by_rest(ingest_client, admin_client) -> None:
    rid = str(uuid.uuid4())
    post_event(ingest_client, run_event(run_id=rid, inputs=[dataset("db", "features")]))
    r = ingest_client.post("/api/v1/commits", {"repo": "https://git.example.com/ml.git", "sha": "abc1234",
                                              "author": {"name": "Ann", "email": "Ann@Example.com"},
                                              "time": "2026-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["attrs"]["author_email"] == "ann@example.com"
    r = ingest_client.post("/api/v1/model-versions", {"namespace": "ml", "name": "credit", "version": "7",
                                                     "run_id": rid, "metrics": {"auc": 0.81}}, format="json")
    assert r.status_code == 201, r.content
    r = ingest_client.post("/api/v1/deployments", {"model": {"namespace": "ml", "name": "credit", "version": "7"},
                                                  "environment": "production"}, format="json")
    assert r.status_code == 201, r.content
    dep_id = r.json()["id"]
    up = admin_client.get(nodes_url(dep_id, "/upstream"), {"depth": 5}).json()
    assert "datasetVersion:db:features#initial" in {n["id"] for n in up["nodes"]}


def test_rest_records_refuse_unknown_references(ingest_client) -> None:
    r = ingest_client.post("/api/v1/model-versions", {"namespace": "ml", "name": "credit", "version": "7",
                                                     "run_id": str(uuid.uuid4())}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "run_id"
    r = ingest_client.post("/api/v1/deployments", {"model": {"namespace": "ml", "name": "nope", "version": "1"},
                                                  "environment": "production"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "model"
    r = ingest_client.post("/api/v1/commits", {"repo": "r", "sha": "zzz", "time": "2026-01-01T00:00:00Z"},
                           format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "sha"
    assert Node.objects.count() == 0


# -- queries ---------------------------------------------------------------------------------------------
@pytest.fixture
def trained(ingest_client) -> dict:
    etl, train = str(uuid.uuid4()), str(uuid.uuid4())
    post_event(ingest_client, run_event(job="etl", run_id=etl, time="2026-01-01T00:00:00Z",
                                        inputs=[dataset("postgres://bank-db:5432", "core.customers",
                                                        tags={"ssn": ["PII"]})],
                                        outputs=[dataset("postgres://bank-db:5432", "features.credit")]))
    post_event(ingest_client, run_event(run_id=train, time="2026-01-02T00:00:00Z",
                                        inputs=[dataset("postgres://bank-db:5432", "features.credit")],
                                        outputs=[model_output("credit", "7")]))
    return {"etl": etl, "train": train}


def test_upstream_and_downstream_walks(trained, alice_client) -> None:
    r = alice_client.get(nodes_url("modelVersion:ml-pipelines:credit#7", "/upstream"), {"depth": 10})
    assert r.status_code == 200
    data = r.json()
    ids = {n["id"] for n in data["nodes"]}
    assert "dataset:postgres://bank-db:5432:core.customers" not in ids  # versions, not the dataset, are upstream
    assert "datasetVersion:postgres://bank-db:5432:core.customers#initial" in ids
    assert f"run:{trained['etl']}" in ids
    assert data["truncated"] == {"depth": False, "size": False}
    r = alice_client.get(nodes_url("dataset:postgres://bank-db:5432:core.customers", "/downstream"),
                         {"kinds": "modelVersion"})
    assert [n["id"] for n in r.json()["nodes"]] == ["modelVersion:ml-pipelines:credit#7"]


def test_a_walk_cut_by_depth_says_so(trained, alice_client) -> None:
    r = alice_client.get(nodes_url("modelVersion:ml-pipelines:credit#7", "/upstream"), {"depth": 1})
    assert r.json()["truncated"]["depth"] is True


def test_bad_query_parameters_are_400(trained, alice_client) -> None:
    url = nodes_url("modelVersion:ml-pipelines:credit#7", "/upstream")
    assert alice_client.get(url, {"depth": 999}).json()["errors"][0]["field"] == "depth"
    assert alice_client.get(url, {"depth": "x"}).status_code == 400
    assert alice_client.get(url, {"kinds": "planet"}).json()["errors"][0]["field"] == "kinds"
    assert alice_client.get("/api/v1/nodes", {"kind": "planet"}).status_code == 400


def test_node_detail_search_and_sensitive_upstream(trained, alice_client) -> None:
    r = alice_client.get(nodes_url("modelVersion:ml-pipelines:credit#7"))
    assert r.status_code == 200
    assert r.json()["sensitiveUpstream"] == {"PII": ["dataset:postgres://bank-db:5432:core.customers"]}
    r = alice_client.get("/api/v1/nodes", {"kind": "dataset", "q": "customers"})
    assert [n["id"] for n in r.json()["results"]] == ["dataset:postgres://bank-db:5432:core.customers"]
    assert r.json()["results"][0]["tags"] == [{"field": "ssn", "tag": "PII", "source": "facet"}]


def test_the_path_between_two_nodes(trained, alice_client) -> None:
    r = alice_client.get("/api/v1/paths", {"from": "dataset:postgres://bank-db:5432:core.customers",
                                           "to": "modelVersion:ml-pipelines:credit#7"})
    data = r.json()
    assert data["found"] is True
    assert data["nodes"][0]["kind"] == "datasetVersion" and data["nodes"][-1]["kind"] == "modelVersion"
    assert [e["kind"] for e in data["edges"]] == ["reads", "writes", "reads", "produces"]
    r = alice_client.get("/api/v1/paths", {"to": "dataset:postgres://bank-db:5432:core.customers",
                                           "from": "modelVersion:ml-pipelines:credit#7"})
    assert r.json()["found"] is False


def test_run_detail_has_state_io_and_history(trained, ingest_client, alice_client) -> None:
    post_event(ingest_client, run_event(run_id=trained["train"], event_type="START", time="2026-01-01T23:00:00Z"))
    r = alice_client.get(f"/api/v1/runs/{trained['train']}")
    assert r.status_code == 200
    data = r.json()
    assert data["state"] == "COMPLETED"
    assert data["inputs"] == [f"datasetVersion:postgres://bank-db:5432:features.credit#{trained['etl']}"]
    assert data["modelVersions"] == ["modelVersion:ml-pipelines:credit#7"]
    assert [h["eventType"] for h in data["stateHistory"]] == ["START", "COMPLETE"]
    assert alice_client.get(f"/api/v1/runs/{uuid.uuid4()}").status_code == 404
    assert alice_client.get("/api/v1/runs/not-a-uuid").status_code == 404


def test_marquez_shape_folds_runs_and_versions(trained, alice_client) -> None:
    r = alice_client.get("/api/v1/lineage", {"nodeId": "dataset:postgres://bank-db:5432:features.credit",
                                             "depth": 2})
    assert r.status_code == 200
    graph = r.json()["graph"]
    ids = [n["id"] for n in graph]
    assert ids == sorted(ids)
    assert {n["type"] for n in graph} == {"DATASET", "JOB"}  # Marquez's kinds only (issue 11)
    etl = next(n for n in graph if n["id"] == "job:ml-pipelines:etl")
    assert etl["inEdges"] == [{"origin": "dataset:postgres://bank-db:5432:core.customers",
                               "destination": "job:ml-pipelines:etl"}]
    assert etl["data"]["outputs"] == [{"namespace": "postgres://bank-db:5432", "name": "features.credit"}]
    assert alice_client.get("/api/v1/lineage", {"nodeId": "dataset:nope:nope"}).status_code == 404
    assert alice_client.get("/api/v1/lineage").json()["errors"][0]["field"] == "nodeId"


# -- visibility --------------------------------------------------------------------------------------------
def test_charlie_gets_404_for_another_teams_namespace(trained, credit_ns_owned, charlie_client, alice_client) -> None:
    ds = "dataset:postgres://bank-db:5432:core.customers"
    assert charlie_client.get(nodes_url(ds)).status_code == 404
    assert charlie_client.get(nodes_url(ds, "/upstream")).status_code == 404
    assert charlie_client.get("/api/v1/lineage", {"nodeId": ds}).status_code == 404
    assert charlie_client.get(f"/api/v1/runs/{trained['etl']}").status_code == 200  # ml-pipelines is unowned
    assert charlie_client.get("/api/v1/nodes", {"q": "customers"}).json()["count"] == 0
    walk = charlie_client.get(nodes_url("modelVersion:ml-pipelines:credit#7", "/upstream")).json()
    assert all("bank-db" not in n["id"] for n in walk["nodes"]) and "hidden" not in walk  # no count either
    assert alice_client.get(nodes_url(ds)).status_code == 200


def test_only_curators_set_tags(trained, alice_client, admin_client) -> None:
    url = nodes_url("dataset:postgres://bank-db:5432:features.credit", "/tags")
    assert alice_client.post(url, {"tag": "FINANCIAL"}, format="json").status_code == 403
    assert admin_client.post(url, {"tag": "NOPE"}, format="json").json()["errors"][0]["field"] == "tag"
    r = admin_client.post(url, {"tag": "FINANCIAL"}, format="json")
    assert r.status_code == 200
    assert {"field": "", "tag": "FINANCIAL", "source": "api"} in r.json()["tags"]
    mv = alice_client.get(nodes_url("modelVersion:ml-pipelines:credit#7")).json()
    assert set(mv["sensitiveUpstream"]) == {"PII", "FINANCIAL"}
    assert admin_client.delete(url, {"tag": "FINANCIAL"}, format="json").status_code == 200
    assert admin_client.delete(url, {"tag": "FINANCIAL"}, format="json").status_code == 404


def test_the_openapi_schema_and_docs_are_served(client, alice_client) -> None:
    assert client.get("/api/schema/").status_code in (401, 403)
    r = alice_client.get("/api/schema/")
    assert r.status_code == 200
    assert b"/api/v1/lineage/batch" in r.content
    client.force_login(Node._meta.apps.get_model("accounts", "User").objects.get(username="alice"))
    assert client.get("/api/docs/").status_code == 200


def test_the_openapi_schema_generates_without_warnings() -> None:
    from io import StringIO

    from django.core.management import call_command

    err = StringIO()
    call_command("spectacular", "--file", "/dev/null", "--fail-on-warn", stderr=err)
    assert "Warning" not in err.getvalue() and "Error" not in err.getvalue().replace("Errors:   0", "")


def test_a_malformed_marquez_field_id_is_400(alice_client) -> None:
    r = alice_client.get("/api/v1/lineage", {"nodeId": "datasetField:nothing-here"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "nodeId"
