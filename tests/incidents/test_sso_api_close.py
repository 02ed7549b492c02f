"""Closing an incident over the API (``POST /api/v1/incidents/<pk>/close``) by an SSO officer and a local one."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from lineage.models import Node
from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.incidents import services
from portal.incidents.models import Incident
from tests.accounts.sso import sso_sign_in
from tests.accounts.sso_api import local_api_asks_for_the_password, sso_api_signs_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def drift(deployment: Node, officer: User) -> Incident:
    return services.incident_open(by=officer, title="Drift", kinds=["model_failure"], severity="low",
                                  detected_at=timezone.now(), deployments=[deployment.node_id])


def _post(incident: Incident) -> Any:
    return lambda api, fields: api.post(f"/api/v1/incidents/{incident.pk}/close", {"reason": "fixed", **fields},
                                        format="json")


def _signed() -> int:
    return AuditEntry.objects.filter(action="incident.closed").count()


def test_an_sso_officer_closes_over_the_api_with_a_fresh_sign_in_once(client, sso_idp, drift) -> None:
    cora = sso_sign_in(client, sso_idp, "cora")
    sso_api_signs_once(client, sso_idp, cora, _post(drift), _signed)
    assert Incident.objects.get(pk=drift.pk).state == "closed"


def test_a_local_officer_closing_over_the_api_is_asked_for_the_password(drift, officer) -> None:
    local_api_asks_for_the_password(officer, _post(drift), _signed)
    assert Incident.objects.get(pk=drift.pk).state == "open"
