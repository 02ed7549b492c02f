"""Gauges read from the database (and the broker) when Prometheus scrapes: each a query or two."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from lineage.models import RawEvent
from portal.approvals.models import Release, Violation
from portal.audit.models import AuditCheckpoint, AuditEntry, AuditVerification
from portal.governance.parameters import parameters_timeline
from portal.incidents.clocks import ClockStatus
from portal.incidents.models import Incident
from portal.incidents.services import incident_clock_status
from portal.monitoring.models import Alert
from portal.reports.models import Report

logger = logging.getLogger(__name__)
REPORT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
REPORT_WINDOW = timedelta(hours=24)


def incident_deadline_bucket(statuses: list[ClockStatus], now: datetime) -> str:
    """overdue (a clock passed with nothing recorded), due_24h, due_later, or none (no clock left running)."""
    if any(s.state == "overdue" for s in statuses):
        return "overdue"
    pending = [s.clock.deadline for s in statuses if s.state == "running"]
    if not pending:
        return "none"
    return "due_24h" if min(pending) - now <= timedelta(hours=24) else "due_later"


class PortalCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        now = timezone.now()
        yield from self._audit(now)
        yield GaugeMetricFamily("portal_releases_waiting", "Releases waiting for approval.",
                                value=Release.objects.filter(state=Release.State.PENDING).count())
        yield GaugeMetricFamily("portal_violations", "Deployments recorded without an approved release.",
                                value=Violation.objects.count())
        yield GaugeMetricFamily("portal_alerts_open", "Monitoring breach alerts not yet taken over or dismissed.",
                                value=Alert.objects.filter(state=Alert.State.OPEN).count())
        yield from self._lineage_pending(now)
        yield self._incidents(now)
        yield from self._reports(now)
        queue = self._queue_depth()
        if queue is not None:
            yield queue

    def _audit(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        head = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        checkpoint = AuditCheckpoint.objects.order_by("-tree_size", "-id").first()
        covered = checkpoint.tree_size if checkpoint else 0
        yield GaugeMetricFamily("portal_audit_entries", "Entries in the audit chain (the head's sequence number).",
                                value=head)
        yield GaugeMetricFamily("portal_audit_unsigned_entries", "Entries appended since the last signed checkpoint "
                                "(the sequencer's lag).", value=max(head - covered, 0))
        if checkpoint is not None:
            yield GaugeMetricFamily("portal_audit_checkpoint_age_seconds", "Age of the last signed checkpoint.",
                                    value=(now - checkpoint.time).total_seconds())
        verification = AuditVerification.objects.order_by("-time").first()
        if verification is not None:
            yield GaugeMetricFamily("portal_audit_chain_ok", "1 when the last verification of the chain passed.",
                                    value=1 if verification.ok else 0)

    def _lineage_pending(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        agg = RawEvent.objects.filter(applied_at__isnull=True).aggregate(n=Count("id"), since=Min("received_at"))
        yield GaugeMetricFamily("portal_lineage_pending_events", "Events stored but not yet applied to the graph "
                                "(deferred ingestion; includes those that failed alone).", value=agg["n"])
        yield GaugeMetricFamily("portal_lineage_pending_oldest_age_seconds", "Age of the oldest event waiting to be "
                                "applied (0 when none waits).",
                                value=(now - agg["since"]).total_seconds() if agg["since"] else 0.0)

    def _incidents(self, now: datetime) -> GaugeMetricFamily:
        family = GaugeMetricFamily("portal_incidents_open", "Open incidents by their most urgent deadline.",
                                   labels=["deadline"])
        counts = dict.fromkeys(("overdue", "due_24h", "due_later", "none"), 0)
        params_at = parameters_timeline()
        for i in Incident.objects.filter(state=Incident.State.OPEN).prefetch_related("notifications"):
            counts[incident_deadline_bucket(incident_clock_status(i, now=now, params_at=params_at), now)] += 1
        for bucket, n in counts.items():
            family.add_metric([bucket], n)
        return family

    def _reports(self, now: datetime) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        states = GaugeMetricFamily("portal_reports", "Reports by state.", labels=["state"])
        by_state = dict.fromkeys(Report.State.values, 0)
        for state in Report.objects.values_list("state", flat=True):
            by_state[state] += 1
        for state, n in by_state.items():
            states.add_metric([state], n)
        yield states
        hist = HistogramMetricFamily("portal_report_duration_seconds", "Generation time of the reports finished in "
                                     "the last 24 hours, by kind.", labels=["kind"])
        rows = (Report.objects.filter(state=Report.State.DONE, finished_at__gte=now - REPORT_WINDOW,
                                      started_at__isnull=False)
                .annotate(took=F("finished_at") - F("started_at")).values_list("kind", "took"))
        by_kind: dict[str, list[float]] = {}
        for kind, took in rows:
            by_kind.setdefault(kind, []).append(took.total_seconds())
        for kind, values in sorted(by_kind.items()):
            buckets = [(str(b), sum(1 for v in values if v <= b)) for b in REPORT_BUCKETS]
            hist.add_metric([kind], buckets + [("+Inf", len(values))], sum(values))
        yield hist

    def _queue_depth(self) -> GaugeMetricFamily | None:
        """Messages waiting in the Celery queues on the broker; absent when tasks run in-process (no broker)."""
        if not settings.CELERY_BROKER_URL:
            return None
        from kombu import Connection

        family = GaugeMetricFamily("portal_celery_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"])
        try:
            with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
                channel = conn.default_channel
                for name in settings.PORTAL_METRICS_QUEUES:
                    family.add_metric([name], channel.queue_declare(queue=name, passive=True).message_count)
        except Exception as exc:  # noqa: BLE001 - a broker outage must not break the scrape
            logger.warning("celery queue depth unavailable: %s", exc)
            return GaugeMetricFamily("portal_celery_broker_up", "1 when the broker answered the scrape.", value=0)
        return family
