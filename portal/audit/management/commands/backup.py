from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from portal.lib.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the whole database (lineage, approvals, audit trail) to one file: pg_dump custom format or SQLite."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="The backup file to write.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            info = backup_create(db=connections[opts["database"]].settings_dict, out=opts["out"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backed up {info.vendor} database {info.database} to {info.path} ({info.size} bytes)")
