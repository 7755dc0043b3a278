"""One link per score, needing no login: how a survey is answered from a channel that shows
links but no buttons (e-mail).

A link is ``<OKNO_PUBLIC_URL>/s/<token>/<score>``. The token names the survey request and when
the link expires (``OKNO_SURVEY_ANSWER_HOURS`` after the question, when answers stop being
recognised anyway) and carries an HMAC of both under a key derived from ``OKNO_SECRET_KEYS``
(older keys still verify, as for file links). It is single use per survey: the first score
recorded through any of its links stands, and every later click is refused (409), as is a
tampered token (404) or an expired one (410).

The score is recorded as a button press would be: an ``answer`` message on the survey's
conversation (never a reopen, never a new conversation, no ``message.received`` event); with a
follow-up question the page offers a comment box, and the comment is a message of its own (so
erasing the customer erases it). Then the survey is complete: ``survey.answered``, as from any
channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.interactive import Answer
from okno.conversations.actors import Actor
from okno.kit.timers import schedule_timer
from okno.models import Direction, Message, MessageKind, MessageStatus
from okno.models.surveys import SCALES, RequestState, Survey, SurveyRequest
from okno.surveys.dispatch import DEADLINE_TIMER, option_id
from okno.surveys.link_tokens import LinkRefused
from okno.surveys.policy import policy
from okno.surveys.replies import _answered
from okno.surveys.texts import in_language

SCORABLE = (RequestState.sent.value, RequestState.retried.value, RequestState.unanswered.value)


@dataclass(frozen=True)
class Recorded:
    request: SurveyRequest
    follow_up: str | None  # the comment question to offer, in the customer's language


async def record_score(session: AsyncSession, request_id: int, score: int, now: datetime) -> Recorded:
    request = await session.get(SurveyRequest, request_id, with_for_update=True)
    if request is None or request.sent_at is None:
        raise LinkRefused(404, "invalid")
    low, high = SCALES[request.kind]
    if not low <= score <= high:
        raise LinkRefused(404, "invalid")
    if request.score is not None:
        raise LinkRefused(409, "answered")
    if request.state not in SCORABLE:
        raise LinkRefused(410, "closed")  # skipped (erased, …): nothing to answer any more
    message = _message(request, text=str(score), kind=MessageKind.answer.value, role="score", now=now)
    message.content["answer"] = Answer(option_id=option_id(request.id, score), title=str(score), message_id=request.prompt_message_id).model_dump(exclude_none=True)
    session.add(message)
    await session.flush()
    request.score, request.answered_at, request.answer_message_id = score, now, message.id
    survey = await session.get(Survey, request.survey_id)
    follow_up = in_language(survey.follow_up, request.language or policy().default_language) if survey is not None else None
    if follow_up:  # the page asks it; the survey completes with the comment or when the wait ends
        request.state = RequestState.awaiting_comment.value
        await schedule_timer(session, DEADLINE_TIMER, request.id, now + timedelta(minutes=policy().comment_minutes))
    else:
        request.state = RequestState.answered.value
        await _answered(session, request, comment=None)
    await session.flush()
    return Recorded(request, follow_up)


async def record_comment(session: AsyncSession, request_id: int, text: str, now: datetime) -> SurveyRequest:
    request = await session.get(SurveyRequest, request_id, with_for_update=True)
    if request is None:
        raise LinkRefused(404, "invalid")
    if request.state != RequestState.awaiting_comment.value:
        raise LinkRefused(409, "answered")
    comment = text.strip()[:4000]
    if comment:
        message = _message(request, text=comment, kind=MessageKind.message.value, role="comment", now=now)
        session.add(message)
        await session.flush()
        request.comment_message_id = message.id
    request.state = RequestState.answered.value
    await _answered(session, request, comment=comment or None)
    await session.flush()
    return request


def _message(request: SurveyRequest, *, text: str, kind: str, role: str, now: datetime) -> Message:
    """Filed on the survey's conversation like a claimed reply: it reopens nothing."""
    survey: dict = {"request_id": request.id, "role": role, "via": "link"}
    if role == "score":
        survey["score"] = int(text)
    return Message(
        conversation_id=request.conversation_id, customer_id=request.customer_id, channel_id=request.channel_id,
        direction=Direction.inbound.value, text=text, status=MessageStatus.received.value, kind=kind,
        content={"survey": survey}, created_at=now, status_updated_at=now, **Actor.customer().columns(),
    )  # fmt: skip
