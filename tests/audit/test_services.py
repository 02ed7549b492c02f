"""The chain: what is recorded, how it links, and that verification finds tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connection, transaction

from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.accounts.services import token_issue, token_revoke
from portal.audit.db import maintenance
from portal.audit.models import AuditCheckpoint, AuditEntry
from portal.audit.services import audit_record, audit_verify, checkpoint_create
from portal.audit.verifier import GENESIS, entry_hash
from tests.factories import run_event

pytestmark = pytest.mark.django_db


def _ingest_one() -> dict:
    ev = run_event()
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)
    return ev


def test_an_ingested_event_is_recorded_with_its_sha256_in_the_same_transaction(ingestor) -> None:
    raw = json.dumps(run_event()).encode()
    parsed = parse_event(raw)
    events_ingest(events=[parsed], by=ingestor)
    e = AuditEntry.objects.get(action="lineage.event_ingested")
    assert json.loads(e.payload)["sha256"] == parsed.sha256
    assert (e.actor_id, e.actor_name, e.target_id) == (ingestor.pk, "pipeline", f"run:{parsed.run_id}")
    events_ingest(events=[parsed], by=ingestor)  # a duplicate records nothing
    assert AuditEntry.objects.filter(action="lineage.event_ingested").count() == 1


def test_a_rolled_back_change_leaves_no_entry(alice) -> None:
    before = AuditEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        token_issue(user=alice)
        raise RuntimeError("boom")
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError):
        audit_record(actor=None, action="x.y")


def test_entries_chain_from_genesis(alice) -> None:
    token, _ = token_issue(user=alice)
    token_revoke(token=token, by=alice)
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS
    for prev, cur in zip(entries, entries[1:], strict=False):
        assert cur.prev_hash == prev.entry_hash
    assert [e.action for e in entries][-2:] == ["account.token_issued", "account.token_revoked"]
    verdict = audit_verify()
    assert verdict.ok and verdict.entries == len(entries) and verdict.head == entries[-1].entry_hash


def test_verification_names_the_first_altered_entry(alice) -> None:
    for _ in range(3):
        token_issue(user=alice)
    target = AuditEntry.objects.order_by("seq")[1]
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET payload = %s WHERE seq = %s", ['{"forged":true}', target.seq])
    verdict = audit_verify()
    assert not verdict.ok and verdict.first_bad_seq == target.seq
    assert "altered" in verdict.message


def test_deleting_the_tail_and_rechaining_is_caught_by_the_outside_checkpoint(
    alice, django_capture_on_commit_callbacks
) -> None:
    for _ in range(4):
        token_issue(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        checkpoint_create()
    last = AuditEntry.objects.order_by("-seq").first()
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditentry WHERE seq = %s", [last.seq])
        cur.execute("DELETE FROM audit_auditcheckpoint")
    assert audit_verify().ok is False
    assert "missing" in audit_verify().message


def test_a_rewritten_but_consistent_chain_is_caught_by_the_signed_root(alice, settings) -> None:
    for _ in range(3):
        token_issue(user=alice)
    checkpoint_create()
    # rewrite entry 2 and re-chain everything after it, as a careful attacker with superuser rights would
    rows = list(AuditEntry.objects.order_by("seq"))
    with maintenance(connection), connection.cursor() as cur:
        prev = rows[0].entry_hash
        for e in rows[1:]:
            from portal.audit.services import entry_dict
            d = entry_dict(e)
            if e.seq == 2:
                d["payload"] = {"forged": True}
            h = entry_hash(prev, d)
            cur.execute("UPDATE audit_auditentry SET payload=%s, prev_hash=%s, entry_hash=%s WHERE seq=%s",
                        [json.dumps(d["payload"], sort_keys=True, separators=(",", ":")), prev, h, e.seq])
            prev = h
    verdict = audit_verify()
    assert not verdict.ok and "Merkle root" in verdict.message


def test_checkpoints_are_signed_and_written_outside_the_database(
    alice, settings, django_capture_on_commit_callbacks
) -> None:
    token_issue(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        cp = checkpoint_create()
    assert cp is not None and cp.tree_size == AuditEntry.objects.count()
    assert checkpoint_create() is None  # nothing new
    outside = Path(settings.PORTAL_AUDIT_CHECKPOINT_DIR) / "checkpoints.jsonl"
    assert json.loads(outside.read_text().splitlines()[-1])["root"] == cp.root
    assert audit_verify().ok


def test_a_checkpoint_is_signed_only_when_the_tree_grew(alice) -> None:
    assert checkpoint_create() is not None  # alice's creation to sign
    assert checkpoint_create() is None
    token_issue(user=alice)
    assert checkpoint_create().tree_size == AuditEntry.objects.count()
    assert AuditCheckpoint.objects.count() == 2


def test_the_beat_task_sequences_and_signs_what_is_pending(alice, settings) -> None:
    from portal.audit.models import AuditPending
    from portal.audit.tasks import audit_sequence

    settings.PORTAL_AUDIT_SEQUENCER = "service"
    before = AuditEntry.objects.count()
    token_issue(user=alice)
    assert AuditPending.objects.count() == 1 and AuditEntry.objects.count() == before
    assert audit_sequence.delay().get() == before + 1
    assert not AuditPending.objects.exists()
    assert audit_sequence.delay().get() is None
