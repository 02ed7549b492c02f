"""An alert on credit 7 in production, and the people who handle incidents."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from lineage.models import Node
from portal.accounts.models import User
from portal.accounts.services import user_ensure
from portal.governance.models import SubjectKey
from portal.monitoring.models import Alert
from tests.conftest import api_client
from tests.monitoring.conftest import BANK, deployment, ingest, ingest_client, monitor_event  # noqa: F401 - shared fixture
from tests.reports.conftest import officer  # noqa: F401 - the compliance officer persona


@pytest.fixture
def alert(deployment: Node) -> Alert:  # noqa: F811 - the imported fixture
    ingest(monitor_event({"name": "auc", "value": 0.70, "threshold": 0.75, "breachWhen": "below"}))
    features = Node.objects.get(node_id=f"dataset:{BANK}:features.credit")
    SubjectKey.objects.bulk_create([SubjectKey(dataset=features, key_hash=f"{i:064x}") for i in range(3)])
    return Alert.objects.get()


@pytest.fixture
def olivia_client(officer: User) -> APIClient:  # noqa: F811
    return api_client(officer)


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    return api_client(bob)


@pytest.fixture
def auditor(db: Any) -> User:
    return user_ensure(username="aude", role="auditor", email="aude@example.com")
