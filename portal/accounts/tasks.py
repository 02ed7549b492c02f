"""Celery beat housekeeping for accounts; the task takes no arguments and calls the service."""

from __future__ import annotations

from celery import shared_task

from .reauth import reauth_prune
from .services import login_attempts_prune


@shared_task(name="accounts.prune_login_attempts")
def login_attempts_prune_task() -> int:
    return login_attempts_prune()


@shared_task(name="accounts.prune_reauthentications")
def reauth_prune_task() -> int:
    return reauth_prune()
