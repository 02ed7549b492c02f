"""The sequencer's step: what a poll costs, moving pending rows exactly once, and the Merkle roots it signs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from portal.audit import sequencer
from portal.audit.db import maintenance
from portal.audit.merkle import ChainTree
from portal.audit.models import AuditEntry, AuditPending
from portal.audit.sequencer import SequencerRefused, pending_append, sequencer_step
from portal.audit.services import Change, audit_record_many, audit_verify
from portal.audit.verifier import merkle_root

pytestmark = pytest.mark.django_db
needs_postgres = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL only")


@pytest.fixture
def service(settings: Any) -> None:
    settings.PORTAL_AUDIT_SEQUENCER = "service"


def _write(n: int, start: int = 0) -> None:
    with transaction.atomic():
        audit_record_many(actor=None, changes=[Change("test.entry", "x", str(start + i), {"i": start + i})
                                               for i in range(n)])


def _leaves() -> list[bytes]:
    return [bytes.fromhex(h) for h in AuditEntry.objects.order_by("seq").values_list("entry_hash", flat=True)]


def test_a_poll_with_nothing_pending_is_one_read_without_the_lock(service: None) -> None:
    _write(3)
    assert sequencer_step().integrated == 3
    with CaptureQueriesContext(connection) as q:
        step = sequencer_step()
    assert step.integrated == 0 and step.checkpoint is None
    assert len(q.captured_queries) == 1, [x["sql"] for x in q.captured_queries]
    assert "pg_advisory" not in q.captured_queries[0]["sql"]


def test_a_poll_still_signs_entries_no_checkpoint_covers(service: None, settings: Any) -> None:
    settings.PORTAL_AUDIT_SEQUENCER = "inline"
    with transaction.atomic():  # chained by the writer; its after-commit checkpoint is lost (a crash, say)
        audit_record_many(actor=None, changes=[Change("test.entry", "x", "1")])
        connection.run_on_commit.clear()
    step = sequencer_step()
    assert step.integrated == 0 and step.checkpoint is not None and step.checkpoint.tree_size == 1


@needs_postgres
def test_the_newest_checkpoint_is_found_through_an_index() -> None:
    """Read on every poll; the checkpoints grow by one per step, so a scan of them all grows without end."""
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN SELECT tree_size FROM audit_auditcheckpoint ORDER BY tree_size DESC, id DESC LIMIT 1")
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "audit_checkpoint_size" in plan, plan


def test_a_whole_second_is_signed_with_six_zero_digits(service: None) -> None:
    with transaction.atomic():
        pending_append([(connection.ops.adapt_datetimefield_value(datetime(2026, 12, 6, 9, 0, 0, tzinfo=UTC)), None,
                         "", "", "test.entry", "x", "1", "{}", "", "")])
    sequencer_step()
    assert AuditEntry.objects.get().time == datetime(2026, 12, 6, 9, 0, 0, tzinfo=UTC)
    assert audit_verify().ok


@needs_postgres
def test_a_pending_row_lost_between_read_and_move_rolls_the_step_back(service: None, monkeypatch: Any) -> None:
    _write(4)
    head = sequencer.head

    def head_losing_a_row() -> tuple[int, str]:
        AuditPending.objects.filter(pk=AuditPending.objects.order_by("id").values_list("id", flat=True)[2]).delete()
        return head()

    monkeypatch.setattr(sequencer, "head", head_losing_a_row)
    with pytest.raises(RuntimeError, match="4 pending entries read, 3 moved"):
        sequencer_step()
    assert not AuditEntry.objects.exists()
    assert AuditPending.objects.count() == 4


def _writers(writers: int, each: int, errors: list[BaseException]) -> list[threading.Thread]:
    """Writer threads (own connections): writer w commits entries (kind "w<w>", id 0..each-1) one per transaction."""

    def write(w: int) -> None:
        try:
            for k in range(each):
                with transaction.atomic():
                    audit_record_many(actor=None, changes=[Change("test.entry", f"w{w}", str(k))])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    return [threading.Thread(target=write, args=(w,)) for w in range(writers)]


@pytest.mark.django_db(transaction=True)
@needs_postgres
def test_entries_appended_while_the_sequencer_steps_are_chained_once_each_in_commit_order(service: None) -> None:
    writers, each = 4, 30
    errors: list[BaseException] = []
    threads = _writers(writers, each, errors)
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        sequencer_step(limit=7)  # small batches: many steps interleave with the writers' commits
    for t in threads:
        t.join()
    while sequencer_step().integrated:
        pass
    assert not errors
    rows = list(AuditEntry.objects.order_by("seq").values_list("seq", "target_kind", "target_id"))
    assert [r[0] for r in rows] == list(range(1, writers * each + 1))
    for w in range(writers):  # each writer's entries once each, in the order it committed them
        assert [int(r[2]) for r in rows if r[1] == f"w{w}"] == list(range(each))
    assert not AuditPending.objects.exists()
    assert audit_verify().ok


def test_a_leaf_rewritten_in_the_last_block_changes_the_root(service: None) -> None:
    """Roots of perfect subtrees are remembered by their leaves' bytes: a rewritten leaf is hashed anew."""
    _write(40)
    sequencer_step()
    before = _leaves()
    assert ChainTree(40).root() == merkle_root(before)
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET entry_hash = %s WHERE seq = 20", ["ab" * 32])
    after = _leaves()
    assert ChainTree(40).root() == merkle_root(after) != merkle_root(before)


def test_the_sequencer_refuses_to_sign_over_an_entry_rewritten_below_the_last_checkpoint(service: None) -> None:
    _write(40)
    sequencer_step()
    sequencer_step(force=True)  # the same tree again: its subtrees' roots are remembered now
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET entry_hash = %s WHERE seq = 20", ["ab" * 32])
    _write(5, start=40)
    with pytest.raises(SequencerRefused, match="tree size 40"):
        sequencer_step()
    assert AuditPending.objects.count() == 5


def test_array_parameters_are_literals_only_when_nothing_needs_quoting() -> None:
    assert sequencer._array([3, 14, 15]) == "{3,14,15}"
    assert sequencer._array(["ab" * 32, "0" * 64]) == "{" + "ab" * 32 + "," + "0" * 64 + "}"
    assert sequencer._array(["ab", "c,d"]) == ["ab", "c,d"]
    assert sequencer._array(["ab", ""]) == ["ab", ""]


@pytest.mark.parametrize("when", [datetime(999, 3, 4, 5, 6, 7, 1, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
                                  datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)])
def test_the_time_text_is_the_same_in_the_chain_the_verification_and_the_export(service: None, when: datetime) -> None:
    """The spec's time is ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: four year digits. PostgreSQL's to_char (what the
    sequencer signs and verify_audit reads there) pads years below 1000; Python's strftime("%Y") does not on
    glibc, so the export (and SQLite's chain) wrote "999-..." for the entry PostgreSQL signed as "0999-..."."""
    from portal.audit.services import entry_dict, entry_rows
    from portal.audit.verifier import entry_hash

    with transaction.atomic():
        pending_append([(connection.ops.adapt_datetimefield_value(when), None, "", "", "test.entry", "x", "1", "{}",
                         "", "")])
    sequencer_step()
    expected = f"{when.year:04d}-{when:%m-%dT%H:%M:%S.%f}Z"
    assert sequencer.time_text(when) == expected
    with transaction.atomic():
        assert [r[1] for r in entry_rows()] == [expected]
    e = AuditEntry.objects.get()
    d = entry_dict(e)
    assert d["time"] == expected
    assert entry_hash(d["prev_hash"], d) == e.entry_hash
    assert audit_verify().ok


@needs_postgres
def test_many_steps_under_another_session_time_zone_verify_in_the_database_the_export_and_outside(
        service: None, tmp_path: Any) -> None:
    """The signed time text comes from to_char in SQL: a session TimeZone other than UTC (Django sets UTC; a
    pooler or a role default may not) must not change it. Entries with 0, 1 and 999999 microseconds and whole
    seconds, moved in many small steps across a block boundary, then verify_audit, export_audit and the outside
    verifier (a clean interpreter) all agree."""
    import subprocess
    import sys
    from datetime import timedelta

    from django.core.management import call_command

    from portal.audit.merkle import BLOCK

    base = datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)  # a DST change in Europe at 01:00 UTC
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cur:
        cur.execute("SET TIME ZONE 'America/St_Johns'")  # -03:30 / -02:30: not a whole hour
    with transaction.atomic():
        pending_append([(adapt(base + timedelta(microseconds=(0, 1, 999999, 500000)[i % 4], seconds=i // 4)), None,
                         "", "", "test.entry", "x", str(i), "{}", "", "") for i in range(BLOCK + 40)])
    steps = 0
    while sequencer_step(limit=97).integrated:
        steps += 1
    assert steps == (BLOCK + 40 + 96) // 97 and AuditEntry.objects.count() == BLOCK + 40
    report = audit_verify()
    assert report.ok, report
    out = tmp_path / "export"
    call_command("export_audit", "--out", str(out), stdout=open(tmp_path / "log", "w"))  # noqa: SIM115
    times = [line.split('"time":"')[1][:27] for line in (out / "entries.jsonl").read_text().splitlines()]
    assert times[:4] == ["2026-03-29T00:59:59.000000Z", "2026-03-29T00:59:59.000001Z",
                         "2026-03-29T00:59:59.999999Z", "2026-03-29T00:59:59.500000Z"]
    r = subprocess.run([sys.executable, "-I", str(out / "verify.py"), str(out)], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_sequencers_stepping_at_once_with_writers_chain_each_entry_once(service: None) -> None:
    """Two sequencers (each its own connection, as two ``audit_sequencer`` processes) step in small batches
    while writers commit: the step's lock serialises them, the lock-free idle poll only ever skips a step, and
    the chain holds every entry once, in order, with every checkpoint verifying."""
    writers, each = 3, 25
    done = threading.Event()
    errors: list[BaseException] = []

    def sequence() -> None:
        try:
            while not done.is_set():
                sequencer_step(limit=4)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    seqs = [threading.Thread(target=sequence) for _ in range(2)]
    threads = _writers(writers, each, errors)
    for t in seqs + threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in seqs:
        t.join()
    while sequencer_step().integrated:
        pass
    assert not errors, errors
    rows = list(AuditEntry.objects.order_by("seq").values_list("seq", "target_kind", "target_id"))
    assert [r[0] for r in rows] == list(range(1, writers * each + 1))
    for w in range(writers):
        assert [int(r[2]) for r in rows if r[1] == f"w{w}"] == list(range(each))
    assert not AuditPending.objects.exists()
    report = audit_verify()
    assert report.ok, report
