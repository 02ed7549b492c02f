"""Generate a compliance report from the shell, with a progress bar, and write the PDF.

    python manage.py audit_report --framework hipaa --scope tag:PHI --out hipaa.pdf
    python manage.py audit_report --model 'modelVersion:ns:credit-scoring#7' --annex-iv --out dossier.pdf
    python manage.py audit_report --erasure-dataset 'dataset:ns:customers' --out erasure.pdf
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.accounts.models import Role, User
from portal.lib.errors import DomainError, FieldError
from portal.reports import services
from portal.reports.catalog import FRAMEWORKS
from portal.reports.erasure import erasure_csv
from portal.reports.models import Report

SCOPE_KEYS = {"ns": "namespaces", "namespace": "namespaces", "model": "models", "tag": "tags"}


def _scope(items: list[str]) -> dict[str, list[str]]:
    scope: dict[str, list[str]] = {"namespaces": [], "models": [], "tags": []}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or key not in SCOPE_KEYS or not value:
            raise CommandError(f"--scope {item!r}: use ns:<namespace>, model:<name> or tag:<TAG>")
        scope[SCOPE_KEYS[key]].append(value)
    return scope


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"not a date: {text!r} (use YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Generate a framework report, a model dossier or an erasure impact report as a PDF."

    def add_arguments(self, parser: CommandParser) -> None:
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument("--framework", choices=sorted(FRAMEWORKS))
        kind.add_argument("--model", help="Model dossier: the model version's node id.")
        kind.add_argument("--erasure-dataset", help="Erasure impact of a dataset (node id).")
        kind.add_argument("--subject-key", help="Erasure impact of a data subject's key.")
        parser.add_argument("--scope", action="append", default=[], help="ns:<namespace>, model:<name>, tag:<TAG>")
        parser.add_argument("--from", dest="period_start", help="Period start, YYYY-MM-DD (default: a year ago).")
        parser.add_argument("--to", dest="period_end", help="Period end, YYYY-MM-DD (default: now).")
        parser.add_argument("--annex-iv", action="store_true", help="Dossier in the EU AI Act Annex IV structure.")
        parser.add_argument("--user", help="Who generates it (default: the first admin).")
        parser.add_argument("--out", required=True, help="Where to write the PDF.")
        parser.add_argument("--csv", help="Erasure reports: also write the CSV here.")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = self._user(opts["user"])
        fields: dict[str, Any] = {"period_start": _date(opts["period_start"]), "period_end": _date(opts["period_end"])}
        if opts["framework"]:
            fields |= {"kind": Report.Kind.FRAMEWORK, "framework": opts["framework"], "scope": _scope(opts["scope"])}
        elif opts["model"]:
            fields |= {"kind": Report.Kind.DOSSIER, "model": opts["model"], "annex_iv": opts["annex_iv"]}
        else:
            fields |= {"kind": Report.Kind.ERASURE, "dataset": opts["erasure_dataset"] or "",
                       "subject_key": opts["subject_key"] or ""}
        try:
            # Generated here, in this process, with a progress bar: not queued for a worker.
            report = services.report_request(by=user, enqueue=False, **fields)
        except (FieldError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        report = services.report_generate(report_id=str(report.pk), task_id=f"cli-{report.pk}",
                                          on_progress=self._bar)
        self.stderr.write("")
        if report is None or report.state != Report.State.DONE:
            raise CommandError(f"report failed: {report.error if report else 'taken by another worker'}")
        Path(opts["out"]).write_bytes(bytes(report.pdf))
        if opts["csv"] and report.kind == Report.Kind.ERASURE:
            Path(opts["csv"]).write_text(erasure_csv(report.bundle["erasure"]), encoding="utf-8")
        s = report.summary
        counts = (f"{s.get('pass', 0)} pass, {s.get('fail', 0)} fail, {s.get('not_applicable', 0)} not applicable, "
                  f"{s.get('not_evaluated', 0)} not evaluated")
        self.stdout.write(f"{report.title}: {counts}; report {report.pk}, sha256 {report.pdf_sha256} -> {opts['out']}")

    def _bar(self, percent: int, step: str) -> None:
        filled = percent * 30 // 100
        self.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% {step[:50]:<50}", ending="")
        self.stderr.flush()

    def _user(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r}")
            return user
        user = User.objects.filter(role=Role.ADMIN).order_by("pk").first() or User.objects.filter(
            is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("no admin user: pass --user")
        return user
