"""Response and request bodies of the public API (``/api/v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from okno.operators.time_zones import SnoozePreset
from okno.conversations.actors import actor_of

from okno.channels.interactive import Interactive


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class OperatorIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=200)
    role: str = "operator"


class OperatorOut(_Out):
    id: int
    email: str
    name: str
    role: str
    locale: str
    time_zone: str | None = None  # None: the installation's default (OKNO_DEFAULT_TIME_ZONE)
    theme: str | None = None  # "light", "dark"; None: the device's setting
    is_active: bool
    presence: str
    experienced: bool
    skills: list[str]
    capacity: dict[str, int]
    kind: str = "person"  # person | integration (an API token's own operator)
    extension: str | None = None  # internal telephone number (calls name it; click-to-call rings it)
    signature: str | None = None  # appended to the e-mails he writes (his profile)


class OperatorRoutingIn(BaseModel):
    """Admin edit of an operator's routing attributes; fields left out stay as they are."""

    experienced: bool | None = None
    skills: list[str] | None = Field(default=None, max_length=50)
    capacity: dict[str, int] | None = None


class PresenceIn(BaseModel):
    status: Literal["online", "away", "offline"]


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class TeamOut(_Out):
    id: int
    name: str
    assignment_strategy: str
    sticky: bool
    calendar_id: int | None
    sla_policy_id: int | None
    escalation_team_id: int | None
    signature: str | None = None  # appended to the team's e-mails, after the author's own


class ChannelIn(BaseModel):
    kind: str = Field(max_length=40)
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    team_id: int | None = None


class ChannelPatch(BaseModel):
    """Only what is sent changes. ``config`` holds the settings to change: the rest (and secrets
    left out or sent back as the mask) keep their stored values; the result is validated again."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    team_id: int | None = None  # send null to take the channel off its team
    config: dict[str, Any] | None = None


class ChannelPollingOut(BaseModel):
    """The poll worker's view of a polling channel."""

    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime
    failures: int
    last_error: str | None


class ChannelOut(BaseModel):
    id: int
    kind: str
    name: str
    team_id: int | None
    is_active: bool
    webhook_url: str | None  # None: the channel does not receive webhooks (it polls, or customers connect to okno)
    embed_code: str | None = None  # what to paste into the website (the widget's <script> tag)
    config: dict[str, Any]
    created_at: datetime
    health: str  # "ok" | "needs_action"
    health_reason: str | None = None
    health_changed_at: datetime | None = None
    polling: ChannelPollingOut | None = None


class ChannelKindOut(BaseModel):
    kind: str
    title: str
    # the title in every language of the UI ({"en": …, "ru": …}); the config schema's fields carry
    # theirs as ``x-label`` / ``x-help`` (okno.kit.labels)
    titles: dict[str, str] = Field(default_factory=dict)
    config_schema: dict[str, Any]
    capabilities: dict[str, Any]
    identity_kinds: list[str] = Field(default_factory=list)  # the identity kinds this channel brings


class IdentityOut(_Out):
    kind: str
    value: str
    source_channel_id: int | None = None
    created_at: datetime


class CustomerOut(_Out):
    id: int
    name: str
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    # set on a merged-away profile: the live customer its id now resolves to
    merged_into_id: int | None = None
    identities: list[IdentityOut] = Field(default_factory=list)


class ActorOut(BaseModel):
    """Who did it: an ``operator`` (``id``), an ``automation`` rule (``ref``: its id), a ``bot``
    (``ref``: its key), the ``system`` (``ref``: the job, e.g. ``timer:snooze``) or the ``customer``."""

    type: Literal["customer", "operator", "bot", "automation", "system"]
    id: int | None = None
    ref: str | None = None


class TimelineEventOut(_Out):
    id: int
    kind: str
    occurred_at: datetime
    conversation_id: int | None
    message_id: int | None
    channel_id: int | None
    actor_id: int | None
    actor: ActorOut
    data: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _actor(cls, row: Any) -> Any:
        if isinstance(row, dict) or not hasattr(row, "actor_type"):
            return row
        actor = actor_of(row.actor_type, row.actor_ref, row.actor_id)
        return {name: getattr(row, name) for name in cls.model_fields if name != "actor"} | {"actor": actor.as_json()}


class ConversationOut(_Out):
    id: int
    customer_id: int
    channel_id: int | None
    status: str
    reason: str | None
    priority: int
    team_id: int | None
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    resolved_at: datetime | None
    sla_due_at: datetime | None
    tags: list[str]
    snoozed_until: datetime | None = None
    thread_key: str | None = None  # the thread the conversation is (an e-mail chain, a call, an API thread_id); None: a chat


class StatusChangeIn(BaseModel):
    status: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, max_length=2000)


class AssignIn(BaseModel):
    """``operator_id`` null: nobody; ``team_id`` left out: the team stays, null: no team."""

    operator_id: int | None = None
    team_id: int | None = None
    comment: str | None = Field(default=None, max_length=2000)


class PriorityIn(BaseModel):
    priority: int = Field(ge=0, le=3)


class EscalateIn(BaseModel):
    team_id: int
    comment: str = Field(min_length=1, max_length=2000)


class SnoozeIn(BaseModel):
    """``until``: an ISO-8601 moment with a time zone, in the future and at most a year ahead;
    or ``preset``: ``1h``, ``3h``, ``tomorrow`` or ``monday`` (09:00 in the operator's time zone)."""

    until: AwareDatetime | None = None
    preset: SnoozePreset | None = None
    comment: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_of(self) -> SnoozeIn:
        if (self.until is None) == (self.preset is None):
            raise ValueError("give either until (a moment) or preset (1h, 3h, tomorrow, monday)")
        return self


class ProfileIn(BaseModel):
    """An operator's own settings; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: Literal["ru", "en"] | None = None
    time_zone: str | None = Field(default=None, min_length=1, max_length=64, description="an IANA time zone, e.g. Asia/Novosibirsk")
    signature: str | None = Field(default=None, max_length=2000, description="appended to the e-mails he writes; empty clears it")
    theme: Literal["light", "dark", "system"] | None = Field(default=None, description="the UI's colours; system: the device's setting")


class UnsnoozeIn(BaseModel):
    comment: str | None = Field(default=None, max_length=2000)


Label = dict[str, str]


class StatusOut(_Out):
    key: str
    type: str
    label: Label
    position: int


class StatusIn(BaseModel):
    key: str = Field(max_length=32)
    type: str
    label: Label
    position: int | None = None


class StatusPatch(BaseModel):
    type: str | None = None
    label: Label | None = None
    position: int | None = None


class ReasonOut(_Out):
    key: str
    label: Label
    active: bool


class ReasonIn(BaseModel):
    key: str = Field(max_length=64)
    label: Label
    active: bool = True
    position: int | None = None


class ReasonPatch(BaseModel):
    label: Label | None = None
    active: bool | None = None
    position: int | None = None


class MessageOut(_Out):
    id: int
    conversation_id: int
    customer_id: int
    channel_id: int | None
    direction: str
    text: str
    attachments: list[dict[str, Any]]
    provider_message_id: str | None
    status: str
    error: str | None
    author_id: int | None
    content: dict[str, Any] | None = None  # offered choices (interactive + rendering), a template or an answer
    created_at: datetime
    status_updated_at: datetime
    kind: Literal["message", "call", "review", "answer", "system"] = "message"
    subject: str | None = None
    html: str | None = None  # sanitised when stored: safe to show, yet best shown in a sandboxed frame
    actor: ActorOut

    @model_validator(mode="before")
    @classmethod
    def _actor(cls, row: Any) -> Any:
        if isinstance(row, dict) or not hasattr(row, "actor_type"):
            return row
        actor = actor_of(row.actor_type, row.actor_ref, row.author_id, direction=row.direction)
        return {name: getattr(row, name) for name in cls.model_fields if name != "actor"} | {"actor": actor.as_json()}


class TemplateIn(BaseModel):
    """A message template configured on the channel (WhatsApp: for customers silent > 24 h)."""

    name: str = Field(min_length=1, max_length=512)
    language: str | None = Field(default=None, max_length=20, description="needed only when the name exists in several languages")
    parameters: list[str] = Field(default_factory=list, max_length=20, description="the body's {{1}}, {{2}}… in order")


class MessageIn(BaseModel):
    text: str = Field(default="", max_length=65_536, description="required unless files or a template are sent")
    channel_id: int | None = None
    internal: bool = False
    interactive: Interactive | None = Field(default=None, description="buttons, quick replies or a list offered with the text")
    template: TemplateIn | None = None
    mentions: list[int] = Field(default_factory=list, max_length=20, description="internal notes only: operators the note names (each is notified)")


class ConversationStartIn(BaseModel):
    customer_id: int
    channel_id: int
    text: str = Field(default="", max_length=65_536)
    interactive: Interactive | None = Field(default=None, description="buttons, quick replies or a list offered with the text")
    template: TemplateIn | None = None


class ConversationStartOut(BaseModel):
    conversation: ConversationOut
    message: MessageOut


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: int | None = None
