"""Signed, expiring download links for stored files (``GET /files/{id}?expires=…&sig=…``).

Handed to integrations (the API channel) that fetch a file okno sends without an operator's
token. The signature is an HMAC over (file id, sha256, expiry) with a key derived from okno's
secret keys, so any process with the same keys verifies it; rotating the keys keeps older
links valid while the old key is still listed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

LINK_PATH = "/files/{file_id}"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"okno:file-links:v1", hashlib.sha256).digest()


def _mac(key: bytes, file_id: int, sha256: str, expires: int) -> str:
    digest = hmac.new(key, f"{file_id}.{sha256}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class FileLinks:
    secrets: tuple[str, ...]  # okno's secret keys, newest first
    public_url: str  # where integrations reach okno (empty: links are relative)
    ttl_seconds: float

    def url_for(self, file_id: int, sha256: str, *, now: float | None = None) -> str:
        expires = int((now or time.time()) + self.ttl_seconds)
        sig = _mac(_key(self.secrets[0]), file_id, sha256, expires)
        return f"{self.public_url.rstrip('/')}{LINK_PATH.format(file_id=file_id)}?expires={expires}&sig={sig}"

    def verify(self, file_id: int, sha256: str, expires: int, sig: str, *, now: float | None = None) -> bool:
        if expires < (now or time.time()):
            return False
        return any(hmac.compare_digest(sig, _mac(_key(secret), file_id, sha256, expires)) for secret in self.secrets)
