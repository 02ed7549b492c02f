"""RFC 6238 TOTP, pure: the RFC's own test vectors, skew and replay windows."""

from __future__ import annotations

import pytest

from portal.accounts import totp

# RFC 6238 Appendix B: the SHA-1 secret is the ASCII string "12345678901234567890"; 8-digit codes.
RFC_SECRET = b"12345678901234567890"


@pytest.mark.parametrize(("at", "code"), [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                                          (1234567890, "89005924"), (2000000000, "69279037"),
                                          (20000000000, "65353130")])
def test_it_computes_the_rfc_6238_test_vectors(at: int, code: str) -> None:
    assert totp.totp(RFC_SECRET, at, digits=8) == code


def test_rfc_4226_hotp_vectors() -> None:
    # RFC 4226 Appendix D, counters 0..3
    assert [totp.hotp(RFC_SECRET, c) for c in range(4)] == ["755224", "287082", "359152", "969429"]


def test_a_code_matches_within_the_skew_and_not_beyond() -> None:
    secret = totp.secret_new()
    now = 1_800_000_000.0
    code_then = totp.totp(secret, now - 30)
    assert totp.totp_match(secret, code_then, now, skew=1) == totp.time_step(now) - 1
    assert totp.totp_match(secret, totp.totp(secret, now - 90), now, skew=1) is None
    assert totp.totp_match(secret, totp.totp(secret, now + 30), now, skew=1) == totp.time_step(now) + 1
    assert totp.totp_match(secret, totp.totp(secret, now)[:5] + "x", now) is None
    assert totp.totp_match(secret, "", now) is None


def test_the_provisioning_uri_names_the_issuer_and_the_secret() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, account="mo", issuer="Lineage Portal")
    assert uri.startswith("otpauth://totp/Lineage%20Portal%3Amo?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&")
    assert "issuer=Lineage+Portal" in uri and "period=30" in uri
