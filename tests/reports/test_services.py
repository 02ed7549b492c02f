"""Report generation end to end on the database: request, facts, bundle, PDF, audit, verification."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader

from portal.accounts.services import user_ensure
from portal.audit.models import AuditEntry
from portal.lib.errors import FieldError
from portal.reports import services
from portal.reports.catalog import FRAMEWORKS
from portal.reports.models import PostureSnapshot, Report
from portal.reports.selectors import facts_load, scope_pks


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_facts_load_the_graph_tags_and_audit_entries(small_graph, officer):
    from django.utils import timezone

    from portal.governance.parameters import DEFAULTS

    now = timezone.now()
    facts = facts_load(scope={}, period=(now.replace(year=2025), now), now=now, params=DEFAULTS)
    mv = facts.by_node_id[small_graph["mv:readmission"].node_id]
    assert "PHI" in facts.sensitive[mv.pk]
    churn = facts.by_node_id[small_graph["mv:churn"].node_id]
    assert facts.sensitive[churn.pk] == {"PII"}
    runs = [n for n in facts.of_kind("run") if "PHI" in facts.sensitive[n.pk]]
    assert runs and all(facts.audit.target_times.get(r.node_id) for r in runs)
    assert facts.audit.chain_ok is True


def test_a_scope_covers_its_models_upstream_and_nothing_else(small_graph):
    pks, cut = scope_pks({"models": ["readmission"]})
    names = set(small_graph["mv:readmission"].__class__.objects.filter(pk__in=pks).values_list("name", flat=True))
    assert "clinical.admissions" in names and "readmission" in names
    assert "customers" not in names and "churn" not in names
    assert not cut


def test_request_validates_and_refuses_non_reporting_roles(small_graph, officer, alice):
    with pytest.raises(FieldError) as e:
        services.report_request(by=officer, kind="framework", framework="nist")
    assert e.value.field == "framework"
    with pytest.raises(FieldError) as e:
        services.report_request(by=officer, kind="dossier", model="modelVersion:nowhere#1")
    assert e.value.field == "model"
    with pytest.raises(FieldError) as e:
        services.report_request(by=officer, kind="erasure")
    assert e.value.field == "dataset"
    with pytest.raises(FieldError) as e:
        services.report_request(by=officer, kind="framework", framework="gdpr", scope={"teams": ["x"]})
    assert e.value.field == "scope.teams"
    with pytest.raises(services.ReportForbidden):
        services.report_request(by=alice, kind="framework", framework="gdpr")
    assert Report.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_framework_report_is_generated_audited_and_verifiable(small_graph, officer):
    report = services.report_request(by=officer, kind="framework", framework="hipaa")
    report.refresh_from_db()  # eager Celery: generated on commit
    assert report.state == Report.State.DONE, report.error
    assert report.progress == 100 and report.pdf_sha256
    codes = [c["id"] for c in report.bundle["controls"]]
    assert codes == [c.id for c in FRAMEWORKS["hipaa"].controls]
    h1 = next(c for c in report.bundle["controls"] if c["id"] == "H1")
    assert h1["status"] == "pass", h1["reason"]
    assert report.bundle["report"]["generated_by"]["name"] == "Olivia Officer"
    text = pdf_text(bytes(report.pdf))
    for code in ("H1", "H3", "H10", "§164.312(b)"):
        assert code in text
    assert str(report.pk) in text
    entry = AuditEntry.objects.get(action="report.generated", target_id=str(report.pk))
    assert json.loads(entry.payload)["sha256"] == report.pdf_sha256
    assert services.report_verify(content=bytes(report.pdf)).ok
    tampered = bytes(report.pdf).replace(b"H1", b"H7", 1)
    assert not services.report_verify(content=tampered).ok
    # an ad-hoc report, even organisation-wide, never moves the posture: only its own evaluation does
    assert not PostureSnapshot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_dossier_and_an_erasure_report(small_graph, officer):
    mv = small_graph["mv:readmission"]
    dossier = services.report_request(by=officer, kind="dossier", model=mv.node_id, annex_iv=True)
    dossier.refresh_from_db()
    assert dossier.state == Report.State.DONE, dossier.error
    assert dossier.bundle["lineage"][0]["root"] == mv.node_id
    assert any(d["name"] == "clinical.admissions" for d in dossier.bundle["datasets"])
    source = small_graph["ds:clinical.admissions"]
    erasure = services.report_request(by=officer, kind="erasure", dataset=source.node_id)
    erasure.refresh_from_db()
    assert erasure.state == Report.State.DONE, erasure.error
    affected = {a["node_id"]: a for a in erasure.bundle["erasure"]["affected"]}
    assert mv.node_id in affected
    path = affected[mv.node_id]["path"]
    assert path[0] == source.node_id and path[-1] == mv.node_id
    assert affected[mv.node_id]["active_deployments"] == [small_graph["dep:readmission"].node_id]
    assert erasure.bundle["erasure"]["counts"]["deployment"] == 1
    assert "churn" not in json.dumps(erasure.bundle["erasure"])
    assert mv.name in pdf_text(bytes(erasure.pdf))


@pytest.mark.django_db(transaction=True)
def test_a_failing_generation_is_recorded_not_retried_forever(small_graph, officer, monkeypatch: Any):
    def boom(*a: Any, **k: Any) -> bytes:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr("portal.reports.pdf.render", boom)
    report = services.report_request(by=officer, kind="framework", framework="gdpr")
    report.refresh_from_db()
    assert report.state == Report.State.FAILED and "renderer exploded" in report.error
    assert AuditEntry.objects.filter(action="report.failed", target_id=str(report.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_a_report_redelivered_after_its_worker_died_is_taken_over(small_graph, officer):
    report = services.report_request(by=officer, kind="framework", framework="sox", enqueue=False)
    # A worker claimed it and died: running, same task id redelivered.
    assert services._claim(str(report.pk), "task-1") is not None
    assert services.report_generate(report_id=str(report.pk), task_id="task-2") is None  # another live worker
    done = services.report_generate(report_id=str(report.pk), task_id="task-1")
    assert done.state == Report.State.DONE and done.attempts == 2
    assert AuditEntry.objects.filter(action="report.retried", target_id=str(report.pk)).exists()
    assert services.report_generate(report_id=str(report.pk), task_id="task-1") is None  # finished: no rework


@pytest.mark.django_db(transaction=True)
def test_hostile_names_print_literally_in_the_pdf(officer):
    from tests.factories import dataset, deploy_facets, model_output, run_event
    from tests.reports.conftest import ingest, recent

    hostile = '<script>alert(1)</script> <para>&amp; <b>x</b>'
    ingest(run_event(job="train", inputs=[dataset("s3://lake", hostile, tags={"email": ["PII"]})],
                     outputs=[model_output("evil<i>", "1")], time=recent(2)),
           run_event(job="deploy", run_facets=deploy_facets("evil<i>", "1", "production"), time=recent(1)))
    report = services.report_request(by=officer, kind="framework", framework="gdpr")
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.error
    text = pdf_text(bytes(report.pdf)).replace("\n", " ")
    assert "<script>alert(1)</script>" in text
    assert "<para>&amp;" in text and "<b>x</b>" in text
    assert "evil<i> v1" in text


@pytest.mark.django_db(transaction=True)
def test_the_posture_is_its_own_evaluation_over_the_rolling_period_of_the_parameters(small_graph, officer):
    from portal.governance.services import parameters_publish

    admin = user_ensure(username="root", role="admin", email="root@example.com")
    at = timezone.now()
    parameters_publish(by=admin, values={"posture_period_days": 90}, effective_from=at - timedelta(days=1),
                       reason="quarterly posture")
    snaps = services.posture_evaluate(at=at)
    hipaa = next(s for s in snaps if s.framework == "hipaa")
    assert (hipaa.period_start, hipaa.period_end) == (at - timedelta(days=90), at)
    assert hipaa.parameters["posture_period_days"] == 90 and hipaa.parameters_version is not None
    assert hipaa.not_applicable == sum(1 for v in hipaa.controls.values() if v == "not_applicable")
    assert hipaa.passed == sum(1 for v in hipaa.controls.values() if v == "pass")
    # an organisation-wide report over another period leaves it alone
    report = services.report_request(by=officer, kind="framework", framework="hipaa",
                                     period_start=at - timedelta(days=20), period_end=at)
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.error
    assert list(PostureSnapshot.objects.values_list("pk", flat=True).order_by("pk")) == sorted(s.pk for s in snaps)


@pytest.mark.django_db(transaction=True)
def test_the_dossier_of_a_phi_trained_model_shows_the_datasets_tags_and_privacy_attributes(small_graph, officer):
    from portal.governance.services import dataset_governance_set

    source = small_graph["ds:clinical.admissions"]
    dataset_governance_set(node=source, by=officer, lawful_basis="c", purposes=["readmission risk"],
                           special_category_condition="h", retention_until="2032-12-31")
    mv = small_graph["mv:readmission"]
    dossier = services.report_request(by=officer, kind="dossier", model=mv.node_id, annex_iv=True)
    dossier.refresh_from_db()
    assert dossier.state == Report.State.DONE, dossier.error
    row = next(d for d in dossier.bundle["datasets"] if d["name"] == "clinical.admissions")
    assert row["node_id"] == source.node_id  # the dataset, not a version of it
    assert row["tags"] == ["PHI"] and row["column_tags"] == {"diagnosis": ["PHI"]}
    assert (row["lawful_basis"], row["purposes"], row["special_category_condition"], row["retention_until"]) == (
        "c", ["readmission risk"], "h", "2032-12-31")
    assert [v["node_id"] for v in row["versions"]] == [f"datasetVersion:{source.node_id.split(':', 1)[1]}#initial"]
    badges = {n["id"]: n["tags"] for n in dossier.bundle["lineage"][0]["nodes"]}
    assert "PHI" in badges[mv.node_id]
    assert "PHI" in pdf_text(bytes(dossier.pdf))


def test_the_audit_appendix_signs_a_checkpoint_at_generation_and_verifies_each_proof_against_it(db):
    from portal.audit.models import AuditCheckpoint
    from portal.audit.services import audit_record, checkpoint_create
    from portal.reports.bundle import audit_appendix

    audit_record(actor=None, action="approval.release_requested", target_kind="release", target_id="7")
    checkpoint_create(force=True)
    audit_record(actor=None, action="approval.release_approved", target_kind="release", target_id="7")
    appendix = audit_appendix([7])
    newest = AuditEntry.objects.order_by("-seq").first()
    assert appendix["checkpoint"]["size"] == newest.seq and appendix["checkpoint"]["made_for_this_report"]
    assert AuditCheckpoint.objects.count() == 2
    assert [p["label"] for p in appendix["proofs"]] == ["release 7: release requested", "release 7: release approved"]
    assert all(p["verified"] for p in appendix["proofs"])
