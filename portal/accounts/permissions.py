"""Capabilities by role, as DRF permission classes (a refusal is a 403)."""

from __future__ import annotations

from collections.abc import Set

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import Role, User

INGEST_ROLES = {Role.INGESTOR, Role.ADMIN}
READ_ROLES = {Role.VIEWER, Role.APPROVER, Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN}
CURATE_ROLES = {Role.COMPLIANCE_OFFICER, Role.ADMIN}
AUDIT_ROLES = {Role.AUDITOR, Role.ADMIN}
REPORT_ROLES = {Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN}


def has_role(user: object, roles: Set[str]) -> bool:
    """The one rule for role checks, shared by the API's permission classes and the pages."""
    return bool(user and getattr(user, "is_authenticated", False)
                and (user.is_superuser or user.role in roles))  # type: ignore[attr-defined]


def request_user(request: HttpRequest | Request) -> User:
    """The signed-in user of a request that a permission class (or ``login_required``) has already let in."""
    user = request.user
    if not isinstance(user, User):  # not reached behind those checks; a typed guard, and safe if it ever is
        raise PermissionDenied("Sign in first.")
    return user


def _has_role(request: Request, roles: Set[str]) -> bool:
    return has_role(request.user, roles)


class CanIngest(BasePermission):
    message = "This token may not ingest lineage (role 'ingestor' or 'admin' needed)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _has_role(request, INGEST_ROLES)


class CanRead(BasePermission):
    message = "Service accounts with the 'ingestor' role may not read lineage."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _has_role(request, READ_ROLES)


class CanCurate(BasePermission):
    message = "Only compliance officers and admins may change classification tags."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _has_role(request, CURATE_ROLES)


class CanAudit(BasePermission):
    message = "Only auditors and admins may read and verify the audit trail."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _has_role(request, AUDIT_ROLES)


class CanReport(BasePermission):
    message = "Only compliance officers, auditors and admins may generate and read compliance reports."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _has_role(request, REPORT_ROLES)
