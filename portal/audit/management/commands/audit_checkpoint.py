from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.audit.services import checkpoint_create


class Command(BaseCommand):
    help = "Sign a checkpoint of the audit chain now (beat does this every N entries or M minutes)."

    def handle(self, *args: Any, **opts: Any) -> None:
        cp = checkpoint_create(force=True)
        assert cp is not None
        self.stdout.write(f"checkpoint tree_size={cp.tree_size} root={cp.root}")
