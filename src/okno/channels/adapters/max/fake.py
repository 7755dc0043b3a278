"""A fake MAX Bot API: ``POST /messages`` (with the real error bodies, inline keyboards checked
against MAX's limits, and the ``Authorization`` header checked the way MAX checks it: the bare
token, a ``Bearer`` prefix is refused), ``POST /answers`` for button presses, ``/subscriptions``,
and updates pushed to okno with ``X-Max-Bot-Api-Secret``."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.adapters.max.adapter import MAX_TEXT, SECRET_HEADER
from okno.channels.fakes.base import FakeProviderBase, ScriptedFailure


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class CodedFailure:
    """A MAX error answered as is (``attachment.not.ready`` and other codes the base kinds lack)."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeMax(FakeProviderBase):
    token: str = "f9LHodD0cOKt7kWwJ2MZ-fake-max-bot-token"
    secret: str = "okno-max-secret-0123"
    bot_user_id: int = 5_000_001
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    coded_failures: list[CodedFailure] = field(default_factory=list)
    answered_callbacks: list[dict[str, Any]] = field(default_factory=list)  # POST /answers, in order
    _open_callbacks: set[str] = field(default_factory=set)
    _seq: int = 113_456_789_012_345_678
    _chats: dict[int, int] = field(default_factory=dict)  # user_id -> dialog chat_id
    _messages_by_mid: dict[str, dict[str, Any]] = field(default_factory=dict)  # the bot's sent messages
    uploads: list[dict[str, Any]] = field(default_factory=list)  # files okno posted to an upload url
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # attachment token -> the upload
    _upload_urls: dict[str, str] = field(default_factory=dict)  # upload id -> type it was asked for

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/messages", self._messages, methods=["POST"]),
                Route("/answers", self._answers, methods=["POST"]),
                Route("/uploads", self._uploads, methods=["POST"]),
                Route("/upload/{upload_id}", self._upload, methods=["POST"]),
                Route("/subscriptions", self._subscriptions, methods=["GET", "POST"]),
            ]
        )

    # ---- what okno's channel config needs -------------------------------------------------

    def channel_config(self) -> dict[str, Any]:
        return {"token": self.token, "secret": self.secret, "api_base": self.base_url}

    def fail_next_send_with(self, status: int, code: str, message: str = "", *, times: int = 1) -> None:
        self.coded_failures.extend(CodedFailure(status, code, message or code) for _ in range(times))

    # ---- the Bot API okno calls -----------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == self.token  # exactly: "Bearer <token>" is refused

    async def _messages(self, request: Request) -> Response:
        body = await _json_body(request)
        query = dict(request.query_params)
        self.calls.append({"method": "POST /messages", "authorization": request.headers.get("authorization"), "query": query, "body": body})
        if not self._authorized(request):
            return _error(401, "verify.token", "Invalid access_token")
        refused = self._scripted_refusal()
        if refused is not None:
            return refused
        if not query.get("user_id", "").lstrip("-").isdigit() and not query.get("chat_id", "").lstrip("-").isdigit():
            return _error(400, "proto.payload", "user_id or chat_id is required")
        text = body.get("text")
        problem = _invalid_attachments(body.get("attachments"))
        if problem:
            return _error(400, "proto.payload", problem)
        attachments = body.get("attachments") or []
        unknown = [a for a in attachments if not _is_keyboard(a) and (not isinstance(a, dict) or (a.get("payload") or {}).get("token") not in self.tokens)]
        if unknown:
            return _error(400, "proto.payload", "attachments: unknown or missing token")
        if not isinstance(text, str) or len(text) > MAX_TEXT or (not text.strip() and not attachments):
            return _error(400, "proto.payload", f"text: size must be between 1 and {MAX_TEXT}")
        return JSONResponse({"message": self._accept(query, text, attachments or None)})

    async def _answers(self, request: Request) -> Response:
        body = await _json_body(request)
        callback_id = request.query_params.get("callback_id", "")
        self.calls.append({"method": "POST /answers", "authorization": request.headers.get("authorization"), "query": dict(request.query_params), "body": body})
        if not self._authorized(request):
            return _error(401, "verify.token", "Invalid access_token")
        if callback_id not in self._open_callbacks:
            return _error(400, "proto.payload", "callback_id: unknown or expired callback")
        if not body.get("message") and not (isinstance(body.get("notification"), str) and body["notification"].strip()):
            return _error(400, "proto.payload", "either message or notification is required")
        self._open_callbacks.discard(callback_id)
        self.answered_callbacks.append({"callback_id": callback_id, **body})
        return JSONResponse({"success": True})

    async def _uploads(self, request: Request) -> Response:
        """``POST /uploads?type=…``: where to upload a file of that type."""
        if not self._authorized(request):
            return _error(401, "verify.token", "Invalid access_token")
        kind = request.query_params.get("type")
        if kind not in ("image", "video", "audio", "file"):
            return _error(400, "proto.payload", "type: must be one of image, video, audio, file")
        upload_id = secrets.token_hex(8)
        self._upload_urls[upload_id] = kind
        return JSONResponse({"url": f"{self.base_url}/upload/{upload_id}"})

    async def _upload(self, request: Request) -> Response:
        """The upload url: multipart ``data``; a token for the message's attachments comes back."""
        kind = self._upload_urls.pop(request.path_params["upload_id"], None)
        if kind is None:
            return _error(404, "not.found", "upload url is unknown or used")
        form = await request.form() if request.headers.get("content-type", "").startswith("multipart/form-data") else None
        part = form.get("data") if form else None
        if not isinstance(part, UploadFile):
            return _error(400, "proto.payload", "data: file is required")
        token = secrets.token_urlsafe(18)
        upload = {"type": kind, "filename": part.filename, "content_type": part.content_type, "content": await part.read(), "token": token}
        self.uploads.append(upload)
        self.tokens[token] = upload
        if kind == "image":
            return JSONResponse({"photos": {secrets.token_hex(6): {"token": token}}})
        return JSONResponse({"token": token})

    def _scripted_refusal(self) -> Response | None:
        if self.coded_failures:
            coded = self.coded_failures.pop(0)
            return _error(coded.status, coded.code, coded.message, coded.headers)
        failure = self.next_failure()
        return None if failure is None else _failure_response(failure)

    def _accept(self, query: dict[str, str], text: str, attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        user_id = int(query["user_id"]) if query.get("user_id", "").lstrip("-").isdigit() else None
        chat_id = int(query["chat_id"]) if "chat_id" in query else self._chat_of(user_id or 0)
        self._seq += 1
        mid = f"mid.{secrets.token_hex(8)}"
        # what was sent: each file as it was uploaded, each keyboard as okno sent it
        shown = [a if _is_keyboard(a) else self.tokens[a["payload"]["token"]] for a in attachments or ()]
        self.sent.append({"user_id": user_id, "chat_id": chat_id, "text": text, "mid": mid, "attachments": shown})
        bot = {"user_id": self.bot_user_id, "first_name": "okno", "username": "okno_bot", "is_bot": True, "last_activity_time": _now_ms()}
        body: dict[str, Any] = {"mid": mid, "seq": self._seq, "text": text}
        if attachments:  # as MAX shows a keyboard back: with its callback_id and each button's intent
            body["attachments"] = [
                {"callback_id": secrets.token_urlsafe(60), "payload": {"buttons": [[{**b, "intent": b.get("intent", "default")} for b in row] for row in a["payload"]["buttons"]]}, "type": a["type"]}
                if a.get("type") == "inline_keyboard" else a
                for a in attachments
            ]
        message = {
            "sender": bot,
            "recipient": {"chat_id": chat_id, "chat_type": "dialog", "user_id": user_id},
            "timestamp": _now_ms(),
            "body": body,
        }
        self._messages_by_mid[mid] = message
        return message

    async def _subscriptions(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "verify.token", "Invalid access_token")
        if request.method == "GET":
            shown = [{"url": s["url"], "time": s["time"], "update_types": s["update_types"], "version": "1.2.5"} for s in self.subscriptions]
            return JSONResponse({"subscriptions": shown})
        body = await _json_body(request)
        if not isinstance(body.get("url"), str) or not body["url"].startswith("https://"):
            return _error(400, "proto.payload", "url: must be an HTTPS URL")
        entry = {"url": body["url"], "secret": body.get("secret"), "update_types": body.get("update_types") or [], "time": _now_ms()}
        self.subscriptions = [s for s in self.subscriptions if s["url"] != entry["url"]] + [entry]
        return JSONResponse({"success": True})

    # ---- updates pushed to okno -----------------------------------------------------------

    def _chat_of(self, user_id: int) -> int:
        return self._chats.setdefault(user_id, 987_000_000 + len(self._chats) + 1)

    def _user(self, user_id: int, first_name: str, last_name: str = "Петров") -> dict[str, Any]:
        return {"user_id": user_id, "first_name": first_name, "last_name": last_name, "username": None, "is_bot": False, "last_activity_time": _now_ms()}

    def message_update(self, user: str, *, text: str | None = None, attachments: list[dict[str, Any]] | None = None, first_name: str = "Иван") -> dict[str, Any]:
        """A ``message_created`` update from ``user`` in his dialog with the bot."""
        self._seq += 1
        now, user_id = _now_ms(), int(user)
        message = {
            "sender": self._user(user_id, first_name),
            "recipient": {"chat_id": self._chat_of(user_id), "chat_type": "dialog", "user_id": self.bot_user_id},
            "timestamp": now,
            "body": {"mid": f"mid.{secrets.token_hex(8)}", "seq": self._seq, "text": text, "attachments": attachments},
        }
        return {"update_type": "message_created", "timestamp": now, "message": message, "user_locale": "ru"}

    async def deliver_update(self, update: dict[str, Any], *, secret: str | None = None):  # noqa: ANN201
        headers = {"content-type": "application/json", SECRET_HEADER: self.secret if secret is None else secret}
        return await self.post_webhook(orjson.dumps(update), headers)

    async def deliver_text(self, user: str, text: str, *, first_name: str = "Иван"):  # noqa: ANN201
        return await self.deliver_update(self.message_update(user, text=text, first_name=first_name))

    async def deliver_forged_text(self, user: str, text: str):  # noqa: ANN201
        return await self.deliver_update(self.message_update(user, text=text, first_name="Mallory"), secret="not-the-secret")

    async def deliver_contact(self, user: str, phone: str, *, own: bool = True, first_name: str = "Иван"):  # noqa: ANN201
        owner = int(user) if own else int(user) + 1
        name = first_name if own else "Мария Сидорова"
        vcf = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{name}\r\nTEL;TYPE=cell:{phone}\r\nEND:VCARD"
        payload = {"vcf_info": vcf, "hash": secrets.token_hex(16), "max_info": self._user(owner, name.split()[0], "")}
        return await self.deliver_update(self.message_update(user, attachments=[{"type": "contact", "payload": payload}], first_name=first_name))

    async def deliver_bot_started(self, user: str, *, payload: str | None = None, first_name: str = "Иван"):  # noqa: ANN201
        user_id = int(user)
        update = {"update_type": "bot_started", "timestamp": _now_ms(), "chat_id": self._chat_of(user_id),
                  "user": self._user(user_id, first_name), "payload": payload, "user_locale": "ru"}
        return await self.deliver_update(update)

    def callback_update(self, user: str, mid: str, payload: str, *, first_name: str = "Иван") -> dict[str, Any]:
        """``message_callback``: ``user`` taps the callback button with ``payload`` under our message ``mid``."""
        callback_id = secrets.token_urlsafe(80)
        self._open_callbacks.add(callback_id)
        now = _now_ms()
        user_info = self._user(int(user), first_name) | {"name": first_name}
        callback = {"timestamp": now, "callback_id": callback_id, "user": user_info, "payload": payload}
        return {"callback": callback, "message": self._messages_by_mid.get(mid), "timestamp": now, "user_locale": "ru", "update_type": "message_callback"}

    async def deliver_button_press(self, user: str, mid: str, payload: str, *, first_name: str = "Иван"):  # noqa: ANN201
        return await self.deliver_update(self.callback_update(user, mid, payload, first_name=first_name))

    def sent_texts(self) -> list[str]:
        return [s["text"] for s in self.sent]


def _failure_response(failure: ScriptedFailure) -> Response:
    if failure.kind == "rate_limit":
        return _error(429, "too.many.requests", "Too many requests", {"Retry-After": str(int(failure.retry_after))})
    if failure.kind == "permanent":
        return _error(403, "chat.denied", "chat.denied: the user has blocked the bot")
    if failure.kind == "window_closed":
        return _error(403, "chat.denied", "chat.denied: the dialog with the user is closed")
    return _error(503, "service.unavailable", "Service temporarily unavailable")


def _is_keyboard(attachment: Any) -> bool:
    return isinstance(attachment, dict) and attachment.get("type") == "inline_keyboard"


def _invalid_attachments(attachments: Any) -> str | None:
    """MAX's limits on inline keyboards: 30 rows, 7 buttons a row, 210 in all, text ≤ 128, payload ≤ 1024."""
    if attachments is None:
        return None
    if not isinstance(attachments, list):
        return "attachments: must be an array"
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("type") != "inline_keyboard":
            continue  # media attachments are not what this fake checks
        rows = (attachment.get("payload") or {}).get("buttons") if isinstance(attachment.get("payload"), dict) else None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
            return "attachments.payload.buttons: must be a non-empty array of non-empty rows"
        buttons = [b for row in rows for b in row]
        if len(rows) > 30 or any(len(row) > 7 for row in rows) or len(buttons) > 210:
            return "attachments.payload.buttons: at most 30 rows of 7 buttons, 210 in all"
        for button in buttons:
            if not isinstance(button, dict) or button.get("type") not in ("callback", "link", "request_contact", "request_geo_location", "message", "open_app"):
                return "attachments.payload.buttons[].type: unknown button type"
            if not isinstance(button.get("text"), str) or not 1 <= len(button["text"]) <= 128:
                return "attachments.payload.buttons[].text: size must be between 1 and 128"
            if button["type"] == "callback" and (not isinstance(button.get("payload"), str) or not 1 <= len(button["payload"]) <= 1024):
                return "attachments.payload.buttons[].payload: size must be between 1 and 1024"
    return None


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        data = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
