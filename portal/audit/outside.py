"""Where checkpoints go besides the database: the checkpoint file and the witnesses.

A witness is a directory (``/mnt/locked/portal``: an object-locked or write-once mount, another host's share)
or an HTTP endpoint (``https://witness.example``: ``manage.py audit_witness`` on another machine, or anything
speaking the same two calls). An HTTP witness is sent each checkpoint with a consistency proof from the last
tree size it holds; it checks the signature and the proof, keeps the checkpoint and countersigns it, and refuses
one that does not extend what it already saw. Verification reads every witness's checkpoints back, and where the
witness's public key is pinned (``PORTAL_AUDIT_WITNESS_KEYS``) checks each countersignature under it: a copy
whose countersignature does not verify was not vouched for by that witness.

A witness that rotates its key keeps the checkpoints it countersigned under the old one. Pin the new key first
and the retired ones after it (``URL=NEW.pem,OLD.pem``, or several PEM blocks in one file): old checkpoints then
verify under the key they were countersigned with. One countersigned under a key no longer pinned is reported
(witness, tree size, key id) as not vouched for, not a failure, while the witness's newest checkpoint verifies
(``verifier.check_cosignatures`` says why that is safe); a forged countersignature under a pinned key fails.
The keys are read once per run (``witness_keys``), not per checkpoint.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from .verifier import VerifyError, check_cosignatures, cosignature_problem, pem_keys, unvouched_note

log = logging.getLogger(__name__)
FILE_NAME = "checkpoints.jsonl"
HTTP_TIMEOUT = 5.0


class WitnessError(Exception):
    pass


def checkpoint_file() -> Path:
    return Path(settings.PORTAL_AUDIT_CHECKPOINT_DIR) / FILE_NAME


def line(cp: dict[str, Any]) -> str:
    return json.dumps({k: cp[k] for k in ("tree_size", "root", "time", "signature", "key_id")}, sort_keys=True)


def witness_line(cp: dict[str, Any]) -> str:
    """A checkpoint as a witness kept it: with its countersignature when it has one."""
    keep = ("tree_size", "root", "time", "signature", "key_id", "cosignature", "witness_key_id")
    return json.dumps({k: cp[k] for k in keep if k in cp}, sort_keys=True)


def append_line(path: Path, text: str) -> None:
    """Append one line and wait until it is on disk: the sequencer commits only after this returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def outside_checkpoints() -> list[dict[str, Any]]:
    return read_jsonl(checkpoint_file())


def outside_last() -> dict[str, Any] | None:
    """The file's last checkpoint, read from its end (the file grows by a line per sequenced batch)."""
    path = checkpoint_file()
    if not path.exists():
        return None
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        block = 4096
        while True:
            start = max(0, end - block)
            fh.seek(start)
            lines = [x for x in fh.read(end - start).splitlines() if x.strip()]
            if len(lines) >= 2 or start == 0:
                return json.loads(lines[-1]) if lines else None
            block *= 4


# -- witnesses -------------------------------------------------------------------------------------------
def witnesses() -> list[str]:
    return [w for w in settings.PORTAL_AUDIT_WITNESSES if w]


Pinned = dict[str, dict[str, bytes]]  # witness -> key id -> public key (PEM), the current key first


def witness_keys() -> Pinned:
    """Every witness's pinned public keys, read from their files once: load them at the start of a run (a
    verification, an export, a publication) and pass them along. A file that cannot be read is a
    ``WitnessError``: a pinned key that went missing is not the same as no key pinned."""
    out: Pinned = {}
    for spec, paths in dict(settings.PORTAL_AUDIT_WITNESS_KEYS).items():
        found: dict[str, bytes] = {}
        for path in (p for p in str(paths).split(",") if p.strip()):
            try:
                found.update(pem_keys(Path(path.strip()).read_bytes()))
            except (OSError, ValueError) as exc:
                raise WitnessError(f"witness {spec}: cannot read its pinned key {path}: {exc}") from exc
        if found:
            out[spec] = found
    return out


def witness_key(spec: str, pinned: Pinned | None = None) -> bytes | None:
    """The pinned public keys (PEM blocks, the current first) of witness ``spec``, or None when none is pinned."""
    keys = (witness_keys() if pinned is None else pinned).get(spec)
    return b"".join(keys.values()) if keys else None


def _check_cosignature(spec: str, cp: dict[str, Any], keys: dict[str, bytes]) -> None:
    problem = cosignature_problem(keys, cp)
    if problem:
        raise WitnessError(f"witness {spec}: checkpoint at tree size {cp.get('tree_size')}: {problem}")


def _is_http(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,  # noqa: S310 - configured by the operator
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:  # noqa: S310
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(spec: str, cp: dict[str, Any], old_size: int, proof: list[bytes]) -> tuple[int, dict[str, Any]]:
    status, raw = _http("POST", spec.rstrip("/") + "/add-checkpoint",
                        {"checkpoint": json.loads(line(cp)), "old_size": old_size,
                         "proof": [base64.b64encode(p).decode() for p in proof]})
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, {"error": raw[:200].decode(errors="replace")}


def witness_publish(cp: dict[str, Any], old_size: int, proof_from: Callable[[int], list[bytes]]) -> list[str]:
    """Hand ``cp`` to every witness. Returns the problems (a witness down or refusing); never raises for them.

    ``old_size`` is the previous checkpoint's size and ``proof_from(n)`` the consistency proof from size n.
    """
    problems = []
    try:
        pinned = witness_keys()
    except WitnessError as exc:
        pinned, problems = {}, [str(exc)]
    for spec in witnesses():
        try:
            if not _is_http(spec):
                append_line(Path(spec) / FILE_NAME, line(cp))
                continue
            status, body = _post(spec, cp, old_size, proof_from(old_size) if old_size else [])
            if status == 409 and isinstance(body.get("tree_size"), int):  # it holds another size: prove from it
                theirs = body["tree_size"]
                if theirs > cp["tree_size"]:
                    raise WitnessError(f"holds tree size {theirs}, more than {cp['tree_size']}: the log was rolled "
                                       "back behind what it saw")
                status, body = _post(spec, cp, theirs, proof_from(theirs) if theirs else [])
            if status != 200:
                raise WitnessError(f"refused ({status}): {body.get('error', body)}")
            if spec in pinned:  # countersigned now: under the witness's current key, not a retired one
                current = next(iter(pinned[spec].items()))
                _check_cosignature(spec, dict(cp, cosignature=body.get("cosignature"),
                                              witness_key_id=body.get("witness_key_id")), dict([current]))
        except (OSError, WitnessError, ValueError) as exc:
            problems.append(f"witness {spec}: {exc}")
            log.error("audit checkpoint %s not witnessed by %s: %s", cp["tree_size"], spec, exc)
    return problems


def witness_checkpoints(spec: str, pinned: Pinned | None = None,
                        notes: list[str] | None = None) -> list[dict[str, Any]]:
    """What ``spec`` holds, each countersignature checked under its pinned keys (``pinned``: loaded once by the
    caller). Raises ``WitnessError`` when it cannot be read or a countersignature fails; checkpoints
    countersigned under a key no longer pinned are added to ``notes`` (``verifier.check_cosignatures``)."""
    if not _is_http(spec):
        try:
            return read_jsonl(Path(spec) / FILE_NAME)
        except (OSError, ValueError) as exc:
            raise WitnessError(f"witness {spec}: cannot read its checkpoints: {exc}") from exc
    try:
        status, raw = _http("GET", spec.rstrip("/") + "/checkpoints")
        if status != 200:
            raise WitnessError(f"witness {spec}: answered {status}")
        kept = [json.loads(x) for x in raw.decode().splitlines() if x.strip()]
    except (OSError, ValueError) as exc:
        raise WitnessError(f"witness {spec}: cannot read its checkpoints: {exc}") from exc
    keys = (witness_keys() if pinned is None else pinned).get(spec)
    if keys:
        try:
            unvouched = check_cosignatures(keys, [dict(c, source=f"witness {spec}") for c in kept])
        except VerifyError as exc:
            raise WitnessError(exc.message) from exc  # names the witness (the checkpoint's source)
        if notes is not None:
            notes += [unvouched_note(c) for c in unvouched]
    return kept
