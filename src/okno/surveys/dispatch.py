"""Sending surveys: a resolved conversation schedules its survey (a durable timer after the
survey's delay), and the timer sends it in the conversation's channel through the normal
outbound path — buttons where the channel renders them, the question with its scale as plain
text elsewhere.

One survey per conversation (``survey_requests.conversation_id`` is unique). At send time a
survey is skipped (``state = skipped``, ``skip_reason``) when the conversation was reopened
(it is scheduled again at the next resolution), the customer was erased, the survey was switched
off, the customer was surveyed within ``OKNO_SURVEY_QUIET_DAYS``, or the channel can't reach
him (disabled, not one of his channels, a closed reply window)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.bus.outbox import record_event
from okno.channels.interactive import ChoicesRefused, Interactive, Option, choose_rendering
from okno.channels.registry import adapter_class
from okno.conversations.actors import Actor
from okno.conversations.replies import RichContent, check_reply_window, queue_outbound
from okno.conversations.reply_channels import check_channel_reaches
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.kit.timers import schedule_timer
from okno.models import Channel, Conversation, Customer, Direction, Message, StatusDefinition, StatusType, TimelineEvent
from okno.models.surveys import SCALES, RequestState, Survey, SurveyRequest
from okno.surveys.events import SurveySent
from okno.surveys.policy import policy
from okno.surveys.link_tokens import score_links
from okno.surveys.texts import in_language, language_of, links_text, scale_hint

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

SEND_TIMER = "survey.send"
DEADLINE_TIMER = "survey.deadline"
SURVEYOR = Actor.system("survey")
_DONE_TYPES = (StatusType.resolved.value, StatusType.closed.value)
LIST_BUTTON = {"ru": "Оценить", "en": "Rate"}  # the label that opens the list of scores


def option_id(request_id: int, score: int) -> str:
    return f"survey:{request_id}:{score}"


def parse_option_id(value: str) -> tuple[int, int] | None:
    parts = value.split(":")
    if len(parts) != 3 or parts[0] != "survey" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[1]), int(parts[2])


async def plan_survey_on_resolve(deps: SubscriberDeps, event: Event) -> None:
    """conversation.status_changed to a status of type resolved: schedule its survey, if any."""
    if event.payload.get("type") != StatusType.resolved.value:
        return
    async with deps.db.transaction() as session:
        surveys = (await session.scalars(select(Survey).where(Survey.is_active.is_(True), Survey.trigger == "resolved").order_by(Survey.id))).all()
        if surveys:
            await schedule_survey(session, event.payload["conversation_id"], list(surveys), origin="resolved", now=event.created_at)


async def plan_surveys_on_resolve(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form: a round's resolutions in order, in one transaction, the surveys read once."""
    resolved = [e for e in events if e.payload.get("type") == StatusType.resolved.value]
    if not resolved:
        return
    async with deps.db.transaction() as session:
        surveys = (await session.scalars(select(Survey).where(Survey.is_active.is_(True), Survey.trigger == "resolved").order_by(Survey.id))).all()
        if not surveys:
            return
        for event in resolved:
            await schedule_survey(session, event.payload["conversation_id"], list(surveys), origin="resolved", now=event.created_at)


async def schedule_survey(session: AsyncSession, conversation_id: int, surveys: list[Survey], *, origin: str, now: datetime | None = None) -> SurveyRequest | None:
    """The first of ``surveys`` that applies to the conversation (its team and channel), planned
    after its delay; None when none applies or the conversation already had its survey."""
    now = now or utcnow()
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    channel_id = await conversation_channel(session, conversation)
    survey = next((s for s in surveys if _applies(s, conversation.team_id, channel_id)), None)
    if survey is None:
        return None
    request = await session.scalar(select(SurveyRequest).where(SurveyRequest.conversation_id == conversation_id))
    due = now + timedelta(minutes=survey.delay_minutes)
    if request is None:
        request = SurveyRequest(
            survey_id=survey.id, conversation_id=conversation_id, customer_id=conversation.customer_id, channel_id=channel_id,
            team_id=conversation.team_id, operator_id=conversation.assignee_id, kind=survey.kind, origin=origin,
            state=RequestState.scheduled.value, due_at=due,
        )  # fmt: skip
        session.add(request)
    elif request.state == RequestState.scheduled.value or (request.state == RequestState.skipped.value and request.skip_reason == "reopened"):
        request.survey_id, request.kind, request.channel_id, request.due_at = survey.id, survey.kind, channel_id, due
        request.team_id, request.operator_id, request.state, request.skip_reason = conversation.team_id, conversation.assignee_id, RequestState.scheduled.value, None
    else:
        return None  # one survey per conversation
    await session.flush()
    await schedule_timer(session, SEND_TIMER, request.id, due)
    return request


def _applies(survey: Survey, team_id: int | None, channel_id: int | None) -> bool:
    return (not survey.team_ids or team_id in survey.team_ids) and (not survey.channel_ids or channel_id in survey.channel_ids)


async def conversation_channel(session: AsyncSession, conversation: Conversation) -> int | None:
    """Where the customer last wrote in this conversation, else where it began."""
    last = await session.scalar(
        select(Message.channel_id)
        .where(Message.conversation_id == conversation.id, Message.direction == Direction.inbound.value, Message.channel_id.is_not(None))
        .order_by(Message.id.desc())
        .limit(1)
    )
    return last or conversation.channel_id


async def on_send_timer(session: AsyncSession, timer, now: datetime) -> None:  # noqa: ANN001
    request = await session.get(SurveyRequest, timer.ref_id)
    if request is None or request.state != RequestState.scheduled.value:
        return
    reason = await _why_not(session, request, now)
    if reason is not None:
        request.state, request.skip_reason = RequestState.skipped.value, reason
        await session.flush()
        return
    await send_survey(session, request, now)


async def _why_not(session: AsyncSession, request: SurveyRequest, now: datetime) -> str | None:
    status_type = await session.scalar(
        select(StatusDefinition.type).join(Conversation, Conversation.status == StatusDefinition.key).where(Conversation.id == request.conversation_id)
    )
    if request.origin == "resolved" and status_type not in _DONE_TYPES:
        return "reopened"
    customer = await session.get(Customer, request.customer_id)
    if customer is None or customer.erased_at is not None:
        return "erased"
    survey = await session.get(Survey, request.survey_id)
    if survey is None or not survey.is_active:
        return "inactive"
    quiet = policy().quiet_days
    if quiet > 0:
        recent = await session.scalar(
            select(SurveyRequest.id)
            .where(SurveyRequest.customer_id == request.customer_id, SurveyRequest.id != request.id, SurveyRequest.sent_at >= now - timedelta(days=quiet))
            .limit(1)
        )
        if recent is not None:
            return "quiet"
    channel = await session.get(Channel, request.channel_id) if request.channel_id is not None else None
    if channel is None or not channel.is_active:
        return "unreachable"
    try:
        await check_channel_reaches(session, channel, request.customer_id)
        await check_reply_window(session, channel, request.customer_id, uses_template=False)
    except Invalid:
        return "unreachable"
    return None


async def send_survey(session: AsyncSession, request: SurveyRequest, now: datetime) -> Message:
    survey = await session.get(Survey, request.survey_id)
    conversation = await session.get(Conversation, request.conversation_id)
    channel = await session.get(Channel, request.channel_id)
    assert survey is not None and conversation is not None and channel is not None
    request.language = await customer_language(session, request.customer_id, request.conversation_id)
    question = in_language(survey.question, request.language) or ""
    text, interactive = survey_prompt(request.id, survey.kind, question, request.language, channel.kind, sent_at=now)
    message = await queue_outbound(session, conversation, channel, author_id=None, text=text, rich=RichContent(), actor=SURVEYOR, interactive=interactive)
    message.content = {**(message.content or {}), "survey": {"request_id": request.id, "kind": survey.kind, "prompt": "question"}}
    request.state, request.sent_at, request.prompt_message_id = RequestState.sent.value, now, message.id
    await session.flush()
    await schedule_timer(session, DEADLINE_TIMER, request.id, now + timedelta(hours=policy().answer_hours))
    session.add(_timeline(request, "survey.sent", {"survey_id": survey.id, "kind": survey.kind, "language": request.language}, now, message.id))
    await record_event(session, SurveySent(
        survey_id=survey.id, kind=survey.kind, conversation_id=request.conversation_id, customer_id=request.customer_id,
        channel_id=request.channel_id, team_id=request.team_id, operator_id=request.operator_id, sent_at=now.isoformat(),
    ))  # fmt: skip
    return message


def survey_prompt(
    request_id: int, kind: str, question: str, language: str, channel_kind: str, *, sent_at: datetime | None = None
) -> tuple[str, Interactive | None]:
    """The question with one button per score where the channel shows that many buttons, else a
    list of the scores where it shows lists (WhatsApp: 3 buttons, 10 list rows); where it shows
    links (e-mail) one link per score that needs no login (``okno.surveys.links``, when okno
    knows its public address); elsewhere the question with its scale spelled out (the score is
    the number itself, so it is not numbered as a list would be: "10" must mean 10 on a 0–10
    scale)."""
    low, high = SCALES[kind]
    options = [Option(id=option_id(request_id, n), title=str(n)) for n in range(low, high + 1)]
    capabilities = adapter_class(channel_kind).capabilities
    support = capabilities.interactive
    for interactive in (
        Interactive(style="buttons", options=options),
        Interactive(style="list", options=options, button=LIST_BUTTON[language]),
    ):
        try:
            rendering = choose_rendering(support, interactive, question)
        except ChoicesRefused:
            continue
        if rendering.style == interactive.style:
            return question, interactive
    links = score_links(request_id, kind, sent_at or utcnow()) if capabilities.links else None
    if links:
        return f"{question}\n\n{links_text(kind, language, links)}".strip(), None
    return f"{question}\n\n{scale_hint(kind, language)}".strip(), None


async def customer_language(session: AsyncSession, customer_id: int, conversation_id: int) -> str:
    customer = await session.get(Customer, customer_id)
    attributes = (customer.attributes or {}) if customer is not None else {}
    texts = (
        await session.scalars(
            select(Message.text)
            .where(Message.conversation_id == conversation_id, Message.direction == Direction.inbound.value)
            .order_by(Message.id.desc())
            .limit(20)
        )
    ).all()
    return language_of(attributes.get("locale") or attributes.get("language"), [t or "" for t in texts], policy().default_language)


def _timeline(request: SurveyRequest, kind: str, data: dict, at: datetime, message_id: int | None = None) -> TimelineEvent:
    return TimelineEvent(
        customer_id=request.customer_id, conversation_id=request.conversation_id, message_id=message_id, channel_id=request.channel_id,
        **SURVEYOR.columns(), kind=kind, data={"request_id": request.id, **data}, occurred_at=at,
    )  # fmt: skip


async def follow_customer_merges(deps: SubscriberDeps, event: Event) -> None:
    """customer.merged / customer.unmerged: a survey belongs to whoever its conversation belongs
    to now, so an answer from the merged person is still recognised (and the quiet window and the
    erase check see the right person)."""
    ids = [event.payload["survivor_id"], event.payload.get("merged_id") or event.payload.get("restored_id")]
    owner = select(Conversation.customer_id).where(Conversation.id == SurveyRequest.conversation_id).scalar_subquery()
    async with deps.db.transaction() as session:
        await session.execute(
            update(SurveyRequest).where(SurveyRequest.customer_id.in_([i for i in ids if i is not None])).values(customer_id=owner)
        )
