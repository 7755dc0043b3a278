"""What an automation action is: a params model (its JSON Schema is the API's and the admin
form's), ``validate`` against the database, ``perform`` on one conversation, and ``describe`` for
the admin's list of rules — with its name in Russian and English.

An action is stored in ``automation_rules.actions`` as ``{"type": ..., **params}`` (what
``validate`` returns). ``perform`` runs inside the rule's savepoint with the session's changes
marked as the rule's (``okno.automation.actor``); it raises ``OknoError`` to fail the rule.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, model_validator

from okno.kit.errors import Invalid
from okno.kit.labels import Label

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from okno.bus.events import Event
    from okno.kit.crypto import SecretBox
    from okno.kit.outbound_urls import OutboundUrls


class ActionParams(BaseModel):
    """Base of every params model: unknown keys are ignored (a rule read back from the API, with
    its masked secret, can be sent back as it is)."""

    model_config = ConfigDict(extra="ignore")

    # texts that, left out, are checked as empty ones, so the refusal says what they must be
    # (``actions[0].url must be an http:// or https:// URL``) rather than only that they are missing
    explain_missing: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _checked_when_missing(cls, data: Any) -> Any:
        if isinstance(data, dict) and (missing := [name for name in cls.explain_missing if name not in data]):
            return {**data, **dict.fromkeys(missing, "")}
        return data


class Names(Protocol):
    """How ``describe`` shows what an action refers to, in the reader's language."""

    locale: str

    def team(self, team_id: Any) -> str: ...
    def operator(self, operator_id: Any) -> str: ...
    def status(self, key: Any) -> str: ...
    def reason(self, key: Any) -> str: ...
    def priority(self, value: Any) -> str: ...
    def canned_answer(self, answer_id: Any) -> str: ...


@dataclass(frozen=True)
class Checking:
    """What ``validate`` may look at: the session, where the action is in the rule (for the
    refusal's wording), the key that seals secrets, the rule's actions before this change, and
    the outbound URL policy URLs okno will call are checked against (None: not checked here)."""

    session: AsyncSession
    where: str
    box: SecretBox | None = None
    previous: Sequence[dict[str, Any]] = field(default_factory=tuple)
    urls: OutboundUrls | None = None

    def refuse(self, text: str, *, at: str | None = None, **params: object) -> Invalid:
        """``refuse("team %(id)s does not exist", at="team_id", id=4)`` → ``actions[0].team_id: team
        4 does not exist``; without ``at``: ``actions[0]: <text>``. The text is a template: the
        whole sentence (``"%(where)s.%(at)s: team %(id)s does not exist"``) is the catalog's msgid."""
        if at:
            return Invalid("%(where)s.%(at)s: " + text, where=self.where, at=at, **params)
        return Invalid("%(where)s: " + text, where=self.where, **params)


@dataclass(frozen=True)
class ActionRun:
    """One action of one rule on one conversation, for one event."""

    session: AsyncSession
    conversation_id: int
    rule_id: int
    index: int  # the action's place in the rule
    event: Event
    reason_required: bool = False  # the resolve-needs-a-reason setting
    auto_reply_limit: int = 5  # automatic replies per customer and mail channel per hour (OKNO_AUTO_REPLIES_PER_SENDER_PER_HOUR)

    @property
    def via(self) -> str:
        return f"automation:{self.rule_id}"


class AutomationAction(ABC):
    type: ClassVar[str]
    label: ClassVar[Label]
    params: ClassVar[type[ActionParams]]

    async def validate(self, params: Any, checking: Checking) -> dict[str, Any]:
        """The action as stored; raises ``Invalid`` (``checking.refuse``) naming what is wrong."""
        return {"type": self.type, **params.model_dump(exclude_none=True)}

    @abstractmethod
    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None: ...

    @abstractmethod
    def describe(self, action: dict[str, Any], names: Names) -> str:
        """What the stored ``action`` does, shown after its label: ``Urgent``, ``vip, refund``."""
