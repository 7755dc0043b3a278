"""Creating and reading channels; configs are validated by the adapter's model and sealed at rest."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.base import SAVING
from okno.channels.registry import adapter_class
from okno.kit.audit import audit
from okno.kit.crypto import SecretBox
from okno.kit.db_wake import request_wake
from okno.kit.errors import Invalid, NotFound
from okno.kit.outbound_urls import CalledUrl, OutboundUrls
from okno.kit.time import utcnow
from okno.models import Channel, ChannelPollState, Team

MASK = "********"


def validate_config(kind: str, config: dict[str, Any]) -> BaseModel:
    """A config an admin saves, checked by its adapter's model (with the checks only new settings
    must pass, such as a secret's minimum length)."""
    model = adapter_class(kind).config_model
    try:
        return model.model_validate(config, context=SAVING)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise Invalid(
            "invalid %(kind)s channel config: %(problems)s", kind=kind, problems=problems, field_errors=_labelled(model, exc.errors(include_url=False))
        ) from exc


def _labelled(model: type[BaseModel], errors: list[Any]) -> list[dict[str, Any]]:
    """Each failure with its field's title in both languages (``x-label``), so a refusal names the
    field the way the form does."""
    labelled = []
    for error in errors:
        field = model.model_fields.get(str(error["loc"][0])) if error["loc"] else None
        extra = field.json_schema_extra if field is not None and isinstance(field.json_schema_extra, dict) else {}
        labelled.append({**error, "label": extra["x-label"]} if isinstance(extra.get("x-label"), dict) else dict(error))
    return labelled


async def check_connection(kind: str, config: BaseModel, urls: OutboundUrls) -> None:
    """An adapter that can test its settings against the provider (``check_connection(config, *,
    allow_private) -> reason | None``, e.g. logging in to a mail server) does so when they are
    saved: a refusal is a 422 quoting the provider's own answer."""
    test = getattr(adapter_class(kind), "check_connection", None)
    if test is not None and (reason := await test(config, allow_private=urls.allow_private)) is not None:
        raise Invalid("invalid %(kind)s channel config: the connection test failed: %(reason)s", kind=kind, reason=reason)


async def check_called_urls(kind: str, config: BaseModel, urls: OutboundUrls) -> None:
    """Refuses a config whose URLs okno calls (marked ``CALLED_URL``) point where the outbound URL
    policy forbids, so the admin hears why now rather than from a failed delivery."""
    for name, field in type(config).model_fields.items():
        value = getattr(config, name)
        if value is not None and any(isinstance(m, CalledUrl) for m in field.metadata):
            refused = await urls.refusal(str(value))
            if refused is not None:
                raise Invalid("invalid %(kind)s channel config: %(name)s: %(refused)s", kind=kind, name=name, refused=refused)


def seal_config(box: SecretBox, config: BaseModel) -> str:
    return box.seal_json(plain_config(config))


def open_config(box: SecretBox, channel: Channel) -> BaseModel:
    return adapter_class(channel.kind).config_model.model_validate(box.open_json(channel.config_sealed))


def masked_config(config: BaseModel) -> dict[str, Any]:
    """The config as admins may see it again: secrets shown as a mask."""
    shown = config.model_dump(mode="json")
    for name, value in config:
        if isinstance(value, SecretStr):
            shown[name] = MASK
    return shown


def plain_config(config: BaseModel) -> dict[str, Any]:
    """The config with its secrets revealed (to seal it, or to drive a fake provider with it)."""
    data = config.model_dump(mode="json")
    for name, value in config:
        if isinstance(value, SecretStr):
            data[name] = value.get_secret_value()
    return data


async def create_channel(
    session: AsyncSession,
    box: SecretBox,
    *,
    kind: str,
    name: str,
    config: dict[str, Any],
    team_id: int | None,
    actor_id: int | None,
    urls: OutboundUrls,
) -> tuple[Channel, BaseModel]:
    model = validate_config(kind, config)
    await check_called_urls(kind, model, urls)
    await check_connection(kind, model, urls)
    if team_id is not None and await session.get(Team, team_id) is None:
        raise Invalid("%(what)s %(id)s does not exist", what="team", id=team_id)
    channel = Channel(kind=kind, name=name.strip(), config_sealed=seal_config(box, model), team_id=team_id)
    session.add(channel)
    await session.flush()
    await start_polling(session, channel)
    await audit(session, actor_id=actor_id, action="channel.created", subject=("channel", channel.id), data={"kind": kind, "name": channel.name})
    return channel, model


async def start_polling(session: AsyncSession, channel: Channel) -> None:
    """A polling channel gets its cursor row (empty: the adapter starts where it sees fit)."""
    if adapter_class(channel.kind).capabilities.polls and await session.get(ChannelPollState, channel.id) is None:
        session.add(ChannelPollState(channel_id=channel.id, cursor={}, next_poll_at=utcnow()))
        request_wake(session, "polls")


async def get_channel(session: AsyncSession, channel_id: int) -> Channel:
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise NotFound("%(what)s %(id)s not found", what="channel", id=channel_id)
    return channel


async def list_channels(session: AsyncSession) -> list[Channel]:
    return list((await session.scalars(select(Channel).order_by(Channel.id))).all())
