"""The explorer's time control (issue 14 item 3): the moment and the clock go with the graph fetch and the URL."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlparse

import pytest

from portal.demo import story as demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

MODEL = "modelVersion:clinical-ai:readmission#2"


def _graph_request(page, action) -> dict[str, list[str]]:  # noqa: ANN001
    with page.expect_response(lambda r: "/graph?" in r.url) as info:
        action()
    return parse_qs(urlparse(info.value.url).query)


def test_the_time_control_redraws_the_graph_as_of_the_moment_and_clock_chosen(new_page) -> None:  # noqa: ANN001
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.goto("/lineage/explore/?node=" + quote(MODEL, safe=""))
    page.wait_for_selector(".gnode.root")
    now = page.locator(".gnode").count()
    assert now > 3

    def choose(value: str) -> None:
        page.fill("#as-of", value)
        page.dispatch_event("#as-of", "change")

    # long after everything: the same drawing, asked as of that moment on the receipt clock
    query = _graph_request(page, lambda: choose("2099-01-01T00:00:00"))
    assert query["asOf"] == ["2099-01-01T00:00:00"] and query["asOfKind"] == ["received"]
    page.wait_for_selector(".gnode.root")
    assert page.locator(".gnode").count() == now
    assert "asOf=2099-01-01T00%3A00%3A00" in page.url  # a link to this view keeps the moment
    # on the event clock
    query = _graph_request(page, lambda: page.select_option("#as-of-kind", "event"))
    assert query["asOfKind"] == ["event"]
    # before the model existed: told, not drawn
    query = _graph_request(page, lambda: choose("2000-01-01T00:00:00"))
    assert query["asOf"] == ["2000-01-01T00:00:00"]
    page.wait_for_selector("#graph-notice:not([hidden])")
    assert "could not be loaded" in page.inner_text("#graph-notice")
    screenshot(page, "explorer-asof")
    # cleared: now again, without the parameter
    query = _graph_request(page, lambda: choose(""))
    assert "asOf" not in query
    page.wait_for_selector(".gnode.root")
    assert page.locator(".gnode").count() == now
