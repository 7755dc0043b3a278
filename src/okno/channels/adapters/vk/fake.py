"""A fake VK API: ``messages.send`` read from the query and a form body only (as VK does; a JSON
body is not read), bot keyboards checked against VK's limits (error 911), errors with HTTP 200,
VK's ``random_id`` dedupe, and Callback API events pushed to okno with the secret in the body."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.adapters.vk.adapter import MAX_TEXT
from okno.channels.fakes.base import FakeProviderBase, ScriptedFailure

FORM_TYPE = "application/x-www-form-urlencoded"
INT32_MAX = 2**31 - 1
CLIENT_INFO = {"button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
               "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}


def _error(code: int, message: str, params: dict[str, str]) -> JSONResponse:
    shown = [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
    return JSONResponse({"error": {"error_code": code, "error_msg": message, "request_params": shown}})  # HTTP 200, like VK


def _missing(what: str) -> str:
    return f"One of the parameters specified was missing or invalid: {what}"


@dataclass
class FakeVk(FakeProviderBase):
    group_id: int = 218_000_001
    access_token: str = "vk1.a.fake-community-token-okno"
    secret: str = "okno-vk-callback-secret"
    confirmation_code: str = "a1b2c3d4"
    api_version: str = "5.199"
    # message ids run through the whole community mailbox and never restart: a fake started
    # again must not reuse them (okno dedupes on them), so they start from the clock
    _message_id: int = field(default_factory=lambda: time.time_ns() // 1000)
    _by_random_id: dict[tuple[int, int], int] = field(default_factory=dict)  # (peer_id, random_id) -> message id
    _peer_of: dict[int, int] = field(default_factory=dict)  # message id -> peer_id
    _cmids: dict[int, int] = field(default_factory=dict)  # peer_id -> last conversation_message_id
    uploads: list[dict[str, Any]] = field(default_factory=list)  # files okno posted to an upload server
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)  # "photo-1_2_key" / "doc-1_3" -> the upload
    _pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # upload result token -> the upload

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[
            Route("/method/{method}", self._method, methods=["GET", "POST"]),
            Route("/upload/{kind}", self._upload_server, methods=["POST"]),
        ])

    # ---- what okno's channel config needs -------------------------------------------------

    def channel_config(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id, "access_token": self.access_token, "secret": self.secret,
            "confirmation_code": self.confirmation_code, "api_base": self.base_url, "api_version": self.api_version,
        }

    # ---- the API okno calls ---------------------------------------------------------------

    async def _method(self, request: Request) -> Response:
        params = await _params(request)
        method = request.path_params["method"]
        self.calls.append({"method": method, "content_type": request.headers.get("content-type", ""), **params})
        token = params.get("access_token")
        if token is None:
            return _error(5, "User authorization failed: no access_token passed.", params)
        if token != self.access_token:
            return _error(5, "User authorization failed: invalid access_token (4).", params)
        if "v" not in params:
            return _error(8, "Invalid request: v is required", params)
        media_method = MEDIA_METHODS.get(method)
        if media_method is not None:
            return media_method(self, params)
        if method != "messages.send":
            return _error(3, "Unknown method passed.", params)
        failure = self.next_failure()
        if failure is not None:
            return _failure_response(failure, params)
        return self._send(params)

    def _send(self, params: dict[str, str]) -> Response:
        peer_id, random_id, text = params.get("peer_id", ""), params.get("random_id", ""), params.get("message", "")
        if not peer_id.lstrip("-").isdigit():
            return _error(100, _missing("you should specify peer_id, user_id, domain, chat_id or user_ids param"), params)
        if not random_id.lstrip("-").isdigit() or abs(int(random_id)) > INT32_MAX:
            return _error(100, _missing("random_id is a required parameter, must be int32"), params)
        attachment = params.get("attachment", "")
        unknown = [a for a in attachment.split(",") if a and a not in self.saved]
        if unknown:
            return _error(100, _missing(f"attachment {unknown[0]} is not a saved photo or document"), params)
        if not text.strip() and not attachment:
            return _error(100, _missing("message is empty or invalid"), params)
        if len(text) > MAX_TEXT:
            return _error(914, "Message is too long", params)
        keyboard, problem = _keyboard(params.get("keyboard"))
        if problem:
            return _error(911, f"Keyboard format is invalid: {problem}", params)
        key = (int(peer_id), int(random_id))
        if key[1] != 0 and key in self._by_random_id:  # VK's dedupe: the first message's id, nothing sent again
            return JSONResponse({"response": self._by_random_id[key]})
        message_id = self._next_message_id(key[0])
        if key[1] != 0:
            self._by_random_id[key] = message_id
        self.sent.append({"peer_id": key[0], "random_id": key[1], "message": text, "id": message_id,
                          "attachments": [self.saved[a] for a in attachment.split(",") if a], **({"keyboard": keyboard} if keyboard else {})})
        return JSONResponse({"response": message_id})

    # ---- uploads: get an upload server, post the file there, save what it answered --------

    def _upload_server_url(self, params: dict[str, str], kind: str) -> Response:
        if not params.get("peer_id", "").lstrip("-").isdigit():
            return _error(100, _missing("peer_id is undefined"), params)
        if kind == "doc" and params.get("type", "doc") not in ("doc", "audio_message", "graffiti"):
            return _error(100, _missing("type is invalid"), params)
        answer: dict[str, Any] = {"upload_url": f"{self.base_url}/upload/{kind}?peer_id={params['peer_id']}&sig={secrets.token_hex(8)}"}
        if kind == "photo":
            answer.update(album_id=-64, group_id=self.group_id)
        return JSONResponse({"response": answer})

    async def _upload_server(self, request: Request) -> Response:
        """The upload server VK hands out: a multipart POST with ``photo`` or ``file``."""
        kind = request.path_params["kind"]
        field_name = "photo" if kind == "photo" else "file"
        form = await request.form() if request.headers.get("content-type", "").startswith("multipart/form-data") else {}
        part = form.get(field_name) if form else None
        if not isinstance(part, UploadFile):
            return JSONResponse({"error": "no_file", "error_descr": f"no {field_name} in the request"} if kind == "doc" else {"server": 1, "photo": "[]", "hash": ""})
        content = await part.read()
        token = secrets.token_hex(12)
        upload = {"kind": kind, "filename": part.filename, "content_type": part.content_type, "content": content}
        self.uploads.append(upload)
        self._pending[token] = upload
        if kind == "photo":
            return JSONResponse({"server": 849136, "photo": f'[{{"photo":"{token}","sizes":[]}}]', "hash": token[::-1]})
        return JSONResponse({"file": token})

    def _save_photo(self, params: dict[str, str]) -> Response:
        try:
            token = str(orjson.loads(params.get("photo", ""))[0]["photo"])
        except (orjson.JSONDecodeError, IndexError, KeyError, TypeError):
            token = ""
        upload = self._pending.pop(token, None)
        if upload is None or params.get("hash") != token[::-1] or not params.get("server"):
            return _error(100, _missing("photo is undefined"), params)
        photo_id, access_key = self._next_media_id(), secrets.token_hex(9)
        self.saved[f"photo-{self.group_id}_{photo_id}_{access_key}"] = upload
        return JSONResponse({"response": [{"id": photo_id, "owner_id": -self.group_id, "access_key": access_key, "album_id": -64, "date": int(time.time()),
                                           "sizes": [{"type": "x", "url": f"{self.base_url}/photo{photo_id}.jpg", "width": 604, "height": 453}], "text": ""}]})

    def _save_doc(self, params: dict[str, str]) -> Response:
        upload = self._pending.pop(params.get("file", ""), None)
        if upload is None:
            return _error(100, _missing("file is undefined"), params)
        doc_id = self._next_media_id()
        self.saved[f"doc-{self.group_id}_{doc_id}"] = {**upload, "title": params.get("title", upload["filename"])}
        title = params.get("title") or upload["filename"]
        return JSONResponse({"response": {"type": "doc", "doc": {"id": doc_id, "owner_id": -self.group_id, "title": title, "size": len(upload["content"]),
                                                                   "ext": title.rsplit(".", 1)[-1], "url": f"{self.base_url}/doc{doc_id}", "date": int(time.time()), "type": 1}}})

    def _next_media_id(self) -> int:
        self._message_id += 1  # any increasing number does: VK's media ids are their own sequence
        return self._message_id

    def _next_message_id(self, peer_id: int) -> int:
        self._message_id += 1
        self._peer_of[self._message_id] = peer_id
        self._cmids[peer_id] = self._cmids.get(peer_id, 0) + 1
        return self._message_id

    # ---- events pushed to okno ------------------------------------------------------------

    def event(self, kind: str, obj: dict[str, Any], *, secret: str | None = None) -> dict[str, Any]:
        """A Callback API envelope (callback_base in vk-api-schema) around ``obj``."""
        return {"group_id": self.group_id, "type": kind, "event_id": secrets.token_hex(20), "v": self.api_version,
                "object": obj, "secret": self.secret if secret is None else secret}

    def message(self, user: str, text: str, *, attachments: list[dict[str, Any]] | None = None, out: int = 0) -> dict[str, Any]:
        """A direct message between ``user`` and the community (``out=1``: the community wrote it)."""
        user_id = int(user)
        message_id = self._next_message_id(user_id)
        return {"date": int(time.time()), "from_id": -self.group_id if out else user_id, "id": message_id, "out": out,
                "peer_id": user_id, "conversation_message_id": self._cmids[user_id], "text": text,
                "attachments": attachments or [], "fwd_messages": [], "important": False, "is_hidden": False, "random_id": 0}

    async def deliver_event(self, event: dict[str, Any]) -> httpx.Response:
        return await self.post_webhook(orjson.dumps(event), {"content-type": "application/json"})

    async def confirm(self) -> httpx.Response:
        return await self.deliver_event({"type": "confirmation", "group_id": self.group_id})

    async def deliver_text(self, user: str, text: str, *, attachments: list[dict[str, Any]] | None = None) -> httpx.Response:
        message = self.message(user, text, attachments=attachments)
        return await self.deliver_event(self.event("message_new", {"message": message, "client_info": CLIENT_INFO}))

    async def deliver_button_press(self, user: str, sent_message_id: int, label: str) -> httpx.Response:
        """The customer taps the ``text`` button labelled ``label`` of a keyboard we sent: VK
        writes the label as his message and hands back the button's payload."""
        ours = next(s for s in self.sent if s["id"] == sent_message_id)
        button = next(b["action"] for row in ours["keyboard"]["buttons"] for b in row if b["action"]["label"] == label)
        message = self.message(user, label) | {"payload": button["payload"]}
        return await self.deliver_event(self.event("message_new", {"message": message, "client_info": CLIENT_INFO}))

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        message = self.message(user, text)
        return await self.deliver_event(self.event("message_new", {"message": message, "client_info": CLIENT_INFO}, secret="not-the-secret"))

    async def deliver_echo(self, text: str, user: str | None = None) -> httpx.Response:
        """``message_reply``: VK's echo of a message the community sent (the object is the message
        itself, with the id ``messages.send`` returned when okno sent that text)."""
        ours = next((s for s in reversed(self.sent) if s["message"] == text and user in (None, str(s["peer_id"]))), None)
        echo = self.message(user or str(ours["peer_id"] if ours else 1), text, out=1)
        if ours is not None:
            echo.update(id=ours["id"], random_id=ours["random_id"])
        return await self.deliver_event(self.event("message_reply", echo))

    async def deliver_status(self, provider_message_id: str, status: str) -> httpx.Response:
        """VK reports reads only (``message_read``); it has no event for any other status, so
        nothing reaches okno for them and the answer is what VK would never have to send."""
        if status != "read":
            return httpx.Response(200, content=b"ok", request=httpx.Request("POST", self._webhook_url))
        message_id = int(provider_message_id)
        peer_id = self._peer_of.get(message_id, 0)
        obj = {"from_id": peer_id, "peer_id": peer_id, "read_message_id": message_id, "conversation_message_id": self._cmids.get(peer_id, 0)}
        return await self.deliver_event(self.event("message_read", obj))

    def sent_texts(self) -> list[str]:
        return [s["message"] for s in self.sent]


MEDIA_METHODS = {
    "photos.getMessagesUploadServer": lambda fake, params: fake._upload_server_url(params, "photo"),
    "docs.getMessagesUploadServer": lambda fake, params: fake._upload_server_url(params, "doc"),
    "photos.saveMessagesPhoto": FakeVk._save_photo,
    "docs.save": FakeVk._save_doc,
}


def _failure_response(failure: ScriptedFailure, params: dict[str, str]) -> Response:
    if failure.kind == "rate_limit":
        # VK gives no retry hint: a wait longer than a second is what flood control (9) means
        if failure.retry_after > 1:
            return _error(9, "Flood control", params)
        return _error(6, "Too many requests per second", params)
    if failure.kind == "permanent":
        return _error(901, "Can't send messages for users without permission", params)
    if failure.kind == "window_closed":
        return _error(902, "Can't send messages to this user due to their privacy settings", params)
    return _error(10, "Internal server error", params)


def _keyboard(raw: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The keyboard as VK reads it from the form field, or what VK would refuse in it."""
    if raw is None:
        return None, None
    try:
        keyboard = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, "keyboard is not a JSON object"
    rows = keyboard.get("buttons") if isinstance(keyboard, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return None, "buttons must be an array of arrays"
    inline = keyboard.get("inline") is True
    if inline and "one_time" in keyboard and keyboard["one_time"]:
        return None, "one_time is not allowed for inline keyboards"
    max_rows, max_buttons = (6, 10) if inline else (10, 40)
    buttons = [b for row in rows for b in row]
    if len(rows) > max_rows or any(len(row) > 5 for row in rows) or len(buttons) > max_buttons:
        return None, f"too many buttons: at most {max_rows} rows of 5 and {max_buttons} buttons"
    for button in buttons:
        action = button.get("action") if isinstance(button, dict) else None
        if not isinstance(action, dict) or action.get("type") not in ("text", "callback", "open_link", "location", "vkpay", "open_app"):
            return None, "button action type is invalid"
        label, payload = action.get("label"), action.get("payload")
        if action["type"] in ("text", "callback") and (not isinstance(label, str) or not 1 <= len(label) <= 40):
            return None, "button label must be 1..40 characters"
        if payload is not None:
            if not isinstance(payload, str) or len(payload) > 255:
                return None, "payload must be a JSON string of at most 255 characters"
            try:
                orjson.loads(payload)
            except orjson.JSONDecodeError:
                return None, "payload is not valid JSON"
        if button.get("color", "secondary") not in ("primary", "secondary", "negative", "positive"):
            return None, "button color is invalid"
    return keyboard, None


async def _params(request: Request) -> dict[str, str]:
    """Query string and form fields, like VK; a JSON body is not read at all."""
    params = dict(request.query_params)
    if request.headers.get("content-type", "").startswith(FORM_TYPE):
        params.update(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    return params
