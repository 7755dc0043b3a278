"""CRM import: rows of people become profiles through the same resolution as live traffic.

Per row: keys that prove identity (phone, e-mail, the CRM id — as the identity rules say for
source ``crm_import``) attach the row to their owner; keys owned by two different customers
are recorded as a conflict (never merged); a row with no known key is scored by the matcher —
above the auto threshold it joins its match, above the review threshold a suggestion is
queued, otherwise a new profile is created. Attributes follow the merge policy: an existing
different value stays and the imported one is kept beside it with its source.

Rows are resolved in order within a batch (the CLI passes 500 at a time, one transaction
each): the stored side is read in a few bulk statements, what earlier rows did is kept in
memory (:mod:`.import_batch`, :mod:`.matching.pending`) so each row sees it exactly as if it had
been written, and the batch is written in bulk at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.identities import IdentityKey, InvalidIdentity, normalize_identity
from okno.customers.import_batch import ImportBatch, TouchedCustomer
from okno.customers.matching.columns import person_from_row
from okno.customers.matching.fields import RawPerson, comparison_fields
from okno.customers.matching.model import MatchModel
from okno.customers.matching.profiles import PERSON_ATTRIBUTES, UNVERIFIED
from okno.customers.matching.realtime import current_model
from okno.customers.merge import ALTERNATIVES
from okno.customers.rules import rule_book

SOURCE = "crm_import"


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


@dataclass
class _Row:
    number: int
    person: RawPerson
    proven: list[IdentityKey]
    evidence: list[IdentityKey]
    attributes: dict[str, str]
    fields: dict  # the matcher's comparison fields


async def import_rows(
    session: AsyncSession,
    rows: list[dict[str, str]],
    mapping: dict[str, list[str]],
    *,
    id_column: str | None,
    first_row_number: int,
    default_region: str = "RU",
) -> ImportReport:
    """Resolves ``rows`` in order, each seeing what the rows before it did, and writes the
    whole batch in bulk statements at the end (the caller's transaction commits it)."""
    report = ImportReport(rows=len(rows))
    book = await rule_book(session)
    model = await current_model(session)
    parsed: list[_Row] = []
    for offset, row in enumerate(rows):
        person = person_from_row(row, mapping)
        proven, evidence = _keys(row, person, id_column, default_region, book)
        attributes = _attributes(person)
        if not proven and not evidence and not (attributes or person.full_name):
            report.skipped.append(f"row {first_row_number + offset}: no usable name, phone, e-mail or id")
            continue
        parsed.append(_Row(first_row_number + offset, person, proven, evidence, attributes, comparison_fields(person, default_region=default_region)))
    batch = await ImportBatch.open(session, {k for r in parsed for k in r.proven}, rows=len(parsed))
    await batch.matcher.prefetch(session, [r.fields for r in parsed if r.fields and not batch.owners(r.proven)])
    for position, row in enumerate(parsed):
        await _resolve(session, batch, row, model, report, rows_left=len(parsed) - position)
    await batch.write(session)
    return report


async def _resolve(session: AsyncSession, batch: ImportBatch, row: _Row, model: MatchModel, report: ImportReport, *, rows_left: int) -> None:
    """One row: attach by a proven key, else by a match above the auto threshold, else create
    (queueing suggestions above the review threshold); then merge its attributes and keys in."""
    owners = batch.owners(row.proven)
    distinct = list(dict.fromkeys(owners.values()))
    if distinct:
        customer_id = distinct[0]
        report.attached_by_key += 1
        clashes = [(k, owners[k], customer_id) for k in row.proven if k in owners and owners[k] != customer_id]
        batch.clashes += clashes
        report.conflicts += len(clashes)
    else:
        found = await batch.matcher.score(session, row.fields, model) if row.fields else []
        best = found[0] if found else None
        if best and model.auto_threshold is not None and best.score >= model.auto_threshold:
            customer_id = best.customer_id
            report.attached_by_match += 1
        else:
            customer_id = await batch.create(session, _name(row.person), rows_left=rows_left)
            report.created += 1
            suggestions = [c for c in found if c.score >= model.review_threshold]
            if suggestions:
                batch.suggestions.append((customer_id, suggestions))
                report.suggested += 1
    customer = await batch.customer(session, customer_id)
    _merge_attributes(customer, row)
    batch.add_keys(customer, [k for k in row.proven if k not in owners], source=SOURCE)
    batch.note(customer_id, "customer.imported", {"row": row.number, "attributes": sorted(row.attributes)})
    batch.refile(customer)


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


def _name(person: RawPerson) -> str:
    return person.full_name or " ".join(p for p in (person.first_name, person.last_name) if p)


def _merge_attributes(customer: TouchedCustomer, row: _Row) -> None:
    """The merge policy: a new attribute is taken, a different value is kept beside the
    existing one with its source; keys that prove nothing are kept as evidence."""
    merged = dict(customer.attributes)
    alternatives = {k: list(v) for k, v in (merged.get(ALTERNATIVES) or {}).items()}
    for key, value in row.attributes.items():
        if key not in merged:
            merged[key] = value
        elif merged[key] != value and {"value": value, "source": SOURCE} not in alternatives.get(key, []):
            alternatives.setdefault(key, []).append({"value": value, "source": SOURCE})
    known = list(merged.get(UNVERIFIED) or [])
    known += [str(k) for k in row.evidence if str(k) not in known]
    if known:
        merged[UNVERIFIED] = known
    if alternatives:
        merged[ALTERNATIVES] = alternatives
    customer.attributes = merged
    name = _name(row.person)
    if name and not customer.name:
        customer.name = name[:300]
