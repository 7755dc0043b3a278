"""``X-Okno-Signature: sha256=<hex HMAC-SHA256 of the raw body>``: what okno signs and checks,
in both directions (the API channel, outbound webhooks of automation rules)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-okno-signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header_value: str | None) -> bool:
    if not header_value or not header_value.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header_value.strip())
