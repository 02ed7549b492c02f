from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from portal.lib.admin import ReadOnlyAdmin

from .models import ApiToken, LoginAttempt, NamespaceOwner, Team, User, UserEmail

# Roles, teams, e-mail addresses (they decide who authored a commit), namespace owners and tokens change only
# through portal.accounts.services (`issue_token`, `assign_namespace`, the token pages), which audit every change.


@admin.register(User)
class PortalUserAdmin(ReadOnlyAdmin, UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Portal", {"fields": ("role", "teams")}))
    list_display = ("username", "email", "role", "is_active")
    list_filter = ("role", "is_active", "teams")


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)


@admin.register(LoginAttempt)
class LoginAttemptAdmin(ReadOnlyAdmin):
    list_display = ("time", "kind", "username", "client", "outcome")
    list_filter = ("kind", "outcome")


for model in (Team, UserEmail, NamespaceOwner):
    admin.site.register(model, ReadOnlyAdmin)
