"""RFC 6962 trees and proofs: the pure verifier functions, and the database-backed prover against them."""

from __future__ import annotations

import hashlib

import pytest
from django.db import transaction

from portal.audit.merkle import ChainTree
from portal.audit.models import AuditEntry
from portal.audit.services import Change, audit_record_many
from portal.audit.verifier import leaf_hash, merkle_root, node_hash, verify_consistency, verify_inclusion


def test_small_trees_match_the_rfc_definition() -> None:
    a, b, c = b"a", b"b", b"c"
    assert merkle_root([]) == hashlib.sha256(b"").digest()
    assert merkle_root([a]) == leaf_hash(a)
    assert merkle_root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


@pytest.fixture
def chain(db) -> list[bytes]:
    with transaction.atomic():
        audit_record_many(actor=None, changes=[Change("test.entry", "x", str(i)) for i in range(37)])
    return [bytes.fromhex(h) for h in AuditEntry.objects.order_by("seq").values_list("entry_hash", flat=True)]


@pytest.mark.parametrize("block", [4, 1024])
def test_every_inclusion_and_consistency_proof_verifies(chain, block) -> None:
    for size in range(1, len(chain) + 1):
        tree = ChainTree(size, block=block)
        root = tree.root()
        assert root == merkle_root(chain[:size])
        for i in range(size):
            assert verify_inclusion(i, size, chain[i], tree.inclusion_proof(i), root)
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old)
            assert verify_consistency(old, size, merkle_root(chain[:old]), root, proof)


def test_wrong_proofs_do_not_verify(chain) -> None:
    tree = ChainTree(20, block=4)
    root = tree.root()
    proof = tree.inclusion_proof(5)
    assert not verify_inclusion(5, 20, chain[6], proof, root)
    assert not verify_inclusion(6, 20, chain[5], proof, root)
    assert not verify_inclusion(5, 20, chain[5], proof[:-1], root)
    cons = tree.consistency_proof(7)
    assert not verify_consistency(7, 20, merkle_root(chain[:8]), root, cons)
    assert not verify_consistency(7, 20, merkle_root(chain[:7]), merkle_root(chain[:19]), cons)


def test_prefix_roots_match_the_streaming_tree_for_every_size() -> None:
    from portal.audit.verifier import prefix_roots

    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(70)]
    roots = prefix_roots(leaves, range(71))
    assert all(roots[n] == merkle_root(leaves[:n]) for n in range(71))
    assert prefix_roots(leaves, [5, 64]) == {5: merkle_root(leaves[:5]), 64: merkle_root(leaves[:64])}


def test_a_remembered_subtree_root_is_never_served_for_leaves_that_only_join_to_the_same_bytes() -> None:
    """The memo of perfect-subtree roots is keyed by content. Two leaf lists whose bytes join to the same string
    (one byte moved from one leaf to the next: an entry_hash column rewritten to 62 and 66 hex digits) are different
    trees; the root remembered for the first must not be returned for the second (it would let a rewrite below a
    checkpoint pass the sequencer's extension check)."""
    from portal.audit import merkle

    good = [hashlib.sha256(str(i).encode()).digest() for i in range(16)]
    shifted = [good[0][:-1], good[0][-1:] + good[1], *good[2:]]
    assert b"".join(shifted) == b"".join(good) and len(shifted) == len(good)
    merkle._memo.clear()
    assert merkle._mth(good, leaves=True) == merkle_root(good)
    assert merkle._mth(shifted, leaves=True) == merkle_root(shifted) != merkle_root(good)
