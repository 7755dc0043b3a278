"""What the UI's pages show, read in as few queries as each needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible, message_visible
from okno.access.guards import visible_customers_among
from okno.conversations.actors import Actor, actor_of
from okno.channels.registry import ADAPTERS
from okno.conversations.reply_channels import ReplyChannel, reply_channels
from okno.conversations.saved_views import views_of
from okno.customers.matching.suggestions import suggestions_for
from okno.customers.merge import merges_of
from okno.customers.personal import shown_attributes
from okno.conversations.queries import get_conversation
from okno.customers.queries import get_customer, identities_of
from okno.kit.time import utcnow
from okno.web.email_view import EmailShown, email_parts
from okno.models import Channel, Conversation, Customer, CustomerMerge, Direction, Identity, Message, Operator, OperatorKind, SavedView, Team, TimelineEvent, team_members

# timeline kinds that are shown between messages (messages themselves come from ``messages``)
INLINE_EVENTS = (
    "conversation.opened",
    "conversation.status_changed",
    "conversation.assigned",
    "conversation.priority_changed",
    "conversation.tagged",
    "conversation.untagged",
    "conversation.escalated",
    "conversation.snoozed",
    "conversation.snooze_ended",
    "identity.conflict",
    "call.completed",
    "call.missed",
    "call.callback_completed",
    "review.reply_deleted",
    "order.created",
    "order.updated",
)


@dataclass(frozen=True)
class Entry:
    """One line of the conversation's timeline: a message or an inline event."""

    at: datetime
    kind: str  # "message" or a timeline kind
    message: Message | None = None
    channel: Channel | None = None
    author: str | None = None
    data: dict = field(default_factory=dict)
    actor: str | None = None
    target: str | None = None  # whom an assignment or escalation went to
    who: Actor | None = None  # who wrote the message or caused the event (typed; ``actor``: an operator's name)
    released: str | None = None  # an escalation's previous assignee, who no longer has the conversation


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    customer: Customer
    entries: list[Entry]
    channels: list[ReplyChannel]
    operators: list[Operator]
    teams: list[Team]
    assignee: Operator | None
    team: Team | None
    email: dict[int, EmailShown] = field(default_factory=dict)  # per message id: quoted history, HTML with inline images
    review: ReviewPanel | None = None
    why: Why | None = None  # how the conversation got here: the routing decision, the visitor's page


@dataclass(frozen=True)
class ReviewPanel:
    """A review conversation's rating, and, for a site that takes no replies from okno, where to answer."""

    stars: int | None
    platform: str
    posts_replies: bool
    cabinet_url: str | None
    deletes_replies: bool = False  # the site lets okno delete the public reply (Google)
    reply_live: bool = False  # an operator's reply went out and was not deleted since


async def review_panel(session: AsyncSession, conversation: Conversation, channel: Channel | None) -> ReviewPanel | None:
    """From the latest review message's context (``context["review"]``, set by review adapters)."""
    rows = await session.scalars(
        select(TimelineEvent.data)
        .where(TimelineEvent.conversation_id == conversation.id, TimelineEvent.kind == "message.received")
        .order_by(TimelineEvent.id.desc())
        .limit(20)
    )
    review = next((d["context"]["review"] for d in rows.all() if isinstance(((d or {}).get("context") or {}).get("review"), dict)), None)
    if review is None:
        return None
    adapter = ADAPTERS.get(channel.kind) if channel is not None else None
    cabinet = review.get("cabinet_url")
    return ReviewPanel(
        stars=review.get("stars") if isinstance(review.get("stars"), int) else None, platform=str(review.get("platform") or ""),
        posts_replies=adapter is None or adapter.capabilities.posts_replies,
        cabinet_url=cabinet if isinstance(cabinet, str) and cabinet.startswith(("https://", "http://")) else None,
        deletes_replies=adapter is not None and adapter.capabilities.deletes_replies,
        reply_live=adapter is not None and adapter.capabilities.deletes_replies and await _reply_live(session, conversation.id),
    )


async def _reply_live(session: AsyncSession, conversation_id: int) -> bool:
    """Whether the review's public reply stands: a reply the provider took after the last deletion."""
    sent = await session.scalar(
        select(func.max(Message.created_at)).where(
            Message.conversation_id == conversation_id, Message.direction == Direction.outbound.value,
            Message.status.in_(("sent", "delivered", "read")),
        )
    )  # fmt: skip
    if sent is None:
        return False
    deleted = await session.scalar(
        select(func.max(TimelineEvent.occurred_at)).where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind == "review.reply_deleted")
    )
    return deleted is None or sent > deleted


@dataclass(frozen=True)
class Why:
    """The "why" panel: the routing rules that matched and what they set, and where the customer
    came from (the widget's page address and UTM tags)."""

    rules: list[str]
    team: str | None
    priority: int | None
    tags: list[str]
    page_url: str | None
    utm: dict[str, str]


@dataclass(frozen=True)
class Suggestion:
    """Another profile that may be the same person, with the matcher's explanation."""

    customer_id: int
    name: str
    score: float
    contributions: list[dict]  # {"field", "comparison", "weight"}
    latest_conversation_id: int | None = None  # where the name links to: the other's latest conversation


@dataclass(frozen=True)
class ProfileView:
    customer: Customer
    identities: list[tuple[Identity, Channel | None]]
    conversations: list[tuple[Conversation, Channel | None, int]]  # with message counts
    notes: list[tuple[Message, str]]  # internal notes from colleagues, newest first
    suggestions: list[Suggestion] = field(default_factory=list)
    merges: list[tuple[CustomerMerge, str]] = field(default_factory=list)  # with the other profile's name
    attributes: dict = field(default_factory=dict)  # as shown: id numbers masked (okno.customers.personal)
    history: History | None = None  # the customer's conversations page by page, with the total


PROFILE_HISTORY_PAGE = 50


@dataclass(frozen=True)
class History:
    """One page of a customer's conversations, newest first, and how many there are in all."""

    conversations: list[tuple[Conversation, Channel | None, int]]  # with message counts
    total: int
    next_before: int | None  # the id the next page starts below; None: this is the last page


async def customer_history(
    session: AsyncSession,
    customer_id: int,
    *,
    before: int | None = None,
    channels: dict[int, Channel] | None = None,
    visible: ColumnElement[bool] | None = None,
) -> History:
    """``visible``: the principal's rule (``okno.access``); other teams' conversations are left out
    of the page and the total."""
    mine = [Conversation.customer_id == customer_id] + ([visible] if visible is not None else [])
    query = select(Conversation).where(*mine).order_by(Conversation.id.desc()).limit(PROFILE_HISTORY_PAGE + 1)
    if before is not None:
        query = query.where(Conversation.id < before)
    found = list(await session.scalars(query))
    page, more = found[:PROFILE_HISTORY_PAGE], len(found) > PROFILE_HISTORY_PAGE
    total = int(await session.scalar(select(func.count()).select_from(Conversation).where(*mine)) or 0)
    counts = dict(
        (
            await session.execute(
                select(Message.conversation_id, func.count()).where(Message.conversation_id.in_([c.id for c in page])).group_by(Message.conversation_id)
            )
        ).all()
    ) if page else {}
    if channels is None:
        channels = {c.id: c for c in await session.scalars(select(Channel))}
    return History(
        conversations=[(c, channels.get(c.channel_id), counts.get(c.id, 0)) for c in page], total=total, next_before=page[-1].id if more else None
    )


async def conversation_view(session: AsyncSession, conversation_id: int, *, scope: Scope | None = None) -> ConversationView:
    conversation = await get_conversation(session, conversation_id, scope=scope)
    customer = await get_customer(session, conversation.customer_id)
    channels = {c.id: c for c in await session.scalars(select(Channel))}
    operators = list(await session.scalars(select(Operator).where(Operator.is_active.is_(True), Operator.kind == OperatorKind.person.value).order_by(Operator.name)))
    names = {o.id: o.name for o in operators}
    teams = list(await session.scalars(select(Team).order_by(Team.name)))
    messages = list(await session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)))
    entries = [
        Entry(
            at=m.created_at,
            kind="message",
            message=m,
            channel=channels.get(m.channel_id),
            author=names.get(m.author_id),
            who=actor_of(m.actor_type, m.actor_ref, m.author_id, direction=m.direction),
        )
        for m in messages
    ]
    events = list(
        await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind.in_(INLINE_EVENTS))
            .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
        )
    )
    team_names = {t.id: t.name for t in teams}
    released_ids = {e.data.get("previous_assignee") for e in events if e.kind == "conversation.escalated" and e.data} - {None, *names}
    all_names = names | (dict((await session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(released_ids)))).all()) if released_ids else {})
    entries += [
        Entry(
            at=e.occurred_at,
            kind=e.kind,
            data=e.data or {},
            actor=names.get(e.actor_id),
            channel=channels.get(e.channel_id),
            target=_target(e, names, team_names),
            released=_released(e, all_names),
            who=actor_of(e.actor_type, e.actor_ref, e.actor_id),
        )
        for e in events
    ]
    entries.sort(key=lambda e: e.at)
    why = await _why(session, conversation_id, team_names)
    return ConversationView(
        conversation=conversation,
        customer=customer,
        entries=entries,
        channels=await reply_channels(session, customer.id),
        operators=operators,
        teams=teams,
        assignee=next((o for o in operators if o.id == conversation.assignee_id), None),
        team=next((t for t in teams if t.id == conversation.team_id), None),
        email=await email_parts(session, customer.id, messages, channels),  # no query unless the conversation has e-mail
        review=await review_panel(session, conversation, channels.get(conversation.channel_id)) if any(
            e.message is not None and e.message.kind == "review" for e in entries
        ) else None,
        why=why,
    )


async def _why(session: AsyncSession, conversation_id: int, team_names: dict[int, str]) -> Why | None:
    """The latest routing decision and the first message's page (two small reads by index)."""
    routed = await session.scalar(
        select(TimelineEvent).where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind == "conversation.routed")
        .order_by(TimelineEvent.id.desc()).limit(1)
    )
    first = await session.scalar(
        select(TimelineEvent).where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind == "message.received")
        .order_by(TimelineEvent.id).limit(1)
    )
    decision = (routed.data or {}) if routed is not None else {}
    widget = (((first.data or {}).get("context") or {}).get("widget") or {}) if first is not None else {}
    utm = widget.get("utm") if isinstance(widget.get("utm"), dict) else {}
    if not decision.get("rules") and not widget.get("page_url") and not utm:
        return None
    team_id = decision.get("team_id")
    return Why(
        rules=[str(r) for r in decision.get("rules") or []],
        team=team_names.get(team_id) if isinstance(team_id, int) else None,
        priority=decision.get("priority") if isinstance(decision.get("priority"), int) else None,
        tags=[str(t) for t in decision.get("tags") or []],
        # the visitor's own claim: shown as a link only when it is a web address
        page_url=str(widget["page_url"]) if str(widget.get("page_url") or "").startswith(("https://", "http://")) else None,
        utm={str(k): str(v) for k, v in utm.items()},
    )


def _released(event: TimelineEvent, operators: dict[int, str]) -> str | None:
    previous = (event.data or {}).get("previous_assignee") if event.kind == "conversation.escalated" else None
    return operators.get(previous, f"#{previous}") if previous is not None else None


def _target(event: TimelineEvent, operators: dict[int, str], teams: dict[int, str]) -> str | None:
    data = event.data or {}
    if event.kind == "conversation.assigned":
        if data.get("to") is not None:
            return operators.get(data["to"])
        return teams.get(data.get("team_to"))
    if event.kind == "conversation.escalated":
        return teams.get(data.get("to"))
    return None


async def profile_view(session: AsyncSession, customer_id: int, *, scope: Scope | None = None) -> ProfileView:
    """``scope``: the customer must be visible; his conversations (and their notes) of other
    teams are left out, as are suggested profiles the principal can't see."""
    customer = await get_customer(session, customer_id, scope=scope)
    channels = {c.id: c for c in await session.scalars(select(Channel))}
    identities = (await identities_of(session, [customer_id]))[customer_id]
    visible = conversation_visible(scope) if scope is not None else None
    history = await customer_history(session, customer_id, channels=channels, visible=visible)
    note_visible = message_visible(scope) if scope is not None else true()
    notes = (
        await session.execute(
            select(Message, Operator.name)
            .outerjoin(Operator, Operator.id == Message.author_id)
            .where(Message.customer_id == customer_id, Message.direction == Direction.note.value, note_visible)
            .order_by(Message.id.desc())
            .limit(20)
        )
    ).all()
    found, _model = await suggestions_for(session, customer_id, limit=3)
    if scope is not None:
        shown = await visible_customers_among(session, scope, [c.customer_id for c in found])
        found = [c for c in found if c.customer_id in shown]
    merges = (await merges_of(session, customer_id))[:5]
    others = {c.customer_id for c in found} | {m.merged_id if m.survivor_id == customer_id else m.survivor_id for m in merges}
    names = dict((await session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(others)))).all()) if others else {}
    suggested = [c.customer_id for c in found]
    latest = dict(
        (await session.execute(
            select(Conversation.customer_id, func.max(Conversation.id)).where(Conversation.customer_id.in_(suggested)).group_by(Conversation.customer_id)
        )).all()
    ) if suggested else {}
    return ProfileView(
        customer=customer,
        identities=[(i, channels.get(i.source_channel_id)) for i in identities],
        conversations=history.conversations,
        notes=[(m, name or "") for m, name in notes],
        suggestions=[Suggestion(c.customer_id, names.get(c.customer_id, ""), c.score, c.contributions, latest.get(c.customer_id)) for c in found],
        merges=[(m, names.get(m.merged_id if m.survivor_id == customer_id else m.survivor_id, "")) for m in merges],
        attributes=shown_attributes(customer.attributes),
        history=history,
    )


@dataclass(frozen=True)
class OperatorLoad:
    operator: Operator
    open_conversations: int


@dataclass(frozen=True)
class SupervisorView:
    queue_sizes: dict[str, int]  # unassigned / assigned / waiting for a reply
    longest_wait: timedelta | None
    median_wait: timedelta | None
    load: list[OperatorLoad]
    # inbound messages today per channel kind per hour (0..23, in the view's time zone)
    volume: dict[str, list[int]]


async def supervisor_view(
    session: AsyncSession, *, unfinished: tuple[str, ...], day_start: datetime, hours: int = 24, scope: Scope | None = None
) -> SupervisorView:
    """``scope``: the figures count only the conversations (and their messages) the supervisor may see."""
    now = utcnow()
    open_ = Conversation.status.in_(unfinished)
    if scope is not None:
        open_ = open_ & conversation_visible(scope)
    inbound_visible = message_visible(scope) if scope is not None else true()
    unassigned = await session.scalar(select(func.count()).select_from(Conversation).where(open_, Conversation.assignee_id.is_(None)))
    assigned = await session.scalar(select(func.count()).select_from(Conversation).where(open_, Conversation.assignee_id.is_not(None)))
    waiting_since = list(
        await session.scalars(
            select(Conversation.last_inbound_at)
            .where(open_, Conversation.last_inbound_at.is_not(None), Conversation.last_inbound_at >= Conversation.last_message_at)
            .order_by(Conversation.last_inbound_at)
            .limit(5000)
        )
    )
    waits = [now - w for w in waiting_since]
    per_operator = dict(
        (await session.execute(select(Conversation.assignee_id, func.count()).where(open_, Conversation.assignee_id.is_not(None)).group_by(Conversation.assignee_id))).all()
    )
    people = select(Operator).where(Operator.is_active.is_(True), Operator.kind == OperatorKind.person.value)
    if scope is not None and not scope.sees_everything:
        # a supervisor sees the load of the people he works with: members of his teams, himself,
        # whoever holds a conversation he may see, and people of no team (as he sees unteamed
        # conversations) — not the members of other teams
        his_teams = select(team_members.c.team_id).where(team_members.c.operator_id == scope.operator_id)
        team_mates = select(team_members.c.operator_id).where(team_members.c.team_id.in_(his_teams))
        teamed = select(team_members.c.operator_id)
        people = people.where(
            Operator.id.in_(team_mates) | (Operator.id == scope.operator_id) | Operator.id.in_(list(per_operator)) | Operator.id.not_in(teamed)
        )
    operators = list(await session.scalars(people.order_by(Operator.name)))
    rows = await session.execute(
        select(Channel.kind, Message.created_at)
        .join(Channel, Channel.id == Message.channel_id)
        .where(Message.direction == Direction.inbound.value, Message.created_at >= day_start, inbound_visible)
    )
    volume: dict[str, list[int]] = {}
    for kind, at in rows:
        hour = int((at - day_start).total_seconds() // 3600)
        if 0 <= hour < hours:
            volume.setdefault(kind, [0] * hours)[hour] += 1
    return SupervisorView(
        queue_sizes={"unassigned": int(unassigned or 0), "assigned": int(assigned or 0), "waiting": len(waits)},
        longest_wait=waits[0] if waits else None,
        median_wait=sorted(waits)[len(waits) // 2] if waits else None,
        load=sorted((OperatorLoad(o, int(per_operator.get(o.id, 0))) for o in operators), key=lambda x: -x.open_conversations),
        volume=volume,
    )


@dataclass(frozen=True)
class AdminView:
    operators: list[Operator]
    teams: list[Team]
    member_teams: dict[int, list[str]]  # operator id -> team names


async def admin_view(session: AsyncSession) -> AdminView:
    operators = list(await session.scalars(select(Operator).where(Operator.kind == OperatorKind.person.value).order_by(Operator.name)))
    teams = list(await session.scalars(select(Team).order_by(Team.name)))
    names = {t.id: t.name for t in teams}
    member_teams: dict[int, list[str]] = {}
    for team_id, operator_id in await session.execute(select(team_members.c.team_id, team_members.c.operator_id)):
        member_teams.setdefault(operator_id, []).append(names.get(team_id, ""))
    return AdminView(operators=operators, teams=teams, member_teams=member_teams)


@dataclass(frozen=True)
class InboxTools:
    """What the inbox's filters, bulk actions and saved views offer: people, teams, his views."""

    operators: list[Operator]
    teams: list[Team]
    my_team_ids: set[int]
    views: list[SavedView]


async def inbox_tools(session: AsyncSession, operator_id: int) -> InboxTools:
    operators = list(await session.scalars(select(Operator).where(Operator.is_active.is_(True), Operator.kind == OperatorKind.person.value).order_by(Operator.name)))
    teams = list(await session.scalars(select(Team).order_by(Team.name)))
    mine = set(await session.scalars(select(team_members.c.team_id).where(team_members.c.operator_id == operator_id)))
    return InboxTools(operators=operators, teams=teams, my_team_ids=mine, views=await views_of(session, operator_id))
