"""Change the demo's lineage upstream of approved releases, then print what changed since each was approved."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from portal.accounts.models import User
from portal.approvals.diff import release_diff
from portal.approvals.models import Release
from portal.demo import story as demo
from portal.demo.upstream_change import change_upstream


class Command(BaseCommand):
    help = ("After load_demo: retrain credit-scoring 7 on new code and another team's data, classify a loan-book "
            "column as special category, and print the diff of each release of credit-scoring 7.")

    def handle(self, *args: Any, **opts: Any) -> None:
        with transaction.atomic():
            mv = change_upstream(by=User.objects.get(username=demo.INGESTOR.username))
        admin = User.objects.get(username=demo.ALEX.username)
        for release in Release.objects.filter(model_version=mv).order_by("pk"):
            d = release_diff(release=release, user=admin)
            s = d["summary"]
            if d["baseline"] == "none":
                self.stdout.write(f"release {release.pk} ({release.environment}, {release.state}): {d['note']}")
                continue
            self.stdout.write(
                f"release {release.pk} ({release.environment}, {release.state}): {s['changes']} changes since "
                f"approval, {s['in_subject']} in the subject, {s['material']} material; "
                + ("the approval is void" if d["voids_approval"] else "the approval stands")
                + (f"; may trigger {', '.join(t['trigger'] for t in d['triggers'])}" if d["triggers"] else "")
                + (f" ({d['note']})" if d["note"] else "")
                + f"  /approvals/releases/{release.pk}")
