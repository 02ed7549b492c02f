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


def test_the_demo_deploys_after_its_approvals_so_change_controls_pass() -> None:
    """The services stamp approvals with their own clock (now); the demo's deploys come after them, not
    back-dated before them, so F3 (validated before use), F6 (change record approved before the deploy) and F7
    (segregation of duties on that record) pass for the demo's production releases."""
    from lineage.models import Node
    from portal.audit.models import AuditEntry
    from portal.reports.models import PostureSnapshot

    load()
    latest = {s.framework: s.controls for s in PostureSnapshot.objects.order_by("evaluated_at")}
    assert latest["model-risk"]["F3"] == "pass"
    assert latest["sox"]["F6"] == "pass" and latest["sox"]["F7"] == "pass"
    production = Release.objects.filter(environment="production", approved_at__isnull=False)
    assert production.exists()
    for release in production:
        dep = Node.objects.get(node_id=f"deployment:{release.model_version.namespace}:{release.model_version.name}"
                               f"#{release.model_version.version}@production")
        assert dep.event_time > release.approved_at, dep.node_id
    # Honest trail: every entry is stamped when written, in order.
    times = list(AuditEntry.objects.order_by("seq").values_list("time", flat=True))
    assert times == sorted(times)
