"""Hostile justifications and reasons: stored as given, returned exactly by the API, escaped on the page."""

from __future__ import annotations

import pytest

from portal.approvals import services
from tests.approvals.conftest import PASSWORD
from tests.conftest import api_client

pytestmark = pytest.mark.django_db
HOSTILE = ("<script>alert(1)</script>\"><img src=x onerror=alert(2)> '; DROP TABLE approvals_release; -- "
           "<para><b>b</b>&amp;</para> \u202egnp.exe\u202c \x01 " + "z" * 3000)


def test_a_hostile_reason_is_kept_exactly_and_shown_escaped(client, model, policy, people) -> None:
    release = services.release_request(by=people["requester"], model="credit", version="7",
                                       environment="production", justification=HOSTILE)
    services.release_sign(release=release, by=people["risk"], password=PASSWORD, meaning="approval", reason=HOSTILE,
                          reviewed_digest=release.subject_digest)
    data = api_client(people["risk"]).get(f"/api/v1/releases/{release.pk}").json()
    assert data["justification"] == HOSTILE
    assert [s["reason"] for s in data["signatures"]] == [HOSTILE]
    client.force_login(people["risk"])
    html = client.get(f"/approvals/releases/{release.pk}").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<para>" not in html
    # the justification, the signature table and the signer's own "you signed" box
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3


def test_a_nul_in_a_reason_is_a_400_not_a_500(release, people, client) -> None:
    r = api_client(people["risk"]).post(f"/api/v1/releases/{release.pk}/approve",
                                        {"password": PASSWORD, "reason": "ok\x00",
                                                                         "subject_digest": release.subject_digest},
                                        format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "reason"
    client.force_login(people["risk"])
    r = client.post(f"/approvals/releases/{release.pk}/sign", {"meaning": "approval", "reason": "ok\x00",
                                                              "password": PASSWORD})
    assert r.status_code == 400
    assert not release.signatures.exists()
