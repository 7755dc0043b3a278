"""Operators' files to VK: upload, save, then name them in ``messages.send``'s ``attachment``.

Pictures: ``photos.getMessagesUploadServer`` → multipart upload of ``photo`` to the given URL →
``photos.saveMessagesPhoto`` → ``photo{owner_id}_{id}_{access_key}``. Other files:
``docs.getMessagesUploadServer`` (type ``doc``) → upload of ``file`` → ``docs.save`` →
``doc{owner_id}_{id}``. The upload server answers errors in the body like every VK method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from okno.channels.base import json_object, OutboundFile, OutboundMessage, PermanentFailure, SendResult, TemporaryFailure
from okno.kit.receiver_reasons import short_text, status_line

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
        raise PermanentFailure(f"VK did not accept {file.filename} as a photo")
    saved = await method("photos.saveMessagesPhoto", {"server": str(uploaded["server"]), "photo": str(uploaded["photo"]), "hash": str(uploaded["hash"])})
    photo = saved[0] if isinstance(saved, list) and saved and isinstance(saved[0], dict) else {}
    if not isinstance(photo.get("owner_id"), int) or not isinstance(photo.get("id"), int):
        raise TemporaryFailure("photos.saveMessagesPhoto answered without a photo")
    key = f"_{photo['access_key']}" if photo.get("access_key") else ""
    return f"photo{photo['owner_id']}_{photo['id']}{key}"


async def _doc(http: httpx.AsyncClient, method: Method, peer_id: int, file: OutboundFile) -> str:
    if file.size > MAX_DOC_BYTES:
        raise PermanentFailure(f"{file.filename} is larger than the 200 MB VK accepts")
    server = await method("docs.getMessagesUploadServer", {"type": "doc", "peer_id": str(peer_id)})
    uploaded = await _upload(http, _upload_url(server), "file", file)
    if not uploaded.get("file"):
        raise PermanentFailure(f"VK did not accept {file.filename}")
    saved = await method("docs.save", {"file": str(uploaded["file"]), "title": file.filename})
    doc = saved.get("doc") if isinstance(saved, dict) else None
    if not isinstance(doc, dict) or not isinstance(doc.get("owner_id"), int) or not isinstance(doc.get("id"), int):
        raise TemporaryFailure("docs.save answered without a document")
    return f"doc{doc['owner_id']}_{doc['id']}"


def _upload_url(server: Any) -> str:
    url = server.get("upload_url") if isinstance(server, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise TemporaryFailure("VK gave no upload_url")
    return url


async def _upload(http: httpx.AsyncClient, url: str, field: str, file: OutboundFile) -> dict[str, Any]:
    try:
        response = await http.post(url, files={field: (file.filename, await file.read(), file.content_type)})
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"VK upload: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise TemporaryFailure(f"VK upload {status_line(response.status_code)}")
    try:
        data = response.json()
    except ValueError:
        raise TemporaryFailure(f"VK upload answered {status_line(response.status_code)} without JSON") from None
    if not isinstance(data, dict):
        raise TemporaryFailure(f"VK upload answered {status_line(response.status_code)} without a JSON object")
    if "error" in data:
        error = data.get("error")
        detail = short_text(error.get("error_msg") if isinstance(error, dict) else error)
        raise PermanentFailure(f"VK upload refused {file.filename}" + (f": {detail}" if detail else ""))
    return data


async def send_with_files(
    http: httpx.AsyncClient, config: Any, message: OutboundMessage, peer_id: int, chunks: list[str], *, keyboard: str | None = None
) -> SendResult:
    """Uploads the files, then sends the text with them (and the choices' ``keyboard``) attached to its last part."""
    attachment = await attachment_ids(http, _methods(http, config), peer_id, message.files)
    message_id = 0
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        message_id = await _send_chunk(
            http, config, message, peer_id, index, chunk, attachment if last else None, keyboard if last else None
        )
    return SendResult(provider_message_id=str(message_id))


async def _send_chunk(
    http: httpx.AsyncClient, config: Any, message: OutboundMessage, peer_id: int, index: int, chunk: str, attachment: str | None,
    keyboard: str | None = None,
) -> int:
    from okno.channels.adapters.vk.adapter import _call, random_id_for  # the adapter's own send path and dedupe key

    form = {
        "peer_id": str(peer_id), "random_id": str(random_id_for(message.idempotency_key, index)), "message": chunk,
        "v": config.api_version, "access_token": config.access_token.get_secret_value(),
    }
    if attachment:
        form["attachment"] = attachment
    if keyboard:
        form["keyboard"] = keyboard
    return await _call(http, config.method_url("messages.send"), form)


def _methods(http: httpx.AsyncClient, config: Any) -> Method:
    """Calls one API method with the community token: its ``response``, or a delivery error."""

    async def call(name: str, params: dict[str, str]) -> Any:
        form = {**params, "v": config.api_version, "access_token": config.access_token.get_secret_value()}
        return (await call_method(http, config.method_url(name), form))["response"]

    return call


async def call_method(http: httpx.AsyncClient, url: str, form: dict[str, str]) -> dict[str, Any]:
    """One VK API method call (form-encoded), its ``{"response": …}`` answer, or the typed delivery error."""
    from okno.channels.adapters.vk.adapter import classify_error  # one error table for every VK method

    try:
        response = await http.post(url, data=form)  # form-encoded, like every VK method call
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise TemporaryFailure(f"VK {status_line(response.status_code)}")
    data = json_object(response)
    if "error" in data:
        raise classify_error(data["error"])
    if response.status_code != 200 or "response" not in data:
        raise TemporaryFailure(f"VK {status_line(response.status_code)}: an answer without a response")
    return data
