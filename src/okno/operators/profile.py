"""An operator's own settings: name, language, time zone, colours, e-mail signature (audited like an admin's edit)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Invalid, NotFound
from okno.models import Operator
from okno.operators.time_zones import checked_time_zone


async def update_profile(
    session: AsyncSession, operator_id: int, *, name: str | None, locale: str | None, time_zone: str | None,
    signature: str | None = None, theme: str | None = None,
) -> Operator:
    """Fields given as None stay as they are; an empty ``signature`` clears it; ``theme``
    "system" stores none (the device's setting)."""
    operator = await session.get(Operator, operator_id, with_for_update=True)
    if operator is None:
        raise NotFound("%(what)s %(id)s not found", what="operator", id=operator_id)
    changes: dict[str, object] = {}
    if name is not None:
        name = name.strip()
        if not name:
            raise Invalid("name must not be blank")
        changes["name"] = name
    if locale is not None:
        changes["locale"] = locale
    if time_zone is not None:
        changes["time_zone"] = checked_time_zone(time_zone)
    if signature is not None:
        changes["signature"] = signature.strip() or None
    if theme is not None:  # "light", "dark" or "system" (the API's schema allows no other)
        changes["theme"] = None if theme == "system" else theme
    changes = {k: v for k, v in changes.items() if getattr(operator, k) != v}
    for field, value in changes.items():
        setattr(operator, field, value)
    if changes:
        await audit(session, actor_id=operator_id, action="operator.profile_changed", subject=("operator", operator_id), data=changes)
    await session.flush()
    return operator
