"""A person record folded into the matcher's comparison fields, and its blocking keys.

The same functions serve the real-time path (a stored customer's profile) and the batch path
(rows of a CSV file), so both compare exactly the same things.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from okno.customers.identities import InvalidIdentity, normalize_email, normalize_phone
from okno.customers.names import latin_key, name_key, split_full_name

# A blocking key shared by more profiles than this is too common to narrow anything down.
MAX_BLOCK_SIZE = 300
MAX_KEY_LENGTH = 96  # longer keys are cut to this many characters
# One field alone (given name, surname, birth date, postcode) is a key only where its value is
# rare: a block of at most this many profiles (as Splink's single-field blocking rules, bounded).
# Two records damaged in two fields at once still meet when one intact field is rare enough.
SMALL_BLOCK_SIZE = 50
SINGLE_FIELD_KEYS = {"g": "first_name", "s": "last_name", "d": "birth_date", "pc": "postcode", "c": "city"}
MAX_SINGLE_VALUE = 80  # longer values file no single-field key


def block_cap(key: str) -> int:
    """The most profiles a block of this key may hold and still narrow anything down."""
    return SMALL_BLOCK_SIZE if key.partition(":")[0] in SINGLE_FIELD_KEYS else MAX_BLOCK_SIZE


def key_weight(block_size: int) -> int:
    """What sharing a key of a block of ``block_size`` profiles says for one of them: a key
    spreads about :data:`MAX_BLOCK_SIZE` over its members (an integer, so every backend and
    Python rank alike). A candidate's rank is the sum over the keys it shares; since each key
    gives out at most :data:`MAX_BLOCK_SIZE` in all, a member of a crowd outranks a profile
    sharing one rare key only by sharing several keys with the record."""
    return MAX_BLOCK_SIZE // block_size

_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y%m%d", "%d-%m-%Y", "%Y/%m/%d", "%m/%d/%Y")


@dataclass
class RawPerson:
    """What a source knows about a person, as written."""

    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    birth_date: str = ""
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    city: str = ""
    address: str = ""
    postcode: str = ""
    id_number: str = ""  # a national id, social security or other document number


# RawPerson's one-value fields: stored as customer attributes under these names, one column each
# in the batch table and the comparison frame (a field added to the matcher is added here once)
ONE_VALUE_FIELDS = ("first_name", "last_name", "birth_date", "city", "address", "postcode", "id_number")


def comparison_fields(person: RawPerson, *, default_region: str = "RU") -> dict:
    """``{"first_name": "yulya", "last_name": "ivanova", "birth_date": "1990-04-01", "phones": [...], ...}``;
    empty fields are left out (missing is its own agreement level)."""
    first, last = latin_key(person.first_name), latin_key(person.last_name)
    if person.full_name and not (first or last):
        first, last = split_full_name(person.full_name)
    fields: dict = {
        "first_name": first,
        "last_name": last,
        "birth_date": normalize_date(person.birth_date),
        "city": latin_key(person.city),
        "address": latin_key(person.address),
        "postcode": comparable_postcode(person.postcode),
        "id_number": comparable_id(person.id_number),
        "phones": sorted({p for p in (comparable_phone(x, default_region) for x in person.phones) if p}),
        "emails": sorted({e for e in (comparable_email(x) for x in person.emails) if e}),
    }
    return {k: v for k, v in fields.items() if v}


def blocking_keys(fields: dict) -> set[str]:
    """Keys under which a profile is filed; two profiles are compared only if they share one.
    Each key pairs a rarely-typoed part with another so that blocks stay small at millions."""
    keys: set[str] = set()
    first, last = fields.get("first_name", ""), fields.get("last_name", "")
    born = fields.get("birth_date", "")
    for phone in fields.get("phones", ()):
        keys.add(f"p:{phone}")
    for email in fields.get("emails", ()):
        keys.add(f"e:{email}")
    if first and last:  # the two name keys sorted: first/last swapped meet in the same block
        names = ":".join(sorted((name_key(first), name_key(last))))
        if born:  # the year, and the day and month: one typo in the date leaves one of them
            keys.add(f"n:{names}:{born[:4]}")
            keys.add(f"nd:{names}:{born[5:]}")
        else:
            keys.add(f"nn:{names}")
        if fields.get("city"):
            keys.add(f"nc:{names}:{fields['city']}")  # whatever became of the birth date and postcode
    if born:
        keys.add(f"b:{born}:{(last or first or '?')[0]}")
        if first and last:
            keys.add(f"bf:{born}:{first[0]}")  # a new or misspelt surname
        if first:
            keys.add(f"fb:{name_key(first)}:{born}")  # the same person under a new or misspelt surname
    if fields.get("postcode") and (last or first):
        keys.add(f"z:{fields['postcode']}:{name_key(last or first)}")
        if first and last:
            keys.add(f"fz:{fields['postcode']}:{name_key(first)}")  # a new or misspelt surname, whatever the birth date says
    if fields.get("address"):
        keys.add(f"a:{' '.join(sorted(fields['address'].split()))}")  # one address: typos in names and dates alike
    if born and fields.get("postcode"):
        keys.add(f"bz:{born}:{fields['postcode']}")  # whatever became of the names (typos, swaps, a new surname)
    if fields.get("id_number"):
        keys.add(f"i:{fields['id_number']}")
    for prefix, name in SINGLE_FIELD_KEYS.items():
        if fields.get(name) and len(fields[name]) <= MAX_SINGLE_VALUE:
            keys.add(f"{prefix}:{fields[name]}")  # used only where rare (:func:`block_cap`)
    return {k[:MAX_KEY_LENGTH] for k in keys}


def filed_keys(fields: dict) -> set[str]:
    """:func:`blocking_keys` as ``match_blocks`` stores and searches them: each key blinded
    (its kind prefix, then a keyed HMAC of the whole key), so no phone, e-mail, birth date or id
    number sits in the table; equal keys still meet."""
    return {filed_key(key) for key in blocking_keys(fields)}


def filed_keys_of(records: Iterable[dict]) -> list[set[str]]:
    """:func:`filed_keys` of many records at once: each distinct key is blinded once, in one
    batch (a bulk load files millions of keys, many of them shared by several records)."""
    from okno.kit import pii

    plain = [blocking_keys(fields) for fields in records]
    distinct = list({key for keys in plain for key in keys})
    blinded = dict(zip(distinct, pii.keys().tokens("block", distinct), strict=True))
    return [{f"{key.partition(':')[0]}:{blinded[key]}" for key in keys} for keys in plain]


def filed_key(key: str) -> str:
    """``"p:+79161234567"`` → ``"p:<base64url of the keyed HMAC of the whole key>"``."""
    from okno.kit import pii  # here, not at the top: a file dedupe never blinds a key and need not load the keys' settings

    return f"{key.partition(':')[0]}:{pii.keys().token('block', key)}"


_NOT_DIGIT = re.compile(r"\D+")
_NONZERO_DIGIT = re.compile(r"[1-9]")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DOTTED = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")
_RU_MOBILE = re.compile(r"\+?[78][\s(]*9\d{2}[\s)\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}")


def normalize_date(raw: str) -> str:
    text = (raw or "").strip()
    if not text:
        return ""
    if (iso := _ISO.fullmatch(text)) or (dotted := _DOTTED.fullmatch(text)):  # the common shapes, without strptime
        y, m, d = iso.groups() if iso else dotted.groups()[::-1]  # type: ignore[union-attr]
        try:
            parsed = date(int(y), int(m), int(d))
        except ValueError:
            return ""
        return parsed.isoformat() if date(1900, 1, 1) <= parsed <= date(2100, 1, 1) else ""
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text[:10] if fmt == "%Y-%m-%d" else text, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
        return parsed.isoformat() if date(1900, 1, 1) <= parsed <= date(2100, 1, 1) else ""
    return ""


def comparable_postcode(raw: str) -> str:
    return _NOT_ALNUM.sub("", raw).upper() if raw else ""


def comparable_id(raw: str) -> str:
    """An id number's letters and digits, upper-cased (``"123-456 78"`` → ``"12345678"``);
    ``""`` when it has no digit other than 0 (``"n/a"``, ``"000-000"``)."""
    text = _NOT_ALNUM.sub("", raw).upper() if raw else ""
    return text if _NONZERO_DIGIT.search(text) else ""


def comparable_phone(raw: str, region: str) -> str:
    """E.164, or ``""`` when ``raw`` is no phone number."""
    if region == "RU" and _RU_MOBILE.fullmatch(raw.strip()):  # +7/8 9xx…: skip the (slow) full parser
        return "+7" + _NOT_DIGIT.sub("", raw)[1:]
    try:
        return normalize_phone(raw, region)
    except InvalidIdentity:
        return ""


def comparable_email(raw: str) -> str:
    """The canonical mailbox, or ``""`` when ``raw`` is no e-mail address."""
    try:
        return normalize_email(raw)
    except InvalidIdentity:
        return ""
