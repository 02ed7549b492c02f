from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, NamespaceOwner, Team, User, UserEmail


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Portal", {"fields": ("role", "teams")}))
    list_display = ("username", "email", "role", "is_active")
    list_filter = ("role", "is_active", "teams")


admin.site.register(Team)
admin.site.register(UserEmail)
admin.site.register(NamespaceOwner)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "digest", "created_at", "last_used_at")
