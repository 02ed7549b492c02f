from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.accounts.mfa import totp_remove
from portal.accounts.models import User


class Command(BaseCommand):
    help = ("Remove a user's authenticator and recovery codes (a lost phone), after checking who asks. A user whose "
            "role requires a second factor must set up a new one at their next sign-in.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"No user named {opts['username']!r}.")
        totp_remove(user=user, by=None)
        self.stdout.write(f"The second factor of {user.username} was removed.")
