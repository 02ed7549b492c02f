"""The demo's approvals: something waits for each demo approver, and the demo's CI token asks the gate about the
demo's models exactly as the README shows."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from portal.accounts.models import User
from portal.approvals import services
from portal.approvals.models import Release
from portal.demo import story as demo

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[2] / "README.md"


def load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_release_waits_for_each_demo_approver() -> None:
    load()
    pending = list(Release.objects.filter(state=Release.State.PENDING).select_related("policy"))
    for person in (demo.MARCUS, demo.ELENA, demo.SAM):
        user = User.objects.get(username=person.username)
        signed = set(user.signatures.filter(voided_at__isnull=True).values_list("release_id", flat=True))
        waiting = [r for r in pending if r.pk not in signed and not services.ineligibility(release=r, user=user)]
        assert waiting, f"nothing waits for {person.username}"


def test_the_demo_ci_token_asks_the_gate_as_the_readme_shows() -> None:
    token = re.search(r"API token for svc-lineage \(shown once, keep it\): (\S+)", load()).group(1)
    calls = re.findall(r'"http://127\.0\.0\.1:8000(/api/v1/gate\?[^"]+)"', README.read_text())
    assert calls, "the README shows no gate call"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for call in calls:
        parts = urlsplit(call)
        body = client.get(parts.path, dict(parse_qsl(parts.query))).json()
        assert body.get("allowed") is True, (call, body)
        signed = body["attestation"]["signed"]
        assert signed["namespace"] and signed["model"] and signed["version"]
