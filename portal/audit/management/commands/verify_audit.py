from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.audit.services import audit_verify


class Command(BaseCommand):
    help = ("Walk the whole audit chain, recompute every hash, check it against every checkpoint (database, outside "
            "file, witnesses) and signature. Exit 0 or 1.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                            help="Processes walking ranges of the chain at once (PostgreSQL; default: the cores, "
                                 "at most 4).")

    def handle(self, *args: Any, **opts: Any) -> None:
        verdict = audit_verify(workers=max(1, opts["workers"]))
        if verdict.ok:
            self.stdout.write(verdict.message)
            return
        self.stdout.write(f"FAIL {verdict.message}")
        sys.exit(1)
