"""Celery tasks: take ids or nothing, call a service."""

from __future__ import annotations

from celery import shared_task

from .services import lineage_rebuild


@shared_task(name="lineage.rebuild", acks_late=True)
def lineage_rebuild_task() -> int:
    """Rebuild the graph from the raw event log on a worker; returns the number of events replayed."""
    return lineage_rebuild()


@shared_task(name="lineage.import_mlflow", acks_late=True)
def lineage_import_mlflow_task() -> str:
    """Poll the MLflow server configured by PORTAL_MLFLOW_* (the beat schedule runs it); returns the summary."""
    from django.conf import settings
    from django.utils import timezone

    from .importers import mlflow as M
    from .importers.common import since_parse
    from .importers.services import mlflow_import

    if not settings.PORTAL_MLFLOW_TRACKING_URI:
        return "PORTAL_MLFLOW_TRACKING_URI is not set: nothing to import"
    since = since_parse(settings.PORTAL_MLFLOW_SINCE, timezone.now()) if settings.PORTAL_MLFLOW_SINCE else None
    summary = mlflow_import(tracking_uri=settings.PORTAL_MLFLOW_TRACKING_URI,
                            registry_uri=settings.PORTAL_MLFLOW_REGISTRY_URI or None,
                            experiments=[e for e in settings.PORTAL_MLFLOW_EXPERIMENTS if e] or None, since=since,
                            namespace=settings.PORTAL_MLFLOW_NAMESPACE or None,
                            options=M.Options(git_repo=settings.PORTAL_MLFLOW_GIT_REPO))
    return summary.line()
