"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP). Pure: no ORM, no settings.

An authenticator app and the portal share a random secret; each computes HMAC(secret, floor(time / 30 s)) and
shows six digits of it. ``totp_match`` accepts the current step and ``skew`` steps either side (clock drift) and
returns the step it matched, so the caller can refuse a step already used (replay).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, the HMAC-SHA1 block RFC 4226 recommends


def secret_new() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def secret_text(secret: bytes) -> str:
    """The base32 form authenticator apps take, without padding."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def hotp(secret: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: dynamic truncation of HMAC(secret, counter) to ``digits`` decimal digits."""
    mac = hmac.new(secret, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def time_step(at: float, *, step: int = STEP_SECONDS) -> int:
    return int(at // step)


def totp(secret: bytes, at: float, *, step: int = STEP_SECONDS, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 6238 §4: the HOTP of the number of ``step``-second periods since the Unix epoch."""
    return hotp(secret, time_step(at, step=step), digits=digits, digest=digest)


def totp_match(secret: bytes, code: str, at: float, *, skew: int = 1, step: int = STEP_SECONDS) -> int | None:
    """The time step whose code ``code`` is, within ``skew`` steps of ``at``; None if none. Compared in constant
    time; spaces are ignored (apps show "123 456")."""
    code = code.replace(" ", "")
    if not (len(code) == DIGITS and code.isdigit()):
        return None
    now = time_step(at, step=step)
    found = None
    for counter in range(now - skew, now + skew + 1):
        if hmac.compare_digest(hotp(secret, counter), code):
            found = counter
    return found


def provisioning_uri(secret: bytes, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (Google Authenticator's key URI format)."""
    label = quote(f"{issuer}:{account}")
    query = urlencode({"secret": secret_text(secret), "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


def digest(value: str) -> str:
    """Recovery codes are stored as SHA-256 digests: 80 random bits each, nothing to brute-force."""
    return hashlib.sha256(value.replace("-", "").replace(" ", "").lower().encode("ascii", "replace")).hexdigest()
