"""Celery tasks: take ids or nothing, call a service."""

from __future__ import annotations

import contextlib
from typing import Any

from celery import current_app, shared_task
from django.conf import settings
from django.db import transaction

from .services import lineage_apply_pending, lineage_rebuild


@shared_task(name="lineage.rebuild", acks_late=True)
def lineage_rebuild_task() -> int:
    """Rebuild the graph from the raw event log on a worker; returns the number of events replayed."""
    return lineage_rebuild()


@shared_task(name="lineage.import_mlflow", acks_late=True)
def lineage_import_mlflow_task() -> str:
    """Poll the MLflow server configured by PORTAL_MLFLOW_* (the beat schedule runs it); returns the summary."""
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


@shared_task(name="lineage.apply_pending", acks_late=True)
def lineage_apply_pending_task() -> str:
    """Apply the events waiting in the raw log (``services.lineage_apply_pending``); routed to the ``ingest`` queue."""
    _scheduled_clear()  # from here on a new event enqueues the next run: none waits behind the last batch read
    return lineage_apply_pending().line()


# -- scheduling: at most one apply task waiting at a time ---------------------------------------------------
_SCHEDULED_KEY = "lineage:apply_pending:scheduled"
_clients: dict[str, Any] = {}


def _scheduled() -> tuple[Any, str] | None:
    """The broker's Redis and the debounce key (under the broker's key prefix), or None without a Redis broker."""
    conf = current_app.conf
    url = str(conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://")):
        return None
    if url not in _clients:
        import redis

        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    prefix = (conf.broker_transport_options or {}).get("global_keyprefix", "")
    return _clients[url], f"{prefix}{_SCHEDULED_KEY}"


def _scheduled_clear() -> None:
    found = _scheduled()
    if found is not None:
        with contextlib.suppress(Exception):  # the key only saves enqueues
            found[0].delete(found[1])


def apply_pending_schedule() -> None:
    """After an event was appended: apply now when Celery runs eagerly (no broker), else enqueue the task once its
    transaction commits, unless one is already waiting (a Redis ``SET NX PX``; the task clears it when it starts,
    so an event appended after that schedules the next run). The key expires by itself: a lost task costs at most
    ``LINEAGE_APPLY_DEBOUNCE_MS``, and the beat sweep (``lineage-apply-pending``) catches anything left."""
    if current_app.conf.task_always_eager:
        lineage_apply_pending()
        return

    def enqueue() -> None:
        found = _scheduled()
        if found is not None:
            try:
                if not found[0].set(found[1], "1", nx=True, px=settings.LINEAGE_APPLY_DEBOUNCE_MS):
                    return
            except Exception:  # noqa: BLE001, S110 - without the key, enqueue anyway
                pass
        lineage_apply_pending_task.delay()

    transaction.on_commit(enqueue)
