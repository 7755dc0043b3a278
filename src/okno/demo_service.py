"""The demo's service process, so a new team sees okno working as it would at a real desk: a
Moscow 09–18 calendar and a default SLA policy on both teams, automatic assignment (least loaded
in support, round robin in sales), escalation from sales to support, routing rules, an automation
rule for breached SLAs (tag, high priority, a note), canned answers in Russian and English, and the staff online.

Everything goes through the same domain functions the API uses (validated and audited as the demo
admin); seeding twice adds nothing the second time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.rules import add_rule as add_automation_rule
from okno.knowledge.canned import add_answer
from okno.models import AutomationRule, BusinessHours, CannedAnswer, Operator, Presence, RoutingRule, SlaPolicy, Team
from okno.routing.rules import add_rule as add_routing_rule
from okno.sla.policies import add_calendar, add_policy

CALENDAR = "Москва, будни 09–18"
POLICY = "Стандартный"
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
# business minutes per priority (low, normal, high, urgent)
TARGETS = {
    "low": {"first_response": 240, "resolution": 2880},
    "normal": {"first_response": 60, "next_response": 120, "resolution": 1440},
    "high": {"first_response": 30, "next_response": 60, "resolution": 480},
    "urgent": {"first_response": 10, "next_response": 30, "resolution": 240},
}
CANNED = (  # shortcut, language, title, body (sandboxed Jinja: customer, operator, order_number)
    ("привет", "ru", "Приветствие", "Здравствуйте, {{ customer.name }}! Меня зовут {{ operator.name }}, чем могу помочь?"),
    ("заказ", "ru", "Статус заказа", "Проверяю заказ {{ order_number }}. Минуту, пожалуйста."),
    ("возврат", "ru", "Как оформить возврат",
     "Вернуть товар можно в течение 14 дней: привезите его в любой пункт выдачи с чеком или номером заказа. Деньги придут на карту за 3–5 рабочих дней."),
    ("спасибо", "ru", "Завершение", "Спасибо за обращение! Если появятся вопросы — пишите, мы на связи."),
    ("hello", "en", "Greeting", "Hello {{ customer.name }}! This is {{ operator.name }}. How can I help?"),
)


async def seed_service(session: AsyncSession, *, team_ids: dict[str, int], support: str, sales: str, admin_id: int) -> None:
    calendar_id = await _calendar(session, admin_id)
    policy_id = await _policy(session, admin_id)
    await session.execute(
        update(Team).where(Team.id.in_(list(team_ids.values()))).values(calendar_id=calendar_id, sla_policy_id=policy_id)
    )
    await session.execute(update(Team).where(Team.id == team_ids[support]).values(assignment_strategy="least_loaded"))
    await session.execute(
        update(Team).where(Team.id == team_ids[sales]).values(assignment_strategy="round_robin", escalation_team_id=team_ids[support])
    )
    await _routing(session, team_ids, support, sales, admin_id)
    await _automation(session, admin_id)
    await _canned(session, team_ids[support], admin_id)


async def staff_online(session: AsyncSession, operator_ids: list[int]) -> None:
    """The demo's shift: its people are at work (online), so new conversations are assigned."""
    await session.execute(update(Operator).where(Operator.id.in_(operator_ids)).values(presence=Presence.online.value))


async def _calendar(session: AsyncSession, admin_id: int) -> int:
    found = await session.scalar(select(BusinessHours.id).where(BusinessHours.name == CALENDAR))
    if found is not None:
        return found
    weekly = {day: [["09:00", "18:00"]] for day in WORKDAYS}
    hours = await add_calendar(session, name=CALENDAR, timezone="Europe/Moscow", weekly=weekly, holidays=["2026-12-31", "2027-01-01"], actor_id=admin_id)
    return hours.id


async def _policy(session: AsyncSession, admin_id: int) -> int:
    found = await session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == POLICY))
    if found is not None:
        return found
    return (await add_policy(session, name=POLICY, targets=TARGETS, warning_minutes=10, is_default=True, actor_id=admin_id)).id


async def _routing(session: AsyncSession, team_ids: dict[str, int], support: str, sales: str, admin_id: int) -> None:
    rules: tuple[dict[str, Any], ...] = (
        {
            "name": "Жалобы и возвраты — высокий приоритет",
            "conditions": [{"field": "message.text", "op": "contains", "value": ["возврат", "вернуть", "жалоб", "брак", "refund"]}],
            "actions": {"team_id": team_ids[support], "priority": 2, "tags": ["возврат"]},
        },
        {
            "name": "Оплата и счета — в продажи",
            "conditions": [{"field": "message.text", "op": "contains", "value": ["счёт", "счет", "оплат", "invoice"]}],
            "actions": {"team_id": team_ids[sales], "tags": ["оплата"]},
        },
    )
    for fields in rules:
        if await session.scalar(select(RoutingRule.id).where(RoutingRule.name == fields["name"])) is None:
            await add_routing_rule(session, fields=fields, actor_id=admin_id)


async def _automation(session: AsyncSession, admin_id: int) -> None:
    name = "Просроченный SLA — пометить и поднять приоритет"
    if await session.scalar(select(AutomationRule.id).where(AutomationRule.name == name)) is None:
        actions = [
            {"type": "add_tags", "tags": ["просрочено"]},
            {"type": "set_priority", "priority": 2},
            {"type": "add_note", "text": "SLA нарушен: ответьте клиенту в первую очередь."},
        ]
        fields = {"name": name, "event": "sla.breached", "actions": actions}
        await add_automation_rule(session, fields=fields, actor_id=admin_id)


async def _canned(session: AsyncSession, support_id: int, admin_id: int) -> None:
    present = set(await session.scalars(select(CannedAnswer.shortcut)))
    for shortcut, language, title, body in CANNED:
        if shortcut not in present:
            await add_answer(
                session, fields={"team_id": None, "shortcut": shortcut, "language": language, "title": title, "body": body}, actor_id=admin_id
            )
