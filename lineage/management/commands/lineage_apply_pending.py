from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lineage.services import lineage_apply_pending


class Command(BaseCommand):
    help = ("Apply the OpenLineage events stored but not yet applied to the graph (deferred ingestion), oldest "
            "first, as the lineage.apply_pending task does. --retry-failed also retries the events that failed to "
            "apply alone (their error is kept on the raw event until one succeeds).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retry-failed", action="store_true", help="retry the events that failed before")
        parser.add_argument("--batch-size", type=int, default=None, help="events per transaction")

    def handle(self, *args: Any, **opts: Any) -> None:
        count = lineage_apply_pending(batch_size=opts["batch_size"], retry_failed=opts["retry_failed"])
        self.stdout.write(count.line())
