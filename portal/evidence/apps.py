from __future__ import annotations

from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "portal.evidence"
    label = "evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from lineage import stops

        from . import selectors

        stops.deid_evidence_sources.append(selectors.deid_determined_runs)
