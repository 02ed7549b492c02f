"""Celery tasks of the audit trail; they take no arguments and call a service."""

from __future__ import annotations

from celery import shared_task

from .sequencer import sequencer_step
from .services import audit_verify_and_store


@shared_task(name="audit.sequence")
def audit_sequence() -> int | None:
    """Beat's backstop for the sequencer service: one step. Returns the signed tree size, if any."""
    cp = sequencer_step().checkpoint
    return cp.tree_size if cp else None


@shared_task(name="audit.verify")
def audit_verify_task() -> bool:
    return audit_verify_and_store().ok
