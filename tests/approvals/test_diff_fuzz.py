"""GET /api/v1/releases/{id}/diff fuzzed from its OpenAPI schema by schemathesis, as every role, on the demo after
a change upstream of an approved release: no 5xx, every answer documented, every 4xx in the error shape. (The
whole-API fuzz in tests/security covers it too, briefly; this one runs more examples of this operation.)"""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import product
from typing import Any

import pytest

from portal.accounts.models import User
from portal.approvals.models import Release
from portal.audit.services import checkpoint_create
from portal.demo import story as demo
from portal.demo.upstream_change import change_upstream
from tests.security.test_fuzz_api import MODES, ROLES, _fuzz, api_schema, in_process_wsgi  # noqa: F401 - fixture
from tests.security.world import build_world

EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "25"))
pytestmark = pytest.mark.django_db


def test_the_diff_survives_hostile_input_as_every_role(in_process_wsgi: Callable[..., Any],  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.security.test_fuzz_api.EXAMPLES", EXAMPLES)
    world = build_world()
    change_upstream(by=User.objects.get(username=demo.INGESTOR.username))
    checkpoint_create()
    approved = Release.objects.get(model_version__name=demo.CREDIT_MODEL, model_version__version="7",
                                   environment="staging")
    [operation] = [r.ok() for r in api_schema().get_all_operations()
                   if r.ok().path == "/api/v1/releases/{id}/diff"]
    failures = []
    for role, mode in product(ROLES, MODES):
        try:
            _fuzz(operation, in_process_wsgi, world.tokens[role], mode, {"id": str(approved.pk)})
        except BaseException as exc:  # schemathesis raises exception groups; collect all, then report
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            failures.append(f"as {role}, {mode.value} input: {type(exc).__name__}: {exc}")
    assert not failures, "\n\n".join(failures)
