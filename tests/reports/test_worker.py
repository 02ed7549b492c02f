"""A report on a real Celery worker (separate process, Redis broker) survives the worker being killed mid-report.

The pool process generating the report is sent SIGKILL while the report is running. The task was acked
late, so the worker puts the message back; the redelivered task (same id) takes the report over and
finishes it. The test proves it from the report row and the audit trail, not from Celery's result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from lineage.models import Edge, Node
from portal.audit.models import AuditEntry
from portal.reports import services
from portal.reports.models import Report
from tests.workers import QUEUE, broker_clear, broker_conf, broker_env, broker_ready

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _graph(models: int, steps: int) -> None:
    """Enough production models that drawing their lineage takes a few seconds."""
    t = datetime.now(UTC) - timedelta(days=1)
    nodes, edges = [], []
    for m in range(models):
        chain = []
        for s in range(steps):
            chain.append(Node(node_id=f"datasetVersion:w:m{m}s{s}#1", kind="datasetVersion", namespace="w",
                              name=f"m{m}s{s}", version="1", created_at=t, updated_at=t))
            chain.append(Node(node_id=f"run:w-{m}-{s}", kind="run", namespace="w", name=f"r{m}s{s}",
                              state="COMPLETE", created_at=t, updated_at=t))
        chain.append(Node(node_id=f"modelVersion:w:model{m}#1", kind="modelVersion", namespace="w",
                          name=f"model{m}", version="1", created_at=t, updated_at=t))
        chain.append(Node(node_id=f"deployment:w:model{m}#1@production", kind="deployment", namespace="w",
                          name=f"model{m}", version="1", environment="production", state="active",
                          created_at=t, updated_at=t))
        nodes += chain
        edges += [(a.node_id, b.node_id) for a, b in zip(chain, chain[1:], strict=False)]
    Node.objects.bulk_create(nodes, batch_size=2000)
    pk = dict(Node.objects.values_list("node_id", "pk"))
    kinds = {("datasetVersion", "run"): "reads", ("run", "datasetVersion"): "writes",
             ("run", "modelVersion"): "produces", ("modelVersion", "deployment"): "deploys"}
    by_id = {n.node_id: n.kind for n in nodes}
    Edge.objects.bulk_create([Edge(src_id=pk[a], dst_id=pk[b], kind=kinds[(by_id[a], by_id[b])], created_at=t)
                              for a, b in edges], batch_size=2000)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(x) for x in out.split()]


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_does_not_lose_the_report(officer, tmp_path: Path) -> None:
    broker = broker_ready()  # this run's queue and keys only: another run's worker is left alone
    _graph(models=150, steps=6)
    report = services.report_request(by=officer, kind="framework", framework="model-risk", enqueue=False)
    env = {**os.environ, **broker_env(), "DATABASE_URL": _database_url(),
           "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_AUDIT_KEY": str(tmp_path / "k.pem"),
           "PORTAL_AUDIT_CHECKPOINT_DIR": str(tmp_path / "cp")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "prefork", "-c", "1", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "worker.log").open("w"))
    try:
        sender = Celery(set_as_current=False)
        sender.conf.update(broker_conf())
        sender.send_task("reports.generate", args=[str(report.pk)], queue=QUEUE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            report.refresh_from_db()
            if report.state == Report.State.RUNNING and report.progress >= 5:
                break
            assert report.state != Report.State.DONE, "the report finished before it could be interrupted"
            time.sleep(0.05)
        assert report.state == Report.State.RUNNING, (report.state, (tmp_path / "worker.log").read_text()[-2000:])
        killed = _children(worker.pid)
        assert killed, "the worker has no pool process"
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            report.refresh_from_db()
            if report.state in (Report.State.DONE, Report.State.FAILED):
                break
            time.sleep(0.2)
        log = (tmp_path / "worker.log").read_text()
        assert report.state == Report.State.DONE, (report.state, report.error, log[-3000:])
        assert report.attempts == 2
        assert AuditEntry.objects.filter(action="report.retried", target_id=str(report.pk)).count() == 1
        assert AuditEntry.objects.filter(action="report.generated", target_id=str(report.pk)).count() == 1
        assert bytes(report.pdf).startswith(b"%PDF")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        broker_clear(broker)
