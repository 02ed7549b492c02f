from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.audit.sequencer import SequencerRefused
from portal.audit.services import checkpoint_create


class Command(BaseCommand):
    help = "Sequence what is pending and sign a checkpoint of the audit chain now (the sequencer does this)."

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            cp = checkpoint_create(force=True)
        except SequencerRefused as exc:
            raise CommandError(str(exc)) from exc
        assert cp is not None
        self.stdout.write(f"checkpoint tree_size={cp.tree_size} root={cp.root}")
