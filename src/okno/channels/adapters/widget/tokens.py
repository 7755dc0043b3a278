"""Signed visitor tokens: ``<visitor_id>.<expires_unix>.<hmac>``; the visitor id is the identity."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

TOKEN_TTL_SECONDS = 365 * 24 * 3600


def _mac(secret: str, channel_id: int, visitor_id: str, expires: int) -> str:
    digest = hmac.new(secret.encode(), f"{channel_id}.{visitor_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_visitor_id() -> str:
    return "v_" + secrets.token_hex(12)


def issue_token(secret: str, channel_id: int, visitor_id: str, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + TOKEN_TTL_SECONDS)
    return f"{visitor_id}.{expires}.{_mac(secret, channel_id, visitor_id, expires)}"


def visitor_from_token(secret: str, channel_id: int, token: str, *, now: float | None = None) -> str | None:
    """The visitor id if the token is genuine and unexpired, else None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[0].startswith("v_") or len(parts[0]) > 64:
        return None
    visitor_id, expires = parts[0], int(parts[1])
    if expires < (now or time.time()):
        return None
    return visitor_id if hmac.compare_digest(parts[2], _mac(secret, channel_id, visitor_id, expires)) else None
