"""Merkle roots and RFC 6962 proofs over the stored chain, fast at millions of entries.

Leaves are read from the database by range; the roots of complete blocks of ``BLOCK`` leaves are cached
in ``AuditBlock``, so a proof touches at most one block of leaves plus the block roots.

Every leaf and block root is read from the database each time; only the hashing is remembered, by content:
``_mth`` keeps the Merkle roots of the last few perfect subtrees keyed by their exact leaf (or block root)
bytes, so the sequencer, which signs the root of a tree one step larger than the last, hashes only what is new
in the last block instead of the whole block twice per step. A root looked up there is the root of those bytes.
"""

from __future__ import annotations

from django.db import connection

from .models import AuditBlock
from .verifier import EMPTY_ROOT, merkle_root, node_hash

BLOCK = 1024
_MEMO_MIN = 16  # perfect subtrees of fewer leaves are hashed again: cheaper than remembering them
_MEMO_MAX = 256
_HASH = 32  # bytes of a SHA-256 leaf (entry hash) or subtree root
_memo: dict[tuple[bool, bytes], bytes] = {}


def _mth(items: list[bytes], *, leaves: bool) -> bytes:
    """RFC 6962 root of ``items``: leaf bytes, or (not ``leaves``) a power of two of roots of equal perfect subtrees.

    Perfect subtrees of at least ``_MEMO_MIN`` items are remembered by their content (the concatenated bytes), only
    when every item is a 32-byte hash: then the bytes determine the items. Items of other lengths (a rewritten
    ``entry_hash`` column) could join to the same bytes as different items and must never get their root."""
    if any(len(x) != _HASH for x in items):
        return merkle_root(items) if leaves else _pairs(items)
    return _mth32(items, leaves=leaves)


def _pairs(level: list[bytes]) -> bytes:
    while len(level) > 1:  # only for a power of two: equal subtrees side by side
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _mth32(items: list[bytes], *, leaves: bool) -> bytes:
    n = len(items)
    if n < _MEMO_MIN or n & (n - 1):
        return merkle_root(items) if leaves else _pairs(items)
    key = (leaves, b"".join(items))
    found = _memo.get(key)
    if found is None:
        half = n // 2
        found = node_hash(_mth32(items[:half], leaves=leaves), _mth32(items[half:], leaves=leaves))
        if len(_memo) >= _MEMO_MAX:
            _memo.clear()
        _memo[key] = found
    return found


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class ChainTree:
    """Subtree hashes of the chain's first ``size`` leaves (leaf i is entry seq i + 1)."""

    def __init__(self, size: int, block: int = BLOCK) -> None:
        self.size = size
        self.block = block
        self._blocks: dict[int, bytes] = {}
        self._leaves: dict[int, bytes] = {}
        self._leaf_blocks: set[int] = set()  # blocks whose leaves (up to ``size``) are in ``_leaves``
        self._preloaded = False

    def _leaf_range(self, a: int, b: int) -> list[bytes]:
        first, last = a // self.block, (b - 1) // self.block
        missing = [i for i in range(first, last + 1) if i not in self._leaf_blocks]
        if missing:
            # Whole blocks at once: a proof walks down inside one block, range after range.
            lo, hi = missing[0] * self.block, min(self.size, (missing[-1] + 1) * self.block)
            with connection.cursor() as cur:
                cur.execute("SELECT seq, entry_hash FROM audit_auditentry WHERE seq > %s AND seq <= %s", [lo, hi])
                for seq, h in cur.fetchall():
                    self._leaves[seq - 1] = bytes.fromhex(h)
            self._leaf_blocks.update(range(missing[0], missing[-1] + 1))
        return [self._leaves[i] for i in range(a, b)]

    def _block(self, index: int) -> bytes:
        if index not in self._blocks:
            cached = None
            if self.block == BLOCK and not self._preloaded:  # preloaded: every cached one is in _blocks
                cached = AuditBlock.objects.filter(index=index).values_list("root", flat=True).first()
            if cached is None:
                root = _mth(self._leaf_range(index * self.block, (index + 1) * self.block), leaves=True)
                if self.block == BLOCK:  # only the standard block size is cached
                    AuditBlock.objects.bulk_create([AuditBlock(index=index, root=root)], ignore_conflicts=True)
                cached = root
            self._blocks[index] = bytes(cached)
        return self._blocks[index]

    def preload_blocks(self) -> None:
        """Read the cached roots of the complete blocks (once per tree)."""
        if self.block != BLOCK or self._preloaded:
            return
        self._preloaded = True
        with connection.cursor() as cur:
            cur.execute('SELECT "index", root FROM audit_auditblock WHERE "index" < %s', [self.size // BLOCK])
            for index, root in cur.fetchall():
                self._blocks[index] = bytes(root)

    def hash(self, a: int, b: int) -> bytes:
        """MTH of leaves [a, b)."""
        n = b - a
        if n == 0:
            return EMPTY_ROOT
        if n >= self.block and n & (n - 1) == 0 and a % n == 0:
            return _mth([self._block(i) for i in range(a // self.block, b // self.block)], leaves=False)
        if n <= self.block and a // self.block == (b - 1) // self.block and n & (n - 1) == 0:
            return _mth(self._leaf_range(a, b), leaves=True)
        k = _largest_power_of_two_below(n)
        return node_hash(self.hash(a, a + k), self.hash(a + k, b))

    def root(self) -> bytes:
        self.preload_blocks()
        return self.hash(0, self.size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[0:size])."""
        if not 0 <= index < self.size:
            raise ValueError("leaf index outside the tree")
        self.preload_blocks()
        proof: list[bytes] = []
        a, b = 0, self.size
        while b - a > 1:
            k = _largest_power_of_two_below(b - a)
            if index < a + k:
                proof.append(self.hash(a + k, b))
                b = a + k
            else:
                proof.append(self.hash(a, a + k))
                a = a + k
        return list(reversed(proof))

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 6962 PROOF(old_size, D[0:size])."""
        if not 0 < old_size <= self.size:
            raise ValueError("old tree size must be between 1 and the new tree size")
        self.preload_blocks()
        proof: list[bytes] = []
        a, b, m, complete = 0, self.size, old_size, True
        while True:
            n = b - a
            if m == n:
                if not complete:
                    proof.append(self.hash(a, b))
                break
            k = _largest_power_of_two_below(n)
            if m <= k:
                proof.append(self.hash(a + k, b))
                b = a + k
            else:
                proof.append(self.hash(a, a + k))
                a, m, complete = a + k, m - k, False
        return list(reversed(proof))
