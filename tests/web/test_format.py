"""One way to show things: one date-time format, JSON payloads as JSON, kinds in words, the navigation's
current section, and API docs grouped by resource with a way back."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote

import pytest
from django.db import transaction
from django.utils import timezone

from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.audit.models import AuditEntry
from portal.audit.services import audit_record
from portal.web.templatetags.portal_format import pretty_json, relative, when
from portal.web.templatetags.portal_nodes import edge_name, kind_name
from tests.factories import dataset, run_event

MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d")


def test_when_is_absolute_utc_to_the_second_with_a_relative_hint() -> None:
    moment = timezone.now().replace(microsecond=123456) - dt.timedelta(hours=3)
    html = str(when(moment))
    assert moment.strftime("%Y-%m-%d %H:%M:%S UTC") in html and "123456" not in html
    assert "(3\xa0hours ago)" in html and f'datetime="{moment:%Y-%m-%dT%H:%M:%S}Z"' in html
    from_text = str(when(moment.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()))
    assert from_text == html  # an ISO string (as the audit log stores times) in any offset reads the same
    assert when(None) == "" and f'>{moment:%Y-%m-%d}</time>' in str(when(moment, "day"))


def test_relative_hint_reads_both_ways() -> None:
    now = timezone.now()
    assert relative(now, now) == "just now"
    assert relative(now + dt.timedelta(days=2, hours=1), now) == "in 2\xa0days"


def test_pretty_json_and_words() -> None:
    assert pretty_json({"b": 1, "a": [True, None]}) == '{\n  "a": [\n    true,\n    null\n  ],\n  "b": 1\n}'
    assert kind_name("datasetVersion") == "Dataset version" and kind_name("release") == "release"
    assert edge_name("built_from") == "built from"


@pytest.fixture
def node_id(db) -> str:
    ev = run_event(job="etl", inputs=[dataset("postgres://bank-db:5432", "loans")])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    return "dataset:postgres://bank-db:5432:loans"


@pytest.mark.django_db
def test_node_pages_show_one_time_format_and_highlight_the_explorer(client, alice, node_id) -> None:
    client.force_login(alice)
    page = client.get("/lineage/node/" + quote(node_id, safe="")).content.decode()
    assert "<time datetime=" in page and not MICROSECONDS.search(page)
    current = re.findall(r'<a href="([^"]+)" aria-current="page">', page)
    assert current == ["/lineage/explore/"]


@pytest.mark.django_db
def test_each_section_highlights_itself_once(client, admin_user) -> None:
    client.force_login(admin_user)
    for path in ("/", "/dashboard/", "/lineage/explore/", "/approvals/", "/evidence/", "/reports/", "/audit/",
                 "/settings/tokens/"):
        page = client.get(path).content.decode()
        assert re.findall(r'<a href="([^"]+)" aria-current="page">', page) == [path], path


@pytest.mark.django_db
def test_audit_entries_show_pretty_json_not_python(client, admin_user) -> None:
    with transaction.atomic():
        audit_record(actor=admin_user, action="test.shown", target_kind="datasetVersion", target_id="x",
                     payload={"flag": True, "note": None, "name": "loans"})
    seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    client.force_login(admin_user)
    page = client.get(f"/audit/entries/{seq}").content.decode()
    assert "&quot;flag&quot;: true" in page and "&quot;note&quot;: null" in page
    assert "True" not in page.split("Payload")[1] and "&#x27;flag&#x27;" not in page
    assert "Dataset version x" in page and not MICROSECONDS.search(page)


@pytest.mark.django_db
def test_api_docs_are_grouped_by_resource_and_link_back(client, admin_user) -> None:
    client.force_login(admin_user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    tags = {t for ops in schema["paths"].values() for op in ops.values() for t in op.get("tags", [])}
    assert "v1" not in tags and {"releases", "nodes", "audit", "lineage", "documents"} <= tags
    page = client.get("/api/docs/").content.decode()
    assert 'class="docs-back"' in page and 'href="/"' in page


def test_no_template_formats_dates_its_own_way() -> None:
    """Every date and time on every page goes through ``|when`` (the one format); ``|date:`` is another."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [f"{p.relative_to(root)}: {m.group(0)}" for p in root.rglob("*.html")
                 for m in re.finditer(r"\|date:\"[^\"]*\"", p.read_text())]
    assert offenders == []


def test_when_has_a_plain_text_form_for_svg_titles() -> None:
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=dt.UTC)
    assert when(moment, "plain") == "2026-03-04 05:06:07 UTC" and when(moment, "plain-day") == "2026-03-04"
    assert when(dt.date(2026, 3, 4), "plain-day") == "2026-03-04"


def test_no_template_prints_python_reprs() -> None:
    """Payloads, facets and attributes are shown as JSON (``|pretty_json``), never as Python dicts (``|pprint``)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    assert [str(p.relative_to(root)) for p in root.rglob("*.html") if "|pprint" in p.read_text()] == []


@pytest.mark.django_db
def test_a_node_page_shows_its_facets_as_json(client, alice, node_id) -> None:
    from lineage.models import Node

    Node.objects.filter(node_id=node_id).update(facets={"documentation": {"description": "loans", "flag": True}})
    client.force_login(alice)
    page = client.get("/lineage/node/" + quote(node_id, safe="")).content.decode()
    facets = page.split("<summary>Facets</summary>")[1].split("</pre>")[0]
    assert "&quot;flag&quot;: true" in facets and "&#x27;" not in facets and "True" not in facets
