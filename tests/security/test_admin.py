"""The Django admin cannot change what the services audit: it is read-only for every portal model."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory

from portal.accounts.models import ApiToken, NamespaceOwner, User
from portal.accounts.services import namespace_assign, token_issue, user_ensure

pytestmark = pytest.mark.django_db
PORTAL_APPS = ("accounts", "audit", "approvals", "lineage", "web", "governance", "evidence", "reports")


@pytest.fixture
def superuser(db) -> User:
    user = user_ensure(username="su", role="admin", password="a-long-password-1")
    User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
    return User.objects.get(pk=user.pk)


def test_no_portal_model_can_be_added_changed_or_deleted_in_the_admin(superuser) -> None:
    request = RequestFactory().get("/admin/")
    request.user = superuser
    checked = 0
    for model in apps.get_models():
        if model._meta.app_label not in PORTAL_APPS or model not in admin.site._registry:
            continue
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
        checked += 1
    assert checked >= 5


def test_a_superuser_cannot_change_a_role_or_revoke_a_token_through_the_admin(client, superuser, alice) -> None:
    token, _ = token_issue(user=alice)
    namespace_assign(namespace="ns", team="credit-risk")
    client.force_login(superuser)
    assert client.get(f"/admin/accounts/user/{alice.pk}/change/").status_code == 200  # may look
    r = client.post(f"/admin/accounts/user/{alice.pk}/change/", {"username": "alice", "role": "admin"})
    assert r.status_code == 403
    assert client.post(f"/admin/accounts/user/{alice.pk}/password/",
                       {"password1": "x-new-password-1", "password2": "x-new-password-1"}).status_code == 403
    assert client.post(f"/admin/accounts/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post("/admin/accounts/namespaceowner/add/", {"namespace": "x"}).status_code == 403
    alice.refresh_from_db()
    assert alice.role == "viewer" and ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).exists()
    assert NamespaceOwner.objects.count() == 1
    assert b"digest" not in client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.lower()
