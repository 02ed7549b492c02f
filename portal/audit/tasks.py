"""Celery beat writes checkpoints; the task takes no arguments and calls the service."""

from __future__ import annotations

from celery import shared_task

from .services import audit_verify_and_store, checkpoint_create, checkpoint_due


@shared_task(name="audit.checkpoint_if_due")
def audit_checkpoint_if_due() -> int | None:
    if not checkpoint_due():
        return None
    cp = checkpoint_create()
    return cp.tree_size if cp else None


@shared_task(name="audit.verify")
def audit_verify_task() -> bool:
    return audit_verify_and_store().ok
