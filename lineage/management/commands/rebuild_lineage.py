from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lineage.models import Edge, Node
from lineage.services import lineage_rebuild
from lineage.tasks import lineage_rebuild_task


class Command(BaseCommand):
    help = "Rebuild the lineage graph from the stored raw events (tags set through the API are kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--async", dest="run_async", action="store_true",
                            help="Queue the rebuild on a Celery worker instead of running it here.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["run_async"]:
            result = lineage_rebuild_task.delay()
            self.stdout.write(f"queued rebuild task {result.id}")
            return
        count = lineage_rebuild()
        self.stdout.write(f"replayed {count} events: {Node.objects.count()} nodes, {Edge.objects.count()} edges")
