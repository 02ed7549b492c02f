"""A screenshot of each main page as each demo role sees it, saved under var/screenshots/by-role/ (or
$PORTAL_SCREENSHOTS/by-role/) for people to look at before calling a page done; the README's three pictures
are refreshed from them. The test checks what it can without eyes: every page answers (a page or a styled
refusal, never a server error), has a heading, and the explorer has drawn its start node."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.urls import reverse

from lineage.models import Node
from portal.accounts.models import User
from portal.demo import story as demo
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PAGES = [("dashboard", "web:dashboard"), ("search", "web:home"), ("explorer", "web:explore"),
         ("node", "web:node-detail"), ("approvals", "approvals:inbox"), ("evidence", "evidence:list"),
         ("incidents", "incidents:list"), ("reports", "reports:list"), ("audit", "audit:log"),
         ("tokens", "web:tokens")]


def start_node(username: str) -> str | None:
    """The node each role's explorer and node page start at: a model of one of its teams, else any dataset."""
    visible = Node.objects.visible_to(User.objects.get(username=username))
    node = visible.filter(kind="modelVersion").order_by("node_id").first() or \
        visible.filter(kind="dataset").order_by("node_id").first()
    return node.node_id if node else None


@pytest.mark.parametrize("user", demo.USERS, ids=[u.role + "-" + u.username for u in demo.USERS])
def test_each_main_page_is_saved_as_each_role_sees_it(new_page: Any, user: Any) -> None:
    folder = SCREENSHOTS / "by-role"
    folder.mkdir(parents=True, exist_ok=True)
    page = new_page(user.username, user.password)
    node = start_node(user.username)
    answered = {}
    for name, url_name in PAGES:
        if url_name == "web:node-detail":
            if node is None:
                continue
            url = reverse(url_name, args=[node])
        elif url_name == "web:explore":
            url = reverse(url_name) + ("?node=" + quote(node, safe="") if node else "")
        else:
            url = reverse(url_name)
        response = page.goto(url)
        answered[name] = response.status
        assert response.status in (200, 403), (name, response.status)
        assert page.locator("h1").count() >= 1, name
        if name == "explorer" and node and response.status == 200:
            page.wait_for_selector(".gnode.root")
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.screenshot(path=str(folder / f"{user.role}-{user.username}-{name}.png"), full_page=False)
    print(user.username, answered)


def test_the_readme_pictures_are_saved_for_docs(new_page: Any) -> None:
    """The three pictures the README shows (docs/screenshot-*.png), as the compliance officer sees them; copy
    them from var/screenshots/readme/ after looking at them."""
    from portal.approvals.models import Release

    folder = SCREENSHOTS / "readme"
    folder.mkdir(parents=True, exist_ok=True)
    page = new_page(demo.SAM.username, demo.SAM.password)
    page.goto(reverse("web:dashboard"))
    page.screenshot(path=str(folder / "screenshot-dashboard.png"))
    page.goto(reverse("web:explore") + "?node=" + quote("modelVersion:clinical-ai:readmission#2", safe=""))
    run = page.locator(".gnode.k-run[aria-label*='deidentify']")
    run.click()
    page.locator("#panel dl").wait_for()
    assert "PHI" in page.inner_text("#panel")
    page.mouse.move(5, 5)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(folder / "screenshot-explorer.png"))
    release = Release.objects.get(model_version__name=demo.CREDIT_MODEL, model_version__version="7",
                                  environment="production")
    page.goto(reverse("approvals:release", args=[release.pk]))
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Release #{release.pk}")
    page.screenshot(path=str(folder / "screenshot-release.png"))
