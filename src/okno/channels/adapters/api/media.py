"""Operators' files to an integration: each attachment in the outbound JSON carries a signed,
expiring ``url`` (``GET /files/{id}?expires=…&sig=…``, no token needed) to fetch the bytes from."""

from __future__ import annotations

from typing import Any

from okno.channels.base import OutboundMessage


def outbound_attachments(message: OutboundMessage) -> list[dict[str, Any]]:
    links = {f.stored_file_id: f.download_url for f in message.files}
    shown = []
    for attachment in message.attachments:
        stored_id = attachment.get("stored_file_id")
        if stored_id in links:
            attachment = {
                "kind": attachment.get("kind"), "name": attachment.get("name"), "mime_type": attachment.get("mime_type"),
                "size": attachment.get("size"), "sha256": attachment.get("sha256"), "url": links[stored_id],
            }
        shown.append(attachment)
    return shown
