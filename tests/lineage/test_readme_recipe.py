"""The README's "Sending lineage" recipe, run exactly as written: the real client in its own process, configured
only by the variables the README exports, against a live portal. A recipe the client does not honour sends no
token, every event gets 401 and producers such as dbt-ol still exit 0, so only the stored event proves it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lineage.models import RawEvent
from portal.accounts.services import token_issue

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[2] / "README.md"
EXPORT = re.compile(r"^export (?P<name>[A-Z_][A-Z0-9_]*)=(?P<value>.*)$")

EMIT = """
import sys
from datetime import UTC, datetime
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

event = RunEvent(eventType=RunState.START, eventTime=datetime.now(UTC).isoformat(), run=Run(runId=sys.argv[1]),
                 job=Job(namespace="readme", name="recipe"), producer="https://example.com/readme-test")
try:
    OpenLineageClient().emit(event)
except Exception as exc:  # the test judges by what was stored; this says why in its output
    print("emit failed:", exc)
"""


def readme_recipe() -> dict[str, str]:
    """The variables exported by the first ``sh`` block of the README's "Sending lineage" section."""
    section = README.read_text().split("## Sending lineage", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    out = {}
    for line in block.splitlines():
        m = EXPORT.match(line.strip())
        if m:
            out[m.group("name")] = m.group("value")
    return out


def test_the_readme_block_exports_a_url_and_a_token() -> None:
    recipe = readme_recipe()
    assert any(v.startswith("http://") for v in recipe.values())
    assert any("<token" in v for v in recipe.values())


def test_the_readme_recipe_delivers_an_event_with_the_real_client(live_server, ingestor, tmp_path) -> None:
    _, token = token_issue(user=ingestor)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    env["HOME"] = str(tmp_path)  # no ~/.openlineage/openlineage.yml of the machine's
    for name, value in readme_recipe().items():
        if value.startswith("http://"):
            value = live_server.url
        elif "<token" in value:
            value = token
        env[name] = value
    run_id = str(uuid.uuid4())
    done = subprocess.run([sys.executable, "-c", EMIT, run_id], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert RawEvent.objects.filter(run_id=run_id).exists(), (
        f"the event was not stored; the client said: {done.stdout}{done.stderr[-2000:]}")
