"""Django-side helpers for ``bench/soak.py``, run as a child process against the database in ``DATABASE_URL``.

    python bench/_soak_django.py setup            users, teams, the staging policy, tokens: JSON on stdout
    python bench/_soak_django.py serial FILE      ingest FILE's events (one JSON event per line), in file order,
                                                  through ``lineage.services.events_ingest``, batches of 500

The soak itself only talks HTTP; this is for what needs the ORM before or after.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

APPROVER_PASSWORD = "soak-approver-passphrase-1"  # noqa: S105 - throwaway users in a throwaway database
APPROVERS = {"mr1": "model-risk", "mr2": "model-risk", "co1": "compliance", "co2": "compliance"}


def setup() -> dict[str, object]:
    from portal.accounts.models import Role
    from portal.accounts.services import token_issue, user_ensure
    from portal.approvals.services import policy_create

    admin = user_ensure(username="soak-admin", role=Role.ADMIN, email="admin@soak.invalid")
    out: dict[str, object] = {"tokens": {}}
    tokens: dict[str, str] = {}
    for name, team in APPROVERS.items():
        user = user_ensure(username=name, role=Role.APPROVER, email=f"{name}@soak.invalid",
                           password=APPROVER_PASSWORD, team=team, first_name=name.upper(), last_name="Soak")
        tokens[name] = token_issue(user=user, name="soak")[1]
    requester = user_ensure(username="requester", role=Role.APPROVER, email="requester@soak.invalid",
                            first_name="Rita", last_name="Requester")
    tokens["requester"] = token_issue(user=requester, name="soak")[1]
    officer = user_ensure(username="officer", role=Role.COMPLIANCE_OFFICER, email="officer@soak.invalid")
    tokens["officer"] = token_issue(user=officer, name="soak")[1]
    ingest = user_ensure(username="soak-ingest", role=Role.INGESTOR)
    tokens["ingest"] = token_issue(user=ingest, name="soak")[1]
    policy_create(by=admin, environment="staging", groups=[("model-risk", 1), ("compliance", 1)],
                  approval_expiry_days=365, reason="Soak: one model-risk and one compliance signature.")
    out["tokens"] = tokens
    out["password"] = APPROVER_PASSWORD
    return out


def serial(path: str) -> int:
    from lineage.openlineage import parse_event
    from lineage.services import events_ingest

    batch = []
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            batch.append(parse_event(line))
            if len(batch) >= 500:
                events_ingest(events=batch, by=None)
                n += len(batch)
                batch = []
    if batch:
        events_ingest(events=batch, by=None)
        n += len(batch)
    return n


def main() -> None:
    import django

    django.setup()
    cmd = sys.argv[1]
    if cmd == "setup":
        print(json.dumps(setup()))
    elif cmd == "serial":
        print(json.dumps({"ingested": serial(sys.argv[2])}))
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main()
