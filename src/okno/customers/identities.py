"""Identity keys and their normalisation: every key is normalised before it is stored or compared.

The core keeps phone numbers, e-mail addresses and opaque ids (the CRM's); channel adapters
declare the kinds they bring (``okno.customers.identity_kinds``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from okno.customers import identity_kinds
from okno.customers.email_rules import canonical_mailbox
from okno.customers.identity_kinds import IdentityKindSpec, Rule
from okno.kit.errors import Invalid

MAX_VALUE_LENGTH = 320
_WHITESPACE = re.compile(r"\s")


class IdentityKind(enum.StrEnum):
    """The kinds the core itself knows; channels declare theirs (``identity_kinds.declare``)."""

    phone = "phone"
    email = "email"
    crm = "crm"  # the id a CRM import gives a person


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
        raise InvalidIdentity("not a phone number: %(raw)r", raw=raw)
    region = default_region.upper()
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) >= 7 and _DIGITS_AND_SEPARATORS.fullmatch(text):  # "+7 (903) 555-01-01": parsed once per number
        number = ("+" if text[0] == "+" else "") + digits
        result = (_russian_e164(number) if region == "RU" else None) or _e164(number, region)
    else:
        result = _e164(text, region)
    if result is None:
        raise InvalidIdentity("not a phone number: %(raw)r", raw=raw)
    if not result:
        raise InvalidIdentity("not a possible phone number: %(raw)r", raw=raw)
    return result


# a number written with digits and separators only means what its digits (and a leading plus)
# say: phonenumbers drops these separators, so such spellings share one cache entry (from 7
# digits on: shorter strings are refused by how they are punctuated; tests/test_identities.py)
_DIGITS_AND_SEPARATORS = re.compile(r"\+?[0-9 ()\-.]+")
_NOT_DIGIT = re.compile(r"[^0-9]")


# the first digit of a Russian (or Kazakh: +7 is shared) ten-digit number written "+7…" or "8…"
# for which phonenumbers gives "+7" + the ten digits (tests/test_identities.py checks every
# three-digit start of these against phonenumbers; "810…" is the international prefix)
_RUSSIAN_FIRST_DIGITS = frozenset("3456789")


def _russian_e164(number: str) -> str | None:
    """E.164 of the commonest spellings in region RU without phonenumbers (``number`` is an
    optional plus and ASCII digits): ``+7`` or ``8`` and ten digits starting with 3-9. None for
    anything else (phonenumbers decides)."""
    if len(number) == 12 and number[1] == "7" and number[0] == "+" and number[2] in _RUSSIAN_FIRST_DIGITS:
        return number
    if len(number) == 11 and number[0] == "8" and number[1] in _RUSSIAN_FIRST_DIGITS:
        return "+7" + number[1:]
    return None


@lru_cache(maxsize=65_536)  # phonenumbers is slow; the same numbers come back in many spellings
def _e164(text: str, region: str) -> str | None:
    """E.164, "" for a number that can't exist, None for text that is no number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return ""
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
        raise InvalidIdentity("not an e-mail address: %(raw)r", raw=raw)
    local, domain = canonical_mailbox(local, domain)
    return f"{local}@{domain}" if local else text


def normalize_opaque(raw: str) -> str:
    text = raw.strip()
    if not text or len(text) > MAX_VALUE_LENGTH or any(c.isspace() or not c.isprintable() for c in text):
        raise InvalidIdentity("not a valid identifier: %(raw)r", raw=raw)
    return text


def normalize_identity(kind: str, raw: str, *, default_region: str = "RU") -> IdentityKey:
    return _normalize_cached(kind, raw, default_region)


@lru_cache(maxsize=65_536)  # a pure function on the hot path; senders repeat (phonenumbers is slow)
def _normalize_cached(kind: str, raw: str, default_region: str) -> IdentityKey:
    name = kind.strip().lower()
    spec = identity_kinds.identity_kind(name)
    if spec is None:
        allowed = ", ".join(identity_kinds.known_kinds())
        raise InvalidIdentity("unknown identity kind %(kind)r (one of: %(allowed)s)", kind=kind, allowed=allowed)
    try:
        return IdentityKey(name, spec.normalise(raw, default_region))
    except InvalidIdentity:
        raise
    except ValueError as exc:  # a declared normaliser may refuse with a plain ValueError
        raise InvalidIdentity("not a valid %(name)s identity: %(raw)r (%(exc)s)", name=name, raw=raw, exc=exc) from exc


def forget_normalised() -> None:
    """Drops cached keys after the rules they were normalised with changed."""
    _normalize_cached.cache_clear()


def phone_kind(raw: str, default_region: str) -> str:
    return normalize_phone(raw, default_region)


def email_kind(raw: str, default_region: str) -> str:
    return normalize_email(raw)


def opaque_kind(raw: str, default_region: str) -> str:
    """The normaliser for ids that are compared as given (messenger user ids, CRM ids…)."""
    return normalize_opaque(raw)


identity_kinds.on_change(forget_normalised)
identity_kinds.declare(
    "okno.core",
    kinds=(
        IdentityKindSpec(IdentityKind.phone.value, phone_kind, "a phone number, stored as E.164"),
        IdentityKindSpec(IdentityKind.email.value, email_kind, "an e-mail address, provider aliases folded"),
        IdentityKindSpec(IdentityKind.crm.value, opaque_kind, "a CRM's own id for the person"),
    ),
    rules=(
        Rule("phone", "caller_id", True, "a caller id is a phone number"),
        Rule("email", "verified", True, "an e-mail address confirmed by a link or code"),
        Rule("phone", "crm_import", True, "phone from a CRM import (the CRM vouches for it)"),
        Rule("email", "crm_import", True, "e-mail from a CRM import (the CRM vouches for it)"),
    ),
)


def parse_identity(text: str, *, default_region: str = "RU") -> IdentityKey:
    """``"phone:8 (916) 123-45-67"`` → ``IdentityKey("phone", "+79161234567")``."""
    kind, sep, value = text.partition(":")
    if not sep:
        raise InvalidIdentity("identity must look like kind:value, got %(text)r", text=text)
    return normalize_identity(kind, value, default_region=default_region)
