from __future__ import annotations

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "portal.governance"
    label = "governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lineage import services as lineage_services

        from . import services

        lineage_services.governance_hooks.append(services.lineage_governance_apply)
