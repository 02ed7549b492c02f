"""Column tags per column: PII carried to a model through DIRECT column edges, or only influencing it (a filter)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.urls import reverse

from portal.accounts.services import namespace_assign
from tests.conftest import post_event
from tests.factories import dataset, facet, model_output, run_event

pytestmark = pytest.mark.django_db

BANK = "postgres://bank-db:5432"
CUSTOMERS = f"dataset:{BANK}:crm.customers"
RISK = "modelVersion:ml-pipelines:risk#1"
CHURN = "modelVersion:ml-pipelines:churn#1"


def _with_lineage(d: dict[str, Any], fields: dict[str, list[tuple[str, str, str, str, str]]],
                  whole: list[tuple[str, str, str, str, str]] = ()) -> dict[str, Any]:
    def link(ns: str, name: str, fld: str, kind: str, subtype: str) -> dict[str, Any]:
        return {"namespace": ns, "name": name, "field": fld, "transformations": [{"type": kind, "subtype": subtype}]}

    d["facets"]["columnLineage"] = facet(fields={k: {"inputFields": [link(*x) for x in v]} for k, v in fields.items()},
                                         dataset=[link(*x) for x in whole])
    return d


@pytest.fixture
def world(ingest_client) -> None:
    """customers.ssn -> features.ssn_hash (DIRECT) -> model risk; customers.email only filters the rows of
    features.activity -> model churn."""
    customers = dataset(BANK, "crm.customers", tags={"ssn": ["PII"], "email": ["PII"], "birth_date": []},
                        version="v1")
    risk_features = _with_lineage(dataset("s3://features", "risk"), {
        "ssn_hash": [(BANK, "crm.customers", "ssn", "DIRECT", "TRANSFORMATION")],
        "age": [(BANK, "crm.customers", "birth_date", "DIRECT", "TRANSFORMATION")]})
    activity = _with_lineage(dataset("s3://features", "activity"), {
        "sessions": [("s3://raw", "web.events", "event_id", "DIRECT", "AGGREGATION")]},
        whole=[(BANK, "crm.customers", "email", "INDIRECT", "FILTER")])
    events = [
        run_event(job="risk_features", time="2026-01-10T10:00:00Z", inputs=[customers], outputs=[risk_features]),
        run_event(job="activity_features", time="2026-01-10T10:05:00Z",
                  inputs=[customers, dataset("s3://raw", "web.events")], outputs=[activity]),
        run_event(job="train_risk", time="2026-01-10T11:00:00Z", inputs=[dataset("s3://features", "risk")],
                  outputs=[model_output("risk", "1")]),
        run_event(job="train_churn", time="2026-01-10T11:05:00Z", inputs=[dataset("s3://features", "activity")],
                  outputs=[model_output("churn", "1")]),
    ]
    for ev in events:
        assert post_event(ingest_client, ev).status_code == 201
    # The bank namespace becomes credit-risk's afterwards: the pipeline token could not tag it then.
    namespace_assign(namespace=BANK, team="credit-risk")


def _cs(client, node_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/nodes/{quote(node_id, safe='')}")
    assert r.status_code == 200, r.content
    return r.json()["columnSensitivity"]


def test_pii_reaches_a_model_through_the_direct_column_path_it_was_trained_on(world, alice_client) -> None:
    cs = _cs(alice_client, RISK)
    assert cs["carries"] == {"PII": [{"dataset": CUSTOMERS, "field": "ssn"}]}
    assert cs["influencedBy"] == {}
    assert cs["columns"] == {"ssn_hash": {"carries": {"PII": [{"dataset": CUSTOMERS, "field": "ssn"}]},
                                          "influencedBy": {}}}
    assert {c["field"] for c in cs["trainedOn"]} == {"ssn_hash", "age"}


def test_pii_that_only_filters_the_rows_is_reported_as_influence_not_carried(world, alice_client) -> None:
    cs = _cs(alice_client, CHURN)
    assert cs["carries"] == {}
    assert cs["influencedBy"] == {"PII": [{"dataset": CUSTOMERS, "field": "email"}]}
    assert cs["columns"]["sessions"]["influencedBy"] == {"PII": [{"dataset": CUSTOMERS, "field": "email"}]}


def test_a_feature_dataset_carries_the_tag_of_its_source_column(world, alice_client) -> None:
    cs = _cs(alice_client, "dataset:s3://features:risk")
    assert cs["columns"]["ssn_hash"]["carries"] == {"PII": [{"dataset": CUSTOMERS, "field": "ssn"}]}
    assert "age" not in cs["columns"]  # birth_date carries no tag here


def test_an_outsider_learns_that_pii_reaches_but_not_from_where(world, charlie_client) -> None:
    cs = _cs(charlie_client, RISK)
    assert cs["carries"] == {"PII": []} and cs["hidden"] is True
    assert BANK not in str(cs)


def test_the_model_page_shows_carried_and_influencing_columns(world, alice, client) -> None:
    client.force_login(alice)
    r = client.get(reverse("web:node-detail", args=[RISK]))
    assert r.status_code == 200
    section = r.content.decode().split('id="column-sensitivity"')[1].split("</section>")[0]
    assert "<code>ssn</code>" in section and "<code>email</code>" not in section
    rows = section.split('id="column-paths"')[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 1 and "<code>ssn_hash</code>" in rows[0] and "<code>ssn</code>" in rows[0]
    assert "carries (DIRECT)" in rows[0] and "s3://features:risk" in rows[0]
    section = client.get(reverse("web:node-detail", args=[CHURN])).content.decode()
    section = section.split('id="column-sensitivity"')[1].split("</section>")[0]
    rows = section.split('id="column-paths"')[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 1 and "<code>sessions</code>" in rows[0] and "<code>email</code>" in rows[0]
    assert "influenced by (INDIRECT)" in rows[0]


def _columns(client, node_id: str) -> Any:
    return client.get(f"/api/v1/nodes/{quote(node_id, safe='')}/columns")


def test_a_dataset_lists_its_columns_with_tags_and_column_edges(world, alice_client) -> None:
    r = _columns(alice_client, CUSTOMERS)
    assert r.status_code == 200, r.content
    body = r.json()
    cols = {c["name"]: c for c in body["columns"]}
    assert [c["name"] for c in body["columns"]] == ["ssn", "email", "birth_date"]  # the schema's order
    assert cols["ssn"]["tags"] == ["PII"] and cols["birth_date"]["tags"] == []
    assert cols["ssn"]["downstream"] == [{"dataset": "dataset:s3://features:risk", "field": "ssn_hash",
                                          "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION",
                                                               "description": ""}]}]
    assert cols["email"]["downstream"] == [{"dataset": "dataset:s3://features:activity", "field": None,
                                            "transformations": [{"type": "INDIRECT", "subtype": "FILTER",
                                                                 "description": ""}]}]
    assert body["hidden"] is False and body["wholeDataset"] == []


def test_a_feature_dataset_lists_what_feeds_each_column_and_what_filters_it(world, alice_client) -> None:
    body = _columns(alice_client, "dataset:s3://features:activity").json()
    cols = {c["name"]: c for c in body["columns"]}
    assert cols["sessions"]["upstream"][0]["dataset"] == "dataset:s3://raw:web.events"
    assert cols["sessions"]["reaching"] == {"carries": {}, "influencedBy": {"PII": [{"dataset": CUSTOMERS,
                                                                                     "field": "email"}]}}
    assert body["wholeDataset"] == [{"dataset": CUSTOMERS, "field": "email", "transformations": [
        {"type": "INDIRECT", "subtype": "FILTER", "description": ""}]}]
    risk = {c["name"]: c for c in _columns(alice_client, "dataset:s3://features:risk").json()["columns"]}
    assert risk["ssn_hash"]["reaching"]["carries"] == {"PII": [{"dataset": CUSTOMERS, "field": "ssn"}]}


def test_an_outsider_gets_404_on_columns_and_never_the_hidden_sources(world, charlie_client) -> None:
    assert _columns(charlie_client, CUSTOMERS).status_code == 404
    body = _columns(charlie_client, "dataset:s3://features:risk").json()
    assert body["hidden"] is True and BANK not in str(body)
    assert {c["name"]: c["upstream"] for c in body["columns"]}["ssn_hash"] == []


def test_columns_of_a_model_are_a_400_naming_the_id(world, alice_client) -> None:
    r = _columns(alice_client, RISK)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "id"
