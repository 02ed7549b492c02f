"""A real Celery worker thread consuming from Redis, for tests of tasks that must really be queued."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from celery import Celery, current_app
from celery.contrib.testing.worker import start_worker

from tests.conftest import need_service

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def worker_thread(task_packages: list[str], shutdown_timeout: float = 10) -> Iterator[None]:
    """A fresh Celery app (clean connection pools) made current, with a solo worker running its tasks."""
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        need_service("Redis", str(exc))
    app = Celery("portal-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url=BROKER, task_always_eager=False, result_backend=None)
    app.autodiscover_tasks(task_packages, force=True)
    previous = current_app._get_current_object()
    app.set_current()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=shutdown_timeout):
            yield
    finally:
        previous.set_current()
