"""Canned answers: short codes an operator types, per team or for everyone, in Russian or English.

Bodies are Jinja templates rendered in a sandbox with the conversation's facts: ``customer.name``
and any customer attribute (``customer.vip_tier``…), ``order_number`` (the customer's
``order_number`` attribute, else the last order number the customer wrote), ``operator.name``,
``conversation.id``. A variable with no value renders empty and is reported back as missing.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import canned_answer_visible
from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.models import CannedAnswer, Conversation, Customer, Direction, Message, Operator, Team

LANGUAGES = ("ru", "en")
VARIABLES = ("customer", "operator", "order_number", "conversation")
MAX_BODY = 10_000
_SHORTCUT = re.compile(r"^[\w-]{1,64}$")
_ORDER = re.compile(r"(?:заказ\w*|order)\D{0,12}?(\d{4,12})|№\s*(\d{4,12})", re.IGNORECASE)


def _environment() -> tuple[SandboxedEnvironment, list[str]]:
    """A sandbox whose missing variables render empty and are collected in the returned list."""
    missing: list[str] = []

    class Missing(ChainableUndefined):
        def __str__(self) -> str:
            missing.append(self._undefined_name or "?")
            return ""

    return SandboxedEnvironment(undefined=Missing, autoescape=False, keep_trailing_newline=True), missing


def checked_body(body: str) -> str:
    body = body.strip()
    if not body or len(body) > MAX_BODY:
        raise Invalid("body must be 1–%(num)s character", plural="body must be 1–%(num)s characters", num=MAX_BODY)
    try:
        parsed = _environment()[0].parse(body)
    except TemplateSyntaxError as exc:
        raise Invalid("body has a template error on line %(lineno)s: %(message)s", lineno=exc.lineno, message=exc.message) from None
    if unknown := sorted(meta.find_undeclared_variables(parsed) - set(VARIABLES)):
        raise Invalid("body uses unknown variables %(unknown)s (available: %(variables)s)", unknown=unknown, variables=', '.join(VARIABLES))
    return body


async def answers_for(
    session: AsyncSession, operator: Operator, *, language: str | None, query: str | None, team_id: int | None
) -> list[CannedAnswer]:
    statement = select(CannedAnswer).order_by(CannedAnswer.shortcut, CannedAnswer.language, CannedAnswer.id)
    # everyone's answers and the operator's teams' (admins: all), the rule of ``okno.access``
    statement = statement.where(canned_answer_visible(Scope(operator_id=operator.id, role=operator.role)))
    if team_id is not None:
        statement = statement.where(or_(CannedAnswer.team_id.is_(None), CannedAnswer.team_id == team_id))
    if language:
        statement = statement.where(CannedAnswer.language == language)
    if query:
        statement = statement.where(CannedAnswer.shortcut.startswith(query.strip().lstrip("/").lower(), autoescape=True))
    return list(await session.scalars(statement.limit(200)))


async def add_answer(session: AsyncSession, *, fields: dict[str, Any], actor_id: int) -> CannedAnswer:
    answer = CannedAnswer()
    await _apply(session, answer, fields, creating=True)
    session.add(answer)
    await session.flush()
    await audit(session, actor_id=actor_id, action="canned_answer.added", subject=("canned_answer", answer.id))
    return answer


async def change_answer(session: AsyncSession, answer_id: int, *, fields: dict[str, Any], actor_id: int) -> CannedAnswer:
    answer = await _answer(session, answer_id)
    await _apply(session, answer, fields, creating=False)
    await session.flush()
    await audit(session, actor_id=actor_id, action="canned_answer.changed", subject=("canned_answer", answer.id))
    return answer


async def remove_answer(session: AsyncSession, answer_id: int, *, actor_id: int) -> None:
    answer = await _answer(session, answer_id)
    await session.delete(answer)
    await audit(session, actor_id=actor_id, action="canned_answer.removed", subject=("canned_answer", answer_id), data={"shortcut": answer.shortcut})


async def render_answer(session: AsyncSession, answer_id: int, *, conversation_id: int, operator: Operator | None) -> dict[str, Any]:
    """``operator`` None: okno itself sends it (an automation); ``operator.name`` is then "okno"."""
    answer = await _answer(session, answer_id)
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("%(what)s %(id)s not found", what="conversation", id=conversation_id)
    customer = await session.get(Customer, conversation.customer_id)
    attributes = dict(customer.attributes or {}) if customer is not None else {}
    customer_facts = {**attributes, "name": customer.name if customer is not None else ""}
    facts: dict[str, Any] = {  # a value okno does not have is left out, so it is reported missing
        "customer": {k: v for k, v in customer_facts.items() if v not in (None, "")},
        "operator": {"name": operator.name, "email": operator.email} if operator is not None else {"name": "okno"},
        "conversation": {"id": conversation.id, "reason": conversation.reason, "priority": conversation.priority},
    }
    if order_number := attributes.get("order_number") or await _last_order_number(session, conversation.id):
        facts["order_number"] = order_number
    env, missing = _environment()
    text = env.from_string(answer.body).render(**facts)
    return {"text": text, "missing": sorted(set(missing)), "language": answer.language}


async def _last_order_number(session: AsyncSession, conversation_id: int) -> str | None:
    texts = await session.scalars(
        select(Message.text)
        .where(Message.conversation_id == conversation_id, Message.direction == Direction.inbound.value)
        .order_by(Message.id.desc())
        .limit(20)
    )
    for text in texts:
        found = [a or b for a, b in _ORDER.findall(text)]
        if found:
            return found[-1]
    return None


async def _apply(session: AsyncSession, answer: CannedAnswer, fields: dict[str, Any], *, creating: bool) -> None:
    if "team_id" in fields:
        if fields["team_id"] is not None and await session.get(Team, fields["team_id"]) is None:
            raise Invalid("team_id: team %(team_id)s does not exist", team_id=fields['team_id'])
        answer.team_id = fields["team_id"]
    if "shortcut" in fields or creating:
        shortcut = str(fields.get("shortcut") or "").strip().lstrip("/").lower()
        if not _SHORTCUT.match(shortcut):
            raise Invalid("shortcut must be 1–64 letters, digits, '_' or '-' (typed after '/')")
        answer.shortcut = shortcut
    if "language" in fields or creating:
        if fields.get("language") not in LANGUAGES:
            raise Invalid("language must be one of: %(languages)s", languages=', '.join(LANGUAGES))
        answer.language = fields["language"]
    if "title" in fields or creating:
        title = str(fields.get("title") or "").strip()
        if not 1 <= len(title) <= 200:
            raise Invalid("title must be 1–200 characters")
        answer.title = title
    if "body" in fields or creating:
        answer.body = checked_body(str(fields.get("body") or ""))
    clash = await session.scalar(
        select(CannedAnswer.id).where(
            CannedAnswer.shortcut == answer.shortcut,
            CannedAnswer.language == answer.language,
            CannedAnswer.team_id.is_(None) if answer.team_id is None else CannedAnswer.team_id == answer.team_id,
            CannedAnswer.id != answer.id if answer.id is not None else True,
        )
    )
    if clash:
        raise Conflict("/%(shortcut)s (%(language)s) already exists for team %(team_id)s", shortcut=answer.shortcut, language=answer.language, team_id=answer.team_id)
        raise Conflict("/%(shortcut)s (%(language)s) already exists for every team", shortcut=answer.shortcut, language=answer.language)


async def _answer(session: AsyncSession, answer_id: int) -> CannedAnswer:
    answer = await session.get(CannedAnswer, answer_id)
    if answer is None:
        raise NotFound("%(what)s %(id)s not found", what="canned answer", id=answer_id)
    return answer
