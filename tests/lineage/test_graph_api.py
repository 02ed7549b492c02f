"""The explorer's graph API: laid-out neighbourhoods, sensitive tags on every node they reach, bounds, denials."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from lineage import selectors
from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from tests.factories import dataset, model_output, run_event

pytestmark = pytest.mark.django_db

MODEL = "modelVersion:ml-pipelines:readmission#1"


def ingest(*events: dict) -> None:
    events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)


def graph_url(node_id: str) -> str:
    return f"/api/v1/nodes/{quote(node_id, safe='')}/graph"


@pytest.fixture
def pipeline() -> None:
    """ehr.admissions (PHI) -> deidentify -> admissions_deid; bank.cust (PII) -> features; both -> train -> model."""
    ingest(run_event(job="deidentify", run_facets={"portalRun": {"deidentifies": True}},
                     inputs=[dataset("postgres://bank-db:5432", "admissions", tags={"patient_name": ["PHI"]})],
                     outputs=[dataset("ehr", "admissions_deid")], time="2026-01-10T08:00:00Z"),
           run_event(job="features", inputs=[dataset("bank", "cust", tags={"ssn": ["PII"]})],
                     outputs=[dataset("bank", "features")], time="2026-01-10T09:00:00Z"),
           run_event(job="train", inputs=[dataset("ehr", "admissions_deid"), dataset("bank", "features")],
                     outputs=[model_output("readmission", "1")], time="2026-01-10T10:00:00Z"))


def by_name(body: dict) -> dict[str, dict]:
    return {(n["kind"], n.get("label") or n["name"]): n for n in body["nodes"]}


def test_it_lays_out_the_neighbourhood_left_to_right(alice_client, pipeline) -> None:
    r = alice_client.get(graph_url(MODEL), {"depth": 10})
    assert r.status_code == 200
    body = r.json()
    nodes = {n["id"]: n for n in body["nodes"]}
    assert body["root"] == MODEL and nodes[MODEL]["side"] == "root" and nodes[MODEL]["distance"] == 0
    for e in body["edges"]:
        assert nodes[e["source"]]["x"] < nodes[e["target"]]["x"]
    named = by_name(body)
    assert named[("run", "train")]["side"] == "upstream"
    assert {"x", "y", "layer", "tags", "namespace", "version"} <= set(nodes[MODEL])
    assert body["truncated"] == {"depth": False, "size": False}


def test_edge_kinds_come_in_words_and_the_grid_says_how_positions_were_spaced(alice_client, pipeline) -> None:
    body = alice_client.get(graph_url(MODEL), {"depth": 10}).json()
    assert body["edgeKinds"]["built_from"] == {"name": "built from", "description": "commit builds job or run"}
    assert body["edgeKinds"]["parent_of"]["name"] == "parent of"
    assert {e["kind"] for e in body["edges"]} <= set(body["edgeKinds"])
    rows = {n["y"] / body["grid"]["row"] for n in body["nodes"]}
    columns = {n["x"] / body["grid"]["column"] for n in body["nodes"]}
    assert columns == {float(n["layer"]) for n in body["nodes"]} and min(rows) == 0


def test_sensitive_tags_show_on_every_node_they_reach_and_stop_at_de_identification(alice_client, pipeline,
                                                                                    settings) -> None:
    named = by_name(alice_client.get(graph_url(MODEL), {"depth": 10}).json())
    # PHI needs an approved de-identification determination to stop (tests/evidence/test_deid_stops.py) ...
    assert named[("datasetVersion", "admissions_deid")]["sensitive"] == ["PHI"]
    settings.LINEAGE_DEID_EVIDENCE_TAGS = []  # ... unless no tag is configured to need one: the mark alone stops
    named = by_name(alice_client.get(graph_url(MODEL), {"depth": 10}).json())
    assert named[("datasetVersion", "cust")]["sensitive"] == ["PII"]
    assert named[("datasetVersion", "features")]["sensitive"] == ["PII"]
    assert named[("modelVersion", "readmission")]["sensitive"] == ["PII"]
    assert named[("run", "deidentify")]["sensitive"] == ["PHI"]  # it reads PHI ...
    assert named[("datasetVersion", "admissions_deid")]["sensitive"] == []  # ... and writes none


def test_the_tags_match_sensitive_upstream_for_each_node(alice_client, pipeline) -> None:
    body = alice_client.get(graph_url(MODEL), {"depth": 10}).json()
    for n in body["nodes"]:
        node = Node.objects.get(node_id=n["id"])
        assert n["sensitive"] == sorted(selectors.sensitive_upstream(node=node)), n["id"]


def test_a_small_depth_says_the_graph_is_cut(alice_client, pipeline) -> None:
    body = alice_client.get(graph_url(MODEL), {"depth": 1, "direction": "upstream"}).json()
    assert body["truncated"]["depth"] is True
    assert {n["distance"] for n in body["nodes"]} == {0, 1}
    # the PII still shows on the model, though its source is not drawn (and PHI, which no determination stops)
    assert by_name(body)[("modelVersion", "readmission")]["sensitive"] == ["PHI", "PII"]


def test_expanding_a_node_adds_its_neighbours(alice_client, pipeline) -> None:
    first = alice_client.get(graph_url(MODEL), {"depth": 1, "direction": "upstream"}).json()
    train = by_name(first)[("run", "train")]["id"]
    assert not any(n["name"] == "admissions_deid" for n in first["nodes"])
    r = alice_client.get(graph_url(MODEL), {"depth": 1, "direction": "upstream", "expand": train})
    body = r.json()
    assert any(n["name"] == "admissions_deid" for n in body["nodes"])
    assert {e["target"] for e in body["edges"]} >= {train}


def test_the_size_limit_keeps_the_nearest_nodes(alice_client, pipeline) -> None:
    body = alice_client.get(graph_url(MODEL), {"depth": 10, "limit": 3}).json()
    assert len(body["nodes"]) == 3 and body["truncated"]["size"] is True
    assert body["nodes"][0]["id"] == MODEL


@pytest.mark.parametrize(("params", "field"), [({"depth": 51}, "depth"), ({"depth": "x"}, "depth"),
                                                ({"direction": "sideways"}, "direction"), ({"limit": 0}, "limit"),
                                                ({"expand": "dataset:nope:nope"}, "expand")])
def test_bad_parameters_are_400_naming_them(alice_client, pipeline, params, field) -> None:
    r = alice_client.get(graph_url(MODEL), params)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == field


def test_charlie_gets_404_and_hidden_nodes_are_left_out(alice_client, charlie_client, pipeline,
                                                        credit_ns_owned) -> None:
    assert charlie_client.get(graph_url("dataset:postgres://bank-db:5432:admissions")).status_code == 404
    body = charlie_client.get(graph_url(MODEL), {"depth": 10}).json()
    assert "hidden" not in body  # not even how many were left out
    assert not any(n["namespace"] == "postgres://bank-db:5432" for n in body["nodes"])
    assert alice_client.get(graph_url("dataset:postgres://bank-db:5432:admissions")).status_code == 200


def test_a_dataset_is_drawn_left_of_its_versions(alice_client, pipeline) -> None:
    body = alice_client.get(graph_url("dataset:bank:cust")).json()
    nodes = {n["id"]: n for n in body["nodes"]}
    versions = [e for e in body["edges"] if e["kind"] == "version"]
    assert versions and all(e["source"] == "dataset:bank:cust" for e in versions)
    assert all(nodes[e["source"]]["x"] < nodes[e["target"]]["x"] for e in versions)
