"""``X-Okno-Signature: sha256=<hex HMAC-SHA256 of the raw body>``: what okno signs and checks,
in both directions (the API channel, outbound webhooks of automation rules)."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

SIGNATURE_HEADER = "x-okno-signature"
PREFIX = "sha256="

_BLOCK = hashlib.sha256().block_size  # 64 bytes: HMAC pads (or first hashes) the key to it
_INNER_PAD = bytes(x ^ 0x36 for x in range(256))  # RFC 2104's ipad and opad, as translate tables
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))


def sign(secret: str, body: bytes) -> str:
    inner_keyed, outer_keyed = _keyed(secret)
    inner = inner_keyed.copy()
    inner.update(body)
    outer = outer_keyed.copy()
    outer.update(inner.digest())
    return PREFIX + outer.hexdigest()


@lru_cache(maxsize=1024)
def _keyed(secret: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256 (RFC 2104) keyed with ``secret``, nothing signed yet, as its two SHA-256 states:
    ``H(key ^ ipad)`` and ``H(key ^ opad)``. Each body copies both (a C call each), where copying an
    ``hmac.HMAC`` goes through Python code and OpenSSL's HMAC set-up: half the CPU per signature
    (tests/test_signing.py compares with ``hmac.new``)."""
    key = secret.encode()
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_INNER_PAD)), hashlib.sha256(key.translate(_OUTER_PAD))


def signature_matches(secret: str, body: bytes, header_value: str | None) -> bool:
    if not header_value or not header_value.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header_value.strip())
