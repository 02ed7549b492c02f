from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.accounts.services import namespace_assign


class Command(BaseCommand):
    help = "Give a lineage namespace to a team (created if missing): only its members, and org-wide roles, see it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("namespace")
        parser.add_argument("team")

    def handle(self, *args: Any, **opts: Any) -> None:
        owner = namespace_assign(namespace=opts["namespace"], team=opts["team"])
        self.stdout.write(f"{owner.namespace} is owned by team {owner.team.name}")
