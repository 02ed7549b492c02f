"""The demo's "what changed since approval": load the demo, change the lineage upstream of credit-scoring 7's
approved staging release, and read the diff and its classification."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from portal.accounts.models import User
from portal.approvals import materiality
from portal.approvals.diff import release_diff
from portal.approvals.models import Release
from portal.demo import story as demo

pytestmark = pytest.mark.django_db


def test_the_demo_change_upstream_is_classified_release_by_release() -> None:
    call_command("load_demo", stdout=StringIO(), stderr=StringIO())
    release = Release.objects.get(model_version__name=demo.CREDIT_MODEL, model_version__version="7",
                                  environment="staging")
    sam = User.objects.get(username=demo.SAM.username)
    assert release_diff(release=release, user=sam)["changes"] == []
    out = StringIO()
    call_command("demo_change_upstream", stdout=out)
    assert f"release {release.pk} (staging, approved): 37 changes since approval, 12 in the subject, 12 material; " \
           "the approval is void; may trigger SR 26-2 revalidation, EU AI Act substantial modification, Colorado " \
           "AI Act impact-assessment update" in out.getvalue()
    d = release_diff(release=release, user=sam)
    material = {(c["element"], c["kind"], c["label"], c["detail"], tuple(c["rules"])) for c in d["changes"]
                if c["rules"]}
    c5 = demo.git_sha(demo.CREDIT_REPO, "c5")
    assert ("node", "commit", c5[:10], "author_email priya.raman@northwind.example, committer_email "
            "priya.raman@northwind.example", ("new_training_code",)) in material
    assert ("node", "dataset", "curated/churn_features", "", ("new_data_source",)) in material
    assert ("tag", "dataset", "core.loans", "SPECIAL_CAT@hardship_reason", ("new_sensitive_tag",)) in material
    assert ("sensitive", "", "core.loans", "SPECIAL_CAT (new to the model)", ("new_sensitive_tag",)) in material
    assert ("metric", "modelVersion", "credit-scoring v7", "auc 0.803 → 0.781 (2.7% worse)",
            ("metric_drop",)) in material
    ks = next(c for c in d["changes"] if c["element"] == "metric" and c["detail"].startswith("ks "))
    assert ks["rules"] == [] and ks["in_subject"]  # 1.6% worse: under the default 2%
    assert [t["trigger"] for t in d["triggers"]] == list(materiality.TRIGGERS)
    # Running it again changes nothing more.
    call_command("demo_change_upstream", stdout=StringIO())
    assert release_diff(release=release, user=sam)["summary"] == d["summary"]
