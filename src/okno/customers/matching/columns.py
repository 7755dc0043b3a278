"""Which CSV column is which person field: common English and Russian names are recognised,
anything else can be mapped explicitly (``--map given_name=first_name,...``)."""

from __future__ import annotations

import re

from okno.customers.matching.fields import ONE_VALUE_FIELDS, RawPerson

KNOWN: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstname", "given_name", "givenname", "forename", "name_first", "имя"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "familyname", "name_last", "фамилия"),
    "full_name": ("full_name", "fullname", "name", "customer_name", "contact_name", "фио", "клиент"),
    "birth_date": ("birth_date", "date_of_birth", "dob", "birthdate", "birthday", "born", "дата_рождения", "др"),
    "phone": ("phone", "phone_number", "mobile", "telephone", "tel", "cell", "soc_sec_id_phone", "телефон", "моб_телефон"),
    "email": ("email", "e_mail", "mail", "email_address", "почта", "электронная_почта"),
    "address": ("address", "street", "address_1", "address1", "street_address", "street_number", "address_2", "address2", "адрес", "улица"),
    "city": ("city", "town", "suburb", "locality", "город"),
    "postcode": ("postcode", "post_code", "zip", "zipcode", "zip_code", "postal_code", "индекс"),
    # one kind of national id per file (map another kind, e.g. a passport number, with --map)
    "id_number": ("id_number", "national_id", "national_id_number", "ssn", "soc_sec_id", "social_security_number", "snils", "снилс"),
}
FIELDS = tuple(KNOWN)
_SEPARATORS = re.compile(r"[\s\-.]+")


def _canon(header: str) -> str:
    return _SEPARATORS.sub("_", header.strip().lower())


def map_columns(headers: list[str], overrides: dict[str, str] | None = None) -> dict[str, list[str]]:
    """``{field: [header, ...]}``; several headers may feed one field (address parts)."""
    mapping: dict[str, list[str]] = {}
    explicit = {_canon(k): v for k, v in (overrides or {}).items()}
    for header in headers:
        canon = _canon(header)
        target = explicit.get(canon) or next((f for f, names in KNOWN.items() if canon in names), None)
        if target in FIELDS:
            mapping.setdefault(target, []).append(header)
    return mapping


def parse_map_option(text: str | None) -> dict[str, str]:
    """``"given_name=first_name,surname=last_name"`` → dict; raises ``ValueError`` on bad input."""
    result: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        column, sep, target = part.partition("=")
        if not sep or target.strip() not in FIELDS:
            raise ValueError(f"bad mapping {part!r}: use column=field with field one of {', '.join(FIELDS)}")
        result[column.strip()] = target.strip()
    return result


def person_from_row(row: dict[str, str], mapping: dict[str, list[str]]) -> RawPerson:
    def joined(field: str) -> str:
        headers = mapping.get(field, ())
        if len(headers) == 1:
            return str(row.get(headers[0]) or "").strip()
        return " ".join(str(row.get(h) or "").strip() for h in headers if str(row.get(h) or "").strip())

    def listed(field: str) -> list[str]:
        return [str(row[h]).strip() for h in mapping.get(field, ()) if str(row.get(h) or "").strip()]

    return RawPerson(
        full_name=joined("full_name"),
        phones=listed("phone"),
        emails=listed("email"),
        **{name: joined(name) for name in ONE_VALUE_FIELDS},
    )
