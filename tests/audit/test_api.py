"""Audit API: auditors verify and read; anyone signed in gets checkpoints, the key and proofs; others are refused."""

from __future__ import annotations

import base64

import pytest

from portal.accounts.services import token_issue, user_ensure
from portal.audit.models import AuditEntry
from portal.audit.services import checkpoint_create
from portal.audit.verifier import merkle_root, verify_consistency, verify_inclusion
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_client(db):
    return api_client(user_ensure(username="ingrid", role="auditor"))


@pytest.fixture
def signed(alice) -> int:
    for _ in range(9):
        token_issue(user=alice)
    checkpoint_create()
    return AuditEntry.objects.count()


def test_auditors_verify_and_read_entries(signed, auditor_client) -> None:
    r = auditor_client.get("/api/v1/audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is True
    r = auditor_client.get("/api/v1/audit/entries", {"action": "account.token_issued", "actor": "alice"})
    assert r.json()["count"] == 9
    assert auditor_client.get("/api/v1/audit/entries", {"since": "nope"}).json()["errors"][0]["field"] == "since"


def test_viewers_ingestors_and_anonymous_may_not_read_entries(signed, alice_client, ingest_client, client) -> None:
    for c in (alice_client, ingest_client):
        assert c.get("/api/v1/audit/entries").status_code == 403
        assert c.get("/api/v1/audit/verify").status_code == 403
    assert client.get("/api/v1/audit/entries").status_code == 401
    assert client.get("/api/v1/audit/checkpoint").status_code == 401


def test_proofs_verify_against_the_signed_checkpoint(signed, alice_client) -> None:
    cp = alice_client.get("/api/v1/audit/checkpoint").json()
    assert cp["tree_size"] == signed
    assert alice_client.get("/api/v1/audit/public-key").json()["key_id"] == cp["key_id"]
    root = bytes.fromhex(cp["root"])
    for seq in (1, 5, signed):
        p = alice_client.get("/api/v1/audit/proof/inclusion", {"seq": seq}).json()
        proof = [base64.b64decode(x) for x in p["proof"]]
        assert verify_inclusion(seq - 1, signed, bytes.fromhex(p["entry_hash"]), proof, root)
    c = alice_client.get("/api/v1/audit/proof/consistency", {"from": 3}).json()
    hashes = [bytes.fromhex(h) for h in AuditEntry.objects.order_by("seq").values_list("entry_hash", flat=True)]
    assert verify_consistency(3, signed, merkle_root(hashes[:3]), root, [base64.b64decode(x) for x in c["proof"]])


def test_bad_proof_requests_are_400(signed, alice_client) -> None:
    assert alice_client.get("/api/v1/audit/proof/inclusion").json()["errors"][0]["field"] == "seq"
    assert alice_client.get("/api/v1/audit/proof/inclusion", {"seq": 0}).status_code == 400
    assert alice_client.get("/api/v1/audit/proof/inclusion", {"seq": "x"}).status_code == 400
    assert alice_client.get("/api/v1/audit/proof/inclusion", {"seq": 1, "tree_size": 10**6}).status_code == 400
    assert alice_client.get("/api/v1/audit/proof/consistency", {"from": signed + 1}).status_code == 400


def test_a_proof_is_of_the_tree_asked_for_and_not_of_one_larger_than_the_chain(signed, alice_client) -> None:
    p = alice_client.get("/api/v1/audit/proof/inclusion", {"seq": 3, "tree_size": 5}).json()
    assert (p["seq"], p["tree_size"]) == (3, 5)
    c = alice_client.get("/api/v1/audit/proof/consistency", {"from": 2, "to": 5}).json()
    assert (c["from"], c["to"]) == (2, 5)
    for kind, params, field in (("inclusion", {"seq": 1, "tree_size": 10**6}, "tree_size"),
                                ("consistency", {"from": 1, "to": 10**6}, "to")):
        r = alice_client.get(f"/api/v1/audit/proof/{kind}", params)
        error = r.json()["errors"][0]
        assert r.status_code == 400 and error["field"] == field and "the chain has only" in error["message"], error


def test_api_writes_carry_the_request_id_client_and_token(ingest_client) -> None:
    import json

    from tests.factories import run_event

    r = ingest_client.post("/api/v1/lineage", data=json.dumps(run_event()), content_type="application/json",
                           HTTP_X_REQUEST_ID="req-42", REMOTE_ADDR="10.1.2.3")
    assert r["X-Request-ID"] == "req-42"
    e = AuditEntry.objects.get(action="lineage.event_ingested")
    assert (e.request_id, e.client) == ("req-42", "10.1.2.3")
    assert e.actor_token.startswith("lp_") and e.actor_name == "pipeline"


def test_a_proof_for_an_entry_not_yet_under_a_checkpoint_says_it_is_pending(signed, alice, alice_client) -> None:
    token_issue(user=alice)  # sequenced in this transaction; its checkpoint comes after a commit
    r = alice_client.get("/api/v1/audit/proof/inclusion", {"seq": signed + 1})
    assert r.status_code == 400
    assert "not yet covered by a signed checkpoint" in r.json()["errors"][0]["message"]
