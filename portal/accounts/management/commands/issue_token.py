from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.accounts.models import Role
from portal.accounts.services import token_issue, user_ensure


class Command(BaseCommand):
    help = "Create the user if missing, set what is given, and print only a new API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values)
        parser.add_argument("--email")
        parser.add_argument("--password")
        parser.add_argument("--team")
        parser.add_argument("--name", default="", help="A label for the token.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            user = user_ensure(
                username=opts["username"], role=opts["role"], email=opts["email"],
                password=opts["password"], team=opts["team"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        _, raw = token_issue(user=user, name=opts["name"] or "cli")
        self.stdout.write(raw)
