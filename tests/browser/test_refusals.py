"""In Chromium: refusals inside the portal's layout, for a viewer and for the service account, and a node page
that highlights the explorer, and the viewer's landing page. Each page is saved as a screenshot (var/screenshots)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from portal.demo import story as demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_viewer_refused_the_audit_log_sees_the_granting_roles_and_the_admin(new_page) -> None:
    page = new_page(demo.PRIYA.username, demo.PRIYA.password)
    response = page.goto("/audit/")
    assert response.status == 403
    assert page.locator("nav[aria-label=Main]").is_visible()
    text = page.inner_text("main")
    assert "Auditor, Administrator" in text and demo.ALEX.first_name in text
    screenshot(page, "refusal-403-viewer")
    page.get_by_role("link", name="Back to the portal").click()
    assert page.get_by_role("heading", level=1).is_visible()


def test_the_service_account_gets_the_same_page_and_its_logo_leads_to_its_tokens(new_page) -> None:
    page = new_page(demo.INGESTOR.username, demo.INGESTOR.password)
    response = page.goto("/dashboard/")
    assert response.status == 403 and "Service accounts use the API" in page.inner_text("main")
    screenshot(page, "refusal-403-ingestor")
    page.locator("a.brand").click()
    page.wait_for_load_state()
    assert page.url.endswith("/settings/tokens/")


def test_a_node_page_highlights_the_explorer_and_shows_utc_times(new_page) -> None:
    page = new_page(demo.PRIYA.username, demo.PRIYA.password)
    page.goto("/lineage/node/" + quote(f"dataset:{demo.BANK_DB}:core.loans", safe=""))
    current = page.locator("nav[aria-label=Main] a[aria-current=page]")
    assert current.count() == 1 and current.inner_text() == "Explorer"
    assert page.locator("main time").first.inner_text().endswith(" UTC")
    screenshot(page, "node-viewer")


def test_a_viewer_lands_on_their_teams_datasets_and_models(new_page) -> None:
    page = new_page(demo.PRIYA.username, demo.PRIYA.password)
    assert page.get_by_role("heading", name="Datasets").is_visible()
    assert page.get_by_role("heading", name="Model versions").is_visible()
    screenshot(page, "home-viewer")
