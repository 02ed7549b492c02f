"""Refusals that help: 403/404/500 pages inside the portal's layout, naming the role that grants access and who
administers the portal; a 404 for a node one may not see reads exactly like one for a node that does not exist;
the API keeps its JSON."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.services import user_ensure
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins(db):
    user_ensure(username="root", role="admin", email="root@example.com")
    user_ensure(username="ops", role="admin", email="ops@example.com")


def _page(response) -> str:
    """The page's text, with the per-response masked CSRF token blanked."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.mark.parametrize(("role", "path"), [("viewer", "/audit/"), ("approver", "/audit/"),
                                            ("compliance_officer", "/audit/"), ("viewer", "/reports/"),
                                            ("approver", "/reports/")])
def test_a_403_is_the_portal_page_naming_the_granting_roles_and_the_admins(client, admins, role, path) -> None:
    client.force_login(user_ensure(username=f"u-{role}", role=role))
    r = client.get(path)
    assert r.status_code == 403 and r["Content-Type"].startswith("text/html")
    page = _page(r)
    assert 'aria-label="Main"' in page  # the portal's navigation
    assert "Administrator" in page and "Auditor" in page  # the roles that would grant access
    assert "root@example.com" in page and "ops@example.com" in page  # who gives them
    assert "Viewer" not in page.split("Access comes with")[1].split("</p>")[0]


def test_the_service_account_403_is_the_styled_page_and_the_logo_goes_to_its_tokens(client, ingestor,
                                                                                     admins) -> None:
    client.force_login(ingestor)
    r = client.get("/dashboard/")
    assert r.status_code == 403 and r["Content-Type"].startswith("text/html")
    page = _page(r)
    assert "Service accounts use the API" in page and "root@example.com" in page
    assert 'class="brand" href="/settings/tokens/"' in page
    assert 'class="brand" href="/settings/tokens/"' in _page(client.get("/settings/tokens/"))


def test_people_keep_the_logo_linking_home(client, alice) -> None:
    client.force_login(alice)
    assert 'class="brand" href="/"' in _page(client.get("/settings/tokens/"))


def test_a_404_for_an_invisible_node_reads_like_one_for_a_missing_node(client, charlie, credit_ns_owned) -> None:
    ev = run_event(job="etl", inputs=[dataset(credit_ns_owned, "loans")])
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    client.force_login(charlie)
    hidden = client.get("/lineage/node/" + quote(f"dataset:{credit_ns_owned}:loans", safe=""))
    missing = client.get("/lineage/node/" + quote(f"dataset:{credit_ns_owned}:nothing", safe=""))
    assert hidden.status_code == missing.status_code == 404
    assert _page(hidden) == _page(missing)
    assert 'aria-label="Main"' in _page(hidden) and "Nothing to show here" in _page(hidden)


def test_the_api_keeps_json_refusals(alice_client, ingest_client) -> None:
    r = alice_client.get("/api/v1/audit/entries")
    assert r.status_code == 403 and r.json()["detail"]
    r = alice_client.get("/api/v1/no-such-route")
    assert r.status_code == 404 and r.json() == {"detail": "Not found.", "errors": []}


def test_a_500_is_the_portal_page() -> None:
    from django.test import RequestFactory

    from portal.lib.errors import server_error

    r = server_error(RequestFactory().get("/dashboard/"))
    assert r.status_code == 500 and "Something went wrong" in r.content.decode()
    r = server_error(RequestFactory().get("/api/v1/x"))
    assert r.status_code == 500 and json.loads(r.content)["detail"] == "Internal server error."
