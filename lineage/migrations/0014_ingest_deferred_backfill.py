"""Events stored before deferred application were applied when received; the claims of the runs and model versions
already stored are read from their nodes (``guard.py`` reads the claims from now on)."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.models import F


def forwards(apps: Any, schema_editor: Any) -> None:
    RawEvent = apps.get_model("lineage", "RawEvent")
    Node = apps.get_model("lineage", "Node")
    RunClaim = apps.get_model("lineage", "RunClaim")
    ModelClaim = apps.get_model("lineage", "ModelClaim")
    RawEvent.objects.filter(applied_at__isnull=True).update(applied_at=F("received_at"))
    runs = (Node.objects.filter(kind="run", parent__isnull=False)
            .values_list("node_id", "parent__node_id", "parent__namespace").iterator(chunk_size=5000))
    batch = []
    for run, job, ns in runs:
        batch.append(RunClaim(run=run, job=job, job_namespace=ns))
        if len(batch) >= 5000:
            RunClaim.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    RunClaim.objects.bulk_create(batch, ignore_conflicts=True)
    models = []
    for mv, attrs in Node.objects.filter(kind="modelVersion").values_list("node_id", "attrs").iterator(chunk_size=5000):
        if (attrs or {}).get("produced_in"):
            models.append(ModelClaim(model_version=mv, namespace=attrs["produced_in"]))
    ModelClaim.objects.bulk_create(models, batch_size=5000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("lineage", "0013_ingest_deferred")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
