"""Celery tasks: take ids or nothing, call a service."""

from __future__ import annotations

from celery import shared_task

from .services import lineage_rebuild


@shared_task(name="lineage.rebuild", acks_late=True)
def lineage_rebuild_task() -> int:
    """Rebuild the graph from the raw event log on a worker; returns the number of events replayed."""
    return lineage_rebuild()
