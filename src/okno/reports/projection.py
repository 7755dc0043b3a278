"""The analytics projection: bus subscribers that keep the report tables (``models/reports.py``)
in step with what happens to conversations and surveys.

One subscriber, :func:`project_event`, takes every topic it needs; each event is applied once
(its id goes into ``report_seen_events`` in the same transaction, so a redelivery is a no-op).
Times come from the stored rows the event names (a message's own ``created_at``) or the event's
own time, never from when the relay got round to it, so projection lag changes no figure.
Durations are whole seconds (rounded), wall-clock and business time on the conversation's team's
calendar (``okno.sla``: no calendar means around the clock).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import BigInteger, String, any_, bindparam, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.kit.bulk import driver_sql
from okno.kit.db import insert_ignoring_duplicates
from okno.models import (
    FINISHED_TYPES,
    BusinessHours,
    Channel,
    Conversation,
    Direction,
    Message,
    Metric,
    ReportConversation,
    ReportConversationChannel,
    ReportResponse,
    ReportSurvey,
    SlaTarget,
    TargetState,
    Team,
    TimelineEvent,
)
from okno.reports.repeat_contacts import link_many, link_repeat_contacts
from okno.sla.calendar import BusinessCalendar
from okno.sla.hours import business_calendar

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

TOPICS = (
    "conversation.opened",
    "conversation.routed",
    "conversation.assigned",
    "conversation.escalated",
    "conversation.status_changed",
    "message.received",
    "message.queued",
    "customer.merged",
    "survey.sent",
    "survey.answered",
    "team.changed",
    "sla.calendar_changed",
)
FINISHED = frozenset(t.value for t in FINISHED_TYPES)
# set by ``okno.reports.rebuild`` while it replays stored events: a fact row starts as the
# conversation was when it opened (no team, nobody assigned), not as it is now
rebuilding: ContextVar[bool] = ContextVar("okno_reports_rebuilding", default=False)
SLA_RESULTS = (TargetState.met.value, TargetState.missed.value)


async def project_event(deps: SubscriberDeps, event: Event) -> None:
    await project_events(deps, [event])


async def project_events(deps: SubscriberDeps, events: list[Event]) -> None:
    """Applies the events in order in one transaction (the relay hands a whole batch to this, the
    batch form of :func:`project_event`): the events already applied are skipped, and what they
    read (facts, messages, SLA verdicts, survey rows) is read once, in one statement each, up
    front. Nothing is flushed between events, so the round's writes go out together; the
    repeat-contact links of the conversations resolved are made after the round's events
    (``okno.reports.repeat_contacts.link_many``) when no two of its facts share a customer."""
    async with deps.db.transaction() as session:
        await rebuild_lock(session)
        fresh = await _claim(session, [e.id for e in events])
        # the others were applied already (at-least-once delivery), or a rebuild runs and applies
        # them itself (okno.reports.rebuild): then nothing was claimed
        events = [e for e in events if e.id in fresh]
        if not events:
            return
        window = timedelta(days=deps.settings.repeat_contact_days)
        with session.no_autoflush:
            quiet = await _read_ahead(session, events)
            customers = [f.customer_id for f in session.info.get(_FACTS, {}).values() if f is not None]
            customers += quiet.customers.values()
            if len(set(customers)) == len(customers):  # one fact a customer: links can wait
                session.info[_RESOLVED] = []
            for event in events:
                if event.id not in quiet.events:
                    await APPLY[event.topic](session, event, window)
            resolved = session.info.pop(_RESOLVED, [])
        if resolved:
            await session.flush()
            await link_many(session, resolved, window)


# the claim and the rebuild check in one statement: while a rebuild runs (a report_rebuilds row
# not finished) nothing is claimed, so the batch is left to the rebuild as a whole
_NO_REBUILD = "WHERE NOT EXISTS (SELECT 1 FROM report_rebuilds WHERE finished_at IS NULL)"
_CLAIM_TAIL = "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
_CLAIM_SQLITE = f"INSERT INTO report_seen_events (event_id) SELECT value FROM json_each(?) {_NO_REBUILD} {_CLAIM_TAIL}"
_CLAIM_POSTGRESQL = text(
    f"INSERT INTO report_seen_events (event_id) SELECT unnest(CAST(:ids AS BIGINT[])) {_NO_REBUILD} {_CLAIM_TAIL}"
)


async def _claim(session: AsyncSession, event_ids: list[int]) -> set[int]:
    """Records the events as applied (``report_seen_events``); the ids that were not yet, none
    while a rebuild runs. One statement of fixed text whatever the batch's size (the ids in one
    bound value: a JSON array on SQLite, an array on PostgreSQL), run on SQLite by the driver
    (``kit.bulk.driver_sql``: no SQLAlchemy statement, execution context or result at all)."""
    if session.bind.dialect.name == "sqlite":
        return {row[0] for row in await driver_sql(session, _CLAIM_SQLITE, (orjson.dumps(event_ids).decode(),))}
    return set(await session.scalars(_CLAIM_POSTGRESQL, {"ids": event_ids}))


# session.info keys: the transaction's facts (locked), messages, SLA verdicts and survey rows, by
# id, read ahead for a batch; the facts resolved whose repeat-contact links wait for the round's end
_FACTS, _MESSAGES, _VERDICTS, _SURVEYS = "okno.reports.facts", "okno.reports.messages", "okno.reports.verdicts", "okno.reports.surveys"
_RESOLVED = "okno.reports.resolved"
_FACT_TOPICS = frozenset({
    "conversation.opened", "conversation.routed", "conversation.assigned", "conversation.escalated",
    "conversation.status_changed", "message.received", "message.queued",
})
_MESSAGE_TOPICS = frozenset({"message.received", "message.queued"})
_VERDICT_TOPICS = frozenset({"conversation.status_changed", "message.queued"})
_SURVEY_TOPICS = frozenset({"survey.sent", "survey.answered"})


@dataclass
class _Quiet:
    """A batch's events that change no fact (:func:`_quiet_candidates`), and the conversations
    whose facts were left unloaded because of them, with their customers."""

    events: set[int] = field(default_factory=set)
    customers: dict[int, int] = field(default_factory=dict)  # conversation id -> customer id


async def _read_ahead(session: AsyncSession, events: list[Event]) -> _Quiet:
    conversation_ids = sorted({e.payload["conversation_id"] for e in events if e.topic in _FACT_TOPICS})
    surveyed = sorted({e.payload["conversation_id"] for e in events if e.topic in _SURVEY_TOPICS})
    quiet = _Quiet()
    if conversation_ids or surveyed:
        candidates, fresh = _quiet_candidates(events, surveyed), _fresh_candidates(events, surveyed)
        await _load_facts(session, conversation_ids, also=surveyed, quiet=quiet, candidates=candidates, fresh=fresh)
    message_ids = [e.payload["message_id"] for e in events if e.topic in _MESSAGE_TOPICS and e.id not in quiet.events]
    if message_ids:
        messages: dict[int, Any] = session.info.setdefault(_MESSAGES, {})
        messages.update((row.id, row) for row in await _MESSAGES_BY_ID.rows(session, message_ids))
    verdicts = sorted({e.payload["conversation_id"] for e in events if e.topic in _VERDICT_TOPICS})
    if verdicts:
        found: dict[int, list[tuple[str, str]]] = session.info.setdefault(_VERDICTS, {})
        found.update((cid, []) for cid in verdicts)
        for conversation_id, metric, state in await _VERDICTS_OF.execute(session, verdicts):
            found[conversation_id].append((metric, state))
    if surveyed:
        surveys: dict[tuple[int, int], ReportSurvey | None] = session.info.setdefault(_SURVEYS, {})
        keys = {(e.payload["survey_id"], e.payload["conversation_id"]) for e in events if e.topic in _SURVEY_TOPICS}
        surveys.update(dict.fromkeys(keys))
        # both primary-key columns named, so the key is searched (conversation_id alone is no index's
        # first column, and SQLite scans for a row-value IN); pairs not asked for are left out
        query = select(ReportSurvey).where(
            ReportSurvey.survey_id.in_(sorted({k[0] for k in keys})), ReportSurvey.conversation_id.in_(surveyed)
        )
        for survey in await session.scalars(query.order_by(ReportSurvey.survey_id, ReportSurvey.conversation_id).with_for_update()):
            if (survey.survey_id, survey.conversation_id) in keys:
                surveys[(survey.survey_id, survey.conversation_id)] = survey
    return quiet


def _quiet_candidates(events: list[Event], surveyed: list[int]) -> dict[int, list[Event]]:
    """Conversations whose only events in the batch are customers' messages (``message.received``,
    most of an inbound load), with those events. Such a message changes its fact only when it comes
    by a channel other than the conversation's first or starts a wait (:func:`on_message_received`),
    which a few of the fact's columns tell (:func:`_changes_nothing`) without loading it whole."""
    received: dict[int, list[Event]] = {}
    others: set[int] = set(surveyed)
    for event in events:
        if event.topic == "message.received":
            received.setdefault(event.payload["conversation_id"], []).append(event)
        elif event.topic in _FACT_TOPICS:
            others.add(event.payload["conversation_id"])
    return {cid: its for cid, its in received.items() if cid not in others}


def _fresh_candidates(events: list[Event], surveyed: list[int]) -> dict[int, list[Event]]:
    """Conversations that open in the batch and whose only other events in it are customers'
    messages (``conversation.opened``, then ``message.received``: a new conversation from the
    intake), with those events. If the projection has no fact for one yet, its fact is
    written once as those events leave it (:func:`_fresh_facts`) instead of made, loaded and changed
    through the ORM."""
    fresh: dict[int, list[Event]] = {}
    others: set[int] = set(surveyed)
    for event in events:
        if event.topic not in _FACT_TOPICS:
            continue
        conversation_id = event.payload["conversation_id"]
        if event.topic == "conversation.opened" and conversation_id not in fresh and conversation_id not in others:
            fresh[conversation_id] = [event]
        elif event.topic == "message.received" and conversation_id in fresh:
            fresh[conversation_id].append(event)
        else:
            others.add(conversation_id)
    return {cid: its for cid, its in fresh.items() if cid not in others}


def _changes_nothing(is_open: bool, waiting: bool, first_channel_id: int | None, received: list[Event]) -> bool:
    """Whether :func:`on_message_received` leaves the fact (its ``_FACT_STATES_LOCKED`` columns: open,
    waiting, first channel) as it is for every one of these events. The channel is the event's own
    (``channel_id``, the message's, set by the intake that stored both), so the messages need no read."""
    if is_open and not waiting:
        return False  # the first of them starts a wait
    for event in received:
        if event.payload.get("channel_id", _UNKNOWN) != first_channel_id:
            return False  # a channel used
    return True


_UNKNOWN = object()  # an event recorded without its channel: never taken as quiet




async def _load_facts(
    session: AsyncSession, conversation_ids: list[int], *, also: list[int] = (),  # type: ignore[assignment]
    quiet: _Quiet | None = None, candidates: dict[int, list[Event]] | None = None, fresh: dict[int, list[Event]] | None = None,
) -> None:
    """The conversations' fact rows, locked, into the transaction's cache (in id order: two relays
    lock shared facts in the same order); those the projection has none of yet are created from
    their conversations, all in one statement each (none for a conversation erased since).
    ``also``: conversations whose facts are read (surveys) but never created.
    With ``candidates`` (:func:`_quiet_candidates`) every fact is first locked and read by a few
    columns; a candidate's fact that its events leave as it is is not loaded as an ORM object (the
    dearest part of the projection for a stream of messages) and its events go into ``quiet``.
    With ``fresh`` (:func:`_fresh_candidates`, and ``quiet``) a new conversation's fact is written
    as its events leave it, in one statement for all of them (:func:`_fresh_facts`), and its events
    go into ``quiet``."""
    facts: dict[int, ReportConversation | None] = session.info.setdefault(_FACTS, {})
    wanted = sorted({*conversation_ids, *also})
    if candidates and quiet is not None:
        states = await _FACT_STATES_LOCKED.tuples(session, wanted)
        stored: list[int] = []
        for conversation_id, customer_id, first_channel_id, is_open, waiting in states:  # plain tuples: no Row look-ups
            received = candidates.get(conversation_id)
            if received is not None and _changes_nothing(is_open, waiting, first_channel_id, received):
                quiet.events.update(event.id for event in received)
                quiet.customers[conversation_id] = customer_id
            else:
                stored.append(conversation_id)
        wanted = stored  # locked already; the ones without a fact are created below
    if wanted:
        facts.update((fact.conversation_id, fact) for fact in await session.scalars(_FACTS_LOCKED, {"ids": wanted}))
    missing = [cid for cid in conversation_ids if cid not in facts and (quiet is None or cid not in quiet.customers)]
    if not missing:
        return
    conversations = await _CONVERSATIONS_BY_ID.rows(session, missing)
    facts.update(dict.fromkeys(missing))  # erased since: no fact
    used: list[dict[str, Any]] = []
    fresh_used: list[dict[str, Any]] = []
    made: list[ReportConversation] = []
    written = await _fresh_facts(session, conversations, fresh, quiet) if fresh and quiet is not None else []
    written_ids = {row["conversation_id"] for row in written}
    for conversation in conversations:
        kind = await _channel_kind(session, conversation.channel_id)
        if conversation.id in written_ids:
            del facts[conversation.id]  # written whole below, never loaded in this transaction
            if kind is not None:
                fresh_used.append({"conversation_id": conversation.id, "channel_id": conversation.channel_id, "kind": kind})
            continue
        facts[conversation.id] = fact = ReportConversation(
            conversation_id=conversation.id, customer_id=conversation.customer_id, team_id=conversation.team_id,
            operator_id=conversation.assignee_id, first_channel_id=conversation.channel_id, first_channel_kind=kind,
            channel_kinds=with_kind(None, kind), opened_at=conversation.created_at, open_since=conversation.created_at,
            responses=0, resolution_seconds=0, resolution_business_seconds=0, resolutions=0, reopened=0, transferred=False,
        )
        made.append(fact)
        if kind is not None:
            used.append({"conversation_id": conversation.id, "channel_id": conversation.channel_id, "kind": kind})
    if written:  # before the facts made here join the session: its driver statements find nothing to flush
        await _write_fresh(session, fresh_used, written)
    if used:
        table = ReportConversationChannel.__table__
        await session.execute(insert_ignoring_duplicates(table, session.bind.dialect.name, ["conversation_id", "channel_id"]), used)
    session.add_all(made)
    await session.flush()


async def _write_fresh(session: AsyncSession, uses: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """The fresh facts (:func:`_fresh_facts`), then their channel rows. In that order the fact's
    insert triggers find no channel row to copy its columns into or to add it to the cells of (only
    channel 0's), and each channel row's insert trigger adds the fact to that channel's cells and
    copies its columns once: the same rollups and copies as channel rows first, without writing
    each channel row (and its six indexes of copies) a second time, with NULLs and then with the
    fact's columns (a seventh of a new conversation's database time).
    SQLite: each in one statement of fixed text (:class:`_JsonRows`): the rollup triggers' programs
    are set up once per statement, not once per row as for an executemany (which made them two
    thirds of a new conversation's cost); PostgreSQL: one executemany each."""
    if session.bind.dialect.name == "sqlite":
        await _FRESH_FACTS.run(session, rows)
        await _FRESH_USES.run(session, uses)
        return
    await session.execute(_INSERT_FACT, rows)
    if uses:
        table = ReportConversationChannel.__table__
        await session.execute(insert_ignoring_duplicates(table, session.bind.dialect.name, ["conversation_id", "channel_id"]), uses)


_FACT_TABLE = ReportConversation.__table__
_INSERT_FACT = _FACT_TABLE.insert()


class _JsonRows:
    """SQLite: ``INSERT … SELECT`` of many rows from one JSON array of rows (``json_each``), each
    value converted first by its column type's own bind processor (the text, integers and NULLs
    the driver would bind): one execution whatever the number of rows, and one statement text."""

    def __init__(self, table: Any, columns: tuple[str, ...], tail: str = "") -> None:
        self.table, self.columns = table, columns
        picks = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(columns)))
        # "WHERE true": SQLite's upsert after a SELECT needs it (its parsing ambiguity)
        self.sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {picks} FROM json_each(?) WHERE true {tail}".rstrip()
        self._converters: list[tuple[int, Any]] | None = None  # (index, bind processor) of the columns that have one

    async def run(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """On okno's SQLite driver straight to the driver (``kit.bulk.driver_sql``), in the
        session's transaction (the caller leaves nothing for it to flush)."""
        if not rows:
            return
        converters = self._converters
        if converters is None:
            dialect = session.bind.dialect
            processors = [self.table.c[name].type.bind_processor(dialect) for name in self.columns]
            converters = self._converters = [(index, convert) for index, convert in enumerate(processors) if convert is not None]
        names, data = self.columns, []
        for row in rows:
            values = [row[name] for name in names]
            for index, convert in converters:
                value = values[index]
                if value is not None:
                    values[index] = convert(value)
            data.append(values)
        await driver_sql(session, self.sql, (orjson.dumps(data).decode(),))


_FRESH_FACTS = _JsonRows(_FACT_TABLE, tuple(column.key for column in _FACT_TABLE.columns))
_FRESH_USES = _JsonRows(
    ReportConversationChannel.__table__, ("conversation_id", "channel_id", "kind"), "ON CONFLICT (conversation_id, channel_id) DO NOTHING"
)
# a new fact's columns as the ORM writes one made by _load_facts (the others' defaults are None)
_FACT_DEFAULTS: dict[str, Any] = {
    **{column.key: None for column in _FACT_TABLE.columns},
    "responses": 0, "resolution_seconds": 0, "resolution_business_seconds": 0, "resolutions": 0, "reopened": 0, "transferred": False,
}


async def _fresh_facts(session: AsyncSession, conversations: list[Any], fresh: dict[int, list[Event]], quiet: _Quiet) -> list[dict[str, Any]]:
    """The fact rows of the new conversations among ``fresh`` as :func:`on_opened` and then
    :func:`on_message_received` for each of its messages would leave them: made from the
    conversation, waiting since its first customer message (one still stored). A conversation one
    of whose messages came by another channel than its own is left to the handlers. Their events
    go into ``quiet`` (applied), their customers with them."""
    chosen = [c for c in conversations if c.id in fresh]
    message_ids = [e.payload["message_id"] for c in chosen for e in fresh[c.id][1:]]
    messages: dict[int, Any] = session.info.setdefault(_MESSAGES, {})
    if message_ids:
        messages.update((row.id, row) for row in await _MESSAGES_BY_ID.rows(session, message_ids))
    rows: list[dict[str, Any]] = []
    for conversation in chosen:
        stored = [messages.get(e.payload["message_id"]) for e in fresh[conversation.id][1:]]
        stored = [m for m in stored if m is not None]  # erased since: the handler leaves the fact as it is
        if any(m.channel_id != conversation.channel_id for m in stored):
            continue  # another channel used: the handlers record it
        kind = await _channel_kind(session, conversation.channel_id)
        rows.append({
            **_FACT_DEFAULTS, "conversation_id": conversation.id, "customer_id": conversation.customer_id,
            "team_id": conversation.team_id, "operator_id": conversation.assignee_id, "first_channel_id": conversation.channel_id,
            "first_channel_kind": kind, "channel_kinds": with_kind(None, kind), "opened_at": conversation.created_at,
            "open_since": conversation.created_at, "waiting_since": stored[0].created_at if stored else None,
        })
        quiet.customers[conversation.id] = conversation.customer_id
        quiet.events.update(e.id for e in fresh[conversation.id])
    return rows


_VERDICT_FIELDS = select(SlaTarget.conversation_id, SlaTarget.metric, SlaTarget.state).where(
    SlaTarget.cycle == 1, SlaTarget.metric.in_((Metric.first_response.value, Metric.resolution.value))
)
_MESSAGE_FIELDS = select(Message.id, Message.channel_id, Message.direction, Message.author_id, Message.created_at)
# a batch's statements, built once with an expanding list of ids: SQLAlchemy reuses their cache
# key and compiled form instead of building and keying a new statement for every batch
_IDS = bindparam("ids", expanding=True)
_FACTS_LOCKED = (
    select(ReportConversation).where(ReportConversation.conversation_id.in_(_IDS))
    .order_by(ReportConversation.conversation_id).with_for_update()
)


def _ids_in_json(column: Any) -> Any:
    """SQLite: the ids from one JSON array (``json_each``)."""
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam("ids", type_=String))))


def _ids_in_array(column: Any) -> Any:
    """PostgreSQL: the ids from one array parameter."""
    return column == any_(bindparam("ids", type_=ARRAY(BigInteger)))


def _pending(session: AsyncSession) -> bool:
    """Whether the session holds changes not flushed yet (``kit.bulk.driver_sql`` would flush them)."""
    return not session.sync_session._is_clean()  # noqa: SLF001 (what flush() asks first; the public sets cost more)


class _ByIds:
    """A batch read by a list of ids whose text is the same for any number of them (one bound value:
    a JSON array on SQLite, an array on PostgreSQL), over the tables' own columns (Core): no
    statement rendered for each list length as an expanding IN has, no ORM compilation per read."""

    def __init__(self, make: Callable[[Callable[[Any], Any]], Any]) -> None:
        self.statements = {"sqlite": make(_ids_in_json), "postgresql": make(_ids_in_array)}
        self._sqlite_form: tuple[str, Callable[[Any], Any], list[tuple[int, Any]]] | None = None

    async def execute(self, session: AsyncSession, ids: list[int]) -> Any:
        dialect = session.bind.dialect.name
        value = orjson.dumps(ids).decode() if dialect == "sqlite" else list(ids)
        return await session.execute(self.statements[dialect], {"ids": value})

    async def tuples(self, session: AsyncSession, ids: list[int]) -> Any:
        """The rows as plain tuples of the driver's values, for a read whose columns need no
        conversion (integers; a condition comes back from SQLite as 0 or 1). On SQLite its compiled
        text goes straight to the driver (``kit.bulk.driver_sql``: no SQLAlchemy execution context,
        result or rows), in the session's transaction; with changes pending (a handler's read), by
        the session as before (it leaves them to its own flush under ``no_autoflush``)."""
        dialect = session.bind.dialect
        if dialect.name != "sqlite" or _pending(session):
            return await self.execute(session, ids)
        return await driver_sql(session, self._sqlite(dialect)[0], (orjson.dumps(ids).decode(),))

    async def rows(self, session: AsyncSession, ids: list[int]) -> list[Any]:
        """The rows with their columns by name, their values converted by the columns' own types
        (as a session's read converts them); on SQLite read as :meth:`tuples` reads them."""
        dialect = session.bind.dialect
        if dialect.name != "sqlite" or _pending(session):
            return (await self.execute(session, ids)).all()
        text, make, converters = self._sqlite(dialect)
        out = []
        for row in await driver_sql(session, text, (orjson.dumps(ids).decode(),)):
            if converters:
                row = list(row)  # noqa: PLW2901
                for index, convert in converters:
                    row[index] = convert(row[index])
            out.append(make(row))
        return out

    def _sqlite(self, dialect: Any) -> tuple[str, Callable[[Any], Any], list[tuple[int, Any]]]:
        """SQLite's compiled text, a row type with the columns' names and their result processors."""
        if self._sqlite_form is None:
            statement = self.statements["sqlite"]
            columns = list(statement.selected_columns)
            processors = [column.type._cached_result_processor(dialect, None) for column in columns]  # noqa: SLF001
            self._sqlite_form = (
                str(statement.compile(dialect=dialect)),
                namedtuple("Row", [column.key for column in columns])._make,  # noqa: PYI024
                [(index, convert) for index, convert in enumerate(processors) if convert is not None],
            )
        return self._sqlite_form


_M, _S, _F, _C = Message.__table__.c, SlaTarget.__table__.c, ReportConversation.__table__.c, Conversation.__table__.c
_MESSAGES_BY_ID = _ByIds(lambda ids_in: select(_M.id, _M.channel_id, _M.direction, _M.author_id, _M.created_at).where(ids_in(_M.id)))
_VERDICTS_OF = _ByIds(lambda ids_in: select(_S.conversation_id, _S.metric, _S.state).where(
    _S.cycle == 1, _S.metric.in_((Metric.first_response.value, Metric.resolution.value)), ids_in(_S.conversation_id),
))
# whether it is open and whether a message waits, not when (no datetime to convert per row); locked
# in id order (two relays lock shared facts in the same order)
_FACT_STATES_LOCKED = _ByIds(lambda ids_in: select(
    _F.conversation_id, _F.customer_id, _F.first_channel_id, _F.open_since.is_not(None).label("open"),
    _F.waiting_since.is_not(None).label("waiting"),
).where(ids_in(_F.conversation_id)).order_by(_F.conversation_id).with_for_update())
_CONVERSATIONS_BY_ID = _ByIds(lambda ids_in: select(
    _C.id, _C.customer_id, _C.team_id, _C.assignee_id, _C.channel_id, _C.created_at
).where(ids_in(_C.id)))


async def _message(session: AsyncSession, message_id: int) -> Any:
    """The fields of a message the projection uses (read ahead for a batch), None once erased."""
    known = session.info.setdefault(_MESSAGES, {})
    if message_id not in known:
        known[message_id] = (await session.execute(_MESSAGE_FIELDS.where(Message.id == message_id))).first()
    return known[message_id]


# PostgreSQL advisory lock, exclusive in every live projection transaction and at a rebuild's start
# and end: the monthly rollups' triggers (okno.reports.rollups) update shared cell rows, which two
# concurrent projection transactions would lock in different orders (a deadlock in every trial of
# two 100-row transactions on one day's cells); taken first, it orders them instead
REBUILD_LOCK = 0x6F6B6E6F_5245


async def rebuild_lock(session: AsyncSession) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REBUILD_LOCK})


def seconds(delta: timedelta) -> int:
    return max(round(delta.total_seconds()), 0)


# Per engine: channel kinds (a channel's kind never changes and ids are never reused) and team
# calendars (dropped whenever a team or a calendar changes: the projection hears those events).
_kinds: WeakKeyDictionary[Any, dict[int, str]] = WeakKeyDictionary()
_KINDS = "okno.reports.kinds"  # session.info key: the session's engine's dict in _kinds
_calendars: WeakKeyDictionary[Any, dict[int | None, BusinessCalendar]] = WeakKeyDictionary()


async def team_calendar(session: AsyncSession, team_id: int | None) -> BusinessCalendar:
    known = _calendars.setdefault(session.bind, {})
    if team_id not in known:
        calendar_id = await session.scalar(select(Team.calendar_id).where(Team.id == team_id)) if team_id else None
        known[team_id] = business_calendar(await session.get(BusinessHours, calendar_id) if calendar_id else None)
    return known[team_id]


async def on_calendars_changed(session: AsyncSession, event: Event, window: timedelta) -> None:
    _calendars.pop(session.bind, None)


async def _fact(session: AsyncSession, conversation_id: int, opened: Event | None = None) -> ReportConversation | None:
    """The conversation's fact row, created from the conversation if the projection has none yet."""
    facts = session.info.setdefault(_FACTS, {})
    if conversation_id not in facts:  # not read (and locked) yet in this transaction
        if rebuilding.get():
            facts[conversation_id] = await _rebuilt_fact(session, conversation_id, opened)
        else:
            await _load_facts(session, [conversation_id])
    return facts[conversation_id]


async def _rebuilt_fact(session: AsyncSession, conversation_id: int, opened: Event | None) -> ReportConversation | None:
    """A rebuild's fact row: the stored one, else one made as the live projection made it when the
    conversation opened (just routed by the opening event, nobody assigned yet)."""
    fact = await session.get(ReportConversation, conversation_id, with_for_update=True)
    if fact is not None:
        return fact
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None  # erased since
    kind = await _channel_kind(session, conversation.channel_id)
    team_id, operator_id = await _routed_team(session, conversation, opened), None
    fact = ReportConversation(
        conversation_id=conversation_id, customer_id=conversation.customer_id, team_id=team_id,
        operator_id=operator_id, first_channel_id=conversation.channel_id, first_channel_kind=kind,
        channel_kinds=with_kind(None, kind), opened_at=conversation.created_at, open_since=conversation.created_at, responses=0,
        resolution_seconds=0, resolution_business_seconds=0, resolutions=0, reopened=0, transferred=False,
    )
    session.add(fact)
    await _used_channel(session, fact, conversation.channel_id)
    await session.flush()
    return fact


async def _routed_team(session: AsyncSession, conversation: Conversation, opened: Event | None) -> int | None:
    """The team routing gave the conversation when it opened (its timeline's ``conversation.routed``
    entry for the opening event; routing runs before the projection for the same event)."""
    if opened is None:
        return None
    entries = await session.scalars(
        select(TimelineEvent.data).where(
            TimelineEvent.customer_id == conversation.customer_id, TimelineEvent.conversation_id == conversation.id,
            TimelineEvent.kind == "conversation.routed",
        ).order_by(TimelineEvent.id)
    )
    for data in entries:
        if (data or {}).get("event_id") == opened.id:
            return data.get("team_id")
    return None


async def _channel_kind(session: AsyncSession, channel_id: int | None) -> str | None:
    if channel_id is None:
        return None
    known = session.info.get(_KINDS)
    if known is None:  # the engine's kinds, found once a transaction (session.bind and a weak key cost more than the look-up)
        known = session.info[_KINDS] = _kinds.setdefault(session.bind, {})
    if channel_id not in known:
        kind = await session.scalar(select(Channel.kind).where(Channel.id == channel_id))
        if kind is None:
            return None
        known[channel_id] = kind
    return known[channel_id]


def with_kind(kinds: str | None, kind: str | None) -> str | None:
    """A conversation's channel-kind set (``channel_kinds``: sorted, comma-separated) with ``kind`` added."""
    if kind is None:
        return kinds
    found = set(kinds.split(",")) if kinds else set()
    return ",".join(sorted(found | {kind}))


async def _used_channel(session: AsyncSession, fact: ReportConversation, channel_id: int | None) -> None:
    """A channel the conversation used: a row of its own (the channel filter) and its kind in the
    fact's set (channel share)."""
    kind = await _channel_kind(session, channel_id)
    if kind is None:
        return
    fact.channel_kinds = with_kind(fact.channel_kinds, kind)
    statement = insert_ignoring_duplicates(ReportConversationChannel.__table__, session.bind.dialect.name, ["conversation_id", "channel_id"])
    await session.execute(statement.values(conversation_id=fact.conversation_id, channel_id=channel_id, kind=kind))


async def on_opened(session: AsyncSession, event: Event, window: timedelta) -> None:
    await _fact(session, event.payload["conversation_id"], event)


async def on_team(session: AsyncSession, event: Event, window: timedelta) -> None:
    """routed / assigned / escalated: the team and assignee now; a move to another team (or an
    escalation) after the first human answer spoils first-contact resolution."""
    fact = await _fact(session, event.payload["conversation_id"])
    if fact is None:
        return
    payload = event.payload
    if event.topic == "conversation.routed":
        fact.team_id = payload["team_id"]
        return
    moved = event.topic == "conversation.escalated" or (
        payload.get("team_from") is not None and payload.get("team_to") != payload.get("team_from")
    )
    if moved and fact.first_response_at is not None:
        fact.transferred = True
    fact.team_id = payload["team_id"]
    if event.topic == "conversation.assigned":
        fact.operator_id = payload["operator_id"]
    else:
        fact.operator_id = None  # an escalation puts it back in the new team's queue


async def on_message_received(session: AsyncSession, event: Event, window: timedelta) -> None:
    fact = await _fact(session, event.payload["conversation_id"])
    message = await _message(session, event.payload["message_id"])
    if fact is None or message is None:
        return
    if message.channel_id != fact.first_channel_id:
        await _used_channel(session, fact, message.channel_id)
    if fact.open_since is not None and fact.waiting_since is None:  # an answer to a resolved one (a survey's) waits for nobody
        fact.waiting_since = message.created_at


async def on_message_queued(session: AsyncSession, event: Event, window: timedelta) -> None:
    fact = await _fact(session, event.payload["conversation_id"])
    message = await _message(session, event.payload["message_id"])
    if fact is None or message is None:
        return
    if message.channel_id != fact.first_channel_id:
        await _used_channel(session, fact, message.channel_id)
    human = message.direction == Direction.outbound.value and message.author_id is not None
    if not human or fact.waiting_since is None:
        return
    cal = await team_calendar(session, fact.team_id)
    waited = seconds(message.created_at - fact.waiting_since)
    business = seconds(cal.between(fact.waiting_since, message.created_at))
    fact.responses += 1
    session.add(ReportResponse(
        conversation_id=fact.conversation_id, cycle=fact.responses, waiting_since=fact.waiting_since,
        responded_at=message.created_at, operator_id=message.author_id, team_id=fact.team_id, seconds=waited, business_seconds=business,
    ))
    if fact.responses == 1:
        fact.first_response_at, fact.first_responder_id = message.created_at, message.author_id
        fact.frt_seconds, fact.frt_business_seconds = waited, business
    fact.waiting_since = None
    await _sla_results(session, fact)


async def on_status_changed(session: AsyncSession, event: Event, window: timedelta) -> None:
    fact = await _fact(session, event.payload["conversation_id"])
    if fact is None:
        return
    at, finished = event.created_at, event.payload["type"] in FINISHED
    if event.payload.get("reason") is not None:
        fact.reason = event.payload["reason"]
    if finished and fact.open_since is not None:  # an open period ends
        cal = await team_calendar(session, fact.team_id)
        fact.resolution_seconds += seconds(at - fact.open_since)
        fact.resolution_business_seconds += seconds(cal.between(fact.open_since, at))
        fact.open_since, fact.resolved_at, fact.waiting_since = None, at, None
        fact.resolutions += 1
    elif not finished and fact.open_since is None:  # reopened: a new open period
        fact.open_since, fact.resolved_at = at, None
        fact.reopened += 1
        fact.repeat_contact_id = None
    if finished:
        waiting = session.info.get(_RESOLVED)
        if waiting is not None:  # the round's links are made together at its end
            waiting.append(fact)
        else:
            await session.flush()
            await link_repeat_contacts(session, fact, window)
    await _sla_results(session, fact)


async def _sla_results(session: AsyncSession, fact: ReportConversation) -> None:
    """Copies the SLA domain's verdicts (met / missed) for the first response and the resolution."""
    known = session.info.get(_VERDICTS, {})
    if fact.conversation_id in known:  # read ahead for the round (the SLA clocks ran before it)
        rows = known[fact.conversation_id]
    else:
        rows = (await session.execute(_VERDICT_FIELDS.where(SlaTarget.conversation_id == fact.conversation_id))).all()
    for *_, metric, state in rows:
        verdict = state if state in SLA_RESULTS else None
        if metric == Metric.first_response.value:
            fact.sla_first_response = verdict
        else:
            fact.sla_resolution = verdict


async def on_customer_merged(session: AsyncSession, event: Event, window: timedelta) -> None:
    await session.execute(
        update(ReportConversation)
        .where(ReportConversation.customer_id == event.payload["merged_id"])
        .values(customer_id=event.payload["survivor_id"])
    )


async def on_survey(session: AsyncSession, event: Event, window: timedelta) -> None:
    payload = event.payload
    key = (payload["survey_id"], payload["conversation_id"])
    surveys = session.info.get(_SURVEYS, {})
    survey = surveys[key] if key in surveys else await session.get(ReportSurvey, key, with_for_update=True)
    facts = session.info.get(_FACTS, {})
    if facts.get(key[1]) is not None:  # read ahead for the round
        resolved_at = facts[key[1]].resolved_at
    else:
        resolved_at = await session.scalar(select(ReportConversation.resolved_at).where(ReportConversation.conversation_id == key[1]))
    if survey is None:
        survey = ReportSurvey(survey_id=key[0], conversation_id=key[1], period_at=resolved_at or event.created_at)
        session.add(survey)
        surveys[key] = survey
    survey.kind, survey.customer_id = payload["kind"], payload["customer_id"]
    survey.channel_id, survey.team_id, survey.operator_id = payload["channel_id"], payload["team_id"], payload["operator_id"]
    if event.topic == "survey.sent":
        survey.sent_at = _moment(payload["sent_at"])
    else:
        survey.answered_at, survey.score, survey.comment = _moment(payload["answered_at"]), payload["score"], payload.get("comment")


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


APPLY = {
    "conversation.opened": on_opened,
    "conversation.routed": on_team,
    "conversation.assigned": on_team,
    "conversation.escalated": on_team,
    "conversation.status_changed": on_status_changed,
    "message.received": on_message_received,
    "message.queued": on_message_queued,
    "customer.merged": on_customer_merged,
    "survey.sent": on_survey,
    "survey.answered": on_survey,
    "team.changed": on_calendars_changed,
    "sla.calendar_changed": on_calendars_changed,
}
