"""Merkle roots and RFC 6962 proofs over the stored chain, fast at millions of entries.

Leaves are read from the database by range; the roots of complete blocks of ``BLOCK`` leaves are cached
in ``AuditBlock``, so a proof touches at most one block of leaves plus the block roots.
"""

from __future__ import annotations

from .models import AuditBlock, AuditEntry
from .verifier import EMPTY_ROOT, merkle_root, node_hash

BLOCK = 1024


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

    def _leaf_range(self, a: int, b: int) -> list[bytes]:
        missing = [i for i in range(a, b) if i not in self._leaves]
        if missing:
            # Whole blocks at once: a proof walks down inside one block, range after range.
            lo = min(missing) // self.block * self.block
            hi = min(self.size, (max(missing) // self.block + 1) * self.block)
            rows = AuditEntry.objects.filter(seq__gt=lo, seq__lte=hi).values_list("seq", "entry_hash")
            for seq, h in rows:
                self._leaves[seq - 1] = bytes.fromhex(h)
        return [self._leaves[i] for i in range(a, b)]

    def _block(self, index: int) -> bytes:
        if index not in self._blocks:
            cached = None
            if self.block == BLOCK:
                cached = AuditBlock.objects.filter(index=index).values_list("root", flat=True).first()
            if cached is None:
                root = merkle_root(self._leaf_range(index * self.block, (index + 1) * self.block))
                if self.block == BLOCK:  # only the standard block size is cached
                    AuditBlock.objects.bulk_create([AuditBlock(index=index, root=root)], ignore_conflicts=True)
                cached = root
            self._blocks[index] = bytes(cached)
        return self._blocks[index]

    def preload_blocks(self) -> None:
        if self.block != BLOCK:
            return
        full = self.size // BLOCK
        for index, root in AuditBlock.objects.filter(index__lt=full).values_list("index", "root"):
            self._blocks[index] = bytes(root)

    def hash(self, a: int, b: int) -> bytes:
        """MTH of leaves [a, b)."""
        n = b - a
        if n == 0:
            return EMPTY_ROOT
        if n >= self.block and n & (n - 1) == 0 and a % n == 0:
            level = [self._block(i) for i in range(a // self.block, b // self.block)]
            while len(level) > 1:
                level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            return level[0]
        if n <= self.block and a // self.block == (b - 1) // self.block:
            return merkle_root(self._leaf_range(a, b))
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
