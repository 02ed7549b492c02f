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


@pytest.mark.parametrize(("role", "landing"), [("approver", "/approvals/"), ("auditor", "/audit/"),
                                               ("compliance_officer", "/dashboard/"), ("admin", "/dashboard/"),
                                               ("viewer", "/")])
def test_each_role_lands_on_its_page_after_sign_in(client, role, landing) -> None:
    from portal.accounts.services import user_ensure

    user_ensure(username=f"u-{role}", role=role, password="landing-pass-1")
    r = client.post("/login/", {"username": f"u-{role}", "password": "landing-pass-1"})
    assert r.status_code == 302 and r["Location"] == landing


def test_sign_in_respects_a_safe_next(client) -> None:
    from portal.accounts.services import user_ensure

    user_ensure(username="ann", role="approver", password="landing-pass-1")
    r = client.post("/login/", {"username": "ann", "password": "landing-pass-1", "next": "/lineage/explore/"})
    assert r["Location"] == "/lineage/explore/"
    client.logout()
    r = client.post("/login/", {"username": "ann", "password": "landing-pass-1", "next": "https://evil.example/"})
    assert r["Location"] == "/approvals/"


def test_the_explorer_searches_and_escapes(client, alice, hostile) -> None:
    client.force_login(alice)
    r = client.get("/lineage/explore/", {"q": "script"})
    assert r.status_code == 200 and b"&lt;script&gt;alert(1)" in r.content and b"<script>alert(1)" not in r.content
    r = client.get("/lineage/explore/", {"node": hostile})
    assert r.status_code == 200 and b'id="explorer-config"' in r.content
    assert b"<script>alert(1)" not in r.content


def test_charlie_gets_404_in_the_explorer(client, charlie, hostile, credit_ns_owned) -> None:
    client.force_login(charlie)
    assert client.get("/lineage/explore/", {"node": hostile}).status_code == 404
    assert b"alert" not in client.get("/lineage/explore/", {"q": "script"}).content


def test_the_dashboard_shows_an_empty_organisation(client, alice) -> None:
    client.force_login(alice)
    r = client.get("/dashboard/")
    assert r.status_code == 200
    assert b"Nothing is deployed to production." in r.content and b"Audit log, verification" not in r.content


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    """The Content-Security-Policy forbids inline code: scripts come from static files, data from json_script."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    bad = []
    for path in root.rglob("*.html"):
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\sstyle=", r"\son[a-z]+\s*=", r"<style"):
            bad += [f"{path.relative_to(root)}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert not bad, bad


@pytest.mark.django_db
def test_a_service_account_session_only_reaches_its_tokens(ingestor, client) -> None:
    client.force_login(ingestor)
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/lineage/explore/").status_code == 403
    assert client.get("/settings/tokens/").status_code == 200


DECEPTIVE = "invoice\u202egpj.exe\u200b\u2066x\u2069"  # shows as "invoiceexe.jpg" with the override obeyed


def test_rtl_overrides_and_zero_width_characters_are_shown_not_obeyed_on_every_page(client, alice) -> None:
    from lineage.models import Node
    from portal.lib.text import neutralise

    ev = run_event(job="etl", inputs=[dataset("postgres://bank-db:5432", DECEPTIVE)])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    node = Node.objects.get(name=DECEPTIVE, kind="dataset")
    client.force_login(alice)
    pages = [("/", {"q": "invoice"}), ("/lineage/node/" + quote(node.node_id, safe=""), {}),
             ("/lineage/explore/", {"q": "invoice"}), ("/lineage/explore/", {"node": node.node_id})]
    for url, params in pages:
        r = client.get(url, params)
        text = r.content.decode()
        assert r.status_code == 200 and "\u202e" not in text and "\u200b" not in text and "\u2066" not in text, url
    assert "[U+202E]" in client.get(*pages[1]).content.decode()
    assert neutralise(DECEPTIVE) == "invoice[U+202E]gpj.exe[U+200B][U+2066]x[U+2069]"
    # the API answers the data as stored: a client decides how to show it
    assert client.get("/api/v1/nodes/" + quote(node.node_id, safe="")).json()["name"] == DECEPTIVE


def test_the_pdf_neutralises_the_same_way() -> None:
    from portal.lib.text import neutralise
    from portal.reports.pdf_text import clean

    assert clean(DECEPTIVE) == neutralise(DECEPTIVE)
