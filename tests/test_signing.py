"""``okno.kit.signing`` keys HMAC-SHA256 once per secret (its two padded SHA-256 states) and copies
them per body: every signature is still the plain ``hmac.new(secret, body, sha256)`` one, whatever
came before it, for keys shorter than, as long as and longer than SHA-256's 64-byte block."""

from __future__ import annotations

import hashlib
import hmac

from okno.channels.inbound import raw_text
from okno.kit.signing import sign, signature_matches


def _reference(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signatures_are_plain_hmac_sha256_for_every_secret_and_body_in_any_order() -> None:
    secrets = ["api-secret-0123456789", "секрет-ключ-0123456789", "x" * 200, "a", "", "k" * 63, "k" * 64, "k" * 65, "я" * 32, "я" * 33]
    bodies = [b"", b"{}", "привет".encode(), b"x" * 100_000]
    for _ in range(2):  # the second round signs with the keyed copies kept from the first
        for secret in secrets:
            for body in bodies:
                assert sign(secret, body) == _reference(secret, body)
                assert signature_matches(secret, body, _reference(secret, body))
                assert not signature_matches(secret, body + b" ", _reference(secret, body))


def test_raw_text_replaces_invalid_utf8_and_nul_only() -> None:
    for raw in (b"plain", "тело".encode(), b"a\x00b", b"\xff\x00\xd1", b""):
        assert raw_text(raw) == raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
