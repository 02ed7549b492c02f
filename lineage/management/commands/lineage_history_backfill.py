from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lineage.asof import history_backfill


class Command(BaseCommand):
    help = ("Exact event times for lineage as of a time (docs/lineage-asof.md): plan the stored raw events again and "
            "move each edge's, node's and tag's event time back to the earliest event that says it. Writes no graph.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args: Any, **opts: Any) -> None:
        count = history_backfill(batch_size=opts["batch_size"])
        self.stdout.write(f"read {count} events: event times of edges, nodes and tags moved back where earlier")
