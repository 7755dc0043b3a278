"""An operator's account over its life: role, activation, password. Every change is audited in
the transaction that makes it; deactivation and password changes revoke tokens at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.auth.passwords import check_password, new_password_hash
from okno.kit.audit import audit
from okno.kit.db import Database
from okno.kit.errors import Conflict, Forbidden, Invalid, NotFound
from okno.kit.time import utcnow
from okno.customers.identities import InvalidIdentity, normalize_email
from okno.kit.removal import Use, refuse_if_used
from okno.models import AccessToken, Conversation, Message, Operator, OperatorKind, Presence, Role, TimelineEvent


@dataclass(frozen=True)
class AccountChange:
    """What an admin sent; None leaves a field as it is. ``password_hash`` is hashed by the
    caller before the write transaction opens."""

    role: str | None = None
    is_active: bool | None = None
    password_hash: str | None = None
    name: str | None = None
    email: str | None = None


async def change_account(session: AsyncSession, *, operator_id: int, change: AccountChange, actor_id: int) -> Operator:
    operator = await session.get(Operator, operator_id, with_for_update=True)
    if operator is None or operator.kind != OperatorKind.person.value:
        raise NotFound("%(what)s %(id)s not found", what="operator", id=operator_id)
    if change.name is not None and change.name.strip() != operator.name:
        name = change.name.strip()
        if not 1 <= len(name) <= 200:
            raise Invalid("name must be 1–200 characters", ru="Имя: от 1 до 200 символов")
        await audit(session, actor_id=actor_id, action="operator.renamed", subject=("operator", operator.id), data={"from": operator.name, "to": name})
        operator.name = name
    if change.email is not None:
        await _change_email(session, operator, change.email, actor_id=actor_id)
    if change.role is not None and change.role != operator.role:
        if change.role not in Role.__members__:
            raise Invalid("unknown role %(role)r (one of: %(choices)s)", role=change.role, choices=", ".join(Role.__members__))
        await _keep_an_admin(session, operator, losing="role")
        await audit(session, actor_id=actor_id, action="operator.role_changed", subject=("operator", operator.id), data={"from": operator.role, "to": change.role})
        operator.role = change.role
    if change.is_active is not None and change.is_active != operator.is_active:
        if not change.is_active:
            await _keep_an_admin(session, operator, losing="activation")
            await revoke_all_tokens(session, operator.id)
            operator.presence, operator.presence_changed_at = Presence.offline.value, utcnow()
        operator.is_active = change.is_active
        action = "operator.activated" if change.is_active else "operator.deactivated"
        await audit(session, actor_id=actor_id, action=action, subject=("operator", operator.id))
    if change.password_hash is not None:
        operator.password_hash = change.password_hash
        await revoke_all_tokens(session, operator.id)
        await audit(session, actor_id=actor_id, action="operator.password_reset", subject=("operator", operator.id))
    await session.flush()
    return operator


async def _change_email(session: AsyncSession, operator: Operator, email: str, *, actor_id: int) -> None:
    try:
        email = normalize_email(email)
    except InvalidIdentity as exc:
        raise Invalid(exc.detail, ru="Проверьте адрес e-mail") from exc
    if email == operator.email:
        return
    if await session.scalar(select(Operator.id).where(Operator.email == email, Operator.id != operator.id)):
        raise Conflict("an operator with e-mail %(email)s already exists", ru="Оператор с адресом %(email)s уже есть", email=email)
    await audit(session, actor_id=actor_id, action="operator.email_changed", subject=("operator", operator.id), data={"from": operator.email, "to": email})
    operator.email = email


async def delete_account(session: AsyncSession, *, operator_id: int, actor_id: int) -> None:
    """Deletes an account that has done nothing yet (a typo, a duplicate). Someone whose name is
    on replies, assignments or the timeline stays so history shows who did it: deactivate him."""
    operator = await session.get(Operator, operator_id, with_for_update=True)
    if operator is None or operator.kind != OperatorKind.person.value:
        raise NotFound("operator %(operator_id)s not found", operator_id=operator_id)
    if operator.id == actor_id:
        raise Conflict("you cannot delete your own account", ru="Нельзя удалить собственную учётную запись")
    await _keep_an_admin(session, operator, losing="account")
    instead_en, instead_ru = "deactivate him instead: history keeps his name", "деактивируйте его: история сохранит имя"
    await refuse_if_used(session, [
        Use(select(Message.id).where(Message.author_id == operator.id),
            f"operator {operator.id} wrote messages; {instead_en}", f"{operator.name} писал сообщения; {instead_ru}"),
        Use(select(Conversation.id).where(Conversation.assignee_id == operator.id),
            f"operator {operator.id} has conversations; {instead_en}", f"У оператора {operator.name} есть обращения; {instead_ru}"),
        Use(select(TimelineEvent.id).where(TimelineEvent.actor_id == operator.id),
            f"operator {operator.id} acted on conversations; {instead_en}", f"{operator.name} уже работал с обращениями; {instead_ru}"),
    ])  # fmt: skip
    await audit(session, actor_id=actor_id, action="operator.deleted", subject=("operator", operator.id), data={"name": operator.name, "email": operator.email})
    await session.delete(operator)
    await session.flush()


async def _keep_an_admin(session: AsyncSession, operator: Operator, *, losing: str) -> None:
    """Refuses the change that would leave okno without an active person who is admin."""
    if operator.role != Role.admin.value or not operator.is_active:
        return
    others = await session.scalar(
        select(func.count()).where(
            Operator.role == Role.admin.value, Operator.is_active.is_(True), Operator.kind == OperatorKind.person.value, Operator.id != operator.id
        )
    )
    if not others:
        raise Conflict(_LAST_ADMIN[losing], operator_id=operator.id)


_LAST_ADMIN = {  # what would leave okno without an active admin
    "role": "operator %(operator_id)s is the last active admin; make another admin before changing his role",
    "activation": "operator %(operator_id)s is the last active admin; make another admin before deactivating him",
    "account": "operator %(operator_id)s is the last active admin; make another admin before deleting his account",
}


async def revoke_all_tokens(session: AsyncSession, operator_id: int, *, keep_hash: str | None = None) -> None:
    condition = [AccessToken.operator_id == operator_id, AccessToken.revoked_at.is_(None)]
    if keep_hash is not None:
        condition.append(AccessToken.token_hash != keep_hash)
    await session.execute(update(AccessToken).where(*condition).values(revoked_at=utcnow()))


async def change_own_password(db: Database, *, operator: Operator, current: str, new: str, token_hash: str) -> None:
    """Both argon2 steps run before the write transaction; the operator's other sessions end."""
    if not await check_password(current, operator.password_hash):
        async with db.transaction() as session:
            await audit(session, actor_id=operator.id, action="operator.password_change_failed", subject=("operator", operator.id))
        raise Forbidden("the current password is wrong")
    password_hash = await new_password_hash(new)
    async with db.transaction() as session:
        await session.execute(update(Operator).where(Operator.id == operator.id).values(password_hash=password_hash))
        await revoke_all_tokens(session, operator.id, keep_hash=token_hash)
        await audit(session, actor_id=operator.id, action="operator.password_changed", subject=("operator", operator.id))
