"""Incident pages: the deadline shown, one click from an alert, closure signed on the page."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone

from lineage.models import Node
from portal.accounts.models import User
from portal.incidents import services
from portal.incidents.models import Incident
from portal.monitoring.models import Alert

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_deployment_page_offers_an_incident_for_an_alert(alert: Alert, officer: User) -> None:
    c = _client(officer)
    page = c.get(f"/lineage/node/{quote(alert.deployment.node_id, safe='')}").content.decode()
    assert "auc 0.7 is below its threshold 0.75" in page and "Open an incident" in page
    r = c.post(f"/incidents/from-alert/{alert.pk}")
    incident = Incident.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/incidents/{incident.pk}"
    assert "Threshold breach on credit 7 @ production" in c.get(r["Location"]).content.decode()


def test_the_list_and_the_dashboard_show_overdue_deadlines(deployment: Node, officer: User) -> None:
    aware = timezone.now() - timedelta(days=3)
    services.incident_open(by=officer, title="Leaked scores", kinds=["personal_data_breach"], severity="high",
                           detected_at=aware, deployments=[deployment.node_id])
    due = (aware + timedelta(hours=72)).strftime("%Y-%m-%d %H:%M:%S UTC")  # the one format: |when
    c = _client(officer)
    assert 'OVERDUE since <time datetime="' in c.get("/incidents/").content.decode()
    assert f"{due}</time>" in c.get("/incidents/").content.decode()
    assert f"{due}</time>" in c.get("/dashboard/").content.decode()


def test_closing_on_the_page_is_a_signature(deployment: Node, officer: User) -> None:
    incident = services.incident_open(by=officer, title="Drift", kinds=["model_failure"], severity="low",
                                      detected_at=timezone.now(), deployments=[deployment.node_id])
    c = _client(officer)
    c.post(f"/incidents/{incident.pk}/update", {"what": "close", "password": "bad", "reason": "fixed"})
    incident.refresh_from_db()
    assert incident.state == "open"
    c.post(f"/incidents/{incident.pk}/update", {"what": "close", "password": "pw-olivia", "reason": "fixed"})
    incident.refresh_from_db()
    assert incident.state == "closed"
    assert "signed by <strong>Olivia Officer</strong>" in c.get(f"/incidents/{incident.pk}").content.decode()


def test_charlie_gets_404(alert: Alert, officer: User, charlie: User) -> None:
    incident = services.incident_open_from_alert(by=officer, alert=alert)
    c = _client(charlie)
    assert c.get(f"/incidents/{incident.pk}").status_code == 404
    assert c.post(f"/incidents/{incident.pk}/update", {"what": "action", "text": "x"}).status_code == 404
    assert c.post(f"/incidents/from-alert/{alert.pk}").status_code == 404


def test_a_notification_time_that_is_not_a_date_time_is_a_400_naming_the_field(deployment: Node, officer: User) -> None:
    incident = services.incident_open(by=officer, title="Drift", kinds=["personal_data_breach"], severity="low",
                                      detected_at=timezone.now() - timedelta(days=2), deployments=[deployment.node_id])
    c = _client(officer)
    for bad in ("yesterday", "0116-01-01T00:00:00+16:04", "2026-13-01 10:00"):
        r = c.post(f"/incidents/{incident.pk}/update", {"what": "notify", "clock": "gdpr", "notified_at": bad,
                                                        "authority": "ICO"})
        body = r.content.decode()
        assert r.status_code == 400 and "notified_at" in body, bad
        assert "ISO 8601" in body or "out of range" in body, bad
    assert not incident.notifications.exists()
    sent = (timezone.now() - timedelta(days=1)).replace(second=0, microsecond=0)  # the form's HH:MM, read as UTC
    r = c.post(f"/incidents/{incident.pk}/update", {"what": "notify", "clock": "gdpr",
                                                    "notified_at": f"{sent:%Y-%m-%d %H:%M}", "authority": "ICO"})
    assert r.status_code == 302 and incident.notifications.get().notified_at == sent


def test_every_refused_form_is_a_400_showing_the_page_with_the_reason(deployment: Node, officer: User) -> None:
    """Not only a bad notification time: an unknown clock, a wrong closing password or an unknown form are the
    caller's mistakes too, answered alike (400, the page again, the reason named), and record nothing."""
    incident = services.incident_open(by=officer, title="Drift", kinds=["personal_data_breach"], severity="low",
                                      detected_at=timezone.now() - timedelta(days=2), deployments=[deployment.node_id])
    c = _client(officer)
    for form, said in (({"what": "notify", "clock": "no-such-clock", "notified_at": "2026-12-01 10:00",
                         "authority": "ICO"}, "clock"),
                       ({"what": "close", "password": "bad", "reason": "fixed"}, "password"),
                       ({"what": "sing"}, "what")):
        r = c.post(f"/incidents/{incident.pk}/update", form)
        assert r.status_code == 400 and said in r.content.decode().lower(), form
    incident.refresh_from_db()
    assert incident.state == "open" and not incident.notifications.exists()


def test_kinds_read_in_words_not_as_stored_values(deployment: Node, officer: User) -> None:
    incident = services.incident_open(by=officer, title="Leak", kinds=["personal_data_breach"], severity="high",
                                      detected_at=timezone.now(), deployments=[deployment.node_id])
    c = _client(officer)
    for page in (c.get("/incidents/"), c.get(f"/incidents/{incident.pk}")):
        html = page.content.decode()
        assert "Personal-data breach (GDPR Art. 33)" in html and "personal_data_breach" not in html
