"""Two approvers sign the last needed vote at the same moment: exactly one approved transition."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from portal.approvals import services
from portal.approvals.models import Release
from portal.audit.models import AuditEntry
from tests.approvals.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_racing_last_votes_approve_exactly_once(release, people) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent connections (PostgreSQL)")
    services.policy_create(by=people["admin"], environment="production", reason="one of either",
                           groups=[("model-risk", 1)])
    release = services.release_refresh(release=release)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def vote(user) -> None:
        try:
            barrier.wait()
            services.release_sign(release=release, by=user, password=PASSWORD, meaning="approval", reason="ok",
                                  reviewed_digest=release.subject_digest)
            outcomes.append("signed")
        except services.ApprovalError as exc:
            outcomes.append(f"refused: {exc.message}")
        finally:
            connection.close()

    threads = [threading.Thread(target=vote, args=(people[u],)) for u in ("risk", "risk2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    release.refresh_from_db()
    assert release.state == Release.State.APPROVED
    assert sorted(o.split(":")[0] for o in outcomes) == ["refused", "signed"]
    assert AuditEntry.objects.filter(action="approval.release_approved", target_id=str(release.pk)).count() == 1
    assert release.signatures.filter(voided_at__isnull=True).count() == 1
