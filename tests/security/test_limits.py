"""Size, count and depth limits answer a clear 4xx in the error shape, and write nothing."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.test import override_settings

from lineage.models import Node, RawEvent
from tests.conftest import post_event
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db


def _shape(r, field: str) -> dict:
    body = r.json()
    assert body["detail"] and body["errors"][0]["field"] == field
    return body


@override_settings(LINEAGE_MAX_EVENT_BYTES=1000)
def test_an_event_over_the_size_limit_is_413_naming_the_body(ingest_client) -> None:
    r = post_event(ingest_client, run_event(run_facets={"big": {"x": "y" * 2000}}))
    assert r.status_code == 413
    assert "limit of 1000 bytes" in _shape(r, "body")["detail"]
    assert RawEvent.objects.count() == 0


@override_settings(LINEAGE_MAX_BATCH_BYTES=3000)
def test_a_batch_over_the_size_limit_is_413(ingest_client) -> None:
    body = json.dumps([run_event(run_facets={"big": {"x": "y" * 1000}}) for _ in range(3)]).encode()
    r = ingest_client.post("/api/v1/lineage/batch", data=body, content_type="application/json")
    assert r.status_code == 413
    _shape(r, "body")
    assert RawEvent.objects.count() == 0


@override_settings(LINEAGE_MAX_BATCH_EVENTS=3)
def test_a_batch_over_the_count_limit_is_400_naming_the_limit(ingest_client) -> None:
    body = "\n".join(json.dumps(run_event()) for _ in range(4)).encode()
    r = ingest_client.post("/api/v1/lineage/batch", data=body, content_type="application/x-ndjson")
    assert r.status_code == 400
    assert "batch limit of 3" in _shape(r, "body")["detail"]
    assert RawEvent.objects.count() == 0


@override_settings(LINEAGE_MAX_EVENT_BYTES=1500)
def test_one_event_over_the_size_limit_in_a_batch_is_reported_alone(ingest_client) -> None:
    body = "\n".join(json.dumps(e) for e in [run_event(), run_event(run_facets={"b": {"x": "y" * 2000}})]).encode()
    r = ingest_client.post("/api/v1/lineage/batch", data=body, content_type="application/x-ndjson")
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["created", "error"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_any_api_body_over_the_global_limit_is_413_before_the_view(alice_client) -> None:
    r = alice_client.post("/api/v1/releases", data=json.dumps({"x": "y" * 3000}), content_type="application/json")
    assert r.status_code == 413
    _shape(r, "body")


@pytest.fixture
def chain(ingest_client) -> str:
    post_event(ingest_client, run_event(job="etl", inputs=[dataset("ns", "a")], outputs=[dataset("ns", "b")]))
    assert Node.objects.filter(node_id="dataset:ns:b").exists()
    return "dataset:ns:b"


@override_settings(LINEAGE_MAX_DEPTH=10)
@pytest.mark.parametrize("depth", ["11", "-1", "1e3", "x", "99999999999999999999"])
def test_depth_over_the_max_or_not_a_number_is_400_on_every_graph_query(chain, alice_client, depth) -> None:
    node = quote(chain, safe="")
    urls = [(f"/api/v1/nodes/{node}/upstream", {}), (f"/api/v1/nodes/{node}/downstream", {}),
            ("/api/v1/lineage", {"nodeId": chain}), ("/api/v1/paths", {"from": "dataset:ns:a", "to": chain})]
    for url, params in urls:
        r = alice_client.get(url, {**params, "depth": depth})
        assert r.status_code == 400, (url, r.content)
        _shape(r, "depth")
    ok = alice_client.get(f"/api/v1/nodes/{node}/upstream", {"depth": "10"})
    assert ok.status_code == 200
