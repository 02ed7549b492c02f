"""Evaluate the compliance posture now (the beat schedule does it every PORTAL_POSTURE_SECONDS)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portal.reports.services import posture_evaluate


class Command(BaseCommand):
    help = "Evaluate every framework over the whole organisation and the posture's rolling period."

    def handle(self, *args: Any, **options: Any) -> None:
        snaps = posture_evaluate()
        first = snaps[0] if snaps else None
        period = f"{first.period_start:%Y-%m-%d} to {first.period_end:%Y-%m-%d}" if first else "-"
        self.stdout.write(f"posture over {period}: " + "; ".join(
            f"{s.framework} {s.passed} pass / {s.failed} fail / {s.not_applicable} n/a / {s.not_evaluated} not "
            "evaluated" for s in snaps))
