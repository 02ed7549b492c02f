from __future__ import annotations

from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "lineage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models import Field

        from portal.lib.lookups import InArray

        Field.register_lookup(InArray)  # ``node_id__in_array=[...]``: one array parameter on PostgreSQL
