"""Walk semantics users expect (issue 11): kinds fold versions into datasets and runs into jobs, downstream lists
jobs as upstream does, and the Marquez-shaped answer keeps Marquez's job-dataset edges only."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from tests.conftest import post_event
from tests.factories import dataset, facet, model_output, run_event

pytestmark = pytest.mark.django_db

BANK = "postgres://bank-db:5432"
MODEL = "modelVersion:ml-pipelines:credit#7"


def url(node_id: str, suffix: str) -> str:
    return f"/api/v1/nodes/{quote(node_id, safe='')}{suffix}"


@pytest.fixture
def chain(ingest_client) -> dict:
    dag, etl, train = (str(uuid.uuid4()) for _ in range(3))
    parent = {"parent": facet(run={"runId": dag}, job={"namespace": "ml-pipelines", "name": "nightly"})}
    post_event(ingest_client, run_event(job="etl", run_id=etl, time="2026-01-01T00:00:00Z", run_facets=parent,
                                        inputs=[dataset(BANK, "core.customers")],
                                        outputs=[dataset(BANK, "features.credit")]))
    post_event(ingest_client, run_event(job="train", run_id=train, time="2026-01-02T00:00:00Z",
                                        inputs=[dataset(BANK, "features.credit")],
                                        outputs=[model_output("credit", "7")]))
    return {"etl": etl, "train": train, "dag": dag}


def test_upstream_with_dataset_and_job_kinds_returns_the_datasets_and_jobs(chain, alice_client) -> None:
    r = alice_client.get(url(MODEL, "/upstream"), {"kinds": "dataset,job", "depth": 10})
    assert r.status_code == 200
    got = {n["id"] for n in r.json()["nodes"]}
    assert {f"dataset:{BANK}:core.customers", f"dataset:{BANK}:features.credit", "job:ml-pipelines:etl",
            "job:ml-pipelines:train"} <= got
    assert {n["kind"] for n in r.json()["nodes"]} == {"dataset", "job"}


def test_downstream_lists_jobs_as_upstream_does(chain, alice_client) -> None:
    r = alice_client.get(url(f"dataset:{BANK}:core.customers", "/downstream"), {"depth": 10})
    got = {n["id"] for n in r.json()["nodes"]}
    assert {"job:ml-pipelines:etl", "job:ml-pipelines:train"} <= got
    r = alice_client.get(url(f"dataset:{BANK}:core.customers", "/downstream"), {"kinds": "job,dataset"})
    got = {n["id"] for n in r.json()["nodes"]}
    assert got == {f"dataset:{BANK}:core.customers", f"dataset:{BANK}:features.credit",
                   "dataset:s3://models:credit/7/model.pkl", "job:ml-pipelines:etl", "job:ml-pipelines:train"}


def test_the_marquez_answer_has_only_job_dataset_edges_and_parent_job_names(chain, alice_client) -> None:
    r = alice_client.get("/api/v1/lineage", {"nodeId": "job:ml-pipelines:etl", "depth": 5})
    graph = r.json()["graph"]
    types = {n["id"]: n["type"] for n in graph}
    for n in graph:
        for e in n["inEdges"] + n["outEdges"]:
            kinds = {types[e["origin"]], types[e["destination"]]}
            assert kinds == {"JOB", "DATASET"}, e
    assert set(types.values()) <= {"JOB", "DATASET"}
    etl = next(n for n in graph if n["id"] == "job:ml-pipelines:etl")
    assert etl["data"]["parentJobName"] == "nightly"
    assert "job:ml-pipelines:nightly" not in types


def test_the_walks_of_several_seeds_in_one_statement_are_each_seeds_walk_alone(chain) -> None:
    from lineage.models import Node
    from lineage.selectors import upstream_all, upstream_all_each

    seeds = list(Node.objects.filter(node_id__in=[MODEL, f"dataset:{BANK}:features.credit", "job:ml-pipelines:etl",
                                                  f"dataset:{BANK}:core.customers"]).values_list("pk", flat=True))
    for bound in (100, 3):  # 3: the model's walk is cut, the others are not
        each = upstream_all_each(seeds=seeds, max_nodes=bound)
        for seed in seeds:
            alone = upstream_all(seeds=[seed], max_nodes=bound)
            assert (sorted(each[seed].pks), each[seed].cut, each[seed].parents, each[seed].deidentifying) == \
                (sorted(alone.pks), alone.cut, alone.parents, alone.deidentifying)
        assert each[Node.objects.get(node_id=MODEL).pk].cut is (bound == 3)
