"""Load the demo organisation: users (one per role), teams owning namespaces, and three ML pipelines' lineage.

Idempotent: users and teams are ensured, the events are fixed (``portal/demo/story.py``) so the ingest service
stores each once, and a token is issued only when the ingestor has no active one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from lineage.models import Edge, Node, NodeTag, RawEvent
from lineage.openlineage import parse_event
from lineage.services import events_ingest, portal_record_ingest
from portal.accounts.models import Team, User
from portal.accounts.services import namespace_assign, token_issue, user_ensure
from portal.audit.services import audit_verify_and_store, checkpoint_create
from portal.demo import approvals as demo_approvals
from portal.demo import evidence as demo_evidence
from portal.demo import governance as demo_governance
from portal.demo import monitoring as demo_monitoring
from portal.demo import story as demo
from portal.reports.services import posture_evaluate


@dataclass(frozen=True, slots=True)
class Counts:
    nodes: int
    edges: int
    raw_events: int
    tags: int

    @classmethod
    def now(cls) -> Counts:
        return cls(Node.objects.count(), Edge.objects.count(), RawEvent.objects.count(), NodeTag.objects.count())


@dataclass(slots=True)
class Loaded:
    events_new: int
    events_total: int
    commits: int
    warnings: list[str]
    token: str | None
    documents_new: int


def _ensure_teams() -> None:
    for team in demo.TEAMS:
        for ns in team.namespaces:
            namespace_assign(namespace=ns, team=team.name)
        Team.objects.filter(name=team.name).exclude(display_name=team.display_name).update(
            display_name=team.display_name)


def _ensure_user(u: demo.DemoUser) -> User:
    existing = User.objects.filter(username=u.username).first()
    # Set the password only when it does not already work: re-hashing it would log the user out everywhere.
    password = None if existing is not None and existing.check_password(u.password) else u.password
    user = user_ensure(username=u.username, role=u.role, email=u.email, password=password,
                       first_name=u.first_name, last_name=u.last_name)
    for team in u.teams:
        user_ensure(username=u.username, team=team)
    return user


def _load() -> Loaded:
    _ensure_teams()
    users = {u.username: _ensure_user(u) for u in demo.USERS}
    ingestor = users[demo.INGESTOR.username]
    token = None
    if not ingestor.api_tokens.active().exists():
        _, token = token_issue(user=ingestor, name=demo.INGESTOR_TOKEN_NAME)
    # CI reports a commit when it is pushed, before any pipeline runs it.
    for payload in demo.commits():
        portal_record_ingest(kind="commit", payload=payload, by=ingestor)
    story = demo.events()
    deploy_runs = demo.deploy_runs(story)
    # Pipelines first, then the approvals, then the deploys CI made once the releases were approved.
    others = [parse_event(demo.event_bytes(e)) for e in story if e["run"]["runId"] not in deploy_runs]
    outcomes = events_ingest(events=others, by=ingestor)
    # The de-identification determination before the approvals: without it PHI would not stop at the
    # de-identifying run, and the readmission releases would fall under the PHI policy.
    documents_new = demo_evidence.load(users, doc_types={"deid_determination"})
    demo_approvals.load(users)
    documents_new += demo_evidence.load(users)  # before the deploys: production releases wait for validation
    # The approvals and validations were stamped now, by the services: the deploys that depend on them happen
    # after them (not back-dated to the story's days), each deploy run once.
    done = set(Node.objects.filter(kind="run", name__in=deploy_runs).values_list("name", flat=True))
    deploys = [parse_event(demo.event_bytes(e)) for e in demo.events(deploys_from=timezone.now())
               if e["run"]["runId"] in deploy_runs - done]
    outcomes += events_ingest(events=deploys, by=ingestor)
    parsed = others + deploys
    demo_governance.load(users)
    demo_monitoring.load(users)
    warnings = [f"{ev.job_name} {ev.event_type}: {w}" for ev in parsed for w in ev.warnings]
    return Loaded(events_new=sum(o.status == "created" for o in outcomes), events_total=len(story),
                  commits=len(demo.COMMITS), warnings=warnings, token=token, documents_new=documents_new)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


class Command(BaseCommand):
    help = "Load demo users, teams and lineage for three ML pipelines. Running it again changes nothing."

    def handle(self, *args: Any, **opts: Any) -> None:
        before = Counts.now()
        with transaction.atomic():
            loaded = _load()
        after = Counts.now()
        checkpoint_create()
        verdict = audit_verify_and_store()
        posture = posture_evaluate()

        for w in loaded.warnings:
            self.stderr.write(f"warning: {w}")
        self.stdout.write("Teams and the namespaces they own:")
        self.stdout.write("\n".join(_table([(t.name, t.display_name, ", ".join(t.namespaces)) for t in demo.TEAMS])))
        self.stdout.write("Demo logins (well-known passwords: for a demo only):")
        rows = [("ROLE", "USERNAME", "PASSWORD", "NAME", "TEAMS")]
        rows += [(u.role, u.username, u.password, u.printed_name, ", ".join(u.teams) or "-") for u in demo.USERS]
        self.stdout.write("\n".join(_table(rows)))
        if loaded.token:
            self.stdout.write(f"API token for {demo.INGESTOR.username} (shown once, keep it): {loaded.token}")
        else:
            self.stdout.write(f"{demo.INGESTOR.username} already has an active API token; none issued.")
        commits_new = after.raw_events - before.raw_events - loaded.events_new
        self.stdout.write(
            f"Demo lineage: {loaded.events_new}/{loaded.events_total} events and {commits_new}/{loaded.commits} "
            f"commits new; "
            f"{after.nodes} nodes ({after.nodes - before.nodes:+d}), {after.edges} edges "
            f"({after.edges - before.edges:+d}), {after.raw_events} raw events "
            f"({after.raw_events - before.raw_events:+d}), {after.tags} tags ({after.tags - before.tags:+d})"
        )
        self.stdout.write(f"Evidence: {loaded.documents_new}/{len(demo_evidence.DOCUMENTS)} documents new")
        self.stdout.write(f"Audit trail: {verdict.message}")
        self.stdout.write("Compliance posture (pass/fail/not applicable/not evaluated): " + ", ".join(
            f"{s.framework} {s.passed}/{s.failed}/{s.not_applicable}/{s.not_evaluated}" for s in posture))
