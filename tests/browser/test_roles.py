"""In Chromium at 1440x900, for every demo role: where signing in lands, the styled refusals (a 403 that names the
roles granting access and the administrators who give them; a 404 for a node of another team that reads exactly
like the 404 for a node that does not exist), the navigation's section on a node page, and the dashboard's recent
activity without a name broken inside a word. Each page is saved as a screenshot (var/screenshots)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from portal.demo import story as demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1440, "height": 900}
LOANS = f"dataset:{demo.BANK_DB}:core.loans"  # credit-risk's
PATIENTS = f"dataset:{demo.EHR_DB}:clinical.patients"  # clinical-ai's

# (user, where signing in lands, the heading there)
LANDINGS = [
    (demo.PRIYA, "/", "Search the lineage"),
    (demo.TOMAS, "/", "Search the lineage"),
    (demo.MARCUS, "/approvals/", "Approvals"),
    (demo.SAM, "/dashboard/", "Dashboard"),
    (demo.INGRID, "/audit/", "Audit log"),
    (demo.ALEX, "/dashboard/", "Dashboard"),
    (demo.INGESTOR, "/settings/tokens/", "API tokens"),
]
# (user, a page their role may not open, the roles that grant it)
REFUSALS = [
    (demo.PRIYA, "/reports/", "Compliance officer, Auditor, Administrator"),
    (demo.MARCUS, "/audit/", "Auditor, Administrator"),
    (demo.SAM, "/audit/", "Auditor, Administrator"),
    (demo.INGESTOR, "/evidence/", ""),
]


def _page(new_page: Any, user: demo.DemoUser) -> Any:
    page = new_page(user.username, user.password)
    page.set_viewport_size(WIDE)
    return page


def _node(node_id: str) -> str:
    return "/lineage/node/" + quote(node_id, safe="")


@pytest.mark.parametrize(("user", "landing", "heading"), LANDINGS, ids=[u.role + "-" + u.username
                                                                         for u, _, _ in LANDINGS])
def test_each_role_lands_on_the_page_of_its_daily_work(new_page: Any, user: demo.DemoUser, landing: str,
                                                       heading: str) -> None:
    page = _page(new_page, user)
    assert page.url.endswith(landing), page.url
    assert page.get_by_role("heading", level=1).first.inner_text() == heading
    screenshot(page, f"landing-{user.role}-{user.username}")


@pytest.mark.parametrize(("user", "path", "granted_by"), REFUSALS, ids=[u.role for u, _, _ in REFUSALS])
def test_a_refusal_names_the_granting_roles_and_who_gives_them(new_page: Any, user: demo.DemoUser, path: str,
                                                               granted_by: str) -> None:
    page = _page(new_page, user)
    response = page.goto(path)
    assert response.status == 403
    main = page.inner_text("main")
    assert page.get_by_role("heading", name="You may not open this page").is_visible()
    assert user.printed_name in main and f"{demo.ALEX.first_name} {demo.ALEX.last_name}" in main
    assert demo.ALEX.email in main  # the administrator to ask, with the address
    if granted_by:
        assert f"Access comes with the roles: {granted_by}" in main
        assert page.locator("nav[aria-label=Main]").is_visible()
    else:  # the service account: the API is its way in
        assert "Service accounts use the API" in main
    screenshot(page, f"refusal-403-{user.role}")


@pytest.mark.parametrize(("user", "hidden"), [(demo.PRIYA, PATIENTS), (demo.TOMAS, LOANS)],
                         ids=["viewer-credit", "viewer-clinical"])
def test_another_teams_node_is_a_404_that_reveals_nothing(new_page: Any, user: demo.DemoUser, hidden: str) -> None:
    page = _page(new_page, user)
    response = page.goto(_node(hidden))
    assert response.status == 404
    shown_for_hidden = page.inner_text("main")
    assert page.locator("nav[aria-label=Main]").is_visible()
    screenshot(page, f"refusal-404-{user.username}")
    response = page.goto(_node(hidden.rsplit(":", 1)[0] + ":no_such_table"))
    assert response.status == 404
    assert page.inner_text("main") == shown_for_hidden  # the same words whether it exists or not
    assert hidden.rsplit(":", 1)[1] not in shown_for_hidden and page.title() == "Not found · Lineage Portal"


@pytest.mark.parametrize("user", [demo.MARCUS, demo.SAM, demo.INGRID, demo.ALEX], ids=lambda u: u.role)
def test_a_missing_node_is_the_styled_404_for_org_roles_too(new_page: Any, user: demo.DemoUser) -> None:
    page = _page(new_page, user)
    response = page.goto(_node("dataset:nowhere:nothing"))
    assert response.status == 404
    assert page.get_by_role("heading", name="Nothing to show here").is_visible()
    assert page.locator("nav[aria-label=Main]").is_visible()


@pytest.mark.parametrize("user", [demo.PRIYA, demo.MARCUS, demo.SAM, demo.INGRID, demo.ALEX], ids=lambda u: u.role)
def test_a_node_page_highlights_the_explorer_for_every_role(new_page: Any, user: demo.DemoUser) -> None:
    page = _page(new_page, user)
    page.goto(_node(LOANS))
    current = page.locator("nav[aria-label=Main] a[aria-current=page]")
    assert current.count() == 1 and current.inner_text() == "Explorer"


@pytest.mark.parametrize("user", [demo.ALEX, demo.PRIYA], ids=lambda u: u.role)
def test_recent_activity_never_breaks_a_name_inside_a_word(new_page: Any, user: demo.DemoUser) -> None:
    page = _page(new_page, user)
    page.goto("/dashboard/")
    names = page.locator(".activity .name")
    assert names.count() > 0
    for i in range(names.count()):
        box = names.nth(i).evaluate("e => ({h: e.getBoundingClientRect().height, "
                                    "line: parseFloat(getComputedStyle(e).lineHeight) || "
                                    "1.5 * parseFloat(getComputedStyle(e).fontSize)})")
        assert box["h"] < 1.5 * box["line"], (names.nth(i).inner_text(), box)
    page.locator(".activity").scroll_into_view_if_needed()
    screenshot(page, f"dashboard-activity-{user.role}")
