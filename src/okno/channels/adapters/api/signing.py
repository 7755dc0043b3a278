"""``X-Okno-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, both directions (one scheme for
all of okno: ``okno.kit.signing``)."""

from __future__ import annotations

from okno.kit.signing import PREFIX, SIGNATURE_HEADER, sign, signature_matches

__all__ = ["PREFIX", "SIGNATURE_HEADER", "sign", "signature_matches"]
