"""Report generation on Celery workers. Tasks take ids and call the services.

``acks_late`` with ``reject_on_worker_lost`` (settings) puts the message back when a worker dies mid-report;
the redelivered task carries the same id, so ``report_generate`` takes the report over. The beat sweeper
re-enqueues reports whose worker went silent without a redelivery (a lost broker, say).
"""

from __future__ import annotations

import contextlib

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from .services import posture_evaluate, report_generate, reports_stale

DB_RETRY_SECONDS = 5
DB_RETRIES = 60  # five minutes of database outage; the stale-report sweeper is the backstop after that


@shared_task(bind=True, name="reports.generate", acks_late=True, reject_on_worker_lost=True)
def generate_report(self, report_id: str) -> str | None:  # noqa: ANN001 - bound task
    try:
        report = report_generate(report_id=report_id, task_id=self.request.id or "inline")
    except (OperationalError, InterfaceError) as exc:
        # The database is unavailable. Drop the broken connection and try again with the same task id, which
        # takes the report over (a claim that fails while the database is down uses up no attempt).
        with contextlib.suppress(DatabaseError):
            connection.close()
        raise self.retry(exc=exc, countdown=DB_RETRY_SECONDS, max_retries=DB_RETRIES) from exc
    return report.state if report else None


@shared_task(name="reports.sweep_stale")
def sweep_stale_reports() -> int:
    stale = reports_stale()
    for report_id in stale:
        generate_report.delay(report_id)
    return len(stale)


@shared_task(name="reports.posture")
def evaluate_posture() -> int:
    return len(posture_evaluate())
