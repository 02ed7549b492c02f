from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.audit import keys


class Command(BaseCommand):
    help = "Create the Ed25519 key that signs audit checkpoints (path: PORTAL_AUDIT_KEY)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", help="Write here instead of PORTAL_AUDIT_KEY.")
        parser.add_argument("--force", action="store_true", help="Replace an existing key (old checkpoints stay "
                            "verifiable only with the old public key).")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["path"]) if opts["path"] else keys.key_path()
        try:
            keys.key_generate(path, overwrite=opts["force"])
        except FileExistsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"wrote {path}; key id {keys.public_key_id() if not opts['path'] else 'n/a'}")
