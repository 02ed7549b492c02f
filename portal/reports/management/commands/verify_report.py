"""Is this PDF an unaltered report of this portal, and which? Exit status 0 if so, 1 if not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.reports.services import report_verify


class Command(BaseCommand):
    help = "Verify a report PDF against the SHA-256 recorded in the audit trail. Exit 0 if unaltered, 1 if not."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pdf")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["pdf"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        verdict = report_verify(content=path.read_bytes())
        self.stdout.write(f"{'OK' if verdict.ok else 'NOT VERIFIED'}: {verdict.message} (sha256 {verdict.sha256})")
        if not verdict.ok:
            sys.exit(1)
