"""A real Celery worker thread consuming from Redis, for tests of tasks that must really be queued.

Each test run has its own queue and Redis key prefix (from ``PORTAL_TEST_RUN``, set by ``portal/settings_test.py``),
so two runs on one machine sharing ``CELERY_TEST_BROKER_URL`` neither take nor delete each other's tasks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery import Celery, current_app
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from tests.conftest import need_service

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
QUEUE = f"portal-test-{settings.TEST_RUN}"
KEY_PREFIX = f"{QUEUE}:"


def broker_conf() -> dict[str, Any]:
    """Celery settings that put every key and message of this run under its own queue and prefix."""
    return {"broker_url": BROKER, "task_default_queue": QUEUE,
            "broker_transport_options": {"global_keyprefix": KEY_PREFIX}}


def broker_env() -> dict[str, str]:
    """The same, for a worker started as a separate process (``portal/settings.py`` reads these)."""
    return {"CELERY_BROKER_URL": BROKER, "CELERY_TASK_DEFAULT_QUEUE": QUEUE, "CELERY_KEY_PREFIX": KEY_PREFIX}


def broker_ready() -> redis.Redis:
    """The broker's Redis, emptied of this run's keys (only those); skips or fails when Redis is down."""
    try:
        client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        need_service("Redis", str(exc))
    broker_clear(client)
    return client


def broker_clear(client: redis.Redis) -> None:
    keys = list(client.scan_iter(match=f"{KEY_PREFIX}*", count=500))
    if keys:
        client.delete(*keys)


@contextmanager
def worker_thread(task_packages: list[str], shutdown_timeout: float = 10) -> Iterator[None]:
    """A fresh Celery app (clean connection pools) made current, with a solo worker running its tasks."""
    client = broker_ready()
    app = Celery("portal-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(**broker_conf(), task_always_eager=False, result_backend=None)
    app.autodiscover_tasks(task_packages, force=True)
    previous = current_app._get_current_object()
    app.set_current()
    try:
        # The run's default queue and the deferred-ingestion queue (``CELERY_TASK_ROUTES``), both under its prefix.
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=shutdown_timeout,
                          queues=[QUEUE, settings.LINEAGE_INGEST_QUEUE]):
            yield
    finally:
        previous.set_current()
        # start_worker made the test app the process's default (celery.contrib.testing.worker): threads started
        # later (a live server's) would send tasks to this run's broker instead of running them eagerly.
        previous.set_default()
        broker_clear(client)
