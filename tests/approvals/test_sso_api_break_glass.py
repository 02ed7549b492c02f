"""Break-glass over the API (``POST /api/v1/releases/<pk>/break-glass``) by an SSO admin and a local one."""

from __future__ import annotations

from typing import Any

import pytest

from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from tests.accounts.sso import sso_sign_in
from tests.accounts.sso_api import local_api_asks_for_the_password, sso_api_signs_once

pytestmark = pytest.mark.django_db


def _post(release: Release) -> Any:
    return lambda api, fields: api.post(f"/api/v1/releases/{release.pk}/break-glass",
                                        {"reason": "outage, scores wrong", **fields}, format="json")


def _signed() -> int:
    return AuditEntry.objects.filter(action="approval.break_glass").count()


def test_an_sso_admin_breaks_glass_over_the_api_with_a_fresh_sign_in_once(client, sso_idp, release) -> None:
    sam = sso_sign_in(client, sso_idp, "sam")
    sso_api_signs_once(client, sso_idp, sam, _post(release), _signed)
    assert Release.objects.get(pk=release.pk).break_glass


def test_a_local_admin_breaking_glass_over_the_api_is_asked_for_the_password(release, people) -> None:
    local_api_asks_for_the_password(people["admin"], _post(release), _signed)
    assert not Release.objects.get(pk=release.pk).break_glass
