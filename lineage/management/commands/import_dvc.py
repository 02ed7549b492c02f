from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lineage.importers.dvc import DvcSourceError
from lineage.importers.services import dvc_import, importer_actor


class Command(BaseCommand):
    help = ("Import a DVC repository's pipeline history: per commit, the stages whose dvc.lock entry changed (deps, "
            "outs with md5, params, cmd) and the data added with .dvc files, with the commit and its author. "
            "Reads git; safe to repeat.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repo", required=True, help="path of a git working copy or bare repository")
        parser.add_argument("--rev", action="append", default=None, metavar="REV",
                            help="only this revision (repeatable; default: HEAD's first-parent history)")
        parser.add_argument("--namespace", default=None, help="portal namespace (default: dvc://<origin remote>)")
        parser.add_argument("--repo-url", default=None,
                            help="the repository URL commits are linked to (default: the origin remote)")
        parser.add_argument("--as", dest="username", default="", help="portal user recorded as the importer")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            by = importer_actor(opts["username"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            summary = dvc_import(repo=opts["repo"], revs=opts["rev"], namespace=opts["namespace"],
                                 repo_url=opts["repo_url"], by=by)
        except DvcSourceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary.line())
