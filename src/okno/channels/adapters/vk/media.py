"""Operators' files to VK: upload, save, then name them in ``messages.send``'s ``attachment``.

Pictures: ``photos.getMessagesUploadServer`` → multipart upload of ``photo`` to the given URL →
``photos.saveMessagesPhoto`` → ``photo{owner_id}_{id}_{access_key}``. Other files:
``docs.getMessagesUploadServer`` (type ``doc``) → upload of ``file`` → ``docs.save`` →
``doc{owner_id}_{id}``. The upload server answers errors in the body like every VK method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from okno.channels.base import OutboundFile, PermanentFailure, TemporaryFailure

PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
MAX_PHOTO_BYTES = 50 * 1024 * 1024
MAX_DOC_BYTES = 200 * 1024 * 1024

Method = Callable[[str, dict[str, str]], Awaitable[Any]]  # calls one API method, returns its "response"


async def attachment_ids(http: httpx.AsyncClient, method: Method, peer_id: int, files: tuple[OutboundFile, ...]) -> str:
    """The ``attachment`` parameter naming every file, uploaded and saved for this peer."""
    names = []
    for file in files:
        if file.kind == "image" and file.content_type in PHOTO_TYPES and file.size <= MAX_PHOTO_BYTES:
            names.append(await _photo(http, method, peer_id, file))
        else:
            names.append(await _doc(http, method, peer_id, file))
    return ",".join(names)


async def _photo(http: httpx.AsyncClient, method: Method, peer_id: int, file: OutboundFile) -> str:
    server = await method("photos.getMessagesUploadServer", {"peer_id": str(peer_id)})
    uploaded = await _upload(http, _upload_url(server), "photo", file)
    if not all(k in uploaded for k in ("server", "photo", "hash")) or uploaded.get("photo") in ("", "[]"):
        raise PermanentFailure(f"VK did not accept {file.filename} as a photo: {str(uploaded)[:200]}")
    saved = await method("photos.saveMessagesPhoto", {"server": str(uploaded["server"]), "photo": str(uploaded["photo"]), "hash": str(uploaded["hash"])})
    photo = saved[0] if isinstance(saved, list) and saved and isinstance(saved[0], dict) else {}
    if not isinstance(photo.get("owner_id"), int) or not isinstance(photo.get("id"), int):
        raise TemporaryFailure(f"photos.saveMessagesPhoto answered without a photo: {str(saved)[:200]}")
    key = f"_{photo['access_key']}" if photo.get("access_key") else ""
    return f"photo{photo['owner_id']}_{photo['id']}{key}"


async def _doc(http: httpx.AsyncClient, method: Method, peer_id: int, file: OutboundFile) -> str:
    if file.size > MAX_DOC_BYTES:
        raise PermanentFailure(f"{file.filename} is larger than the 200 MB VK accepts")
    server = await method("docs.getMessagesUploadServer", {"type": "doc", "peer_id": str(peer_id)})
    uploaded = await _upload(http, _upload_url(server), "file", file)
    if not uploaded.get("file"):
        raise PermanentFailure(f"VK did not accept {file.filename}: {str(uploaded)[:200]}")
    saved = await method("docs.save", {"file": str(uploaded["file"]), "title": file.filename})
    doc = saved.get("doc") if isinstance(saved, dict) else None
    if not isinstance(doc, dict) or not isinstance(doc.get("owner_id"), int) or not isinstance(doc.get("id"), int):
        raise TemporaryFailure(f"docs.save answered without a document: {str(saved)[:200]}")
    return f"doc{doc['owner_id']}_{doc['id']}"


def _upload_url(server: Any) -> str:
    url = server.get("upload_url") if isinstance(server, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise TemporaryFailure(f"VK gave no upload_url: {str(server)[:200]}")
    return url


async def _upload(http: httpx.AsyncClient, url: str, field: str, file: OutboundFile) -> dict[str, Any]:
    try:
        response = await http.post(url, files={field: (file.filename, await file.read(), file.content_type)})
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"VK upload: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise TemporaryFailure(f"VK upload HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise TemporaryFailure(f"VK upload answered {response.status_code}: {response.text[:200]!r}") from None
    if not isinstance(data, dict):
        raise TemporaryFailure(f"VK upload answered {response.text[:200]!r}")
    if "error" in data:
        raise PermanentFailure(f"VK upload refused {file.filename}: {str(data.get('error'))[:200]}")
    return data


async def send_with_files(
    http: httpx.AsyncClient, method: Method, send_chunk: Callable[[int, str, str | None], Awaitable[int]], peer_id: int,
    text: str, files: tuple[OutboundFile, ...], chunks: list[str],
) -> int:
    """Uploads the files, then sends the text with them attached to its last part; the message id."""
    attachment = await attachment_ids(http, method, peer_id, files)
    message_id = 0
    for index, chunk in enumerate(chunks):
        message_id = await send_chunk(index, chunk, attachment if index == len(chunks) - 1 else None)
    return message_id
