"""Deferred single events in one statement (services.events_append, issue 19).

With the audit sequencer as a service (production), a deferred event on PostgreSQL costs the guard's read and one
statement (claims, raw event and audit entry together, outside a transaction), instead of BEGIN, the read, three
inserts and COMMIT. What it stores and answers must be what ``events_ingest(defer=True)`` stores and answers, and a
claim a concurrent request takes between the read and the insert must be judged exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lineage import ids, services
from lineage.models import ModelClaim, RawEvent, RunClaim
from lineage.openlineage import parse_event
from portal.accounts.services import token_issue, user_ensure
from portal.audit.models import AuditPending
from tests.conftest import post_event
from tests.factories import model_output, run_event
from tests.lineage.test_defer import RUN, _answers, _graph, _varied, _world, claim_race, no_worker  # noqa: F401
from tests.lineage.test_intake import _post_together

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one statement is PostgreSQL's")]

RAW = ("dedupe_key", "kind", "event_type", "event_time", "run_id", "job_namespace", "job_name", "producer", "payload",
       "body", "body_sha256", "warnings", "received_by__username", "ignored_inputs", "applied_at")
AUDIT = ("actor_id", "actor_name", "actor_token", "action", "target_kind", "target_id", "payload", "client")


def _body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


@pytest.fixture
def service(settings: Any, no_worker: None) -> None:  # noqa: F811 - the fixture imported above
    settings.LINEAGE_INGEST_DEFER = True
    settings.PORTAL_AUDIT_SEQUENCER = "service"  # requests only append their audit entries, as in production


def _stored() -> tuple[Any, ...]:
    raw = sorted((*row[:9], bytes(row[9]), *row[10:]) for row in RawEvent.objects.values_list(*RAW))
    claims = (sorted(RunClaim.objects.values_list("run", "job", "job_namespace")),
              sorted(ModelClaim.objects.values_list("model_version", "namespace")))
    audit = [(bool(actor), *rest[:1], bool(rest[1]), *rest[2:])  # users and tokens are new in each run compared
             for actor, *rest in AuditPending.objects.filter(action__startswith="lineage.").order_by("id")
             .values_list(*AUDIT)]
    return raw, claims, audit


def _run(ingest: Callable[[], Any]) -> tuple[Any, ...]:
    call_command("flush", "--no-input")
    answers = ingest()
    stored = _stored()
    services.lineage_apply_pending()
    return answers, stored, _graph()


def test_one_statement_answers_and_stores_what_the_transaction_did(service: None, monkeypatch: Any) -> None:
    bodies = _varied()
    fast = _run(lambda: _answers(_world(), bodies))
    monkeypatch.setattr(services, "_append_fast", lambda: False)
    slow = _run(lambda: _answers(_world(), bodies))
    assert fast[0] == slow[0]
    assert {code for code, _ in fast[0]} == {200, 201, 400, 403, 409}
    assert any(w for code, w in fast[0] if code in (200, 201))  # some answers carry warnings
    assert fast[1] == slow[1]
    assert fast[2] == slow[2]


@pytest.mark.parametrize("refusing", [False, True])
def test_a_group_with_duplicates_and_shared_runs_is_stored_as_the_transaction_stores_it(service: None,
                                                                                        monkeypatch: Any,
                                                                                        refusing: bool) -> None:
    """One call for several events, as a group of concurrent requests (lineage/intake.py). ``refusing``: the group
    also holds refused events after one the guard already changed (a foreign input stripped, with a warning), so the
    fallback must start again from the events as received."""
    varied = _varied()
    child = _body(varied[13][1])  # a run with a parent run and a foreign input (a warning)
    bodies = [b for _, b in varied[:12]] + [child, child, varied[3][1]]  # two exact duplicates in the group
    if refusing:
        bodies += [_body(varied[i][1]) for i in (15, 17)]  # the run is child's (409); team B's namespace (403)

    def group() -> list[tuple[str, list[str]]]:
        _world()
        user = user_ensure(username="svc-a", role="ingestor", team="team-a")
        events = [parse_event(b) for b in bodies]
        return [(o.status, o.warnings) for o in services.events_append(events=events, by=user)]

    fast = _run(group)
    monkeypatch.setattr(services, "_append_fast", lambda: False)
    slow = _run(group)
    statuses = [s for s, _ in fast[0]]
    assert statuses.count("refused") == (2 if refusing else 0) and statuses.count("duplicate") >= 2
    assert any(w for _, w in fast[0])
    assert fast == slow


def test_an_accepted_event_costs_the_guards_read_and_one_statement_outside_a_transaction(service: None) -> None:
    clients = _world()
    post_event(clients["a"], run_event(job="warm", namespace="team-a"))  # the token and user are cached after this
    seen: list[bool] = []

    def execute(run: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(connection.in_atomic_block)
        return run(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(execute):
        r = post_event(clients["a"], run_event(job="one", namespace="team-a"))
    assert r.status_code == 201, r.content
    service_sql = [i for i, q in enumerate(captured) if "accounts_apitoken" not in q["sql"]]  # not the token's
    assert len(service_sql) == 2, [q["sql"][:80] for q in captured]  # before: the read and three inserts, in a
    assert [seen[i] for i in service_sql] == [False, False]  # transaction (BEGIN and COMMIT are not captured)
    assert RawEvent.objects.filter(job_name="one", applied_at__isnull=True).count() == 1
    assert RunClaim.objects.filter(job=ids.job_id("team-a", "one")).count() == 1
    assert AuditPending.objects.filter(action="lineage.event_ingested").count() == 2


def test_a_run_claimed_meanwhile_by_the_same_job_is_taken_201_with_its_warnings(service: None, settings: Any) -> None:
    settings.LINEAGE_EVENT_HORIZON_DAYS = 30  # the event is older: a warning from its time's check, kept on the retry
    r = claim_race("same", "same")
    assert r.status_code == 201, r.content
    assert r.json()["warnings"] == ["eventTime is older than the portal's horizon of 30 days; accepted as sent"]
    assert RawEvent.objects.filter(job_name="same").count() == 1  # (a thread's Celery is eager: applied at once)
    assert RunClaim.objects.get(run=ids.run_id(RUN)).job == ids.job_id("team-a", "same")
    assert AuditPending.objects.filter(action="lineage.event_ingested").count() == 1


def test_concurrent_requests_grouped_are_answered_each_its_own(service: None, settings: Any) -> None:
    settings.LINEAGE_INGEST_GROUP_WAIT_MS = 30_000
    _world()
    _, token = token_issue(user=user_ensure(username="svc-a", role="ingestor", team="team-a"))
    bodies = [_body(run_event(job=f"g{i}", namespace="team-a")) for i in range(4)]
    bodies.append(bodies[1])
    answers = _post_together(token, bodies)
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 201, 201, 201, 201], [a.content for a in answers]
    assert RawEvent.objects.count() == 4
    rids = set(AuditPending.objects.filter(action="lineage.event_ingested").values_list("request_id", flat=True))
    assert len(rids) == 4 and all(rid.startswith("req-") for rid in rids)


def test_an_event_of_a_run_already_claimed_takes_the_one_statement_without_claiming(service: None) -> None:
    """START then COMPLETE: the second event's run claim is read as stored, so its statement claims nothing and
    cannot lose a claim (no fallback, no transaction)."""
    _world()
    user = user_ensure(username="svc-a", role="ingestor", team="team-a")
    start = run_event(job="twice", namespace="team-a", run_id=RUN, event_type="START")
    assert services.events_append(events=[parse_event(_body(start))], by=user)[0].status == "created"
    complete = parse_event(_body({**start, "eventType": "COMPLETE"}))
    with CaptureQueriesContext(connection) as captured:
        (outcome,) = services.events_append(events=[complete], by=user)
    assert outcome.status == "created"
    assert len(captured) == 2, [q["sql"][:80] for q in captured]  # the guard's read, the statement
    assert "lineage_runclaim (" not in captured[1]["sql"]  # no claim inserted
    assert RawEvent.objects.filter(job_name="twice").count() == 2
    assert AuditPending.objects.filter(action="lineage.event_ingested").count() == 2


@pytest.mark.parametrize(("taken", "status"), [("run-same", "created"), ("run-other", "refused"),
                                               ("model-same", "created"), ("model-other", "refused")])
def test_a_claim_taken_between_the_read_and_the_statement_falls_back_on_a_usable_connection(
        service: None, monkeypatch: Any, taken: str, status: str) -> None:
    """The claim is committed (autocommit, this connection) after the guard read it free: the statement's division
    by zero aborts it, nothing of it is kept, and the fallback judges the claim exactly on the same connection, which
    is left in autocommit, outside a transaction, and usable."""
    from lineage.guard import WriteGuard

    _world()
    user = user_ensure(username="svc-a", role="ingestor", team="team-a")
    event = parse_event(_body(run_event(job="mine", namespace="team-a", run_id=RUN,
                                        outputs=[model_output("credit", "7", namespace="team-a")])))
    mv = ids.model_version_id("team-a", "credit", "7")
    claim_rows = WriteGuard.claim_rows

    def meanwhile(self: WriteGuard, events: Any) -> Any:
        rows = claim_rows(self, events)
        if fell_back:  # the fallback's claims_take
            return rows
        assert len(rows[0]) == 1 and len(rows[1]) == 1  # both read free
        if taken.startswith("run"):
            RunClaim.objects.create(run=ids.run_id(RUN), job=ids.job_id("team-a", "mine" if taken == "run-same"
                                                                        else "theirs"), job_namespace="team-a")
        else:
            ModelClaim.objects.create(model_version=mv, namespace="team-a" if taken == "model-same" else "team-b")
        return rows

    fell_back: list[bool] = []
    monkeypatch.setattr(WriteGuard, "claim_rows", meanwhile)
    ingest = services.events_ingest

    def fallback(**kw: Any) -> Any:
        fell_back.append(True)
        return ingest(**kw)

    monkeypatch.setattr(services, "events_ingest", fallback)
    (outcome,) = services.events_append(events=[event], by=user)
    assert fell_back == [True]
    assert outcome.status == status, outcome
    assert connection.get_autocommit() and not connection.in_atomic_block and not connection.needs_rollback
    assert RawEvent.objects.filter(job_name="mine").count() == (status == "created")
    assert RunClaim.objects.count() == (1 if taken.startswith("run") or status == "created" else 0)
    assert ModelClaim.objects.count() == (1 if taken.startswith("model") or status == "created" else 0)
    actions = list(AuditPending.objects.filter(action__startswith="lineage.").values_list("action", flat=True))
    assert actions == ["lineage.event_ingested" if status == "created" else "lineage.event_refused"]
