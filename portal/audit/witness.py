"""A witness: keeps the checkpoints a log sends it, refuses any that do not extend what it saw, countersigns.

Run one on a machine the portal's operators do not control (``manage.py audit_witness``); it needs no database.
Two calls, JSON over HTTP:

- ``POST /add-checkpoint`` with ``{"checkpoint": {...signed...}, "old_size": n, "proof": [base64, ...]}``: the
  checkpoint must carry the log's signature and, unless this witness holds nothing yet, ``proof`` must be an
  RFC 6962 consistency proof from the tree size it holds (``old_size``) to the new one. Answers 200 with its
  countersignature, 409 with ``{"tree_size": n}`` when ``old_size`` is not the size it holds, 422 when the proof
  fails or the tree shrank (the log was rolled back or forked), 403 when the log signature is bad.
- ``GET /checkpoints``: everything it kept, one JSON line each, oldest first.
- ``GET /public-key``: this witness's public key (PEM), for the log's operators to pin once
  (``PORTAL_AUDIT_WITNESS_KEYS``): the portal and ``verify.py`` then check every countersignature under it.
"""

from __future__ import annotations

import base64
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .verifier import checkpoint_message, verify_consistency, verify_signature

MAX_BODY = 64 * 1024


class WitnessStore:
    """The kept checkpoints, one line each in ``DIR/checkpoints.jsonl`` (the same layout as a directory witness)."""

    def __init__(self, directory: Path, log_public_pem: bytes, key: Ed25519PrivateKey, key_id: str) -> None:
        self.path = directory / "checkpoints.jsonl"
        directory.mkdir(parents=True, exist_ok=True)
        self.log_pem = log_public_pem
        self.key = key
        self.key_id = key_id
        self.public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
        self.lock = threading.Lock()

    def kept(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x.strip()]

    def add(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            cp = {k: body["checkpoint"][k] for k in ("tree_size", "root", "time", "signature", "key_id")}
            size, old_size = int(cp["tree_size"]), int(body.get("old_size", 0))
            proof = [base64.b64decode(p, validate=True) for p in body.get("proof", [])]
            new_root = bytes.fromhex(cp["root"])
        except (KeyError, TypeError, ValueError) as exc:
            return HTTPStatus.BAD_REQUEST, {"error": f"malformed request: {exc}"}
        if not verify_signature(self.log_pem, cp):
            return HTTPStatus.FORBIDDEN, {"error": "the checkpoint is not signed by the log's key"}
        with self.lock:
            kept = self.kept()
            if kept:
                last = kept[-1]
                held = int(last["tree_size"])
                if size < held:
                    return HTTPStatus.UNPROCESSABLE_ENTITY, {
                        "error": f"tree size {size} is smaller than the {held} already witnessed: rolled back",
                        "tree_size": held}
                if old_size != held:
                    return HTTPStatus.CONFLICT, {"error": f"this witness holds tree size {held}", "tree_size": held}
                if not verify_consistency(held, size, bytes.fromhex(last["root"]), new_root, proof):
                    return HTTPStatus.UNPROCESSABLE_ENTITY, {
                        "error": f"not consistent with the checkpoint at tree size {held} this witness holds"}
            cosig = base64.b64encode(self.key.sign(checkpoint_message(cp))).decode()
            line = dict(cp, cosignature=cosig, witness_key_id=self.key_id)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, sort_keys=True) + "\n")
        return HTTPStatus.OK, {"cosignature": cosig, "witness_key_id": self.key_id}


def make_server(address: tuple[str, int], store: WitnessStore) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/public-key":
                self._answer(HTTPStatus.OK, store.public_pem, "application/x-pem-file")
                return
            if self.path != "/checkpoints":
                self._answer(HTTPStatus.NOT_FOUND, b'{"error": "not found"}')
                return
            text = "".join(json.dumps(c, sort_keys=True) + "\n" for c in store.kept())
            self._answer(HTTPStatus.OK, text.encode(), "application/jsonl")

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/add-checkpoint":
                self._answer(HTTPStatus.NOT_FOUND, b'{"error": "not found"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(HTTPStatus.BAD_REQUEST, b'{"error": "body missing or too large"}')
                return
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                self._answer(HTTPStatus.BAD_REQUEST, b'{"error": "body is not a JSON object"}')
                return
            status, answer = store.add(body)
            self._answer(status, json.dumps(answer).encode())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet; the command logs
            pass

    return ThreadingHTTPServer(address, Handler)
