"""What an operator may put in an outbound message besides text: files and message templates,
checked against what the chosen channel declares it can deliver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from okno.channels.base import MessageTemplate
from okno.channels.directory import ChannelDirectory
from okno.channels.registry import adapter_class
from okno.files.uploads import CheckedUpload
from okno.kit.errors import Invalid
from okno.models import Channel


@dataclass(frozen=True)
class TemplateChoice:
    """The template an operator picked: its name, optionally the language, and body parameters."""

    name: str
    language: str | None = None
    parameters: list[str] = field(default_factory=list)


def check_channel_sends_files(channel: Channel, uploads: list[CheckedUpload]) -> None:
    """422 naming the channel kind when it can't deliver one of the files."""
    if not uploads:
        return
    sends = adapter_class(channel.kind).capabilities.outbound_media
    for upload in uploads:
        if upload.type.kind not in sends:
            if not sends:
                raise Invalid("a %(kind)s channel can't send files: %(filename)s was not sent", kind=channel.kind, filename=upload.filename)
            raise Invalid(
                "a %(kind)s channel can't send %(type)s files (only: %(allowed)s): %(filename)s was not sent",
                kind=channel.kind, type=upload.type.kind, allowed=", ".join(sorted(sends)), filename=upload.filename,
            )


async def resolve_template(channels: ChannelDirectory, channel: Channel, choice: TemplateChoice) -> tuple[MessageTemplate, dict[str, Any]]:
    """The configured template the choice names, and the ``messages.content`` recording it."""
    if not adapter_class(channel.kind).capabilities.message_templates:
        raise Invalid("a %(kind)s channel has no message templates", kind=channel.kind)
    live = await channels.get(channel.id)
    if live is None:
        raise Invalid("%(what)s %(id)s is disabled", what="channel", id=channel.id)
    offered = live.adapter.templates(live.config)  # type: ignore[attr-defined]
    matching = [t for t in offered if t.name == choice.name and (choice.language is None or t.language == choice.language)]
    if not matching:
        names = ", ".join(sorted({f"{t.name} ({t.language})" for t in offered})) or "none configured"
        raise Invalid("channel %(channel_id)s has no template %(name)r in %(language)s; it offers: %(names)s", channel_id=channel.id, name=choice.name, language=choice.language, names=names)
        raise Invalid("channel %(channel_id)s has no template %(name)r; it offers: %(names)s", channel_id=channel.id, name=choice.name, names=names)
    if len(matching) > 1:
        raise Invalid("template %(name)r exists in several languages (%(choices)s): give its language", name=choice.name, choices=', '.join(t.language for t in matching))
    template = matching[0]
    parameters = [p.strip() for p in choice.parameters]
    if len(parameters) != template.body_parameters or any(not p for p in parameters):
        raise Invalid("template %(name)r needs %(num)s non-empty parameter, got %(given)s",
            plural="template %(name)r needs %(num)s non-empty parameters, got %(given)s",
            name=template.name, num=template.body_parameters, given=len(parameters),)
    content = {"template": {"name": template.name, "language": template.language, "parameters": parameters}}
    return template, content
