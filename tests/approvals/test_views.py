"""Approval pages: status codes and effects, lightly."""

from __future__ import annotations

import pytest

from portal.approvals.models import Release
from tests.approvals.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_approver_signs_from_the_inbox(client, release, people) -> None:
    client.force_login(people["risk"])
    r = client.get("/approvals/")
    assert r.status_code == 200 and f"#{release.pk}".encode() in r.content
    r = client.get(f"/approvals/releases/{release.pk}")
    assert r.status_code == 200 and b"Lineage under review" in r.content and b"not eligible" in r.content
    r = client.post(f"/approvals/releases/{release.pk}/sign", {"meaning": "approval", "reason": "ok",
                                                              "password": PASSWORD}, follow=True)
    assert r.status_code == 200 and release.signatures.count() == 1


def test_a_wrong_password_on_the_form_signs_nothing(client, release, people) -> None:
    client.force_login(people["risk"])
    r = client.post(f"/approvals/releases/{release.pk}/sign", {"meaning": "approval", "reason": "ok",
                                                              "password": "x"}, follow=True)
    assert b"password is wrong" in r.content and not release.signatures.exists()


def test_policy_editor_is_for_admins(client, people) -> None:
    client.force_login(people["risk"])
    client.post("/approvals/policies", {"environment": "qa", "team": ["model-risk"], "min_approvals": ["1"],
                                        "reason": "x"})
    from portal.approvals.models import Policy

    assert not Policy.objects.filter(environment="qa").exists()
    client.force_login(people["admin"])
    client.post("/approvals/policies", {"environment": "qa", "team": ["model-risk", ""], "min_approvals": ["2", "1"],
                                        "reason": "QA gate"})
    assert Policy.objects.get(environment="qa").groups.get().min_approvals == 2
    assert client.get("/approvals/policies").status_code == 200


def test_charlie_gets_404_on_another_teams_release(client, release, charlie, credit_ns_owned) -> None:
    from lineage.models import Node

    Node.objects.filter(pk=release.model_version_id).update(namespace="postgres://bank-db:5432")
    client.force_login(charlie)
    assert client.get(f"/approvals/releases/{release.pk}").status_code == 404
    assert client.post(f"/approvals/releases/{release.pk}/sign", {"password": "x"}).status_code == 404
    assert Release.objects.get(pk=release.pk).state == Release.State.PENDING


@pytest.mark.parametrize(("changes", "field"), [
    ({"environment": "prod uction<>"}, "environment"),
    ({"approval_expiry_days": "0"}, "approval_expiry_days"),
    ({"approval_expiry_days": "-5"}, "approval_expiry_days"),
    ({"approval_expiry_days": "many"}, "approval_expiry_days"),
    ({"min_wait_hours": "-1"}, "min_wait_hours"),
    ({"min_approvals": ["-5"]}, "groups"),
    ({"min_approvals": ["two"]}, "groups"),
    ({"required_evidence": "selfie"}, "required_evidence"),
    ({"sensitive_tag": "secret"}, "sensitive_tag"),
])
def test_the_policy_page_refuses_what_the_api_refuses_naming_the_same_field(client, people, admin_client,
                                                                            changes, field) -> None:
    from portal.approvals.models import Policy

    page = {"environment": "qa", "team": ["model-risk"], "min_approvals": ["1"], "reason": "QA gate", **changes}
    client.force_login(people["admin"])
    r = client.post("/approvals/policies", page, follow=True)
    assert r.status_code == 200 and not Policy.objects.exists()
    assert field.encode() in r.content
    api = {"environment": page["environment"], "reason": "QA gate",
           "groups": [{"team": "model-risk", "min_approvals": _int_or(page["min_approvals"][0])}]}
    for key in ("approval_expiry_days", "min_wait_hours", "sensitive_tag"):
        if key in changes:
            api[key] = _int_or(changes[key])
    if "required_evidence" in changes:
        api["required_evidence"] = [changes["required_evidence"]]
    r = admin_client.post("/api/v1/policies", api, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"].startswith(field)


def _int_or(value: str) -> object:
    try:
        return int(value)
    except ValueError:
        return value
