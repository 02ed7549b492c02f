"""The Ed25519 key that signs checkpoints. Its path comes from PORTAL_AUDIT_KEY."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from .verifier import key_id


class KeyMissing(Exception):
    pass


def key_path() -> Path:
    return Path(settings.PORTAL_AUDIT_KEY)


def key_generate(path: Path, *, overwrite: bool = False) -> Path:
    """Write a new private key (PEM, mode 0600). Refuses to replace an existing key unless told to."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; refusing to replace the audit signing key")
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path


_cache: dict[tuple[str, int, int], Ed25519PrivateKey] = {}


def private_key() -> Ed25519PrivateKey:
    """The signing key, read again whenever the file at ``PORTAL_AUDIT_KEY`` changes (the sequencer signs often)."""
    path = key_path()
    if not path.exists():
        if settings.PORTAL_AUDIT_AUTOGENERATE_KEY:
            key_generate(path)
        else:
            raise KeyMissing(f"no audit signing key at {path}; run `python manage.py audit_keygen`")
    st = path.stat()
    stamp = (str(path), st.st_mtime_ns, st.st_ino)
    if stamp not in _cache:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyMissing(f"{path} is not an Ed25519 private key")
        _cache.clear()
        _cache[stamp] = key
    return _cache[stamp]


def public_key_pem() -> bytes:
    return private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_id() -> str:
    raw = private_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key_id(raw)
