"""Reports show, for each approved release in scope, the lineage as approved (kept at approval) and what changed
since, classified: the dossier and the framework reports, in the bundle and the PDF."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from portal.accounts.models import User
from portal.approvals import materiality
from portal.approvals.models import Release
from portal.demo import story as demo
from portal.reports import services
from portal.reports.approved_lineage import approved_lineages
from tests.approvals.test_diff import approve, retrain

pytestmark = pytest.mark.django_db


def generate(by, **kw):
    report = services.report_request(by=by, enqueue=False, **kw)
    return services.report_generate(report_id=str(report.pk))


def text_of(report) -> str:
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(bytes(report.pdf))).pages))


def test_the_dossier_shows_the_lineage_as_approved_and_the_material_changes_since(release, people) -> None:
    release = approve(release, people)
    retrain()
    dossier = generate(people["admin"], kind="dossier", model=release.model_version.node_id)
    assert dossier.state == "done", dossier.error
    [entry] = dossier.bundle["approved_lineage"]
    assert entry["release"] == release.pk and entry["baseline"] == "stored" and entry["voids_approval"] is True
    ids = {n["id"] for n in entry["nodes"]}
    assert "dataset:postgres://bank-db:5432:features.credit" in ids and not any("bureau" in i for i in ids)
    assert entry["summary"]["material"] == 5
    assert [t["trigger"] for t in entry["triggers"]] == list(materiality.TRIGGERS)
    text = text_of(dossier)
    assert "Lineage as approved, and changes since" in text
    assert "CHANGED: the approval is void" in text
    assert "auc 0.81 → 0.7 (13.6% worse)" in text and "metric_drop" in text
    assert "new_data_source" in text and "bureau.scores" in text
    assert "EU AI Act substantial modification" in text
    assert "features.credit" in text and "PII@ssn" in text


def test_the_annex_iv_dossier_puts_it_under_point_6(release, people) -> None:
    approve(release, people)
    dossier = generate(people["admin"], kind="dossier", model=release.model_version.node_id, annex_iv=True)
    text = text_of(dossier)
    p6, p7 = (text.rindex(f"Annex IV point {i}: ") for i in (6, 7))
    assert p6 < text.index("Lineage as approved, and changes since", p6) < p7
    assert "unchanged: the approval stands" in text


def test_a_framework_report_lists_approved_releases_only_and_old_ones_say_so(release, people) -> None:
    release = approve(release, people)
    Release.objects.filter(pk=release.pk).update(approved_lineage={"format": 0,
                                                                   "not_stored_before": "2026-12-06T14:00:00Z"})
    report = generate(people["admin"], kind="framework", framework="model-risk")
    assert report.state == "done", report.error
    [entry] = report.bundle["approved_lineage"]
    assert entry["baseline"] == "subject" and entry["note"].startswith("Subject not stored; approved before 2026-12-06")
    assert "Subject not stored; approved before 2026-12-06" in text_of(report)
    json.dumps(report.bundle)  # the bundle stays plain JSON


@pytest.fixture
def demo_changed() -> list[int]:
    """The demo with its upstream change made: the ids of its releases that were approved (eleven, over seven
    model versions, some with de-identifying runs upstream)."""
    call_command("load_demo", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("demo_change_upstream", stdout=io.StringIO())
    return list(Release.objects.exclude(approved_at=None).order_by("pk").values_list("pk", flat=True))


def test_on_the_demo_every_release_is_answered_as_it_is_alone(demo_changed) -> None:
    assert len(demo_changed) == 11
    for reader in (demo.SAM.username, "priya.raman"):  # sees everything; sees her team's namespaces only
        user = User.objects.get(username=reader)
        cache.clear()
        together = approved_lineages(release_ids=demo_changed, user=user)
        alone = []
        for pk in demo_changed:
            cache.clear()
            alone += approved_lineages(release_ids=[pk], user=user)
        assert together == alone
        assert sum(e["summary"]["changes"] for e in together) >= 37


def test_the_report_reads_the_lineage_now_in_as_many_statements_for_five_releases_as_for_one(demo_changed) -> None:
    counts = []
    for n in (1, 5):
        cache.clear()
        with CaptureQueriesContext(connection) as q:
            approved_lineages(release_ids=demo_changed[:n], user=User.objects.get(username=demo.SAM.username))
        counts.append(len(q.captured_queries))
    assert counts[1] <= counts[0] + 2, counts  # not once per release (before: 13 and 61)
