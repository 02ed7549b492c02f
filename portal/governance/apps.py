from __future__ import annotations

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "portal.governance"
    label = "governance"
    default_auto_field = "django.db.models.BigAutoField"
