"""The inbox's own API: bulk actions on selected conversations, the tags in use, saved views."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from okno.api.access import OperatorScope
from okno.api.conversation_actions import Tag
from okno.api.deps import Ctx, CurrentOperator, ReadSession, WriteSession
from okno.api.schemas import ConversationOut
from okno.conversations.bulk import MAX_BULK, BulkAction, BulkRequest, apply_bulk
from okno.conversations.saved_views import change_view, delete_view, save_view, views_of
from okno.conversations.tags import tags_in_use

router = APIRouter(prefix="/api/v1", tags=["inbox"])


class BulkIn(BaseModel):
    """``assign``: ``operator_id`` (null: nobody); ``transfer``: ``team_id`` (nobody assigned);
    ``resolve``: ``reason`` (required when the installation asks for one) and ``comment``;
    ``tag``: ``tags``. Every conversation must be one the caller sees, else nothing is done (404)."""

    action: Literal["assign", "transfer", "resolve", "tag"]
    conversation_ids: list[int] = Field(min_length=1, max_length=MAX_BULK)
    operator_id: int | None = None
    team_id: int | None = None
    reason: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, max_length=2000)
    tags: list[Tag] = Field(default_factory=list, max_length=30)


class BulkOut(BaseModel):
    conversations: list[ConversationOut]


@router.post("/conversations/bulk", response_model=BulkOut)
async def bulk_action(body: BulkIn, operator: CurrentOperator, scope: OperatorScope, session: WriteSession, ctx: Ctx) -> BulkOut:
    request = BulkRequest(
        action=BulkAction(body.action), conversation_ids=body.conversation_ids, operator_id=body.operator_id, team_id=body.team_id,
        reason=body.reason, comment=body.comment, tags=tuple(body.tags),
    )
    changed = await apply_bulk(session, request, scope=scope, actor_id=operator.id, reason_required=ctx.settings.require_reason_to_resolve)
    return BulkOut(conversations=[ConversationOut.model_validate(c) for c in changed])


class TagCount(BaseModel):
    tag: str
    count: int


class TagsOut(BaseModel):
    tags: list[TagCount]


@router.get("/tags", response_model=TagsOut)
async def list_tags(scope: OperatorScope, session: ReadSession, prefix: Annotated[str, Query(max_length=64)] = "", limit: Annotated[int, Query(ge=1, le=100)] = 20) -> TagsOut:
    """Tags on the latest conversations the caller sees, most used first (``prefix``: those
    starting with it)."""
    found = await tags_in_use(session, scope=scope, prefix=prefix, limit=limit)
    return TagsOut(tags=[TagCount(tag=tag, count=n) for tag, n in found])


class SavedViewIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    query: str = Field(max_length=1000)  # the inbox's query string: queue=mine&tag=refund&sla=breached
    team_id: int | None = None  # share with this team (one of the caller's)


class SavedViewOut(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    name: str
    query: str
    team_id: int | None
    operator_id: int


class SavedViewsOut(BaseModel):
    views: list[SavedViewOut]


@router.get("/views", response_model=SavedViewsOut)
async def list_views(operator: CurrentOperator, session: ReadSession) -> SavedViewsOut:
    """The caller's saved views and those shared with his teams."""
    return SavedViewsOut(views=[SavedViewOut.model_validate(v) for v in await views_of(session, operator.id)])


@router.post("/views", response_model=SavedViewOut, status_code=201)
async def create_view(body: SavedViewIn, operator: CurrentOperator, session: WriteSession) -> SavedViewOut:
    view = await save_view(session, operator_id=operator.id, name=body.name, query=body.query, team_id=body.team_id)
    return SavedViewOut.model_validate(view)


class SavedViewPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    query: str | None = Field(default=None, max_length=1000)
    team_id: int | None = None  # null: only the owner sees it


@router.patch("/views/{view_id}", response_model=SavedViewOut)
async def edit_view(view_id: int, body: SavedViewPatch, operator: CurrentOperator, session: WriteSession) -> SavedViewOut:
    """Rename a view, give it other filters or share it otherwise; only its owner (404 for anyone else)."""
    view = await change_view(session, operator_id=operator.id, view_id=view_id, changes=body.model_dump(include=body.model_fields_set))
    return SavedViewOut.model_validate(view)


@router.delete("/views/{view_id}", status_code=204)
async def remove_view(view_id: int, operator: CurrentOperator, session: WriteSession) -> None:
    """Only the view's owner deletes it (404 for anyone else)."""
    await delete_view(session, operator_id=operator.id, view_id=view_id)
