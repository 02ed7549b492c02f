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
from django.urls import reverse

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


def _names(people: list[str]) -> str:
    return people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]


def message(release: Release, event: str) -> tuple[str, str]:
    """Plain words and a link: what the release is, what happened or is asked, what is still needed."""
    from .services import release_quorum

    mv = release.model_version
    what = f"{mv.name} {mv.version} to {release.environment}"
    link = f"{settings.PORTAL_BASE_URL}{reverse('approvals:release', args=[release.pk])}"
    if event == "waiting":
        _, _, missing = release_quorum(release)
        needed = ", ".join(f"{n} more from {g}" for g, n in missing.items())
        subject = f"Approval needed: {what} (release #{release.pk})"
        lines = [f"Release #{release.pk} waits for your signature: {what}.", "",
                 f"Requested by {release.requester.printed_name}: {release.justification}",
                 f"Still needed: {needed}." if needed else "", "", f"Review and sign: {link}"]
    else:
        subject = f"Release #{release.pk} {release.state}: {what}"
        lines = [f"Release #{release.pk} ({what}) is {release.state}."]
        votes = release.signatures.filter(voided_at__isnull=True, meaning="approval").select_related("signer")
        if release.state == Release.State.APPROVED and votes:
            lines.append("Signed by " + _names([f"{s.printed_name} (for {s.counted_for})" if s.counted_for
                                                else s.printed_name for s in votes]) + ".")
        elif release.state_reason:
            lines.append(release.state_reason[0].upper() + release.state_reason[1:] + ".")
        lines += ["", f"Open it: {link}"]
    body = "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1])) + "\n"
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
