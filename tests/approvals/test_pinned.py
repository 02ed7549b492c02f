"""A signature pins the subject digest its signer reviewed: if the release changed since, nothing is signed."""

from __future__ import annotations

import json

import pytest

from portal.approvals import services
from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from tests.approvals.conftest import PASSWORD, SHA, ingest, train
from tests.conftest import api_client
from tests.factories import dataset, facet, model_output, run_event

pytestmark = pytest.mark.django_db


def test_a_signature_on_a_digest_the_release_no_longer_has_is_refused_naming_what_changed(release, people) -> None:
    reviewed = release.subject_digest
    train(auc=0.93, time="2026-01-05T00:00:00Z")  # the pipeline rewrites the model's metrics after review
    with pytest.raises(services.SubjectChanged) as err:
        services.release_sign(release=release, by=people["risk"], password=PASSWORD, meaning="approval",
                              reason="validated", reviewed_digest=reviewed)
    assert err.value.status_code == 409
    assert "auc" in err.value.message and "0.81" in err.value.message and "0.93" in err.value.message
    release.refresh_from_db()
    assert release.subject_digest != reviewed
    assert not release.signatures.exists()
    # Signing what is there now works, and the manifest records what was reviewed.
    services.release_sign(release=release, by=people["risk"], password=PASSWORD, meaning="approval",
                          reason="validated", reviewed_digest=release.subject_digest)
    entry = AuditEntry.objects.filter(action="approval.signed", target_id=str(release.pk)).get()
    assert json.loads(entry.payload)["reviewed_digest"] == release.subject_digest


def test_a_stale_digest_is_refused_before_the_password_is_asked(release, people) -> None:
    reviewed = release.subject_digest
    train(auc=0.93, time="2026-01-05T00:00:00Z")
    services.release_refresh(release=release)  # someone else loaded the page: the release already has digest B
    with pytest.raises(services.SubjectChanged, match="auc 0.81 → 0.93"):
        services.release_sign(release=release, by=people["risk"], password="wrong", meaning="approval",
                              reason="validated", reviewed_digest=reviewed)
    assert not AuditEntry.objects.filter(action="approval.signature_refused").exists()


def test_the_api_answers_409_with_the_changes_and_400_without_a_digest(release, people) -> None:
    mo = api_client(people["risk"])
    reviewed = mo.get(f"/api/v1/releases/{release.pk}").json()["subject_digest"]
    train(auc=0.93, time="2026-01-05T00:00:00Z")
    url = f"/api/v1/releases/{release.pk}/approve"
    r = mo.post(url, {"password": PASSWORD, "reason": "ok", "subject_digest": reviewed}, format="json")
    assert r.status_code == 409, r.content
    assert r.json()["errors"][0]["field"] == "subject_digest" and "auc" in r.json()["detail"]
    r = mo.post(url, {"password": PASSWORD, "reason": "ok"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "subject_digest"
    r = mo.post(f"/api/v1/releases/{release.pk}/reject", {"password": PASSWORD, "reason": "no",
                                                          "subject_digest": reviewed}, format="json")
    assert r.status_code == 409
    assert Release.objects.get(pk=release.pk).state == Release.State.PENDING


def test_the_form_carries_the_digest_and_the_page_shows_what_changed(release, people, client) -> None:
    client.force_login(people["risk"])
    page = client.get(f"/approvals/releases/{release.pk}").content.decode()
    assert f'name="subject_digest" value="{release.subject_digest}"' in page
    train(auc=0.93, time="2026-01-05T00:00:00Z")
    r = client.post(f"/approvals/releases/{release.pk}/sign", {
        "action": "approve", "meaning": "approval", "reason": "ok", "password": PASSWORD,
        "subject_digest": release.subject_digest}, follow=True)
    html = r.content.decode()
    assert "changed since you loaded it" in html and "auc 0.81 → 0.93" in html
    assert not release.signatures.exists()


def test_what_changed_names_no_node_of_a_team_the_signer_cannot_see(release, people, client) -> None:
    """The 409 and the page list what changed with the redaction of every other answer: another team's dataset
    that now feeds the model is "a dataset of another team" to a team-bound approver, named to an admin."""
    from portal.accounts.models import NamespaceOwner, Team
    from portal.accounts.services import user_ensure

    NamespaceOwner.objects.create(namespace="postgres://ehr-db:5432", team=Team.objects.create(name="clinical"))
    reviewed = release.subject_digest
    ingest(run_event(job="train_credit", time="2026-01-05T00:00:00Z", sha=SHA,
                     inputs=[dataset("postgres://bank-db:5432", "features.credit", tags={"ssn": ["PII"]}),
                             dataset("postgres://ehr-db:5432", "patients")],
                     outputs=[model_output("credit", "7", auc=0.81)],
                     run_facets={"portalRun": facet(launchedBy="erin@example.com")}))
    hidden = "postgres://ehr-db:5432"
    for who in ("risk", "compliance"):  # team-bound approvers
        r = api_client(people[who]).post(f"/api/v1/releases/{release.pk}/approve", {
            "password": PASSWORD, "reason": "ok", "subject_digest": reviewed}, format="json")
        assert r.status_code == 409, r.content
        assert hidden not in r.content.decode() and "a dataset of another team" in r.json()["detail"]
    client.force_login(people["risk"])
    html = client.post(f"/approvals/releases/{release.pk}/sign", {
        "action": "approve", "meaning": "approval", "reason": "ok", "password": PASSWORD,
        "subject_digest": reviewed}).content.decode()
    assert "changed since you loaded it" in html and hidden not in html
    admin = user_ensure(username="ada", team="model-risk")  # an org-wide role sees the names
    with pytest.raises(services.SubjectChanged) as err:
        services.release_sign(release=release, by=admin, password=PASSWORD, meaning="approval",
                              reason="ok", reviewed_digest=reviewed)
    assert hidden in err.value.message


def test_the_audit_trail_shows_what_changed_with_the_same_redaction(release, people, client, settings) -> None:
    """The ``approval.subject_changed`` entry keeps the change list as written (the chain hashes it); a reader who
    may not see another team's nodes reads it redacted, in the API and on the entry page, and is told so."""
    from portal.accounts.models import NamespaceOwner, Team
    from portal.accounts.services import user_ensure

    NamespaceOwner.objects.create(namespace="postgres://ehr-db:5432", team=Team.objects.create(name="clinical"))
    ingest(run_event(job="train_credit", time="2026-01-05T00:00:00Z", sha=SHA,
                     inputs=[dataset("postgres://bank-db:5432", "features.credit", tags={"ssn": ["PII"]}),
                             dataset("postgres://ehr-db:5432", "patients")],
                     outputs=[model_output("credit", "7", auc=0.81)],
                     run_facets={"portalRun": facet(launchedBy="erin@example.com")}))
    services.release_refresh(release=release)
    entry = AuditEntry.objects.get(action="approval.subject_changed", target_id=str(release.pk))
    hidden = "postgres://ehr-db:5432"
    assert hidden in entry.payload  # written as it happened
    settings.PORTAL_ORG_WIDE_ROLES = ("admin",)  # an organisation whose auditors see only their teams' namespaces
    auditor = user_ensure(username="ines", role="auditor", email="ines@example.com")
    [shown] = api_client(auditor).get("/api/v1/audit/entries", {"action": "approval.subject_changed"}).json()[
        "results"]
    assert hidden not in json.dumps(shown) and "a dataset of another team" in json.dumps(shown)
    assert shown["redacted"] is True and shown["entry_hash"] == entry.entry_hash
    client.force_login(auditor)
    page = client.get(f"/audit/entries/{entry.seq}").content.decode()
    assert hidden not in page and "a dataset of another team" in page and "names of nodes you may not see" in page
    admin = user_ensure(username="ada", role="admin", email="ada@example.com")
    [full] = api_client(admin).get("/api/v1/audit/entries", {"action": "approval.subject_changed"}).json()["results"]
    assert hidden in json.dumps(full) and "redacted" not in full
