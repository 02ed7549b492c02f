"""Notifications: real email through Django's backend and a real webhook to a local HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from portal.approvals import services
from portal.approvals.notify import webhook_signature
from tests.approvals.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(settings):
    received: list[tuple[dict, str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((json.loads(body), self.headers["X-Portal-Signature"], {"raw": body}))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.PORTAL_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.PORTAL_WEBHOOK_SECRET = "s3cret"
    yield received
    server.shutdown()


def test_approvers_hear_when_a_release_waits_and_the_requester_when_decided(
    model, policy, people, hook, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        release = services.release_request(by=people["requester"], model="credit", version="7",
                                           environment="production", justification="refresh")
    to = sorted(m.to[0] for m in mail.outbox)
    assert "mo@example.com" in to and "cy@example.com" in to
    assert "dan@example.com" not in to and "erin@example.com" not in to  # ineligible: their own work
    payload, signature, raw = hook[-1]
    assert payload["event"] == "release.waiting" and payload["release"] == release.pk
    assert signature == webhook_signature("s3cret", raw["raw"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.release_reject(release=release, by=people["risk"], password=PASSWORD, reason="drift",
                                 reviewed_digest=release.subject_digest)
    assert [m.to for m in mail.outbox] == [["rita@example.com"]]
    assert "rejected" in mail.outbox[0].subject


def test_the_emails_link_to_the_release_and_say_plainly_what_happened(
    model, policy, people, settings, django_capture_on_commit_callbacks
) -> None:
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        release = services.release_request(by=people["requester"], model="credit", version="7",
                                           environment="production", justification="Q3 refresh")
    waiting = next(m for m in mail.outbox if m.to == ["mo@example.com"])
    assert f"https://portal.example.com/approvals/releases/{release.pk}" in waiting.body
    assert f"Release #{release.pk} waits for your signature: credit 7 to production." in waiting.body
    assert "Still needed: 1 more from model-risk, 1 more from compliance." in waiting.body
    assert "Q3 refresh" in waiting.body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for who in ("risk", "compliance"):
            services.release_sign(release=release, by=people[who], password=PASSWORD, meaning="approval",
                                  reason="ok", reviewed_digest=release.subject_digest)
    decided = mail.outbox[-1]
    assert decided.to == ["rita@example.com"]
    assert f"Release #{release.pk} (credit 7 to production) is approved." in decided.body
    assert "Signed by mo (for model-risk) and cy (for compliance)." in decided.body
    assert "State:" not in decided.body and "quorum met" not in decided.body
    assert f"https://portal.example.com/approvals/releases/{release.pk}" in decided.body
