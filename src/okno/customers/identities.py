"""Identity keys and their normalisation: every key is normalised before it is stored or compared."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from okno.customers.email_rules import canonical_mailbox
from okno.kit.errors import Invalid

MAX_VALUE_LENGTH = 320
_WHITESPACE = re.compile(r"\s")


class IdentityKind(enum.StrEnum):
    phone = "phone"
    email = "email"
    telegram = "telegram"
    whatsapp = "whatsapp"
    vk = "vk"
    max = "max"
    web = "web"
    crm = "crm"
    # An integrator's own id, scoped by the API channel it came through: ``<channel_id>:<id>``.
    external = "external"


class InvalidIdentity(Invalid):
    pass


@dataclass(frozen=True, slots=True)
class IdentityKey:
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def normalize_phone(raw: str, default_region: str = "RU") -> str:
    """E.164 (``+79161234567``); national formats use ``default_region`` (RU handles the ``8…`` trunk prefix)."""
    text = raw.strip()
    if not text or len(text) > 40:
        raise InvalidIdentity(f"not a phone number: {raw!r}")
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    text = raw.strip().lower()
    local, sep, domain = text.rpartition("@")
    if (
        not sep
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or _WHITESPACE.search(text) is not None
        or len(text) > MAX_VALUE_LENGTH
    ):
        raise InvalidIdentity(f"not an e-mail address: {raw!r}")
    local, domain = canonical_mailbox(local, domain)
    return f"{local}@{domain}" if local else text


def normalize_opaque(raw: str) -> str:
    text = raw.strip()
    if not text or len(text) > MAX_VALUE_LENGTH or any(c.isspace() or not c.isprintable() for c in text):
        raise InvalidIdentity(f"not a valid identifier: {raw!r}")
    return text


def normalize_identity(kind: str, raw: str, *, default_region: str = "RU") -> IdentityKey:
    return _normalize_cached(kind, raw, default_region)


@lru_cache(maxsize=65_536)  # a pure function on the hot path; senders repeat (phonenumbers is slow)
def _normalize_cached(kind: str, raw: str, default_region: str) -> IdentityKey:
    try:
        known = IdentityKind(kind.strip().lower())
    except ValueError as exc:
        allowed = ", ".join(k.value for k in IdentityKind)
        raise InvalidIdentity(f"unknown identity kind {kind!r} (one of: {allowed})") from exc
    if known is IdentityKind.phone:
        return IdentityKey(known.value, normalize_phone(raw, default_region))
    if known is IdentityKind.email:
        return IdentityKey(known.value, normalize_email(raw))
    return IdentityKey(known.value, normalize_opaque(raw))


def forget_normalised() -> None:
    """Drops cached keys after the rules they were normalised with changed."""
    _normalize_cached.cache_clear()


def parse_identity(text: str, *, default_region: str = "RU") -> IdentityKey:
    """``"phone:8 (916) 123-45-67"`` → ``IdentityKey("phone", "+79161234567")``."""
    kind, sep, value = text.partition(":")
    if not sep:
        raise InvalidIdentity(f"identity must look like kind:value, got {text!r}")
    return normalize_identity(kind, value, default_region=default_region)
