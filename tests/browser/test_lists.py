"""The dashboard's deployment list: the environment is picked from those that exist."""

from __future__ import annotations

import pytest

from portal.demo import story as demo
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_the_deployment_list_switches_between_the_environments_that_exist(new_page) -> None:
    page = new_page(demo.ALEX.username, demo.ALEX.password)
    page.goto("/dashboard/deployments?environment=production")
    options = page.locator("#environment option").all_inner_texts()
    assert "production" in options and "staging" in options and options == sorted(options)
    page.select_option("#environment", "staging")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert "environment=staging" in page.url and page.locator("h1").inner_text() == "Deployments in staging"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "deployments-staging.png"))
    r = page.goto("/dashboard/deployments?environment=nowhere")
    assert r.status == 400 and "environment: unknown environment" in page.locator("main").inner_text()
