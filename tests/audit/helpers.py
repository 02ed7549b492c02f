"""Running the audit's own processes (sequencer, witness, manage.py) against the test database."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from django.conf import settings
from django.db import connection


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
            f"{db['NAME']}")


def manage_env(**extra: str) -> dict[str, str]:
    """The environment of a manage.py process that shares this test's database, key and checkpoint folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({"DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": database_url(),
                "PORTAL_AUDIT_KEY": settings.PORTAL_AUDIT_KEY,
                "PORTAL_AUDIT_CHECKPOINT_DIR": settings.PORTAL_AUDIT_CHECKPOINT_DIR,
                "PORTAL_AUDIT_WITNESSES": " ".join(settings.PORTAL_AUDIT_WITNESSES), **extra})
    return env


def wait_for_checkpoint(size: int, timeout: float = 120.0) -> dict:
    """Wait until the outside checkpoint file covers ``size`` entries and the sequencer's transaction that made it
    has committed (it writes the file first). The sequencer runs in another process, which may still be starting
    on a loaded machine."""
    from portal.audit.models import AuditEntry

    path = Path(settings.PORTAL_AUDIT_CHECKPOINT_DIR) / "checkpoints.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if lines and lines[-1]["tree_size"] >= size and AuditEntry.objects.filter(seq=size).exists():
                return lines[-1]
        time.sleep(0.05)
    raise AssertionError(f"no outside checkpoint covering {size} entries within {timeout} s")
