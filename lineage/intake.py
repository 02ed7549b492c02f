"""Group commit for single-event ingestion: concurrent requests in one process share one transaction.

``POST /api/v1/lineage`` takes one event per request, and applying one event alone pays the whole fixed cost of
:func:`lineage.services.events_ingest` (guard, planner, version resolution, audit, commit) for a handful of
rows. Here a request hands its event to the process's :class:`Intake`. If no group of the same sender is
being applied, the request leads: it takes every event waiting (up to ``LINEAGE_INGEST_GROUP_MAX``), applies
them with one ``events_ingest`` call in one transaction, and hands each waiting request its own outcome.
Requests arriving meanwhile wait and form the next group, so groups grow with the load and a lone request
is applied at once. A leader waits for requests that have already arrived in this process and are still being
read and parsed (``ingest_arriving``), at most ``LINEAGE_INGEST_GROUP_WAIT_MS``, so they join its group
instead of starting the next one; with nothing arriving it does not wait.

Nothing of the answer changes: each request learns its own outcome only after its group committed, so 201
(created), 200 (an exact duplicate, also of an event earlier in the same group), 403/409 refusals with their
warnings are as exact as when the event is applied alone. A group that fails as a whole (a deadlock, an
unexpected error) is applied again one event per transaction, so one bad event costs no other request its
answer; its own request gets the error. Each event's audit row carries its own request (``ParsedEvent.context``).

With ``LINEAGE_INGEST_DEFER`` a group only stores its events (``events_append``: the guard's read and one statement
on PostgreSQL): the graph is applied later by ``lineage.apply_pending``; the answers are the same.

Groups form only between requests one process serves at the same time: gunicorn's ``gthread`` workers
(``--threads``), not ``sync`` workers, which serve one request at a time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from portal.audit import context

from . import services
from .openlineage import ParsedEvent
from .services import IngestOutcome


@dataclass(eq=False)
class _Waiter:
    event: ParsedEvent
    received: list[str]  # the event's warnings as received (applying adds to them)
    outcome: IngestOutcome | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class GroupStats:
    """How the groups came out in this process (for the benchmark and the tests)."""

    groups: int = 0
    events: int = 0
    largest: int = 0
    retried: int = 0
    sizes: dict[int, int] = field(default_factory=lambda: defaultdict(int))


class Intake:
    """One per process: queues by sender, one leader per sender at a time."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queues: dict[Any, list[_Waiter]] = defaultdict(list)
        self._busy: set[Any] = set()
        self._arriving = 0
        self._local = threading.local()
        self.stats = GroupStats()

    def waiting(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def arrive(self) -> None:
        with self._cond:
            self._arriving += 1
            self._local.counted = True

    def leave(self) -> None:
        with self._cond:
            self._leave_locked()

    def _leave_locked(self) -> None:
        if getattr(self._local, "counted", False):
            self._local.counted = False
            self._arriving -= 1
            self._cond.notify_all()

    def submit(self, *, event: ParsedEvent, by: Any) -> IngestOutcome:
        """Apply ``event`` for ``by`` together with whatever other requests of ``by`` are waiting."""
        event.context = context.current()
        me = _Waiter(event, list(event.warnings))
        key = getattr(by, "pk", None)
        with self._cond:
            self._queues[key].append(me)
            self._leave_locked()
        while True:
            with self._cond:
                while not me.done and key in self._busy:
                    self._cond.wait()
                if me.done:
                    return self._result(me)
                self._busy.add(key)
            try:
                deadline = time.monotonic() + settings.LINEAGE_INGEST_GROUP_WAIT_MS / 1000
                with self._cond:
                    while self._arriving > 0 and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)
                    queue = self._queues[key]
                    group = queue[:settings.LINEAGE_INGEST_GROUP_MAX]
                    del queue[:len(group)]
                self._apply(group, by)
            finally:
                with self._cond:
                    self._busy.discard(key)
                    if not self._queues[key]:
                        del self._queues[key]
                    self._cond.notify_all()

    @staticmethod
    def _result(me: _Waiter) -> IngestOutcome:
        if me.error is not None:
            raise me.error
        assert me.outcome is not None
        return me.outcome

    def _apply(self, group: list[_Waiter], by: Any) -> None:
        """Give every waiter of ``group`` its outcome or its error; never raise for someone else's event."""
        try:
            try:
                outcomes = _ingest([w.event for w in group], by)
            except Exception as exc:
                if len(group) == 1:
                    group[0].error = exc
                    return
                self._apply_alone(group, by)
                return
            for w, outcome in zip(group, outcomes, strict=True):
                w.outcome = outcome
            self._count(len(group))
        except BaseException as exc:  # interrupted: nobody of this group may wait for ever
            for w in group:
                if w.outcome is None and w.error is None:
                    w.error = exc
            raise
        finally:
            for w in group:
                w.done = True

    def _apply_alone(self, group: list[_Waiter], by: Any) -> None:
        """After a group failed: each event in its own transaction, as received (applying changed the parsed event:
        foreign inputs stripped, warnings added)."""
        self.stats.retried += len(group)
        for w in group:
            try:
                (w.outcome,) = _ingest([services.event_again(w.event, w.received)], by)
            except Exception as exc:
                w.error = exc
            self._count(1)

    def _count(self, n: int) -> None:
        s = self.stats
        s.groups += 1
        s.events += n
        s.largest = max(s.largest, n)
        s.sizes[n] += 1


def _ingest(events: list[ParsedEvent], by: Any) -> list[IngestOutcome]:
    if settings.LINEAGE_INGEST_DEFER:
        return services.events_append(events=events, by=by)
    return services.events_ingest(events=events, by=by)


_intake = Intake()


def event_ingest_grouped(*, event: ParsedEvent, by: Any) -> IngestOutcome:
    """Apply one event, grouped with the other requests this process is serving (see the module docstring)."""
    if not settings.LINEAGE_INGEST_GROUP:
        event.context = None
        (outcome,) = _ingest([event], by)
        return outcome
    return _intake.submit(event=event, by=by)


@contextmanager
def ingest_arriving() -> Iterator[None]:
    """Around reading and parsing a single event: a group's leader waits for requests inside this block."""
    if not settings.LINEAGE_INGEST_GROUP:
        yield
        return
    _intake.arrive()
    try:
        yield
    finally:
        _intake.leave()  # nothing left to count when the event was submitted; a 400 leaves here


def intake_stats() -> GroupStats:
    return _intake.stats


def intake_waiting() -> int:
    """Events queued in this process for the next group."""
    return _intake.waiting()
