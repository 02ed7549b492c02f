"""Incidents: opened from an alert in one step, clocks, notifications, a signed closure, every change audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from lineage.models import Node
from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.incidents import services
from portal.incidents.models import Incident
from portal.lib.errors import DomainError, FieldError
from portal.monitoring.models import Alert

from .conftest import BANK

pytestmark = pytest.mark.django_db


def test_an_alert_opens_an_incident_in_one_step(alert: Alert, officer: User) -> None:
    incident = services.incident_open_from_alert(by=officer, alert=alert)
    assert incident.kinds == ["model_failure"] and incident.detected_at == alert.opened_at
    assert [d.node_id for d in incident.deployments.all()] == [alert.deployment.node_id]
    assert [m.node_id for m in incident.model_versions.all()] == ["modelVersion:ml-pipelines:credit#7"]
    alert.refresh_from_db()
    assert alert.state == "incident"
    entry = AuditEntry.objects.get(action="incident.opened")
    assert entry.target_id == str(incident.pk)
    with pytest.raises(DomainError, match="only an open alert"):
        services.incident_open_from_alert(by=officer, alert=alert)


def test_the_subject_scope_comes_from_the_lineage_of_what_is_named(alert: Alert, officer: User) -> None:
    incident = services.incident_open_from_alert(by=officer, alert=alert)
    # The model was trained on features.credit (PII, three subjects in its index) upstream of the deployment.
    assert incident.scope["datasets"] == [f"dataset:{BANK}:features.credit"]
    assert incident.scope["subjects"] == 3
    assert incident.scope["counts"]["deployment"] == 1


def test_a_personal_data_breach_runs_the_72_hour_clock_and_is_raised_when_overdue(deployment: Node,
                                                                                  officer: User) -> None:
    aware = timezone.now() - timedelta(hours=80)
    incident = services.incident_open(by=officer, title="Scores exported to a public bucket",
                                      kinds=["personal_data_breach"], severity="high", detected_at=aware,
                                      deployments=[deployment.node_id])
    (status,) = services.incident_clock_status(incident)
    assert status.clock.deadline == aware + timedelta(hours=72) and status.state == "overdue" and status.raised
    services.incident_notify(by=officer, incident=incident, clock="gdpr", notified_at=aware + timedelta(hours=70),
                             authority="CNIL", reference="2026-123")
    (status,) = services.incident_clock_status(incident)
    assert status.state == "met"
    with pytest.raises(FieldError, match="no 'hipaa' clock"):
        services.incident_notify(by=officer, incident=incident, clock="hipaa", exempt_reason="n/a")


def test_closing_needs_every_clock_answered_and_the_password(deployment: Node, officer: User) -> None:
    incident = services.incident_open(by=officer, title="Wrong decisions", kinds=["ai_act_serious"],
                                      severity="critical", detected_at=timezone.now() - timedelta(days=1),
                                      deployments=[deployment.node_id])
    with pytest.raises(DomainError, match="Record the notification"):
        services.incident_close(by=officer, incident=incident, password="pw-olivia", reason="fixed")
    services.incident_notify(by=officer, incident=incident, clock="ai_act",
                             notified_at=timezone.now() - timedelta(hours=1), authority="BNetzA")
    with pytest.raises(DomainError, match="password is wrong"):
        services.incident_close(by=officer, incident=incident, password="nope", reason="fixed")
    assert AuditEntry.objects.filter(action="incident.close_refused").count() == 1
    incident.refresh_from_db()
    assert incident.state == "open"
    closed = services.incident_close(by=officer, incident=incident, password="pw-olivia", reason="model rolled back")
    assert closed.state == "closed" and closed.closure_printed_name == officer.printed_name
    assert len(closed.closure_binding) == 64
    entry = AuditEntry.objects.get(action="incident.closed")
    payload = json.loads(entry.payload)
    assert payload["binding"] == closed.closure_binding and payload["after"]["state"] == "closed"
    assert payload["before"]["state"] == "open" and payload["reason"] == "model rolled back"
    with pytest.raises(DomainError, match="is closed"):
        services.incident_action_add(by=officer, incident=closed, text="late note")


def test_closing_the_incident_closes_its_alert(alert: Alert, officer: User) -> None:
    incident = services.incident_open_from_alert(by=officer, alert=alert)
    services.incident_action_add(by=officer, incident=incident, text="retrained on recent data")
    services.incident_close(by=officer, incident=incident, password="pw-olivia", reason="retrained")
    alert.refresh_from_db()
    assert alert.state == "closed" and alert.close_note == f"incident {incident.pk} closed"


def test_viewers_may_not_open_and_approvers_may_not_close(deployment: Node, alice: User, bob: User,
                                                          officer: User) -> None:
    with pytest.raises(DomainError) as refused:
        services.incident_open(by=alice, title="x", kinds=["model_failure"], severity="low",
                               detected_at=timezone.now())
    assert refused.value.status_code == 403
    bob.set_password("pw-bob")
    bob.save()
    incident = services.incident_open(by=bob, title="x", kinds=["model_failure"], severity="low",
                                      detected_at=timezone.now(), deployments=[deployment.node_id])
    with pytest.raises(DomainError) as refused:
        services.incident_close(by=bob, incident=incident, password="pw-bob", reason="done")
    assert refused.value.status_code == 403
    assert Incident.objects.get().state == "open"


def test_bad_input_names_the_field_and_writes_nothing(deployment: Node, officer: User) -> None:
    now = timezone.now()
    for kw, field in ((dict(kinds=["nope"]), "kinds"), (dict(severity="huge"), "severity"),
                      (dict(detected_at=now + timedelta(days=1)), "detected_at"),
                      (dict(occurred_at=now + timedelta(seconds=1)), "occurred_at"),
                      (dict(deployments=["deployment:nope"]), "deployments.0"),
                      (dict(datasets=[deployment.node_id]), "datasets.0")):
        args = {"by": officer, "title": "t", "kinds": ["model_failure"], "severity": "low", "detected_at": now, **kw}
        with pytest.raises(FieldError) as exc:
            services.incident_open(**args)
        assert exc.value.field == field
    assert not Incident.objects.exists() and not AuditEntry.objects.filter(action="incident.opened").exists()
