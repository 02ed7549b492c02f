"""Hostile strings in OpenLineage events: stored as given, returned exactly, shown escaped, never a 500.

Runs on SQLite and on PostgreSQL (DATABASE_URL): jsonb's refusal of U+0000 and b-tree row limits only bite there.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from lineage.models import Edge, Node, NodeTag, RawEvent
from lineage.services import lineage_rebuild
from portal.accounts.services import user_ensure
from portal.audit.models import AuditEntry
from tests.conftest import post_event
from tests.factories import dataset, deploy_facets, facet, model_output, run_event

pytestmark = pytest.mark.django_db
NS = "postgres://db:5432"

HOSTILE = {
    "html": '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "attr": '" onmouseover="alert(1)" x=\'',
    "sql": "t'; DROP TABLE lineage_node; -- % _ \\",
    "reportlab": "<para><b>bold</b> &amp; <font color=red>red</font> &lt;</para>",
    "rtl": "invoice\u202egpj.exe\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "controls": "a\x01b\x1b[31mred\x7f\u200b\ufeff\tend",
    "newlines": "line1\nline2\r\nline3",
    "emoji": "\U0001f9ea\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "long": "x" * 1000,
    "long-multibyte": "\u00e9" * 500,  # 1000 bytes
}


def _counts() -> tuple[int, int, int, int, int]:
    return (Node.objects.count(), Edge.objects.count(), RawEvent.objects.count(), NodeTag.objects.count(),
            AuditEntry.objects.count())


def _node(client, node_id: str):
    return client.get("/api/v1/nodes/" + quote(node_id, safe=""))


@pytest.mark.parametrize("label", list(HOSTILE))
def test_hostile_names_are_stored_as_given_and_round_trip(label, ingest_client, alice_client) -> None:
    name = HOSTILE[label]
    ev = run_event(job=name[:900] or "j", inputs=[dataset(NS, name, tags={name[:200]: ["PII"]})],
                   run_facets={"note": facet(text=name, comment=name)})
    body = json.dumps(ev, ensure_ascii=False).encode()
    r = post_event(ingest_client, body)
    assert r.status_code == 201, r.content
    raw = RawEvent.objects.get()
    assert bytes(raw.body) == body
    r = _node(alice_client, f"dataset:{NS}:{name}")
    assert r.status_code == 200
    data = r.json()
    assert data["name"] == name and data["namespace"] == NS
    assert data["tags"] == [{"field": name[:200], "tag": "PII", "source": "facet"}]
    job = _node(alice_client, f"job:ml-pipelines:{name[:900]}").json()
    assert job["name"] == name[:900]
    run = alice_client.get(f"/api/v1/runs/{ev['run']['runId']}").json()
    assert run["facets"]["note"]["text"] == name


@pytest.mark.parametrize("label", ["html", "attr", "reportlab", "newlines", "rtl"])
def test_pages_show_hostile_names_escaped(label, client, ingest_client, alice) -> None:
    name = HOSTILE[label]
    assert post_event(ingest_client, run_event(job="etl", inputs=[dataset(NS, name)])).status_code == 201
    auditor = user_ensure(username="audrey", role="auditor")
    client.force_login(auditor)
    pages = [client.get("/", {"q": name[:20]}), client.get("/lineage/node/" + quote(f"dataset:{NS}:{name}", safe="")),
             client.get("/lineage/node/" + quote("job:ml-pipelines:etl", safe="")), client.get("/audit/")]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for live in ("<script>", "<img", "<para>", "<b>", "<font", '" onmouseover'):
            assert live not in html
    assert "&lt;script&gt;" in pages[0].content.decode() if label == "html" else True
    assert "&lt;para&gt;&lt;b&gt;" in pages[1].content.decode() if label == "reportlab" else True


def test_a_nul_in_facets_is_kept_in_the_raw_body_and_replaced_in_the_json_copies(ingest_client, alice_client) -> None:
    ev = run_event(job="etl", inputs=[dataset(NS, "t", **{"doc\x00": facet(text="a\x00b", items=["\x00"])})],
                   run_facets={"note": facet(text="nul\x00here")})
    body = json.dumps(ev).encode()
    assert b"\\u0000" in body
    assert post_event(ingest_client, body).status_code == 201
    raw = RawEvent.objects.get()
    assert bytes(raw.body) == body
    assert raw.payload["run"]["facets"]["note"]["text"] == "nul\ufffdhere"
    node = _node(alice_client, f"dataset:{NS}:t").json()
    assert node["facets"]["doc\ufffd"]["text"] == "a\ufffdb"
    assert alice_client.get(f"/api/v1/runs/{ev['run']['runId']}").json()["facets"]["note"]["text"] == "nul\ufffdhere"
    lineage_rebuild()  # replays the exact bytes
    assert _node(alice_client, f"dataset:{NS}:t").json()["facets"]["doc\ufffd"]["items"] == ["\ufffd"]


@pytest.mark.parametrize(("where", "event", "field"), [
    ("input name", run_event(inputs=[dataset(NS, "a\x00b")]), "inputs[0].name"),
    ("output namespace", run_event(outputs=[dataset("n\x00s", "b")]), "outputs[0].namespace"),
    ("job name", run_event(job="j\x00"), "job.name"),
    ("10k name", run_event(inputs=[dataset(NS, "n" * 10_000)]), "inputs[0].name"),
    ("1001 bytes", run_event(outputs=[dataset(NS, "x" * 1001)]), "outputs[0].name"),
    ("multibyte", run_event(inputs=[dataset(NS, "\U0001f600" * 400)]), "inputs[0].name"),
    ("namespace", run_event(namespace="n" * 501), "job.namespace"),
    ("dataset event", {"eventTime": "2026-01-01T00:00:00Z", "dataset": {"namespace": NS, "name": "d" * 2000}},
     "dataset.name"),
    ("time overflow", run_event(time="0001-01-01T00:00:00+01:00"), "eventTime"),
])
def test_names_that_cannot_be_stored_are_a_400_naming_the_field(where, event, field, ingest_client) -> None:
    before = _counts()
    r = post_event(ingest_client, event)
    assert r.status_code == 400, (where, r.content)
    assert r.json()["errors"][0]["field"] == field
    assert _counts() == before


@pytest.mark.parametrize(("where", "body"), [
    ("invalid utf-8", b'{"eventTime": "2026-01-01T00:00:00Z", "producer": "\xff\xfe"}'),
    ("lone surrogate", b'{"eventTime": "2026-01-01T00:00:00Z", "producer": "\\ud800"}'),
    ("invalid utf-8 in an unknown key", b'{"\xff": 1, ' + json.dumps(run_event()).encode()[1:]),
    ("lone surrogate in an unknown key", b'{"\\udc00": 1, ' + json.dumps(run_event()).encode()[1:]),
    ("lone surrogate in a facet", json.dumps(run_event(run_facets={"x": facet(v="\ud800")})).encode()),
    ("deep nesting", json.dumps(run_event(run_facets={"x": facet(v=json.loads("[" * 150 + "]" * 150))})).encode()),
    ("deeper nesting", json.dumps(run_event()).encode()[:-1] + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
])
def test_undecodable_bodies_are_a_400(where, body, ingest_client) -> None:
    before = _counts()
    r = post_event(ingest_client, body)
    assert r.status_code == 400, (where, r.content)
    assert r.json()["detail"]
    assert _counts() == before


def test_facet_values_that_cannot_be_node_ids_are_warned_about_not_a_500(ingest_client, alice_client) -> None:
    long = "v" * 5000
    out = model_output("m", "1")
    out["facets"]["portalModelVersion"]["name"] = "m\x00"
    ds = dataset(NS, "versioned", version=long, tags={"c" * 600: ["PHI"]})
    ev = run_event(outputs=[ds, out], run_facets=deploy_facets("m", "1", "e" * 200),
                   job_facets={"sourceCodeLocation": facet(type="git", repoUrl="r" * 600, version="abc1234")})
    r = post_event(ingest_client, ev)
    assert r.status_code == 201, r.content
    warnings = " ".join(r.json()["warnings"])
    for part in ("datasetVersion", "portalModelVersion", "environment", "repoUrl", "column"):
        assert part in warnings
    tags = _node(alice_client, f"dataset:{NS}:versioned").json()["tags"]
    assert tags == [{"field": "", "tag": "PHI", "source": "facet"}]  # kept on the dataset, not dropped


def test_batch_reports_hostile_items_one_by_one(ingest_client) -> None:
    items = [run_event(inputs=[dataset(NS, "ok")]), run_event(inputs=[dataset(NS, "bad\x00")])]
    r = ingest_client.post("/api/v1/lineage/batch", data="\n".join(json.dumps(i) for i in items).encode(),
                           content_type="application/x-ndjson")
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["created", "error"]
    assert r.json()["results"][1]["error"]["field"] == "inputs[0].name"


@pytest.mark.parametrize("payload", [
    {"repo": "\U0001f600" * 200, "sha": "abc1234", "time": "2026-01-01T00:00:00Z"},
    {"repo": "r\x00", "sha": "abc1234", "time": "2026-01-01T00:00:00Z"},
])
def test_rest_records_refuse_names_that_cannot_be_stored(payload, ingest_client) -> None:
    r = ingest_client.post("/api/v1/commits", payload, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "repo"


def test_sql_in_search_is_just_text(alice_client, ingest_client) -> None:
    assert post_event(ingest_client, run_event(inputs=[dataset(NS, HOSTILE["sql"])])).status_code == 201
    r = alice_client.get("/api/v1/nodes", {"q": "'; DROP TABLE"})
    assert [n["name"] for n in r.json()["results"]] == [HOSTILE["sql"]] * 2 or r.json()["count"] >= 1
    assert alice_client.get("/api/v1/nodes", {"q": "%"}).json()["count"] >= 1
    assert alice_client.get("/api/v1/nodes", {"q": "' OR '1'='1"}).json()["count"] == 0
    assert Node.objects.filter(name=HOSTILE["sql"]).exists()
