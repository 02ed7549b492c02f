"""Personas and API clients. alice requests, bob approves, charlie is an outsider of another team."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.accounts.models import User
from portal.accounts.services import namespace_assign, token_issue, user_ensure

pytest_plugins = ["tests.accounts.sso"]  # the SSO provider fixture (sso_idp) for every signed action

# Copies of what the suite reads from the project's ../shared folder, so any clean checkout can run it
# (tests/data/README.md; tests/test_shared_data.py keeps them identical when ../shared is there).
TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_ORIGINAL = Path(__file__).resolve().parents[2] / "shared"
EVENTS_DIR = TEST_DATA / "openlineage" / "events"
OPENLINEAGE_SPEC = TEST_DATA / "openlineage" / "OpenLineage.json"
CONTROL_CATALOG = Path(__file__).resolve().parents[1] / "portal" / "reports" / "controls.md"  # shipped with reports
REQUIRE_SERVICES = os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session", autouse=True)
def _audit_flush_in_maintenance() -> Any:
    """Transactional tests flush every table between tests; the audit tables refuse that outside maintenance."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from portal.audit.db import maintenance

    original = BaseDatabaseOperations.execute_sql_flush

    def flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        with maintenance(self.connection):
            original(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _token_cache_empty() -> Any:
    """Each test starts with no remembered API tokens (portal/accounts/tokencache.py is per process)."""
    from portal.accounts.tokencache import token_cache_clear

    token_cache_clear()
    yield
    token_cache_clear()


@pytest.fixture(autouse=True)
def _audit_files(tmp_path: Path, settings: Any) -> None:
    """Each test signs with its own key and writes checkpoints outside the database into its own folder."""
    settings.PORTAL_AUDIT_KEY = str(tmp_path / "audit_ed25519.pem")
    settings.PORTAL_AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")


def need_service(name: str, reason: str) -> None:
    """Skip (by hand) or fail (in CI, PORTAL_REQUIRE_SERVICES=1) when a real service is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (PORTAL_REQUIRE_SERVICES=1) but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


def real_events() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


def api_client(user: User) -> APIClient:
    _, raw = token_issue(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def ingestor(db: Any) -> User:
    return user_ensure(username="pipeline", role="ingestor")


@pytest.fixture
def alice(db: Any) -> User:
    return user_ensure(username="alice", role="viewer", email="alice@example.com", team="credit-risk")


@pytest.fixture
def bob(db: Any) -> User:
    return user_ensure(username="bob", role="approver", email="bob@example.com", team="credit-risk")


@pytest.fixture
def charlie(db: Any) -> User:
    """An outsider: a viewer of another team."""
    return user_ensure(username="charlie", role="viewer", email="charlie@example.com", team="marketing")


@pytest.fixture
def admin_user(db: Any) -> User:
    return user_ensure(username="root", role="admin")


@pytest.fixture
def ingest_client(ingestor: User) -> APIClient:
    return api_client(ingestor)


@pytest.fixture
def alice_client(alice: User) -> APIClient:
    return api_client(alice)


@pytest.fixture
def charlie_client(charlie: User) -> APIClient:
    return api_client(charlie)


@pytest.fixture
def admin_client(admin_user: User) -> APIClient:
    return api_client(admin_user)


@pytest.fixture
def credit_ns_owned(db: Any) -> str:
    """The bank namespace belongs to the credit-risk team: charlie (marketing) may not see it."""
    ns = "postgres://bank-db:5432"
    namespace_assign(namespace=ns, team="credit-risk")
    return ns


def post_event(client: APIClient, event: dict[str, Any] | bytes, path: str = "/api/v1/lineage", **kw: Any) -> Any:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.post(path, data=body, content_type="application/json", **kw)
