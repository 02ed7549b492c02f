from __future__ import annotations

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "portal.monitoring"
    label = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lineage import services as lineage_services

        from . import services

        lineage_services.monitoring_observers.append(services.monitoring_results_record)
