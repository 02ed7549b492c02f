"""The demo's evidence: loaded once, realistic, and enough for the production releases it approves."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from portal.accounts.models import User
from portal.approvals import services as approvals
from portal.approvals.models import Release
from portal.demo import story as demo
from portal.demo.evidence import DOCUMENTS
from portal.evidence.models import Document

pytestmark = pytest.mark.django_db


def load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_loading_twice_adds_no_documents() -> None:
    assert f"Evidence: {len(DOCUMENTS)}/{len(DOCUMENTS)} documents new" in load()
    first = sorted(Document.objects.values_list("sha256", "approved_at"))
    assert f"Evidence: 0/{len(DOCUMENTS)} documents new" in load()
    assert sorted(Document.objects.values_list("sha256", "approved_at")) == first


def test_the_demo_has_the_documents_its_story_needs() -> None:
    load()
    readmission = Document.objects.approved().in_effect().filter(nodes__name=demo.READMISSION_MODEL,
                                                                 nodes__version="2")
    assert set(readmission.values_list("doc_type", flat=True)) == {"dpia", "risk_register", "validation_report"}
    dpia = readmission.get(doc_type="dpia")
    assert dpia.supersedes is not None and dpia.supersedes.effective_until == dpia.effective_from
    assert dpia.approved_by.username == demo.SAM.username and dpia.sections[0] == "35(7)(a)"
    report = Document.objects.get(doc_type="validation_report", nodes__name=demo.CREDIT_MODEL, nodes__version="7")
    assert report.author.username == demo.ELENA.username and report.attributes["outcome"] == "approved with conditions"
    assert [f["severity"] for f in report.attributes["findings"]] == ["low", "low"]
    waiting = Document.objects.filter(approved_at__isnull=True)
    assert list(waiting.values_list("doc_type", flat=True)) == ["model_documentation"]


def test_production_releases_have_their_required_evidence() -> None:
    load()
    production = Release.objects.filter(environment="production", policy__required_evidence=["validation_report"])
    assert production.filter(state=Release.State.APPROVED).count() == 2
    alex = User.objects.get(username=demo.ALEX.username)
    g = approvals.gate_check(user=alex, model=demo.CREDIT_MODEL, version="6", environment="production")
    assert g["allowed"] is True, g["reasons"]
