"""The ingest hook: a customer's message that answers his open survey is claimed as the answer
and filed on the survey's conversation — it never reopens that conversation and never opens a
new one, and it raises no ``message.received`` (routing, SLA clocks and automations don't see a
survey answer as a customer waiting).

A survey is open for a (customer, channel) from the question until the score (and the follow-up
comment, when the survey asks one), the one retry is used up, the customer moves on to something
else, or ``OKNO_SURVEY_ANSWER_HOURS`` pass. While it is open, a message in that channel is:

- a press of one of its buttons, or a short reply naming one score in range → the score
  (a message of kind ``answer``);
- after the score, when the survey asks for a comment → the comment (the next message, whatever
  it says);
- a short reply with no score in range (``отлично``, ``11``) → one polite retry; a second one
  ends the survey unanswered and goes its usual way;
- anything longer, or with a question → not an answer: it goes its usual way and the survey ends.

The hook costs the batch nothing while no survey was ever defined (:mod:`okno.surveys.gate`),
and one indexed lookup otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.channels.base import InboundMessage
from okno.channels.interactive import Answer
from okno.conversations.replies import RichContent, queue_outbound
from okno.kit.timers import schedule_timer
from okno.kit.time import utcnow
from okno.models import Channel, Conversation, StatusDefinition
from okno.models.surveys import OPEN_STATES, SCALES, RequestState, Survey, SurveyRequest
from okno.surveys.dispatch import DEADLINE_TIMER, SURVEYOR, _timeline, option_id, parse_option_id
from okno.surveys.events import SurveyAnswered
from okno.surveys.gate import surveys_defined
from okno.surveys.policy import policy
from okno.surveys.texts import in_language, read_reply, retry_text

SCORE, COMMENT, UNCLEAR, LATE = "score", "comment", "unclear", "late"


@dataclass(frozen=True)
class Incoming:
    customer_id: int
    channel_id: int
    item: InboundMessage
    is_new_customer: bool


@dataclass
class SurveyReply:
    """A message claimed for a survey: where it goes and what it is."""

    request_id: int
    conversation_id: int
    conversation_status: str
    conversation_status_type: str
    conversation_channel_id: int | None
    role: str  # score | comment | unclear | late (a button of a survey that is over)
    score: int | None = None
    answer: Answer | None = None
    text: str = ""

    def content(self) -> dict:
        survey = {"request_id": self.request_id, "role": self.role}
        if self.score is not None:
            survey["score"] = self.score
        return {"survey": survey, **({"answer": self.answer.model_dump(exclude_none=True)} if self.answer else {})}


@dataclass
class Claims:
    replies: list[SurveyReply | None]
    ended: dict[int, str] = field(default_factory=dict)  # request id → why it ended unanswered

    def any(self) -> bool:
        return bool(self.ended) or any(r is not None for r in self.replies)


@dataclass
class _Open:
    id: int
    conversation_id: int
    kind: str
    state: str
    prompt_message_id: int | None
    status: str
    status_type: str
    conversation_channel_id: int | None
    asks_comment: bool


async def claim_survey_replies(session: AsyncSession, incoming: Sequence[Incoming]) -> Claims:
    claims = Claims([None] * len(incoming))
    if not await surveys_defined.any(session):  # cached: no query on most batches
        return claims
    known = {i.customer_id for i in incoming if not i.is_new_customer}
    if not known:
        return claims
    since = utcnow() - timedelta(hours=policy().answer_hours)
    rows = await session.execute(
        _lookup().where(SurveyRequest.customer_id.in_(sorted(known)), SurveyRequest.state.in_(OPEN_STATES), SurveyRequest.sent_at >= since)
    )
    open_by: dict[tuple[int, int | None], _Open] = {}
    for row in rows:  # the newest open survey per (customer, channel)
        open_by[(row[1], row[2])] = _open_of(row)
    late: dict[int, int] = {}  # message index → the survey request its button names
    for index, message in enumerate(incoming):
        pressed = parse_option_id(message.item.answer.option_id) if message.item.answer is not None else None
        current = open_by.get((message.customer_id, message.channel_id))
        if current is None:
            if pressed is not None:
                late[index] = pressed[0]
            continue
        role, score, answer = _read(message.item, current)
        if role == LATE:
            late[index] = pressed[0]  # type: ignore[index]
            continue
        if role is None:
            claims.ended[current.id] = "gave_up" if current.state == RequestState.retried.value else "moved_on"
            del open_by[(message.customer_id, message.channel_id)]
            continue
        claims.replies[index] = _reply(current, role, score, answer, message.item.text)
        if role == SCORE and current.asks_comment:
            current.state = RequestState.awaiting_comment.value  # settled below; the next message is its comment
        elif role == UNCLEAR:
            current.state = RequestState.retried.value
        else:
            del open_by[(message.customer_id, message.channel_id)]
    if late:
        await _claim_late_presses(session, incoming, late, claims)
    return claims


async def _claim_late_presses(session: AsyncSession, incoming: Sequence[Incoming], late: dict[int, int], claims: Claims) -> None:
    """A button of a survey that is over (pressed twice, or after the comment) is filed on its
    conversation and changes nothing: a stale button never opens a conversation. Only the
    customer's own survey counts; rare, so one query only when such a press arrives."""
    found = {row[0]: row for row in await session.execute(_lookup().where(SurveyRequest.id.in_(sorted(set(late.values())))))}
    for index, request_id in late.items():
        row = found.get(request_id)
        if row is not None and row[1] == incoming[index].customer_id:
            claims.replies[index] = _reply(_open_of(row), LATE, None, incoming[index].item.answer, incoming[index].item.text)


def _lookup() -> Select:
    return (
        select(
            SurveyRequest.id, SurveyRequest.customer_id, SurveyRequest.channel_id, SurveyRequest.conversation_id, SurveyRequest.kind,
            SurveyRequest.state, SurveyRequest.prompt_message_id, Conversation.status, StatusDefinition.type, Conversation.channel_id, Survey.follow_up,
        )
        .join(Conversation, Conversation.id == SurveyRequest.conversation_id)
        .join(Survey, Survey.id == SurveyRequest.survey_id)
        .join(StatusDefinition, StatusDefinition.key == Conversation.status)
        .order_by(SurveyRequest.id)
    )  # fmt: skip


def _open_of(row: Any) -> _Open:
    return _Open(row[0], row[3], row[4], row[5], row[6], row[7], row[8], row[9], bool(row[10]))


def _reply(current: _Open, role: str, score: int | None, answer: Answer | None, text: str) -> SurveyReply:
    return SurveyReply(
        current.id, current.conversation_id, current.status, current.status_type, current.conversation_channel_id, role, score, answer, text
    )


def _read(item: InboundMessage, current: _Open) -> tuple[str | None, int | None, Answer | None]:
    low, high = SCALES[current.kind]
    if item.answer is not None:
        pressed = parse_option_id(item.answer.option_id)
        if pressed is None:
            return None, None, None  # another prompt's button: the customer moved on
        if pressed[0] != current.id or current.state == RequestState.awaiting_comment.value or not low <= pressed[1] <= high:
            return LATE, None, None
        answer = item.answer.model_copy(update={"title": item.answer.title or str(pressed[1]), "message_id": current.prompt_message_id})
        return SCORE, pressed[1], answer
    if current.state == RequestState.awaiting_comment.value:
        return (COMMENT, None, None) if (item.text.strip() or item.attachments) else (None, None, None)
    reading = read_reply(item.text, current.kind, has_files=bool(item.attachments))
    if reading.score is not None:
        return SCORE, reading.score, Answer(option_id=option_id(current.id, reading.score), title=str(reading.score), message_id=current.prompt_message_id)
    if reading.unclear and current.state == RequestState.sent.value:
        return UNCLEAR, None, None
    return None, None, None


async def settle_survey_replies(session: AsyncSession, claims: Claims, message_ids: Sequence[int], received: Sequence[datetime]) -> None:
    """After the claimed messages are stored (same transaction): the scores, comments and
    retries, the follow-up and retry questions, the timeline and ``survey.answered``."""
    for request_id, why in claims.ended.items():
        request = await session.get(SurveyRequest, request_id)
        if request is not None and request.state in OPEN_STATES:
            request.state, request.skip_reason = RequestState.unanswered.value, why
    for reply, message_id, at in zip(claims.replies, message_ids, received, strict=True):
        if reply is None:
            continue
        request = await session.get(SurveyRequest, reply.request_id)
        if request is None:
            continue
        if reply.role == SCORE:
            await _scored(session, request, reply.score, message_id, at)  # type: ignore[arg-type]
        elif reply.role == LATE:
            continue  # filed on its conversation; the survey's outcome stands
        elif reply.role == COMMENT:
            request.comment_message_id, request.state = message_id, RequestState.answered.value
            await _answered(session, request, comment=reply.text.strip() or None)
        else:
            request.state = RequestState.retried.value
            await _say(session, request, retry_text(request.kind, request.language or policy().default_language), "retry")
    await session.flush()


async def _scored(session: AsyncSession, request: SurveyRequest, score: int, message_id: int, at: datetime) -> None:
    request.score, request.answered_at, request.answer_message_id = score, at, message_id
    survey = await session.get(Survey, request.survey_id)
    follow_up = in_language(survey.follow_up, request.language or policy().default_language) if survey is not None else None
    if follow_up:
        request.state = RequestState.awaiting_comment.value
        await _say(session, request, follow_up, "follow_up")
        await schedule_timer(session, DEADLINE_TIMER, request.id, utcnow() + timedelta(minutes=policy().comment_minutes))
    else:
        request.state = RequestState.answered.value
        await _answered(session, request, comment=None)


async def _say(session: AsyncSession, request: SurveyRequest, text: str, prompt: str) -> None:
    conversation = await session.get(Conversation, request.conversation_id)
    channel = await session.get(Channel, request.channel_id) if request.channel_id is not None else None
    if conversation is None or channel is None or not channel.is_active:
        return
    message = await queue_outbound(session, conversation, channel, author_id=None, text=text, rich=RichContent(), actor=SURVEYOR)
    message.content = {"survey": {"request_id": request.id, "kind": request.kind, "prompt": prompt}}


async def _answered(session: AsyncSession, request: SurveyRequest, *, comment: str | None) -> None:
    """The survey is done with a score: the timeline and the one ``survey.answered``."""
    answered_at = request.answered_at or utcnow()
    data = {"survey_id": request.survey_id, "kind": request.kind, "score": request.score, "comment": comment is not None}
    session.add(_timeline(request, "survey.answered", data, answered_at, request.answer_message_id))
    await record_event(session, SurveyAnswered(
        survey_id=request.survey_id, kind=request.kind, score=request.score, conversation_id=request.conversation_id,  # type: ignore[arg-type]
        customer_id=request.customer_id, channel_id=request.channel_id, team_id=request.team_id, operator_id=request.operator_id,
        answered_at=answered_at.isoformat(), comment=comment,
    ))  # fmt: skip


async def on_deadline_timer(session: AsyncSession, timer, now: datetime) -> None:  # noqa: ANN001
    """The comment wait ended (the score stands without one), or nobody answered in time."""
    request = await session.get(SurveyRequest, timer.ref_id)
    if request is None:
        return
    if request.state == RequestState.awaiting_comment.value:
        request.state = RequestState.answered.value
        await _answered(session, request, comment=None)
    elif request.state in (RequestState.sent.value, RequestState.retried.value):
        request.state, request.skip_reason = RequestState.unanswered.value, "no_answer"
    await session.flush()
