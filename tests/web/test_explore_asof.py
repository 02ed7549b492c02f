"""The explorer page as of a time: a node dropped since (an ``initial`` version replaced, ``NodeRetired``) opens as
of a moment it existed, as the API answers it (docs/lineage-asof.md), with the same visibility."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from lineage import ids
from lineage.models import Node, NodeRetired
from portal.accounts.models import User
from tests.lineage.test_asof import NS, _at, _ingest

pytestmark = pytest.mark.django_db

INITIAL = ids.dataset_version_id(NS, "features", "initial")
NEVER = ids.dataset_version_id(NS, "features", "never")


def _without_csrf(html: bytes) -> bytes:
    """The page less its sign-out form's CSRF token, which differs from one response to the next."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", html)


def _page(client: Client, node_id: str, **query: str) -> Any:
    return client.get("/lineage/explore/", {"node": node_id, **query})


def _node_page(client: Client, node_id: str, **query: str) -> Any:
    return client.get(reverse("web:node-detail", args=[node_id]), query)


def test_the_explorer_opens_a_node_dropped_since_as_of_a_moment_it_existed(
        client: Client, alice: User, credit_ns_owned: str) -> None:
    moments = _ingest()
    assert NodeRetired.objects.filter(node_id=INITIAL).exists() and not Node.objects.filter(node_id=INITIAL).exists()
    client.force_login(alice)
    then, later = moments[2].isoformat(), moments[4].isoformat()
    r = _page(client, INITIAL, asOf=then)
    assert r.status_code == 200
    config = json.loads(r.content.decode().split('id="explorer-config" type="application/json">')[1].split("<")[0])
    assert config["node"] == INITIAL
    assert "features" in r.content.decode() and "#initial" in r.content.decode()
    assert 'id="dropped-note"' in r.content.decode() and 'id="as-of" name="asOf" type="datetime-local" step="1" ' \
        f'value="{moments[2].replace(tzinfo=None).isoformat(timespec="milliseconds")}"' in r.content.decode()
    # the API the page draws from answers it as of then, too
    api = client.get(f"/api/v1/nodes/{quote(INITIAL, safe='')}/graph", {"asOf": then})
    assert api.status_code == 200
    # not as of a moment it no longer existed, nor now, nor on the event clock, nor with a moment not understood
    assert _page(client, INITIAL, asOf=later).status_code == 404
    assert _page(client, INITIAL).status_code == 404
    assert _page(client, INITIAL, asOf=_at(52), asOfKind="event").status_code == 404
    # a moment the page cannot read is a 400 naming it, for a node that is or never was alike (it was drawn as of now)
    for node_id in (INITIAL, ids.dataset_id(NS, "features"), NEVER):
        refused = _page(client, node_id, asOf="yesterday")
        assert refused.status_code == 400 and "asOf" in refused.content.decode()


@pytest.mark.parametrize("page", ["explorer", "node page"])
def test_another_teams_reader_gets_the_404_of_a_node_that_never_was(
        client: Client, charlie: User, credit_ns_owned: str, page: str) -> None:
    """The explorer's and the node page's answer as of a moment the node existed, for a reader of another team."""
    get = _page if page == "explorer" else _node_page
    moments = _ingest()
    client.force_login(charlie)
    then = moments[2].isoformat()
    denied, never = get(client, INITIAL, asOf=then), get(client, NEVER, asOf=then)
    assert denied.status_code == never.status_code == 404
    assert _without_csrf(denied.content) == _without_csrf(never.content)
    assert NS not in denied.content.decode()
    # signed out: the sign-in page, as for any page
    client.logout()
    assert get(client, INITIAL, asOf=then).status_code == 302


def test_the_node_page_of_a_node_dropped_since_answers_as_of_a_moment_it_existed(
        client: Client, alice: User, credit_ns_owned: str) -> None:
    moments = _ingest()
    client.force_login(alice)
    then = moments[2].isoformat()
    r = _node_page(client, INITIAL, asOf=then)
    assert r.status_code == 200
    page = r.content.decode()
    assert 'id="dropped-note"' in page and "features" in page and "#initial" in page and 'id="replaced-at"' in page
    retired = NodeRetired.objects.get(node_id=INITIAL)
    assert retired.retired_at.strftime("%Y-%m-%d %H:%M:%S UTC") in page  # when it was replaced
    # its dataset, and the explorer as of the same moment
    assert f'href="{reverse("web:node-detail", args=[ids.dataset_id(NS, "features")])}"' in page
    assert 'href="/lineage/explore/?' + escape(urlencode({"node": INITIAL, "asOf": then, "asOfKind": "received"})) \
        in page
    # the explorer's link, with the moment as its "As of" control holds it
    assert _node_page(client, INITIAL, asOf=moments[2].replace(tzinfo=None).isoformat(timespec="milliseconds"),
                      asOfKind="received").status_code == 200
    # not as of a moment it no longer existed, nor now, nor on the event clock, nor with a moment not understood
    assert _node_page(client, INITIAL, asOf=moments[4].isoformat()).status_code == 404
    assert _node_page(client, INITIAL).status_code == 404
    assert _node_page(client, INITIAL, asOf=_at(52), asOfKind="event").status_code == 404
    for node_id in (INITIAL, ids.dataset_id(NS, "features"), NEVER):
        refused = _node_page(client, node_id, asOf="yesterday")
        assert refused.status_code == 400 and "asOf" in refused.content.decode()
    # a node that still is: its page as it is now, and says so, with the way to the explorer as of then
    report = _node_page(client, ids.dataset_id(NS, "features"), asOf=then)
    assert report.status_code == 200 and 'id="now-note"' in report.content.decode()
    assert 'id="now-note"' not in _node_page(client, ids.dataset_id(NS, "features")).content.decode()

