"""The dossier's column paths of sensitive data, from real ingestion: which sensitive column reaches which
column the model was trained on, carried (DIRECT) or only influencing it (a filter), in the bundle and the PDF."""

from __future__ import annotations

import pytest

from portal.reports import services
from portal.reports.models import Report
from tests.lineage.test_column_sensitivity import CHURN, CUSTOMERS, RISK, world  # noqa: F401
from tests.reports.test_services import pdf_text

pytestmark = pytest.mark.django_db(transaction=True)


def _dossier(officer, model: str) -> Report:
    report = services.report_request(by=officer, kind="dossier", model=model)
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.error
    return report


def test_the_dossier_names_the_direct_path_from_ssn_to_the_feature(world, officer) -> None:  # noqa: F811
    report = _dossier(officer, RISK)
    assert report.bundle["column_paths"] == [{
        "model": RISK, "trained_on": 2, "truncated": False, "not_stopped": [],
        "paths": [{"tag": "PII", "kind": "carries", "source": {"dataset": CUSTOMERS, "field": "ssn"},
                   "feature": {"dataset": "dataset:s3://features:risk", "field": "ssn_hash"}}]}]
    text = "".join(pdf_text(bytes(report.pdf)).split())
    assert "Sensitivedatabycolumn" in text
    assert "crm.customers·ssn" in text and "s3://features:risk·ssn_hash" in text and "carries(DIRECT)" in text


def test_the_dossier_reports_a_filter_as_influence_only(world, officer) -> None:  # noqa: F811
    report = _dossier(officer, CHURN)
    assert [(p["tag"], p["kind"], p["source"]["field"], p["feature"]["field"])
            for p in report.bundle["column_paths"][0]["paths"]] == [("PII", "influencedBy", "email", "sessions")]
    assert "influencedby(INDIRECT)" in "".join(pdf_text(bytes(report.pdf)).split())
