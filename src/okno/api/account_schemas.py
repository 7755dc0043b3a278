"""Bodies of the account routes: an admin's change to an operator, API tokens, password change,
the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from okno.api.schemas import OperatorRoutingIn


class OperatorChangeIn(OperatorRoutingIn):
    """Admin edit of an operator; fields left out stay as they are. ``password`` sets a new one
    (a reset: the operator's sessions end and he logs in with it); team membership is edited
    through ``/api/v1/teams/{id}/members``."""

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    role: Literal["admin", "supervisor", "operator"] | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, max_length=1024)
    # his internal number on the office telephone exchange ("100"); "" removes it
    extension: str | None = Field(default=None, pattern=r"^([0-9]{1,16})?$")


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class ApiTokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "supervisor", "operator"] = "operator"
    team_ids: list[int] = Field(default_factory=list, max_length=100)
    expires_at: AwareDatetime | None = None


class ApiTokenOut(BaseModel):
    id: int
    name: str
    role: str
    team_ids: list[int]
    operator_id: int  # the token's own operator: the actor_id of what it does, in the audit log
    created_by: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool


class ApiTokenCreatedOut(ApiTokenOut):
    token: str  # shown this once; only its SHA-256 is stored


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: int | None
    action: str
    subject_type: str
    subject_id: str
    customer_id: int | None
    data: dict[str, Any]
