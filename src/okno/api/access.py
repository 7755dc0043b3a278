"""The access scope of the request's principal (``okno.access``), as route dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from okno.access import Scope
from okno.api.deps import Ctx, CurrentOperator


async def current_scope(operator: CurrentOperator, ctx: Ctx) -> Scope:
    return Scope.of(operator, ctx.settings)


async def manager_scope(scope: Annotated[Scope, Depends(current_scope)]) -> Scope:
    scope.require_manager("this action")
    return scope


OperatorScope = Annotated[Scope, Depends(current_scope)]
ManagerScope = Annotated[Scope, Depends(manager_scope)]
