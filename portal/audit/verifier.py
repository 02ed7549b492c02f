#!/usr/bin/env python3
"""Standalone verifier for a Lineage Portal audit export.

    python verify.py DIR [MY_CHECKPOINTS.jsonl ...]

exits 0 when the export verifies, 1 (saying where) when it does not. Every checkpoint in the export
(``checkpoints.jsonl``, ``witness-*.jsonl``) and in the files you name (your own copy of checkpoints you saw
earlier, a witness's) must be signed by the key and match the entries; a checkpoint for more entries than the
export holds means entries are missing.

Needs only the Python standard library and the ``cryptography`` package: no Django, no portal code.
The portal itself uses this same module, so the rules below are the rules it writes by.

Hashing rules
-------------
1. Canonical JSON of a value: ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
   allow_nan=False)`` encoded as UTF-8.
2. An entry is the object ``{"seq", "time", "actor": {"id", "name", "token"}, "action",
   "target": {"kind", "id"}, "payload", "request_id", "client"}``. ``seq`` counts from 1 without gaps;
   ``time`` is UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
3. ``entry_hash = hex(SHA-256(prev_hash || canonical(entry)))`` where ``prev_hash`` is the previous entry's
   ``entry_hash`` as 64 lowercase ASCII hex characters (64 ``0`` for the first entry).
4. The Merkle tree is RFC 6962 over the entries in ``seq`` order, each leaf being the 32 raw bytes of its
   ``entry_hash``: ``leaf = SHA-256(0x00 || leaf_bytes)``, ``node = SHA-256(0x01 || left || right)``,
   the empty tree ``SHA-256("")``.
5. A checkpoint signs ``canonical({"tree_size", "root", "time"})`` with Ed25519 (``root`` hex,
   ``signature`` base64). Its ``key_id`` is the hex SHA-256 of the raw 32-byte public key.
6. A witness countersigns the same message with its own Ed25519 key (``cosignature`` base64,
   ``witness_key_id``). When the export holds a witness's public keys (``witness-<n>.pem`` beside
   ``witness-<n>.jsonl``: its current key first, then the keys it retired, one PEM block each), every
   checkpoint that witness kept must carry a countersignature, and one made under a key of that file must verify
   under it: a witness's copy is evidence only if the witness, not whoever holds the files, vouched for it. A
   forged or altered countersignature fails. A checkpoint countersigned under a key the file does not hold (a
   key the witness retired and nobody pinned) is reported, named with its tree size, as not vouched for by the
   witness, and is still checked against the entries under the log's key like any other; it does not fail the
   export as long as the witness's newest checkpoint verifies under a pinned key. Why that is safe: a witness
   countersigns a checkpoint only after checking it extends the one it held before (a consistency proof), so
   its countersignature on the newest checkpoint vouches for the tree it grew from; and a checkpoint a copy
   claims under an unknown key gives whoever altered the copy nothing that deleting the line would not (copies
   prove nothing about lines they lack: compare with the witness's own). Its newest checkpoint under a key not
   pinned is a failure: that is the one that catches a rollback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
ENTRY_FIELDS = ("seq", "time", "actor", "action", "target", "payload", "request_id", "client")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    body = {k: entry[k] for k in ENTRY_FIELDS}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(body)).hexdigest()


# -- RFC 6962 Merkle trees -----------------------------------------------------------------------------
def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


class TreeBuilder:
    """Streams leaves and gives the RFC 6962 root of every prefix without holding the leaves."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # perfect subtrees, sizes strictly decreasing

    def append(self, leaf: bytes) -> None:
        size, h = 1, leaf_hash(leaf)
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, h = size + left_size, node_hash(left, h)
        self._stack.append((size, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    tb = TreeBuilder()
    for leaf in leaves:
        tb.append(leaf)
    return tb.root()


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: is ``leaf`` (raw leaf bytes) at ``index`` of the tree of ``size``?"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree of ``size2`` an append-only extension of the one of ``size1``?"""
    if size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


# -- checkpoints ----------------------------------------------------------------------------------------
def checkpoint_message(cp: dict[str, Any]) -> bytes:
    return canonical({"tree_size": cp["tree_size"], "root": cp["root"], "time": cp["time"]})


def key_id(public_key_raw: bytes) -> str:
    return hashlib.sha256(public_key_raw).hexdigest()


def _ed25519_verify(public_key_pem: bytes, signature_b64: Any, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey) or not isinstance(signature_b64, str):
        return False
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_signature(public_key_pem: bytes, cp: dict[str, Any]) -> bool:
    return _ed25519_verify(public_key_pem, cp.get("signature"), checkpoint_message(cp))


def pem_key_id(public_key_pem: bytes) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

    return key_id(load_pem_public_key(public_key_pem).public_bytes(Encoding.Raw, PublicFormat.Raw))


def pem_keys(pem_text: bytes) -> dict[str, bytes]:
    """Each public key of a PEM file, by key id, in the file's order (a witness's current key, then retired ones)."""
    marker = b"-----BEGIN PUBLIC KEY-----"
    blocks = [marker + b for b in pem_text.split(marker)[1:]]
    return {pem_key_id(b): b for b in blocks}


def cosignature_problem(witness_keys: dict[str, bytes], cp: dict[str, Any]) -> str | None:
    """Why the witness countersignature on ``cp`` does not hold under the witness's pinned keys (by key id), or
    None. A countersignature under a key id that is not pinned is a problem here: see ``check_cosignatures``
    for when it is only reported."""
    if not cp.get("cosignature"):
        return "not countersigned by the witness"
    claimed = cp.get("witness_key_id")
    if claimed and claimed not in witness_keys:
        return f"countersigned by key {str(claimed)[:16]}…, which is not pinned for the witness"
    candidates = [witness_keys[claimed]] if claimed else list(witness_keys.values())
    if not any(_ed25519_verify(pem, cp["cosignature"], checkpoint_message(cp)) for pem in candidates):
        return "the witness countersignature does not verify (forged or altered)"
    return None


def unvouched_note(cp: dict[str, Any]) -> str:
    return (f"{_where(cp)}: countersigned under key {str(cp.get('witness_key_id'))[:16]}…, which is not pinned "
            "(a key the witness retired? pin it after the current one): not vouched for by the witness, "
            "checked under the log's key only")


def check_cosignatures(witness_keys: dict[str, bytes], checkpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every checkpoint a witness kept carries its countersignature, and each one under a pinned key verifies;
    ``VerifyError`` names the first that does not. Returns the checkpoints countersigned under a key that is not
    pinned (not vouched for; the caller reports them), unless the newest is one of them: then it fails, since
    the newest is the witness's word on where the log stands."""
    unvouched: list[dict[str, Any]] = []
    newest_vouched = -1
    for cp in checkpoints:
        if cp.get("cosignature") and cp.get("witness_key_id") and cp["witness_key_id"] not in witness_keys:
            unvouched.append(cp)
            continue
        problem = cosignature_problem(witness_keys, cp)
        if problem:
            raise VerifyError(None, f"{_where(cp)}: {problem}")
        newest_vouched = max(newest_vouched, int(cp["tree_size"]))
    newest = max(unvouched, key=lambda c: int(c["tree_size"]), default=None)
    if newest is not None and int(newest["tree_size"]) >= newest_vouched:
        raise VerifyError(None, f"{_where(newest)}: the witness's newest checkpoint is countersigned by key "
                                f"{str(newest['witness_key_id'])[:16]}…, which is not pinned for the witness "
                                "(pin its current key)")
    return unvouched


# -- the chain ------------------------------------------------------------------------------------------
class VerifyError(Exception):
    def __init__(self, seq: int | None, message: str) -> None:
        super().__init__(f"entry {seq}: {message}" if seq is not None else message)
        self.seq = seq
        self.message = message


def _unpack_dict(entry: dict[str, Any]) -> tuple[Any, Any, Any, bytes]:
    return entry.get("seq"), entry.get("prev_hash"), entry.get("entry_hash"), canonical(
        {k: entry[k] for k in ENTRY_FIELDS})


def _where(cp: dict[str, Any]) -> str:
    source = f", {cp['source']}" if cp.get("source") else ""
    return f"checkpoint at tree size {cp['tree_size']} ({cp.get('time')}{source})"


class Checkpoints:
    """The checkpoints to verify against, by tree size, checked against the leaves as far as they go."""

    def __init__(self, checkpoints: list[dict[str, Any]], public_key_pem: bytes | None) -> None:
        self.by_size: dict[int, list[dict[str, Any]]] = {}
        self.pem = public_key_pem
        for cp in checkpoints:
            self.by_size.setdefault(int(cp["tree_size"]), []).append(cp)
        # Successive checkpoints: a later signature never covers a smaller tree (a log rolled back and regrown).
        ordered = sorted(checkpoints, key=lambda c: (str(c.get("time")), int(c["tree_size"])))
        for a, b in zip(ordered, ordered[1:], strict=False):
            if int(b["tree_size"]) < int(a["tree_size"]):
                raise VerifyError(None, f"{_where(b)} is later than {_where(a)} but covers fewer entries: "
                                        "the log was rolled back")

    def check(self, leaves: list[bytes], below: int) -> None:
        """Roots and signatures of the checkpoints for fewer than ``below`` entries, smallest first."""
        sizes = sorted(n for n in self.by_size if n < below and n <= len(leaves))
        roots = prefix_roots(leaves, sizes)
        for size in sizes:
            for cp in self.by_size.pop(size):
                if roots[size].hex() != cp["root"]:
                    raise VerifyError(None, f"{_where(cp)}: Merkle root does not match the entries")
                if self.pem is not None and not verify_signature(self.pem, cp):
                    raise VerifyError(None, f"{_where(cp)}: bad signature")

    def finish(self, leaves: list[bytes]) -> None:
        self.check(leaves, len(leaves) + 1)
        if self.by_size:
            cp = self.by_size[min(self.by_size)][0]
            raise VerifyError(None, f"{_where(cp)} but only {len(leaves)} entries: entries are missing "
                                    "(truncated tail or deleted rows)")


def walk(entries: Iterable[Any], unpack: Callable[[Any], tuple[Any, Any, Any, bytes]], leaves: list[bytes],
         count: int = 0, head: str | None = GENESIS) -> tuple[int, str]:
    """Check sequence numbers and hashes, appending each entry's hash (raw) to ``leaves``.

    Starts after entry ``count`` whose hash is ``head`` (``None``: take the first entry's ``prev_hash``, for a
    range whose link to the one before is checked by the caller). Returns ``(count, head)``.
    """
    sha256 = hashlib.sha256
    head_bytes = head.encode("ascii") if head is not None else b""
    for item in entries:
        expected = count + 1
        try:
            seq, prev, stored, body = unpack(item)
        except (KeyError, TypeError, ValueError) as exc:
            raise VerifyError(expected, f"malformed entry: {exc}") from exc
        if seq != expected:
            raise VerifyError(expected, f"expected sequence number {expected}, found {seq!r} (entry missing, "
                                        "reordered or inserted)")
        if head is None and isinstance(prev, str):
            head, head_bytes = prev, prev.encode("ascii")
        if prev != head:
            raise VerifyError(seq, "prev_hash does not match the previous entry's hash (chain broken)")
        digest = sha256(head_bytes + body).digest()
        head = digest.hex()
        if head != stored:
            raise VerifyError(seq, "entry_hash does not match its contents (entry altered)")
        head_bytes = head.encode("ascii")
        leaves.append(digest)
        count = expected
    return count, head or GENESIS


def verify_stream(
    entries: Iterable[Any], checkpoints: list[dict[str, Any]], public_key_pem: bytes | None,
    unpack: Callable[[Any], tuple[Any, Any, Any, bytes]] = _unpack_dict,
) -> tuple[int, str]:
    """Walk the chain once: hashes, sequence, and every checkpoint's root and signature.

    ``unpack`` turns an item of ``entries`` into ``(seq, prev_hash, entry_hash, canonical entry bytes)``.
    Checkpoints may carry a ``source`` (where they were read), named in the error. Returns
    ``(entry count, head hash)`` or raises ``VerifyError`` naming the first bad place: a checkpoint that fails
    for fewer entries than the first bad entry is named before it.
    """
    cps = Checkpoints(checkpoints, public_key_pem)
    leaves: list[bytes] = []
    try:
        count, head = walk(entries, unpack, leaves)
    except VerifyError:
        cps.check(leaves, len(leaves) + 1)
        raise
    cps.finish(leaves)
    return count, head


def prefix_roots(leaves: list[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The RFC 6962 root of each prefix ``leaves[:n]``, ``n`` in ``sizes``, computed level by level.

    A prefix of ``n`` leaves splits into perfect subtrees, one per set bit ``k`` of ``n`` (left to right, largest
    first); the one for bit ``k`` is node ``(n >> k) - 1`` of level ``k``. Same result as ``TreeBuilder``, with
    each hash of the tree computed once for all the sizes.
    """
    sizes = sorted(set(sizes))
    parts: dict[int, list[bytes]] = {n: [] for n in sizes}  # smallest subtree first
    if not sizes or sizes[-1] == 0:
        return {n: EMPTY_ROOT for n in sizes}
    sha256 = hashlib.sha256
    level = [sha256(b"\x00" + x).digest() for x in leaves[: sizes[-1]]]
    k = 0
    while level:
        for n in sizes:
            if n >> k & 1:
                parts[n].append(level[(n >> k) - 1])
        if len(level) < 2 or sizes[-1] >> (k + 1) == 0:
            break
        level = [sha256(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
        k += 1
    roots = {}
    for n in sizes:
        if n == 0:
            roots[n] = EMPTY_ROOT
            continue
        h = parts[n][0]
        for left in parts[n][1:]:
            h = node_hash(left, h)
        roots[n] = h
    return roots


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise VerifyError(None, f"{path.name} line {lineno}: not valid JSON ({exc.msg}): truncated or "
                                        "altered") from exc


def _checkpoints_from(path: Path, label: str) -> list[dict[str, Any]]:
    return [dict(cp, source=label) for cp in _read_jsonl(path)]


def verify_export(directory: Path, extra: list[Path] | None = None) -> tuple[int, str, int, list[str]]:
    """Check an export against its own checkpoint files and ``extra`` ones. Returns (entries, head, checkpoints,
    notes): the notes name the witness checkpoints not vouched for (``check_cosignatures``)."""
    entries_path, checkpoints_path = directory / "entries.jsonl", directory / "checkpoints.jsonl"
    key_path = directory / "public_key.pem"
    for p in (entries_path, checkpoints_path, key_path, *(extra or [])):
        if not p.exists():
            raise VerifyError(None, f"{p.name} is missing")
    checkpoints = _checkpoints_from(checkpoints_path, "checkpoints.jsonl")
    if not checkpoints:
        raise VerifyError(None, "the export has no checkpoint: nothing signed to verify against")
    notes: list[str] = []
    for path in sorted(directory.glob("witness-*.jsonl")):
        kept = _checkpoints_from(path, path.name)
        witness_key = path.with_suffix(".pem")
        if witness_key.exists():
            notes += [unvouched_note(cp) for cp in check_cosignatures(pem_keys(witness_key.read_bytes()), kept)]
        checkpoints += kept
    for path in extra or []:
        checkpoints += _checkpoints_from(path, f"your file {path.name}")
    key_pem = key_path.read_bytes()
    count, head = verify_stream(_read_jsonl(entries_path), checkpoints, key_pem)
    return count, head, len(checkpoints), notes


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python verify.py EXPORT_DIR [MORE_CHECKPOINTS.jsonl ...]", file=sys.stderr)
        return 2
    extra = [Path(a) for a in argv[2:]]
    try:
        count, head, checked, notes = verify_export(Path(argv[1]), extra)
    except VerifyError as exc:
        print(f"FAIL {exc}")
        return 1
    more = f" ({len(extra)} extra checkpoint file{'s' if len(extra) != 1 else ''})" if extra else ""
    print(f"OK {count} entries, head {head}; {checked} checkpoints match{more}")
    for note in notes:
        print(f"NOTE {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
