"""Who hears about a release: approvers when it waits for them, the requester when it is decided.

Delivery is by email (Django's email backend) and an outgoing webhook signed with HMAC-SHA256, both sent by
Celery after the transaction commits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from portal.accounts.models import User

from .models import Release


def recipients(release: Release, event: str) -> list[User]:
    from .services import ineligibility

    if event == "waiting":
        teams = release.policy.groups.values_list("team_id", flat=True)
        candidates = User.objects.filter(teams__in=teams, is_active=True).distinct()
        signed = set(release.signatures.filter(voided_at__isnull=True).values_list("signer_id", flat=True))
        return [u for u in candidates if u.pk not in signed and u.email and not ineligibility(release=release, user=u)]
    return [release.requester] if release.requester.email else []


def message(release: Release, event: str) -> tuple[str, str]:
    mv = release.model_version
    subject = {
        "waiting": f"Approval needed: {mv.name} {mv.version} to {release.environment}",
        "decided": f"Release {release.pk} {release.state}: {mv.name} {mv.version} to {release.environment}",
    }[event]
    body = (f"Release {release.pk}: {mv.node_id} to {release.environment}\n"
            f"State: {release.state} {release.state_reason}\nJustification: {release.justification}\n"
            f"Subject digest: {release.subject_digest}\n")
    return subject, body


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_send(payload: dict[str, Any]) -> int | None:
    url, secret = settings.PORTAL_WEBHOOK_URL, settings.PORTAL_WEBHOOK_SECRET
    if not url:
        return None
    body = json.dumps(payload, sort_keys=True).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 - operator-set URL
        "Content-Type": "application/json", "X-Portal-Signature": webhook_signature(secret, body)})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        return resp.status


def release_notify(release: Release, event: str) -> int:
    subject, body = message(release, event)
    people = recipients(release, event)
    for person in people:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])
    webhook_send({"event": f"release.{event}", "release": release.pk, "state": release.state,
                  "model_version": release.model_version.node_id, "environment": release.environment,
                  "subject_digest": release.subject_digest, "recipients": [p.username for p in people]})
    return len(people)
