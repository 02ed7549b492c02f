from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from portal.audit.services import audit_verify
from portal.lib.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = ("Restore a file written by `backup` into the configured database, then verify the audit chain. "
            "Refuses a database that already has tables unless --force. Exit 1 if the chain does not verify.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--force", action="store_true", help="Replace everything in a non-empty database.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **opts: Any) -> None:
        conn = connections[opts["database"]]
        conn.close()  # the restore replaces what this connection would see
        try:
            name = backup_restore(db=conn.settings_dict, path=opts["path"], force=opts["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        verdict = audit_verify()
        if not verdict.ok:
            self.stdout.write(f"Restored {opts['path']} into {name}; audit chain FAIL {verdict.message}")
            sys.exit(1)
        self.stdout.write(f"Restored {opts['path']} into {name}; audit chain {verdict.message}")
