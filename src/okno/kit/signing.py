"""``X-Okno-Signature: sha256=<hex HMAC-SHA256 of the raw body>``: what okno signs and checks,
in both directions (the API channel, outbound webhooks of automation rules)."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

SIGNATURE_HEADER = "x-okno-signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    mac = _keyed(secret).copy()
    mac.update(body)
    return PREFIX + mac.hexdigest()


@lru_cache(maxsize=1024)
def _keyed(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 keyed with ``secret``, nothing signed yet: copied for each body, so the key's
    set-up is done once per secret instead of once per request."""
    return hmac.new(secret.encode(), None, hashlib.sha256)


def signature_matches(secret: str, body: bytes, header_value: str | None) -> bool:
    if not header_value or not header_value.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header_value.strip())
