"""A report whose database connection is cut mid-report is not marked failed: the task retries and finishes it.

Found by bench/soak.py: PostgreSQL restarted while a report was being generated, the report stayed "running"
for ever (the failure could not be written, and nothing retried). Here the connection is cut for real with
``pg_terminate_backend`` from a second connection; PostgreSQL itself is not restarted.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection

from portal.reports import services, tasks
from portal.reports.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


def _cut_connection() -> None:
    s = connection.settings_dict
    dsn = f"postgresql://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    pid = connection.connection.info.backend_pid
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def report(small_graph: Any, officer: Any) -> Report:
    if connection.vendor != "postgresql":
        pytest.skip("cuts a PostgreSQL backend")
    return services.report_request(by=officer, kind="framework", framework="hipaa", enqueue=False)


def test_a_cut_connection_leaves_the_report_running_for_the_retry(report: Report) -> None:
    cut = []

    def cut_once(percent: int, step: str) -> None:
        if not cut:
            cut.append(step)
            _cut_connection()

    with pytest.raises(OperationalError):
        services.report_generate(report_id=str(report.pk), task_id="task-1", on_progress=cut_once)
    connection.close()
    report.refresh_from_db()
    assert (report.state, report.error, report.attempts) == (Report.State.RUNNING, "", 1)

    services.report_generate(report_id=str(report.pk), task_id="task-1")  # the retry: same task id
    report.refresh_from_db()
    assert (report.state, report.attempts) == (Report.State.DONE, 2)


def test_the_task_retries_when_the_database_is_unavailable(report: Report, monkeypatch: Any) -> None:
    retried: list[dict[str, Any]] = []

    class Retry(Exception):
        pass

    def fake_retry(**kw: Any) -> Exception:  # Celery's own retry machinery is outside what is tested here
        retried.append(kw)
        return Retry()

    monkeypatch.setattr(tasks.generate_report, "retry", fake_retry)
    _cut_connection()  # the next query of this connection fails, as after a database restart
    with pytest.raises(Retry):
        tasks.generate_report.run(str(report.pk))
    assert retried and retried[0]["countdown"] == tasks.DB_RETRY_SECONDS
    report.refresh_from_db()  # the connection was dropped and is opened again
    assert report.state == Report.State.QUEUED
    assert tasks.generate_report.run(str(report.pk)) == Report.State.DONE
