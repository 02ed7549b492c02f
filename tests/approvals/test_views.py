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
