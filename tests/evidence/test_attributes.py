"""The documented attributes of evidence documents: what the report controls read, enforced at upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.evidence.attributes import SCHEMA, attributes_check, schema_markdown
from portal.lib.errors import FieldError
from tests.conftest import api_client
from tests.evidence.conftest import upload

pytestmark = pytest.mark.django_db


def test_an_unknown_key_is_refused_naming_the_key_and_the_types_attributes(model, people) -> None:
    with pytest.raises(FieldError) as err:
        upload(people["requester"], doc_type="validation_report", attributes={"independent": True})
    assert err.value.field == "attributes.independent"
    assert "validator" in err.value.message and "conditions_of_use" in err.value.message


def test_a_required_key_is_named_and_a_wrong_kind_refused(model, people) -> None:
    with pytest.raises(FieldError) as err:
        upload(people["requester"], doc_type="oversight_training", attributes={})
    assert err.value.field == "attributes.trainee"
    with pytest.raises(FieldError) as err:
        upload(people["requester"], doc_type="monitoring_plan", attributes={"thresholds": 0.2})
    assert err.value.field == "attributes.thresholds" and "object" in err.value.message
    doc = upload(people["requester"], doc_type="oversight_training", attributes={"trainee": "bob", "notes": "ok"})
    assert doc.attributes == {"trainee": "bob", "notes": "ok"}


def test_every_attribute_a_check_reads_is_in_the_schema() -> None:
    """The checks read attributes by name: each name they use is documented for its document type."""
    read = {("validation_report", "findings"), ("validation_report", "conditions_of_use"),
            ("validation_report", "non_material_change_of"), ("validation_report", "validator"),
            ("monitoring_plan", "thresholds"), ("monitoring_result", "breaches"), ("deid_determination", "method"),
            ("oversight_training", "trainee"), ("risk_register", "residual_risks_accepted_by"),
            ("ropa_entry", "reasons")}
    documented = {(t, a.key) for t, attrs in SCHEMA.items() for a in attrs}
    assert read <= documented
    checks = "".join(p.read_text() for p in Path("portal/reports/checks").glob("*.py"))
    for _, key in read:
        assert f'"{key}"' in checks, key


def test_the_governance_doc_carries_the_generated_table() -> None:
    assert schema_markdown() in Path("docs/governance.md").read_text()


def test_the_openapi_description_of_attributes_carries_the_table(people) -> None:
    schema = api_client(people["requester"]).get("/api/schema/", {"format": "json"}).content.decode()
    assert "residual_risks_accepted_by" in schema and "deid_determination" in schema


def test_attributes_check_is_pure() -> None:
    assert attributes_check(doc_type="other", attributes={"notes": "x"}) == {"notes": "x"}
    with pytest.raises(FieldError):
        attributes_check(doc_type="other", attributes={"anything": 1})
