"""Two pages seen in the browser and saved for eyes (var/screenshots/, or $PORTAL_SCREENSHOTS): the node page of a
run whose newest events still wait to be applied (its "Waiting to be applied" line), and the page an SSO user
lands on after signing in again at the identity provider (the one-time result id for an API call)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone

from lineage.models import Node, RawEvent
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.demo import story as demo
from tests.accounts.oidc_provider import provider_round_trip
from tests.accounts.sso import sso_sign_in
from tests.browser.conftest import screenshot
from tests.factories import run_event
from tests.lineage.test_defer import no_worker  # noqa: F401 - the fixture, used by name

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_run_whose_events_wait_says_so_on_its_page(new_page: Any, no_worker: None) -> None:  # noqa: F811
    run = Node.objects.filter(kind="run", parent__isnull=False).select_related("parent").order_by("node_id").first()
    assert run is not None
    job = run.parent
    later = (timezone.now()).isoformat().replace("+00:00", "Z")
    for etype in ("RUNNING", "COMPLETE"):
        event = run_event(job=job.name, namespace=job.namespace, run_id=run.node_id.removeprefix("run:"),
                          event_type=etype, time=later)
        [outcome] = events_ingest(events=[parse_event(json.dumps(event).encode())], by=None, defer=True)
        assert outcome.status == "created"
    assert RawEvent.objects.filter(applied_at__isnull=True, run_id=run.node_id.removeprefix("run:")).count() == 2
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.goto("/lineage/node/" + quote(run.node_id, safe=""))
    line = page.locator("#pending")
    line.wait_for()
    text = line.inner_text()
    assert text.startswith("2 events received since") and text.endswith("not yet in the graph"), text
    box, label = line.bounding_box(), page.locator("dt", has_text="Waiting to be applied").bounding_box()
    assert box and label and abs(box["y"] - label["y"]) < 8  # the value beside its label, as every other line
    waiting = page.locator("tr", has_text="waiting to be applied")
    assert waiting.count() == 2  # the history says which of its events the graph does not hold yet
    screenshot(page, "node-pending")


def test_the_page_after_signing_in_again_shows_the_result_id(chromium: Any, live_server: Any, sso_idp: Any,
                                                              client: Client) -> None:
    sso_sign_in(client, sso_idp, "ines")
    back = client.get(provider_round_trip(client.get("/login/sso/reauth"), sso_idp))
    assert back.status_code == 302 and back["Location"] == "/login/sso/reauth/continue", back
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    try:
        context.add_cookies([{"name": c.key, "value": c.value, "url": live_server.url}
                             for c in client.cookies.values()])
        page = context.new_page()
        page.goto("/login/sso/reauth/continue")
        token = page.locator("#reauth-token")
        token.wait_for()
        assert len(token.inner_text()) > 20
        assert page.get_by_role("heading", name="Signed in again at Northwind sign-in").is_visible()
        assert page.get_by_role("link", name="Back to the portal").is_visible()
        screenshot(page, "reauth-continue")
    finally:
        context.close()


def test_the_explorer_draws_a_node_dropped_since_as_of_a_moment_it_existed(chromium: Any, live_server: Any,
                                                                           client: Client, alice: Any,
                                                                           credit_ns_owned: str) -> None:
    from tests.lineage.test_asof import _ingest
    from tests.web.test_explore_asof import INITIAL

    moments = _ingest()
    client.force_login(alice)
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    try:
        context.add_cookies([{"name": c.key, "value": c.value, "url": live_server.url}
                             for c in client.cookies.values()])
        page = context.new_page()
        # a link as the API takes the moment: with its zone and microseconds
        page.goto(f"/lineage/explore/?node={quote(INITIAL, safe='')}&asOf={quote(moments[2].isoformat())}")
        page.wait_for_selector(".gnode.root")
        assert page.input_value("#as-of").startswith(moments[2].strftime("%Y-%m-%dT%H:%M:%S"))
        assert not page.get_by_text("did not exist then").count()
        screenshot(page, "explorer-dropped-node")
        # its page, as of the same moment: what is known of it, not a 404
        # its details as of then (they were "Not found": asked as of now), and its page as of then (a 404)
        page.locator(".gnode.root").click()
        page.get_by_role("link", name="Open page").click()
        page.wait_for_selector("#dropped-note")
        assert "asOf=" in page.url and "replaced" in page.inner_text("#dropped-note")
        screenshot(page, "node-dropped")
        # explored on from a neighbour, the graph stays as of then: the dropped node is drawn again, not the 404
        page.go_back()
        page.wait_for_selector(".gnode.root")
        page.locator(".gnode", has_text="report · ").first.click()
        page.get_by_role("link", name="Start here").click()
        page.wait_for_selector(".gnode.root")
        assert "asOf=" in page.url and page.locator(".gnode", has_text="#initial").count() == 1
    finally:
        context.close()
