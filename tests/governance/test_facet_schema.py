"""The portalGovernance facet's JSON Schema, and the inventory and profile fields of the model-version and
deployment facets: valid, built on the OpenLineage spec, and in step with what the reader accepts."""

from __future__ import annotations

from typing import Any

import pytest

from lineage import facets as F
from tests.factories import deploy_facets, facet, model_output
from tests.lineage.test_facet_schemas import validator

H = "a" * 64


def read(fields: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    warnings: list[str] = []
    return F.dataset_governance({F.GOVERNANCE_FACET: facet(**fields)}, "inputs[0].facets", warnings), warnings


def test_the_governance_schema_is_valid() -> None:
    validator(F.GOVERNANCE_FACET)


def test_what_we_document_validates_and_is_read() -> None:
    good = {"lawfulBasis": "a", "consentReference": "CMP-2025-001", "purposes": ["marketing"],
            "specialCategoryCondition": "h", "retentionUntil": "2031-12-31", "legalHold": True,
            "legalHoldReason": "Case 1", "disposition": "anonymised", "disposedAt": "2026-01-01T00:00:00Z",
            "subjectKeyHashes": [H]}
    validator(F.GOVERNANCE_FACET).validate(facet(**good))
    fields, warnings = read(good)
    assert fields is not None and not warnings and fields["subject_key_hashes"] == [H]
    out = model_output("credit", "7")["facets"][F.MODEL_FACET]
    out.update(owner="ann", intendedUse="PD", tier=1, limitations="none", highRiskAnnex="5(b)", creditDecisioning=True)
    validator(F.MODEL_FACET).validate(out)
    dep = deploy_facets("credit", "7", "production")[F.DEPLOYMENT_FACET]
    dep.update(soxInScope=True, hipaaScope=False, humanInLoop=True, overseers=["ann"], changeRecord="CHG-1",
               emergency=False, logLocation="s3://logs", logRetentionDays=200, logMaxGapMinutes=5,
               stopControlTestedAt="2026-01-02T00:00:00Z")
    validator(F.DEPLOYMENT_FACET).validate(dep)


@pytest.mark.parametrize("bad", [
    {"lawfulBasis": "g"}, {"lawfulBasis": "a"}, {"legalHold": True}, {"purposes": [""]},
    {"subjectKeyHashes": ["customer-1001"]}, {"disposedAt": "2026-01-01T00:00:00Z"},
    {"specialCategoryCondition": "k"}, {"disposition": "burnt"},
])
def test_the_schema_refuses_what_the_reader_ignores(bad: dict[str, Any]) -> None:
    assert list(validator(F.GOVERNANCE_FACET).iter_errors(facet(**bad)))
    fields, warnings = read(bad)
    assert fields is None and warnings


def test_the_model_facet_schema_refuses_a_bad_annex_point() -> None:
    out = model_output("credit", "7")["facets"][F.MODEL_FACET]
    out["highRiskAnnex"] = "Annex III"
    assert list(validator(F.MODEL_FACET).iter_errors(out))
    warnings: list[str] = []
    assert F.model_inventory({F.MODEL_FACET: out}, "outputs[0].facets", warnings) is None and warnings
