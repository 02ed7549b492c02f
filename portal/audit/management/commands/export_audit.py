from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.audit.export import ExportRefused, audit_export


class Command(BaseCommand):
    help = ("Export the audit trail with a standalone verifier: python DIR/verify.py DIR checks it anywhere. "
            "Refuses (exit 1, saying where) when the chain does not verify against the outside checkpoints.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="An empty or new directory.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            summary = audit_export(out=Path(opts["out"]))
        except FileExistsError as exc:
            raise CommandError(str(exc)) from exc
        except ExportRefused as exc:
            raise CommandError(f"export refused: {exc}") from exc
        self.stdout.write(f"exported {summary['entries']} entries to {summary['dir']} (root {summary['root']})")
