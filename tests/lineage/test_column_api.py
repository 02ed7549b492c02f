"""The column walks and Marquez's datasetField ids: edges with their transformations, and who sees what."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from portal.accounts.services import namespace_assign
from tests.conftest import post_event
from tests.factories import dataset, facet, run_event

pytestmark = pytest.mark.django_db

BANK = "postgres://bank-db:5432"
CUSTOMERS = f"dataset:{BANK}:crm.customers"
FEATURES = "dataset:s3://features:customers"
SCORES = "dataset:s3://marts:scores"
RUN1 = "11111111-1111-4111-8111-111111111111"
RUN2 = "22222222-2222-4222-8222-222222222222"
V_CUSTOMERS = f"datasetVersion:{BANK}:crm.customers#v1"
V_FEATURES = f"datasetVersion:s3://features:customers#{RUN1}"
V_SCORES = f"datasetVersion:s3://marts:scores#{RUN2}"


def _link(ns: str, name: str, fld: str, kind: str, subtype: str, description: str = "") -> dict[str, Any]:
    return {"namespace": ns, "name": name, "field": fld,
            "transformations": [{"type": kind, "subtype": subtype, "description": description}]}


def _out(ns: str, name: str, fields: dict[str, list[dict[str, Any]]], whole: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    d = dataset(ns, name)
    d["facets"]["columnLineage"] = facet(fields={k: {"inputFields": v} for k, v in fields.items()},
                                         dataset=whole or [])
    return d


@pytest.fixture
def world(ingest_client) -> None:
    """crm.customers (credit-risk's bank namespace) -> features.customers -> marts.scores, per column."""
    features = _out("s3://features", "customers", {
        "ssn_hash": [_link(BANK, "crm.customers", "ssn", "DIRECT", "TRANSFORMATION", "sha256(ssn)")],
        "age": [_link(BANK, "crm.customers", "birth_date", "DIRECT", "TRANSFORMATION")],
    }, whole=[_link(BANK, "crm.customers", "country", "INDIRECT", "FILTER")])
    ev1 = run_event(job="build_features", run_id=RUN1, time="2026-01-10T10:00:00Z",
                    inputs=[dataset(BANK, "crm.customers", version="v1")], outputs=[features])
    scores = _out("s3://marts", "scores", {
        "key": [_link("s3://features", "customers", "ssn_hash", "DIRECT", "IDENTITY")],
        "mean_age": [_link("s3://features", "customers", "age", "DIRECT", "AGGREGATION"),
                     _link("s3://features", "customers", "ssn_hash", "INDIRECT", "GROUP_BY")],
    })
    ev2 = run_event(job="score", run_id=RUN2, time="2026-01-10T11:00:00Z",
                    inputs=[dataset("s3://features", "customers")], outputs=[scores])
    for ev in (ev1, ev2):
        assert post_event(ingest_client, ev).status_code == 201
    # The bank namespace becomes credit-risk's afterwards: the pipeline token could not tag it then.
    namespace_assign(namespace=BANK, team="credit-risk")


def _url(node_id: str, fld: str, direction: str, query: str = "") -> str:
    return f"/api/v1/nodes/{quote(node_id, safe='')}/columns/{quote(fld, safe='')}/{direction}{query}"


def _edges(body: dict[str, Any]) -> set[tuple[str, str, str, str, tuple[tuple[str, str], ...]]]:
    return {(e["source"]["datasetVersion"], e["source"]["field"] or "", e["target"]["datasetVersion"],
             e["target"]["field"] or "", tuple((t["type"], t["subtype"]) for t in e["transformations"]))
            for e in body["edges"]}


def test_downstream_of_a_column_follows_its_edges_through_every_version(world, alice_client) -> None:
    r = alice_client.get(_url(CUSTOMERS, "ssn", "downstream"))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["root"] == {"dataset": CUSTOMERS, "datasetVersion": None, "field": "ssn"}
    assert _edges(body) == {
        (V_CUSTOMERS, "ssn", V_FEATURES, "ssn_hash", (("DIRECT", "TRANSFORMATION"),)),
        (V_FEATURES, "ssn_hash", V_SCORES, "key", (("DIRECT", "IDENTITY"),)),
        (V_FEATURES, "ssn_hash", V_SCORES, "mean_age", (("INDIRECT", "GROUP_BY"),)),
    }
    assert [(c["datasetVersion"], c["field"], c["distance"]) for c in body["columns"]] == [
        (V_FEATURES, "ssn_hash", 1), (V_SCORES, "key", 2), (V_SCORES, "mean_age", 2)]
    direct = alice_client.get(_url(CUSTOMERS, "ssn", "downstream", "?type=DIRECT")).json()
    assert {(e[2], e[3]) for e in _edges(direct)} == {(V_FEATURES, "ssn_hash"), (V_SCORES, "key")}


def test_upstream_of_a_column_includes_what_filters_its_whole_dataset(world, alice_client) -> None:
    body = alice_client.get(_url(V_SCORES, "mean_age", "upstream")).json()
    assert _edges(body) == {
        (V_FEATURES, "age", V_SCORES, "mean_age", (("DIRECT", "AGGREGATION"),)),
        (V_FEATURES, "ssn_hash", V_SCORES, "mean_age", (("INDIRECT", "GROUP_BY"),)),
        (V_CUSTOMERS, "birth_date", V_FEATURES, "age", (("DIRECT", "TRANSFORMATION"),)),
        (V_CUSTOMERS, "ssn", V_FEATURES, "ssn_hash", (("DIRECT", "TRANSFORMATION"),)),
        (V_CUSTOMERS, "country", V_FEATURES, "", (("INDIRECT", "FILTER"),)),
    }
    shallow = alice_client.get(_url(V_SCORES, "mean_age", "upstream", "?depth=1")).json()
    assert shallow["truncated"]["depth"] is True and len(shallow["edges"]) == 2


def test_columns_of_a_dataset_the_reader_may_not_see_are_left_out(world, charlie_client) -> None:
    body = charlie_client.get(_url(V_SCORES, "mean_age", "upstream")).json()
    assert {(e[0], e[2]) for e in _edges(body)} == {(V_FEATURES, V_SCORES)}
    assert body["hidden"] == 3  # ssn, birth_date and country of crm.customers
    assert BANK not in str(body)
    assert charlie_client.get(_url(CUSTOMERS, "ssn", "downstream")).status_code == 404


def test_bad_requests_name_the_problem(world, alice_client, client) -> None:
    assert alice_client.get(_url(CUSTOMERS, "no_such_column", "upstream")).status_code == 404
    r = alice_client.get(_url(CUSTOMERS, "ssn", "upstream", "?type=SIDEWAYS"))
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "type"
    r = alice_client.get(_url("job:ml-pipelines:score", "x", "upstream"))
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "id"
    r = alice_client.get(_url(CUSTOMERS, "ssn", "upstream", "?depth=-1"))
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "depth"
    assert client.get(_url(CUSTOMERS, "ssn", "upstream")).status_code == 401


def test_marquez_dataset_field_ids_answer_marquez_column_lineage(world, alice_client) -> None:
    r = alice_client.get("/api/v1/lineage", {"nodeId": "datasetField:s3://marts:scores:mean_age"})
    assert r.status_code == 200, r.content
    graph = {n["id"]: n for n in r.json()["graph"]}
    assert sorted(graph) == [f"datasetField:{BANK}:crm.customers:birth_date",
                             f"datasetField:{BANK}:crm.customers:ssn",
                             "datasetField:s3://features:customers:age",
                             "datasetField:s3://features:customers:ssn_hash",
                             "datasetField:s3://marts:scores:mean_age"]
    mean_age = graph["datasetField:s3://marts:scores:mean_age"]
    assert mean_age["type"] == "DATASET_FIELD"
    assert [(f["dataset"], f["field"], f["transformationType"]) for f in mean_age["data"]["inputFields"]] == [
        ("customers", "age", "AGGREGATION"), ("customers", "ssn_hash", "GROUP_BY")]
    assert mean_age["inEdges"] == [{"origin": "datasetField:s3://features:customers:age",
                                    "destination": "datasetField:s3://marts:scores:mean_age"},
                                   {"origin": "datasetField:s3://features:customers:ssn_hash",
                                    "destination": "datasetField:s3://marts:scores:mean_age"}]
    assert graph[f"datasetField:{BANK}:crm.customers:ssn"]["data"] is None  # only ever read, as in Marquez
    down = alice_client.get("/api/v1/lineage", {"nodeId": f"datasetField:{BANK}:crm.customers:ssn",
                                                "withDownstream": "true"}).json()
    assert "datasetField:s3://marts:scores:key" in {n["id"] for n in down["graph"]}
    up_only = alice_client.get("/api/v1/lineage", {"nodeId": f"datasetField:{BANK}:crm.customers:ssn"}).json()
    assert up_only == {"graph": []}


def test_marquez_dataset_field_ids_hide_and_refuse_like_nodes(world, alice_client, charlie_client) -> None:
    hidden = charlie_client.get("/api/v1/lineage", {"nodeId": "datasetField:s3://marts:scores:mean_age"}).json()
    assert BANK not in str(hidden)
    r = charlie_client.get("/api/v1/lineage", {"nodeId": f"datasetField:{BANK}:crm.customers:ssn"})
    assert r.status_code == 404
    assert alice_client.get("/api/v1/lineage", {"nodeId": "datasetField:s3://marts:scores:nope"}).status_code == 404
    r = alice_client.get("/api/v1/lineage", {"nodeId": "datasetField:s3://marts:scores"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "nodeId"


def test_a_column_that_filters_a_dataset_reaches_what_its_columns_feed(world, alice_client) -> None:
    body = alice_client.get(_url(CUSTOMERS, "country", "downstream")).json()
    assert _edges(body) == {
        (V_CUSTOMERS, "country", V_FEATURES, "", (("INDIRECT", "FILTER"),)),
        (V_FEATURES, "ssn_hash", V_SCORES, "key", (("DIRECT", "IDENTITY"),)),
        (V_FEATURES, "ssn_hash", V_SCORES, "mean_age", (("INDIRECT", "GROUP_BY"),)),
        (V_FEATURES, "age", V_SCORES, "mean_age", (("DIRECT", "AGGREGATION"),)),
    }
    assert {(c["datasetVersion"], c["field"]) for c in body["columns"] if c["distance"] == 2} == {
        (V_SCORES, "key"), (V_SCORES, "mean_age")}
