"""The bundle's signature manifest carries the digest each signer reviewed (the PDF prints it). No database."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.reports import bundle
from portal.reports.facts import Facts, NodeFact, ReleaseFact, SignatureFact

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_each_signature_carries_the_digest_its_signer_reviewed() -> None:
    mv = NodeFact(pk=1, node_id="modelVersion:ns:m#7", kind="modelVersion", namespace="ns", name="m", version="7",
                  environment="", state="", attrs={}, event_time=T, created_at=T, updated_at=T, parent=None,
                  deidentifies=False)
    signed = [SignatureFact(username=u, printed_name=u.title(), meaning="approval", reason="ok", signed_at=T,
                            voided=voided, subject_digest=digest)
              for u, voided, digest in (("bob", False, "5d" * 32), ("dana", True, "d4" * 32))]
    release = ReleaseFact(id=12, model_version=1, environment="production", state="approved", requester="alice",
                          policy="p v1", subject_digest="5d" * 32, approved_at=T, created_at=T, break_glass=False,
                          retrospective_of=None, retrospective_due=None, signatures=signed)
    facts = Facts(now=T, period_start=T, period_end=T, params={}, nodes={1: mv}, edges=[], in_scope={1},
                  releases=[release])
    [manifest] = bundle.approvals(facts, {1})
    assert [(s["username"], s["reviewed_digest"]) for s in manifest["signatures"]] == [
        ("bob", "sha256:" + "5d" * 32), ("dana", "sha256:" + "d4" * 32)]
