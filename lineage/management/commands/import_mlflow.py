from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from lineage.importers import mlflow as M
from lineage.importers.common import since_parse
from lineage.importers.services import importer_actor, mlflow_import


class Command(BaseCommand):
    help = ("Import runs, their datasets and commits, logged models, registered model versions and aliases from an "
            "MLflow tracking server (needs the mlflow extra: pip install '.[mlflow]'). Safe to repeat.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tracking-uri", default=settings.PORTAL_MLFLOW_TRACKING_URI,
                            help="http(s)://host:port of an MLflow server, or a store URI such as sqlite:///mlflow.db")
        parser.add_argument("--registry-uri", default=settings.PORTAL_MLFLOW_REGISTRY_URI or None,
                            help="the model registry, when not the tracking server")
        parser.add_argument("--experiment", action="append", default=None, metavar="NAME",
                            help="only this experiment's runs (repeatable; default: every active experiment)")
        parser.add_argument("--since", default=settings.PORTAL_MLFLOW_SINCE or None, metavar="TIME",
                            help="only runs started, ended or running since then: ISO 8601 or a look-back (24h, 7d)")
        parser.add_argument("--namespace", default=settings.PORTAL_MLFLOW_NAMESPACE or None,
                            help="portal namespace (default: mlflow://host:port of the tracking server)")
        parser.add_argument("--git-repo", default=settings.PORTAL_MLFLOW_GIT_REPO,
                            help="repository URL of runs that log a git commit but no repoURL")
        parser.add_argument("--as", dest="username", default="",
                            help="portal user recorded as the importer in the audit trail (default: the system)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["tracking_uri"]:
            raise CommandError("--tracking-uri is required (or set PORTAL_MLFLOW_TRACKING_URI)")
        try:
            since = since_parse(opts["since"], timezone.now()) if opts["since"] else None
        except ValueError as exc:
            raise CommandError(f"--since: {exc}") from exc
        try:
            by = importer_actor(opts["username"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        experiments = opts["experiment"] or [e for e in settings.PORTAL_MLFLOW_EXPERIMENTS if e] or None
        try:
            summary = mlflow_import(tracking_uri=opts["tracking_uri"], registry_uri=opts["registry_uri"],
                                    experiments=experiments, since=since, namespace=opts["namespace"],
                                    options=M.Options(git_repo=opts["git_repo"]), by=by)
        except (M.MlflowUnavailable, M.MlflowSourceError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary.line())
