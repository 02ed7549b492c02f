"""Report generation on Celery workers. Tasks take ids and call the services.

``acks_late`` with ``reject_on_worker_lost`` (settings) puts the message back when a worker dies mid-report;
the redelivered task carries the same id, so ``report_generate`` takes the report over. The beat sweeper
re-enqueues reports whose worker went silent without a redelivery (a lost broker, say).
"""

from __future__ import annotations

from celery import shared_task

from .services import posture_evaluate, report_generate, reports_stale


@shared_task(bind=True, name="reports.generate", acks_late=True, reject_on_worker_lost=True)
def generate_report(self, report_id: str) -> str | None:  # noqa: ANN001 - bound task
    report = report_generate(report_id=report_id, task_id=self.request.id or "inline")
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
