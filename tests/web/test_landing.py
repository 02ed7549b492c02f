"""The search page before any search: the datasets and models of the user's teams, grouped by kind, recently
changed first."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from lineage.models import Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db


def _ingest(*datasets_: dict) -> None:
    ev = run_event(job="etl", inputs=list(datasets_))
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)


@pytest.fixture
def graph(credit_ns_owned) -> None:
    _ingest(dataset(credit_ns_owned, "loans"), dataset(credit_ns_owned, "customers"),
            dataset("s3://shared-lake", "public_rates"))
    # customers changed last: it comes first
    Node.objects.filter(kind="dataset", name="customers").update(updated_at=timezone.now() + timedelta(hours=1))


def _names(page: str, group: str) -> list[str]:
    section = page.split(f'id="group-{group}"')[1].split("</section>")[0]
    return re.findall(r'<a href="/lineage/node/[^"]+">([^<]+)</a>', section)


def test_a_viewer_lands_on_their_teams_datasets_newest_first(client, alice, graph) -> None:
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert _names(page, "dataset") == ["customers", "loans"]  # public_rates is visible but not their team's
    assert "<table" not in page


def test_a_viewer_whose_teams_own_nothing_lands_on_what_they_may_see(client, charlie, graph) -> None:
    client.force_login(charlie)
    page = client.get("/").content.decode()
    assert _names(page, "dataset") == ["public_rates"]


def test_a_search_still_lists_every_match(client, alice, graph) -> None:
    client.force_login(alice)
    page = client.get("/", {"q": "a"}).content.decode()
    assert "<table" in page and "public_rates" in page and "loans" in page


def _count_on(page: str) -> int:
    """The count a list page states, checked against the rows it lists."""
    stated = int(re.search(r'<strong id="count">(\d+)</strong>', page).group(1))
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = body.count("<tr>") - body.count('<tr><td colspan=')
    assert rows == stated, (rows, stated)
    return stated


@pytest.fixture
def demo_org(db) -> None:
    from io import StringIO

    from django.core.management import call_command

    call_command("load_demo", stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize(("username", "panel_rows"), [("alex.morgan", 10), ("alex.morgan", 1),
                                                    ("priya.raman", 10), ("tomas.weber", 10)])
def test_dashboard_cards_and_posture_cells_link_to_lists_of_what_they_count(client, demo_org, settings, username,
                                                                             panel_rows) -> None:
    """Each card's number is the count of the list it links to (counted past the panel's rows too), for an admin
    and for viewers who see only their teams' part; each posture cell's number is its list of controls."""
    from portal.accounts.models import User

    settings.PORTAL_DASHBOARD_PANEL_ROWS = panel_rows
    client.force_login(User.objects.get(username=username))
    page = client.get("/dashboard/").content.decode()
    cards = re.findall(r'<a class="stat[^"]*" href="([^"]+)"><strong>(\d+)</strong>', page)
    assert len(cards) == 5
    for href, shown in cards:
        listed = client.get(href.replace("&amp;", "&"))
        assert listed.status_code == 200, href
        assert _count_on(listed.content.decode()) == int(shown), href
    assert sum(int(n) for _, n in cards) > 0
    cell = r'<a (?:class="status [^"]*" )?href="(/reports/posture/[^"?]+\?status=\w+)">(\d+)(?: evidence)?</a>'
    cells = re.findall(cell, page)
    if username == "alex.morgan":  # the posture is shown to compliance officers, auditors and admins
        assert len(cells) >= 20
    for href, shown in cells:
        assert _count_on(client.get(href.replace("&amp;", "&")).content.decode()) == int(shown), href


def test_a_bad_list_filter_is_a_400_naming_it(client, admin_user) -> None:
    client.force_login(admin_user)
    r = client.get("/dashboard/deployments", {"approved": "maybe"})
    assert r.status_code == 400 and "approved: expected yes or no" in r.content.decode()
    r = client.get("/reports/posture/sox", {"status": "great"})
    assert r.status_code == 400 and "status: expected one of" in r.content.decode()
    assert client.get("/reports/posture/nope").status_code == 404


def test_the_lists_are_for_signed_in_users_and_the_posture_for_report_roles(client, alice) -> None:
    assert client.get("/dashboard/violations").status_code == 302  # to the sign-in page
    client.force_login(alice)
    assert client.get("/dashboard/violations").status_code == 200
    assert client.get("/reports/posture/sox").status_code == 403
