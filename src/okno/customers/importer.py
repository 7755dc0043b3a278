"""CRM import: rows of people become profiles through the same resolution as live traffic.

Per row: keys that prove identity (phone, e-mail, the CRM id — as the identity rules say for
source ``crm_import``) attach the row to their owner; keys owned by two different customers
are recorded as a conflict (never merged); a row with no known key is scored by the matcher —
above the auto threshold it joins its match, above the review threshold a suggestion is
queued, otherwise a new profile is created. Attributes follow the merge policy: an existing
different value stays and the imported one is kept beside it with its source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.conflicts import record_conflicts
from okno.customers.identities import IdentityKey, InvalidIdentity, normalize_identity
from okno.customers.matching.columns import person_from_row
from okno.customers.matching.fields import RawPerson, comparison_fields
from okno.customers.matching.profiles import UNVERIFIED, refresh_profiles
from okno.customers.matching.realtime import current_model, score_record
from okno.customers.matching.suggestions import queue_suggestions
from okno.customers.merge import ALTERNATIVES
from okno.customers.resolution import owners_of
from okno.customers.rules import rule_book
from okno.kit.time import utcnow
from okno.models import Customer, Identity, TimelineEvent

SOURCE = "crm_import"
PERSON_ATTRIBUTES = ("first_name", "last_name", "birth_date", "city", "address", "postcode")


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    attached_by_key: int = 0
    attached_by_match: int = 0
    suggested: int = 0
    conflicts: int = 0
    skipped: list[str] = field(default_factory=list)  # "row 12: no usable name, phone, e-mail or id"

    def add(self, other: ImportReport) -> None:
        for name in ("rows", "created", "attached_by_key", "attached_by_match", "suggested", "conflicts"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped.extend(other.skipped)


async def import_rows(
    session: AsyncSession,
    rows: list[dict[str, str]],
    mapping: dict[str, list[str]],
    *,
    id_column: str | None,
    first_row_number: int,
    default_region: str = "RU",
) -> ImportReport:
    report = ImportReport(rows=len(rows))
    book = await rule_book(session)
    model = await current_model(session)
    for offset, row in enumerate(rows):
        number = first_row_number + offset
        person = person_from_row(row, mapping)
        proven, evidence = _keys(row, person, id_column, default_region, book)
        attributes = _attributes(person)
        if not proven and not evidence and not (attributes or person.full_name):
            report.skipped.append(f"row {number}: no usable name, phone, e-mail or id")
            continue
        owners = await _owners(session, proven)
        distinct = list(dict.fromkeys(owners.values()))
        if distinct:
            customer_id = distinct[0]
            report.attached_by_key += 1
            clashes = [(k, owners[k], customer_id) for k in proven if k in owners and owners[k] != customer_id]
            if clashes:
                await record_conflicts(session, clashes)
                report.conflicts += len(clashes)
        else:
            fields = comparison_fields(person, default_region=default_region)
            found = await score_record(session, fields, model=model) if fields else []
            best = found[0] if found else None
            if best and model.auto_threshold is not None and best.score >= model.auto_threshold:
                customer_id = best.customer_id
                report.attached_by_match += 1
            else:
                customer_id = await _create(session, person)
                report.created += 1
                suggestions = [c for c in found if c.score >= model.review_threshold]
                if suggestions:
                    await queue_suggestions(session, customer_id, suggestions)
                    report.suggested += 1
        await _apply(session, customer_id, person, attributes, [k for k in proven if k not in owners], evidence, number)
        await refresh_profiles(session, [customer_id])
    return report


def _keys(row: dict[str, str], person: RawPerson, id_column: str | None, region: str, book) -> tuple[list[IdentityKey], list[IdentityKey]]:  # noqa: ANN001
    proven: list[IdentityKey] = []
    evidence: list[IdentityKey] = []
    raw = [("phone", p) for p in person.phones] + [("email", e) for e in person.emails]
    if id_column and (row.get(id_column) or "").strip():
        raw.insert(0, ("crm", row[id_column].strip()))
    for kind, value in raw:
        try:
            key = normalize_identity(kind, value, default_region=region)
        except InvalidIdentity:
            continue
        target = proven if kind == "crm" or book.proves(kind, SOURCE) else evidence
        if key not in target:
            target.append(key)
    return proven, evidence


def _attributes(person: RawPerson) -> dict[str, str]:
    return {name: getattr(person, name) for name in PERSON_ATTRIBUTES if getattr(person, name)}


async def _owners(session: AsyncSession, keys: list[IdentityKey]) -> dict[IdentityKey, int]:
    if not keys:
        return {}
    await session.flush()  # identities added by earlier rows of this chunk must be visible to the Core query
    found = await owners_of(session, set(keys))  # one statement, the same lookup as live traffic
    return {key: found[key].id for key in keys if key in found and found[key].id is not None}  # strongest key first


async def _create(session: AsyncSession, person: RawPerson) -> int:
    name = person.full_name or " ".join(p for p in (person.first_name, person.last_name) if p)
    customer = Customer(name=name[:300], attributes={})
    session.add(customer)
    await session.flush()
    return customer.id


async def _apply(
    session: AsyncSession, customer_id: int, person: RawPerson, attributes: dict, new_keys: list[IdentityKey], evidence: list[IdentityKey], number: int
) -> None:
    customer = await session.get(Customer, customer_id)
    assert customer is not None
    merged = dict(customer.attributes or {})
    alternatives = {k: list(v) for k, v in (merged.get(ALTERNATIVES) or {}).items()}
    for key, value in attributes.items():
        if key not in merged:
            merged[key] = value
        elif merged[key] != value and {"value": value, "source": SOURCE} not in alternatives.get(key, []):
            alternatives.setdefault(key, []).append({"value": value, "source": SOURCE})
    known = list(merged.get(UNVERIFIED) or [])
    known += [str(k) for k in evidence if str(k) not in known]
    if known:
        merged[UNVERIFIED] = known
    if alternatives:
        merged[ALTERNATIVES] = alternatives
    customer.attributes = merged
    name = person.full_name or " ".join(p for p in (person.first_name, person.last_name) if p)
    if name and not customer.name:
        customer.name = name[:300]
    now = utcnow()
    for key in new_keys:
        session.add(Identity(customer_id=customer_id, kind=key.kind, value=key.value, created_at=now))
        session.add(TimelineEvent(customer_id=customer_id, kind="identity.added", data={"identity": str(key), "source": SOURCE}, occurred_at=now))
    session.add(TimelineEvent(customer_id=customer_id, kind="customer.imported", data={"row": number, "attributes": sorted(attributes)}, occurred_at=now))
    await session.flush()
