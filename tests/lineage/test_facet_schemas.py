"""The portal's own facets: each JSON Schema is valid, builds on the OpenLineage spec, and matches what we read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from lineage import facets as F
from tests.conftest import OPENLINEAGE_SPEC
from tests.factories import deploy_facets, facet, model_output

SCHEMAS = Path(F.__file__).parent / "facet_schemas"
SPEC = json.loads(OPENLINEAGE_SPEC.read_text())
REGISTRY = Registry().with_resource("https://openlineage.io/spec/2-0-2/OpenLineage.json",
                                    Resource.from_contents(SPEC))


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=REGISTRY)


@pytest.mark.parametrize("name", [F.MODEL_FACET, F.DEPLOYMENT_FACET, F.RUN_FACET, F.CLASSIFICATION_FACET])
def test_every_portal_facet_has_a_valid_schema(name: str) -> None:
    validator(name)


def test_the_facets_we_emit_in_tests_and_the_demo_validate() -> None:
    validator(F.MODEL_FACET).validate(model_output("credit", "7", auc=0.8)["facets"][F.MODEL_FACET])
    validator(F.DEPLOYMENT_FACET).validate(deploy_facets("credit", "7", "production")[F.DEPLOYMENT_FACET])
    validator(F.RUN_FACET).validate(facet(launchedBy="ann@example.com", deidentifies=True))
    validator(F.CLASSIFICATION_FACET).validate(facet(tags=["PII"], columns={"ssn": ["PII", "FINANCIAL"]}))


def test_the_schema_refuses_what_the_reader_ignores() -> None:
    bad = facet(environment="production", action="explode", model={"name": "credit", "version": "7"})
    assert list(validator(F.DEPLOYMENT_FACET).iter_errors(bad))
    warnings: list[str] = []
    assert F.deployment({F.DEPLOYMENT_FACET: bad}, "ml", warnings) is None and warnings
