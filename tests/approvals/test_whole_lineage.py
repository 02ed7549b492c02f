"""The subject, separation of duties and the sensitive tags that pick the policy see the whole upstream lineage,
however deep; a walk that hits a bound never yields a decision."""

from __future__ import annotations

import pytest
from django.test import override_settings

from lineage.models import Node
from lineage.services import portal_record_ingest
from portal.approvals import services
from portal.approvals.models import Release
from tests.approvals.conftest import PASSWORD, ingest
from tests.conftest import api_client
from tests.factories import dataset, facet, model_output, run_event

pytestmark = pytest.mark.django_db
DAN_SHA = "a" * 40
OTHER_SHA = "b" * 40
STAGES = 30  # 60 edges from the model to the first stage's commit: past PORTAL_MAX_DEPTH (50)


def phi_chain(stages: int = STAGES, deidentifying_stage: int | None = None) -> Node:
    """patients (PHI) -> stage_0 (dan's commit) -> s0 -> stage_1 -> s1 ... -> stage_N-1 -> model readmit 1."""
    source = dataset("postgres://ehr:5432", "ehr.patients", tags={"dob": ["PHI"]})
    for i in range(stages):
        inputs = [source] if i == 0 else [dataset("s3://lake", f"stage/s{i - 1}")]
        outputs = [model_output("readmit", "1")] if i == stages - 1 else [dataset("s3://lake", f"stage/s{i}")]
        deid = {"portalRun": facet(deidentifies=True)} if i == deidentifying_stage else None
        ingest(run_event(job=f"stage_{i}", inputs=inputs, outputs=outputs, sha=DAN_SHA if i == 0 else OTHER_SHA,
                         time=f"2026-01-02T{i // 60:02d}:{i % 60:02d}:00Z", run_facets=deid))
    portal_record_ingest(kind="commit", by=None, payload={
        "repo": "https://git.example.com/ml/credit.git", "sha": DAN_SHA, "author_name": "Dan",
        "author_email": "dan@example.com", "committer_name": "Dan", "committer_email": "dan@example.com",
        "time": "2026-01-01T00:00:00+00:00"})
    return Node.objects.get(node_id="modelVersion:ml-pipelines:readmit#1")


@pytest.fixture
def phi_policies(people):
    services.policy_create(by=people["admin"], environment="production", reason="default",
                           groups=[("model-risk", 1)])
    return services.policy_create(by=people["admin"], environment="production", sensitive_tag="PHI",
                                  reason="HIPAA", groups=[("model-risk", 1), ("compliance", 1)])


def test_a_phi_source_thirty_stages_up_selects_the_phi_policy_and_bars_the_first_commits_author(
        people, phi_policies) -> None:
    phi_chain()
    release = services.release_request(by=people["requester"], model="readmit", version="1",
                                        environment="production", justification="monthly")
    assert release.policy == phi_policies
    assert release.subject["truncated"] is False
    assert len(release.subject["runs"]) == STAGES
    assert any(DAN_SHA in c["id"] for c in release.subject["commits"])
    with pytest.raises(services.NotAllowed, match="you authored commit:.*" + DAN_SHA):
        services.release_sign(release=release, by=people["author"], password=PASSWORD, meaning="approval",
                              reason="mine", reviewed_digest=release.subject_digest)
    r = api_client(people["author"]).post(f"/api/v1/releases/{release.pk}/approve",
                                          {"password": PASSWORD, "reason": "mine"}, format="json")
    assert r.status_code == 403
    gate = api_client(people["admin"]).get("/api/v1/gate", {"model": "readmit", "version": "1",
                                                             "environment": "production"}).json()
    assert gate["allowed"] is False


def test_a_cycle_upstream_ends_the_walk(people, phi_policies) -> None:
    # s1 feeds stage_0 again: a loop in the lineage (it happens with jobs that read their own output)
    phi_chain(3)
    ingest(run_event(job="stage_0", inputs=[dataset("s3://lake", "stage/s1")],
                     outputs=[dataset("s3://lake", "stage/s0")], sha=DAN_SHA, time="2026-01-03T00:00:00Z"))
    release = services.release_request(by=people["requester"], model="readmit", version="1",
                                       environment="production", justification="monthly")
    assert release.subject["truncated"] is False and release.policy == phi_policies


@override_settings(APPROVALS_SUBJECT_MAX_NODES=20)
def test_a_walk_that_hits_its_bound_is_never_approved_and_says_why(people, phi_policies, client) -> None:
    phi_chain(12)
    release = services.release_request(by=people["requester"], model="readmit", version="1",
                                       environment="production", justification="monthly")
    assert release.subject["truncated"] is True
    assert "PORTAL_SUBJECT_MAX_NODES" in release.state_reason
    for who in ("risk", "compliance"):
        if not services.ineligibility(release=release, user=people[who]):
            services.release_sign(release=release, by=people[who], password=PASSWORD, meaning="approval",
                                  reason="ok", reviewed_digest=release.subject_digest)
    assert services.release_quorum(release)[0]
    release.refresh_from_db()
    assert release.state == Release.State.PENDING
    assert "cannot be approved" in release.state_reason
    data = api_client(people["risk"]).get(f"/api/v1/releases/{release.pk}").json()
    assert data["lineage_complete"] is False and "PORTAL_SUBJECT_MAX_NODES" in data["state_reason"]
    client.force_login(people["risk"])
    assert "PORTAL_SUBJECT_MAX_NODES" in client.get(f"/approvals/releases/{release.pk}").content.decode()
    gate = api_client(people["admin"]).get("/api/v1/gate", {"model": "readmit", "version": "1",
                                                             "environment": "production"}).json()
    assert gate["allowed"] is False
    assert any("PORTAL_SUBJECT_MAX_NODES" in r for r in gate["reasons"])


def test_a_de_identifying_run_deep_in_the_chain_still_stops_the_phi_tag(people, phi_policies) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from portal.evidence import services as evidence

    model = phi_chain(deidentifying_stage=1)
    # PHI stops only where an approved de-identification determination vouches for the run (lineage/stops.py).
    assert services.policy_in_force(model_version=model, environment="production") == phi_policies
    run = Node.objects.get(kind="run", deidentifies=True)
    doc = evidence.document_upload(
        by=people["admin"], file_name="deid.md", content=b"# Safe harbor\n", content_type="text/markdown",
        doc_type="deid_determination", title="Safe harbor", version="1", description="",
        effective_from=timezone.now() - timedelta(days=1), attributes={"method": "safe_harbor"},
        node_ids=[run.node_id])
    evidence.document_approve(document=doc, by=people["risk"], password=PASSWORD, reason="checked")
    release = services.release_request(by=people["requester"], model="readmit", version="1",
                                       environment="production", justification="monthly")
    assert release.policy != phi_policies and release.policy.sensitive_tag == ""
    assert any(DAN_SHA in c["id"] for c in release.subject["commits"])  # SoD still sees past it
