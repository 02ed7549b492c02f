from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from portal.audit.sequencer import Step, sequencer_run


class Command(BaseCommand):
    help = ("Run the audit sequencer: give pending entries their place in the chain and sign a checkpoint over "
            "each batch, written outside the database and to the witnesses, within --latency seconds.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--latency", type=float, default=None,
                            help="Seconds between a commit and its checkpoint (default PORTAL_AUDIT_LATENCY).")
        parser.add_argument("--verbose-steps", action="store_true", help="Print a line per signed checkpoint.")

    def handle(self, *args: Any, **opts: Any) -> None:
        latency = opts["latency"] if opts["latency"] is not None else settings.PORTAL_AUDIT_LATENCY
        stopping = []

        def stop(*_: Any) -> None:
            stopping.append(True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"audit sequencer: latency {latency} s")
        self.stdout.flush()

        def report(step: Step) -> None:
            if opts["verbose_steps"] and step.checkpoint is not None:
                self.stdout.write(f"+{step.integrated} -> tree_size={step.checkpoint.tree_size}")
                self.stdout.flush()

        sequencer_run(latency=latency, stop=lambda: bool(stopping), on_step=report)
        self.stdout.write("audit sequencer stopped")
