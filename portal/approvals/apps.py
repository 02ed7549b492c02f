from __future__ import annotations

from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "portal.approvals"
    label = "approvals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lineage import services as lineage_services
        from portal.audit import services as audit_services

        from . import services

        lineage_services.deployment_observers.append(services.deployments_observe)
        audit_services.payload_redactors["approval.subject_changed"] = services.subject_changed_payload_for
