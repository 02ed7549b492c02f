"""Celery tasks for approvals: take ids, load rows, call the service."""

from __future__ import annotations

from celery import shared_task

from .models import Release
from .notify import release_notify
from .services import release_refresh


@shared_task(name="approvals.notify", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def release_notify_task(release_id: int, event: str) -> int:
    return release_notify(Release.objects.select_related("model_version", "policy", "requester").get(pk=release_id),
                          event)


@shared_task(name="approvals.refresh_open")
def releases_refresh_task() -> int:
    """Periodically: void votes on changed subjects, expire old approvals, approve after wait times."""
    count = 0
    for release in Release.objects.filter(state__in=[Release.State.PENDING, Release.State.APPROVED]):
        release_refresh(release=release)
        count += 1
    return count
