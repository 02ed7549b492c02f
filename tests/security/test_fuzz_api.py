"""Hostile input: every API operation, fuzzed from its OpenAPI schema by schemathesis, as several roles.

The schema is generated in-process by drf-spectacular (serving it needs a token) and the requests go to the
Django WSGI application in-process, each in a savepoint that is rolled back. Checks: no 5xx, the status code,
content type and body are documented, and every 4xx JSON body has the portal's error shape.

The default run is short (``PORTAL_FUZZ_EXAMPLES``, 5 examples per operation and role); raise it for a longer
hunt, e.g. ``PORTAL_FUZZ_EXAMPLES=200 pytest tests/security/test_fuzz_api.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from itertools import product
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.audit.services import checkpoint_create
from tests.security.world import World, build_world

EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "5"))
ROLES = ("admin", "viewer", "ingestor", "auditor", "compliance_officer")
# Positive: valid by the schema, so the answer must be documented. Negative: invalid by the schema, so it must be
# refused with a documented 4xx (and never crash).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

pytestmark = pytest.mark.django_db


def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx JSON answer is ``{"detail": str, "errors": [{"field": str | null, "message": str}]}``."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"a {response.status_code} that is not JSON: {content_type}"
    body = response.json()
    # Extra keys are allowed (the batch ingest answers which event failed first); these two are required.
    assert isinstance(body, dict) and {"detail", "errors"} <= set(body), f"not the error shape: {body!r}"
    assert isinstance(body["detail"], str), f"detail is not a string: {body!r}"
    assert isinstance(body["errors"], list), f"errors is not a list: {body!r}"
    for e in body["errors"]:
        assert isinstance(e, dict) and set(e) == {"field", "message"}, f"not an error item: {e!r}"
        assert e["field"] is None or isinstance(e["field"], str), f"field is not a string or null: {e!r}"
        assert isinstance(e["message"], str), f"message is not a string: {e!r}"
    return True


@pytest.fixture
def in_process_wsgi() -> Iterator[Callable[..., Any]]:
    """The WSGI app, without the per-request connection handling that would close the test's transaction
    (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def api_schema() -> schemathesis.BaseSchema:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(raw)


def operations() -> list[Any]:
    return [result.ok() for result in api_schema().get_all_operations()]


def real_ids(operation: Any, world: World) -> dict[str, str]:
    """Path parameters naming objects of the demo, so half of the cases reach past the lookup."""
    path, v = operation.path, world.values
    ids: dict[str, str] = {}
    if "{id}" in path:
        ids["id"] = v["release"] if "/releases/" in path else v["report"] if "/reports/" in path else v["document"]
    if "{node_id}" in path:
        ids["node_id"] = (v["modelVersion"] if "/model-versions/" in path else
                          v["deployment"] if "/deployments/" in path else v["dataset"])
    if "{run_uuid}" in path:
        ids["run_uuid"] = v["run_uuid"]
    if "{field_name}" in path:
        ids["field_name"] = v["field"]
    return ids


def _fuzz(operation: Any, app: Any, token: str, mode: GenerationMode, ids: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    strategy = operation.as_strategy(generation_mode=mode)
    if ids:
        strategy = st.one_of(strategy, strategy.map(lambda case: _with(case, ids)))

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        with transaction.atomic():
            try:
                response = case.call(app=app, headers=headers)
                case.validate_response(response, checks=CHECKS, additional_checks=[error_shape], headers=headers)
            finally:
                transaction.set_rollback(True)

    run()


def _with(case: Any, ids: dict[str, str]) -> Any:
    case.path_parameters = {**(case.path_parameters or {}), **ids}
    return case


def test_every_operation_survives_hostile_input_as_every_role(in_process_wsgi: Callable[..., Any]) -> None:
    world = build_world()
    checkpoint_create()
    failures: list[str] = []
    for operation in operations():
        for role, mode in product(ROLES, MODES):
            try:
                _fuzz(operation, in_process_wsgi, world.tokens[role], mode, real_ids(operation, world))
            except BaseException as exc:  # schemathesis raises exception groups; collect all, then report
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                failures.append(f"{operation.label} as {role}, {mode.value} input: {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)


def test_an_api_url_that_matches_no_route_answers_the_error_shape(client: Any) -> None:
    response = client.get("/api/v1/releases/-1")
    assert response.status_code == 404 and response.json() == {"detail": "Not found.", "errors": []}
    assert client.get("/no-such-page").headers["Content-Type"].startswith("text/html")
