"""verify_audit and audit_keygen as operators run them."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from portal.accounts.services import token_issue
from portal.audit.db import maintenance
from portal.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_verify_audit_prints_ok_then_exits_1_naming_the_bad_entry(alice) -> None:
    token_issue(user=alice)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    head = AuditEntry.objects.order_by("-seq").first()
    assert out.getvalue().strip() == f"OK {AuditEntry.objects.count()} entries, head {head.entry_hash}"
    with maintenance(connection), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET actor_name = 'mallory' WHERE seq = 1")
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_audit", stdout=out)
    assert exit_.value.code == 1
    assert out.getvalue().startswith("FAIL entry 1:")


def test_audit_keygen_writes_a_private_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    call_command("audit_keygen", "--path", str(path), stdout=StringIO())
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(CommandError):
        call_command("audit_keygen", "--path", str(path), stdout=StringIO())
