from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lineage.importers import mlmd as MD
from lineage.importers.services import importer_actor, mlmd_import


class Command(BaseCommand):
    help = ("Import an ML Metadata store (Kubeflow Pipelines, TFX): executions as runs of their type, INPUT/OUTPUT "
            "events as reads and writes, models, blessings and pushed models as model versions and deployments, "
            "pipeline runs as parent runs. Needs the mlmd extra (Python 3.11). Safe to repeat.")

    def add_arguments(self, parser: CommandParser) -> None:
        src = parser.add_mutually_exclusive_group(required=True)
        src.add_argument("--sqlite", metavar="PATH", help="an MLMD SQLite file (opened read-only)")
        src.add_argument("--mysql", metavar="HOST:PORT/DATABASE",
                         help="an MLMD MySQL database; user from --mysql-user, password from PORTAL_MLMD_PASSWORD")
        parser.add_argument("--mysql-user", default=os.environ.get("PORTAL_MLMD_USER", "root"))
        parser.add_argument("--namespace", default=None, help="portal namespace (default: mlmd+<store URI>)")
        parser.add_argument("--git-repo", default="", help="repository of executions with a commit but no repo")
        parser.add_argument("--environment", default="production",
                            help="environment of a pushed model without an environment property")
        parser.add_argument("--as", dest="username", default="", help="portal user recorded as the importer")

    def handle(self, *args: Any, **opts: Any) -> None:
        mysql = None
        if opts["mysql"]:
            hostport, _, database = opts["mysql"].partition("/")
            host, _, port = hostport.partition(":")
            if not database or not host:
                raise CommandError("--mysql: expected HOST[:PORT]/DATABASE")
            mysql = {"host": host, "port": int(port or 3306), "database": database, "user": opts["mysql_user"],
                     "password": os.environ.get("PORTAL_MLMD_PASSWORD", "")}
        elif not os.path.exists(opts["sqlite"]):
            raise CommandError(f"--sqlite: no such file {opts['sqlite']!r}")
        try:
            by = importer_actor(opts["username"])
            summary = mlmd_import(sqlite=opts["sqlite"], mysql=mysql, namespace=opts["namespace"],
                                  options=MD.Options(git_repo=opts["git_repo"], environment=opts["environment"]),
                                  by=by)
        except (ValueError, MD.MlmdUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary.line())
