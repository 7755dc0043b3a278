"""Survey links' tokens: ``<OKNO_PUBLIC_URL>/s/<token>/<score>``, one per score (okno.surveys.links).

The token names the survey request and when the link expires (``OKNO_SURVEY_ANSWER_HOURS``
after the question) and carries an HMAC of both under a key derived from ``OKNO_SECRET_KEYS``
(older keys still verify, as for file links)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from okno.kit.time import utcnow
from okno.models.surveys import SCALES
from okno.surveys.policy import policy

PATH = "/s/{token}/{score}"


class LinkRefused(Exception):
    """Why a link does nothing: ``status`` is the HTTP answer (404, 409, 410)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"okno:survey-links:v1", hashlib.sha256).digest()


def _mac(key: bytes, request_id: int, expires: int) -> str:
    digest = hmac.new(key, f"{request_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def token_for(request_id: int, expires: datetime) -> str:
    stamp = int(expires.timestamp())
    return f"{request_id}.{stamp}.{_mac(_key(policy().link_secrets[0]), request_id, stamp)}"


def score_links(request_id: int, kind: str, sent_at: datetime) -> list[tuple[int, str]] | None:
    """(score, absolute URL) for every score of the scale; None when okno has no public address
    (``OKNO_PUBLIC_URL``) or no key to sign with."""
    current = policy()
    if not current.public_url or not current.link_secrets:
        return None
    token = token_for(request_id, sent_at + timedelta(hours=current.answer_hours))
    low, high = SCALES[kind]
    base = current.public_url.rstrip("/")
    return [(score, base + PATH.format(token=token, score=score)) for score in range(low, high + 1)]


def read_token(token: str, now: datetime | None = None) -> int:
    """The survey request the token names; :class:`LinkRefused` when forged (404) or expired (410)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise LinkRefused(404, "invalid")
    request_id, expires = int(parts[0]), int(parts[1])
    if not any(hmac.compare_digest(parts[2], _mac(_key(secret), request_id, expires)) for secret in policy().link_secrets):
        raise LinkRefused(404, "invalid")
    if expires < (now or utcnow()).timestamp():
        raise LinkRefused(410, "expired")
    return request_id
