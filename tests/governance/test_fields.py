"""The pure rules and the parameter schema: no database."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest

from lineage import governance_fields as G
from portal.governance import parameters as P
from portal.governance.models import Disposition, LawfulBasis, ModelInventory, SpecialCategoryCondition
from tests.conftest import CONTROL_CATALOG


def test_the_choice_codes_match_the_models() -> None:
    assert tuple(LawfulBasis.values) == G.LAWFUL_BASES
    assert tuple(SpecialCategoryCondition.values) == G.SPECIAL_CATEGORY_CONDITIONS
    assert tuple(Disposition.values) == G.DISPOSITIONS
    assert tuple(ModelInventory.Status.values) == G.MODEL_STATUSES


def test_it_normalises_values() -> None:
    out = G.clean(G.DATASET, {"lawful_basis": " B ", "purposes": [" marketing ", "marketing", "billing"],
                              "retention_until": "2030-01-31"})
    assert out == {"lawful_basis": "b", "purposes": ["marketing", "billing"], "retention_until": date(2030, 1, 31)}


@pytest.mark.parametrize(("fields", "field"), [
    ({"lawful_basis": "g"}, "lawful_basis"),
    ({"purposes": ["ok", ""]}, "purposes"),
    ({"purposes": "marketing"}, "purposes"),
    ({"retention_until": "31/01/2030"}, "retention_until"),
    ({"legal_hold": "yes"}, "legal_hold"),
    ({"nonsense": 1}, "nonsense"),
    ({"consent_reference": "CMP\x00-1"}, "consent_reference"),
    ({"purposes": ["bill\x00ing"]}, "purposes"),
])
def test_it_names_the_field_it_refuses(fields: dict, field: str) -> None:
    with pytest.raises(G.Invalid) as exc:
        G.clean(G.DATASET, fields)
    assert exc.value.field == field


def test_cross_field_rules() -> None:
    assert [p.field for p in G.dataset_problems({"lawful_basis": "a"})] == ["consent_reference"]
    assert [p.field for p in G.dataset_problems({"legal_hold": True})] == ["legal_hold_reason"]
    assert not G.dataset_problems({"lawful_basis": "a", "consent_reference": "CMP-1", "legal_hold": False})


def test_subject_keys_are_stripped_and_case_folded_before_hashing() -> None:
    assert G.subject_key_hash("  Customer-1001 ") == hashlib.sha256(b"customer-1001").hexdigest()
    assert G.subject_key_hash("STRASSE") == G.subject_key_hash("straße")


def test_every_brace_of_the_catalog_has_a_parameter() -> None:
    catalog = CONTROL_CATALOG
    controls = {c for p in P.PARAMS for c in p.controls.split()}
    braced = set()
    for line in catalog.read_text().splitlines():
        m = re.match(r"\| ([HGFA]\d+) \|", line)
        if m and re.search(r"\{[^}]+\}", line) and "{parameter}" not in line:
            braced.add(m.group(1))
    assert braced <= controls


def test_parameter_values_are_checked() -> None:
    assert P.validate({"approvers_min": 3, "monitoring_max_days": {"1": 14}}) == []
    assert P.validate({"approver_min": 3}) == [("values.approver_min", "unknown parameter")]
    assert P.validate({"approvers_min": "3"})[0][0] == "values.approvers_min"
    assert P.validate({"hipaa_retention_years": 5})[0] == ("values.hipaa_retention_years", "must be at least 6 (law)")
    assert P.validate({"monitoring_max_days": {"x": 3}})[0][0] == "values.monitoring_max_days.x"
    assert set(P.DEFAULTS) == set(P.SCHEMA)
