from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.audit import keys
from portal.audit.verifier import key_id
from portal.audit.witness import WitnessStore, make_server


class Command(BaseCommand):
    help = ("Run a witness for another portal's audit log: keep the checkpoints it POSTs, refuse those that do "
            "not extend what was seen, countersign. Needs no database. Run it where that portal's operators "
            "have no access.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default="127.0.0.1:8770", help="HOST:PORT (default 127.0.0.1:8770).")
        parser.add_argument("--store", required=True, type=Path, help="Folder for the kept checkpoints.")
        parser.add_argument("--log-key", required=True, type=Path, help="The log's public key (PEM), from "
                            "GET /api/v1/audit/public-key.")
        parser.add_argument("--key", type=Path, help="This witness's own Ed25519 key (created if missing; "
                            "default STORE/witness_ed25519.pem).")

    def handle(self, *args: Any, **opts: Any) -> None:
        host, _, port = opts["listen"].rpartition(":")
        if not host or not port.isdigit():
            raise CommandError("--listen must be HOST:PORT")
        key_path = opts["key"] or opts["store"] / "witness_ed25519.pem"
        if not key_path.exists():
            keys.key_generate(key_path)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CommandError(f"{key_path} is not an Ed25519 private key")
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        store = WitnessStore(opts["store"], opts["log_key"].read_bytes(), key, key_id(raw))
        server = make_server((host, int(port)), store)
        self.stdout.write(f"witness on http://{host}:{server.server_address[1]} keeping {store.path}; "
                          f"witness key id {store.key_id}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
