"""Releases approved before the approved lineage was kept: mark them with the time this migration ran, so their
page says "subject not stored; approved before <date>" instead of pretending nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    Release = apps.get_model("approvals", "Release")
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    Release.objects.filter(approved_at__isnull=False, approved_lineage__isnull=True).update(
        approved_lineage={"format": 0, "not_stored_before": stamp})


class Migration(migrations.Migration):
    dependencies = [("approvals", "0004_release_approved_lineage")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
