"""Evidence fixtures on top of the approvals ones: the credit model, a production policy, a pending release."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from portal.accounts.models import User
from portal.accounts.services import namespace_assign, user_ensure
from portal.evidence import services
from portal.evidence.models import Document
from tests.approvals.conftest import PASSWORD, model, people, policy, release  # noqa: F401

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MODEL_NODE = "modelVersion:ml-pipelines:credit#7"


@pytest.fixture
def dpo(db: Any) -> User:
    return user_ensure(username="dora", role="compliance_officer", password=PASSWORD, email="dora@example.com",
                       team="compliance")


@pytest.fixture
def credit_owned(db: Any) -> None:
    """The model's namespace belongs to credit-risk: charlie (marketing) may not see it."""
    namespace_assign(namespace="ml-pipelines", team="credit-risk")


def upload(by: User, **kw: Any) -> Document:
    args: dict[str, Any] = {
        "file_name": "dpia.pdf", "content": PDF, "content_type": "application/pdf", "doc_type": "dpia",
        "title": "DPIA credit scoring", "version": "1", "description": "",
        "effective_from": timezone.now() - timedelta(days=1), "node_ids": [MODEL_NODE],
    }
    args.update(kw)
    return services.document_upload(by=by, **args)


def approve(doc: Document, by: User, password: str = PASSWORD, reason: str = "reviewed") -> Document:
    return services.document_approve(document=doc, by=by, password=password, reason=reason)
