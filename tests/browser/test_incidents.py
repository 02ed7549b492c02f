"""In Chromium: the compliance officer sees the breach alert of the demo's monitored credit-scoring deployment,
opens an incident from it in one click, sees its deadlines, and closes it with a signature."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from portal.demo import story as demo
from portal.incidents.models import Incident
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

DEPLOYMENT = "deployment:credit-risk:credit-scoring#6@production"


def test_an_alert_becomes_an_incident_that_is_closed_with_a_signature(new_page) -> None:
    page = new_page(demo.SAM.username, demo.SAM.password)
    alerts = page.locator("section", has=page.get_by_role("heading", name="Monitoring alerts"))
    assert "credit-scoring 6 in production" in alerts.inner_text()
    alerts.scroll_into_view_if_needed()
    screenshot(page, "dashboard-alerts")
    alerts.get_by_role("link").first.click()
    page.wait_for_load_state()
    assert page.url.endswith(quote(DEPLOYMENT, safe=":@"))
    monitoring = page.locator("section", has=page.get_by_role("heading", name="Monitoring", exact=True))
    assert "PSI 0.27 exceeds the tier limit" in monitoring.inner_text()
    monitoring.scroll_into_view_if_needed()
    screenshot(page, "deployment-monitoring")
    monitoring.get_by_role("button", name="Open an incident").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Incident #")
    assert "Threshold breach on credit-scoring 6 @ production" in page.inner_text("h1")
    page.fill("#text", "Rolled back to v5 while the features are rebuilt.")
    page.get_by_role("button", name="Add action").click()
    page.wait_for_load_state()
    screenshot(page, "incident")
    page.fill("#reason", "Features rebuilt; drift back within limits.")
    page.fill("#password", demo.SAM.password)
    page.get_by_role("button", name="Sign and close").click()
    page.wait_for_load_state()
    assert f"signed by {demo.SAM.printed_name}" in page.inner_text("main")
    incident = Incident.objects.get()
    assert incident.state == "closed" and incident.closed_by.username == demo.SAM.username
    assert incident.actions.count() == 1
