"""Closing an incident as a compliance officer who signs in through the identity provider."""

from __future__ import annotations

import pytest
from django.utils import timezone

from lineage.models import Node
from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.incidents import services
from portal.incidents.models import Incident
from tests.accounts.sso import REFUSED, sso_refused, sso_sign, sso_sign_in, sso_signed_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(deployment: Node, officer: User) -> Incident:
    return services.incident_open(by=officer, title="Drift", kinds=["model_failure"], severity="low",
                                  detected_at=timezone.now(), deployments=[deployment.node_id])


def _close(client, incident):
    return lambda: client.post(f"/incidents/{incident.pk}/update", {"what": "close", "reason": "fixed"})


def test_an_sso_officer_closes_after_signing_in_again(client, sso_idp, incident) -> None:
    sso_sign_in(client, sso_idp, "cora")
    page = client.get(f"/incidents/{incident.pk}").content.decode()
    assert 'name="password"' not in page and "sign in again at Northwind sign-in" in page
    r = sso_sign(client, sso_idp, _close(client, incident))
    assert r.status_code == 200
    incident.refresh_from_db()
    assert incident.state == "closed" and incident.closed_by.username == "cora"
    sso_signed_entry("incident.closed")


@pytest.mark.parametrize("scenario", REFUSED)
def test_closing_is_refused_without_a_fresh_sign_in_of_the_officer(client, sso_idp, incident, scenario) -> None:
    sso_refused(client, sso_idp, signer="cora", post=_close(client, incident), scenario=scenario,
                signed=AuditEntry.objects.filter(action="incident.closed").count)
    if scenario != "reused":
        assert Incident.objects.get(pk=incident.pk).state == "open"


def test_a_local_officer_still_closes_with_the_password(client, incident, officer) -> None:
    client.force_login(officer)
    client.post(f"/incidents/{incident.pk}/update", {"what": "close", "password": "bad", "reason": "fixed"})
    assert Incident.objects.get(pk=incident.pk).state == "open"
    client.post(f"/incidents/{incident.pk}/update", {"what": "close", "password": "pw-olivia", "reason": "fixed"})
    assert Incident.objects.get(pk=incident.pk).state == "closed"
