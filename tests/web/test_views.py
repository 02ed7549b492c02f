"""Pages: status codes, escaping, and the outsider's 404."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from lineage.openlineage import parse_event
from lineage.services import events_ingest
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def hostile() -> str:
    name = "<script>alert(1)</script>"
    ev = run_event(job="etl", inputs=[dataset("postgres://bank-db:5432", name, tags={"ssn": ["PII"]})])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    return f"dataset:postgres://bank-db:5432:{name}"


def test_home_and_node_pages_escape_user_data(client, alice, hostile) -> None:
    client.force_login(alice)
    r = client.get("/", {"q": "script"})
    assert r.status_code == 200
    assert b"<script>alert(1)" not in r.content and b"&lt;script&gt;alert(1)" in r.content
    r = client.get("/lineage/node/" + quote(hostile, safe=""))
    assert r.status_code == 200
    assert b"<script>alert(1)" not in r.content
    assert b"PII" in r.content


def test_charlie_gets_404_on_another_teams_node_page(client, charlie, hostile, credit_ns_owned) -> None:
    client.force_login(charlie)
    assert client.get("/lineage/node/" + quote(hostile, safe="")).status_code == 404


def test_healthz_answers_without_login(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": True}
