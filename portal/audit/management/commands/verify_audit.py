from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from portal.audit.services import audit_verify


class Command(BaseCommand):
    help = "Walk the whole audit chain, recompute every hash and checkpoint root, check signatures. Exit 0 or 1."

    def handle(self, *args: Any, **opts: Any) -> None:
        verdict = audit_verify()
        if verdict.ok:
            self.stdout.write(verdict.message)
            return
        self.stdout.write(f"FAIL {verdict.message}")
        sys.exit(1)
