"""A fake Telegram Bot API: ``sendMessage`` (with inline keyboards checked as Telegram checks
them), ``getFile``, file downloads, ``setWebhook``, ``answerCallbackQuery`` (called, or given as
the webhook's response body, which Telegram runs), real error bodies on demand, and webhook
updates pushed to okno with the secret-token header."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.adapters.telegram.adapter import SECRET_HEADER
from okno.channels.fakes.base import FakeProviderBase


UPLOAD_FIELDS = {"sendPhoto": "photo", "sendDocument": "document"}


def _error(code: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


@dataclass
class FakeTelegram(FakeProviderBase):
    bot_token: str = "123456:TEST-fake-bot-token"
    secret_token: str = "okno-telegram-secret"
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, bytes)
    webhook: dict[str, Any] = field(default_factory=dict)
    answered_callbacks: list[dict[str, Any]] = field(default_factory=list)  # answerCallbackQuery calls, in order
    uploads: list[dict[str, Any]] = field(default_factory=list)  # files okno uploaded (sendPhoto / sendDocument)
    _update_id: int = 100_000
    _message_ids: dict[int, int] = field(default_factory=dict)
    _bot_messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)  # (chat, message id) -> Message
    _open_queries: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
            ]
        )

    # ---- what okno's channel config needs -------------------------------------------------

    def channel_config(self) -> dict[str, Any]:
        return {"bot_token": self.bot_token, "secret_token": self.secret_token, "api_base": self.base_url}

    # ---- the Bot API okno calls -----------------------------------------------------------

    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != self.bot_token:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        if method in UPLOAD_FIELDS:
            return await self._send_file(method, request)
        params = await _params(request)
        handler = {
            "sendMessage": self._send_message, "getFile": self._get_file, "setWebhook": self._set_webhook,
            "getWebhookInfo": self._webhook_info, "answerCallbackQuery": self._answer_callback_query,
        }.get(method)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return handler(params)

    def _send_message(self, params: dict[str, Any]) -> Response:
        self.calls.append({"method": "sendMessage", **params})
        failure = self.next_failure()
        if failure is not None:
            if failure.kind == "rate_limit":
                seconds = int(failure.retry_after)
                return _error(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
            if failure.kind in ("permanent", "window_closed"):
                return _error(403, "Forbidden: bot was blocked by the user")
            return _error(502, "Bad Gateway")
        if "chat_id" not in params or not str(params.get("text", "")).strip():
            return _error(400, "Bad Request: message text is empty" if "chat_id" in params else "Bad Request: chat not found")
        markup, problem = _reply_markup(params.get("reply_markup"))
        if problem:
            return _error(400, f"Bad Request: {problem}")
        chat_id = int(params["chat_id"])
        message_id = self._next_message_id(chat_id)
        self.sent.append({"chat_id": chat_id, "text": params["text"], "message_id": message_id, **({"reply_markup": markup} if markup else {})})
        bot = {"id": int(self.bot_token.split(":")[0]), "is_bot": True, "first_name": "okno", "username": "okno_bot"}
        result = {"message_id": message_id, "from": bot, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"}, "text": params["text"]}
        if markup:
            result["reply_markup"] = markup
        self._bot_messages[(chat_id, message_id)] = result
        return JSONResponse({"ok": True, "result": result})

    def _answer_callback_query(self, params: dict[str, Any]) -> Response:
        query_id = str(params.get("callback_query_id", ""))
        self.calls.append({"method": "answerCallbackQuery", **params})
        if query_id not in self._open_queries:
            return _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self._open_queries.discard(query_id)
        self.answered_callbacks.append(dict(params))
        return JSONResponse({"ok": True, "result": True})

    async def _send_file(self, method: str, request: Request) -> Response:
        """``sendPhoto`` / ``sendDocument``: the file must come as a multipart upload."""
        field_name = UPLOAD_FIELDS[method]
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _error(400, f"Bad Request: there is no {field_name} in the request")
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        part = form.get(field_name)
        self.calls.append({"method": method, **params})
        if not isinstance(part, UploadFile):
            return _error(400, f"Bad Request: there is no {field_name} in the request")
        content = await part.read()
        failure = self.next_failure()
        if failure is not None:
            if failure.kind == "rate_limit":
                return _error(429, f"Too Many Requests: retry after {int(failure.retry_after)}", retry_after=int(failure.retry_after))
            return _error(502, "Bad Gateway") if failure.kind == "server_error" else _error(403, "Forbidden: bot was blocked by the user")
        if "chat_id" not in params:
            return _error(400, "Bad Request: chat not found")
        if method == "sendPhoto" and not (part.content_type or "").startswith("image/"):
            return _error(400, "Bad Request: IMAGE_PROCESS_FAILED")
        chat_id = int(params["chat_id"])
        message_id = self._next_message_id(chat_id)
        upload = {"method": method, "chat_id": chat_id, "caption": params.get("caption", ""), "filename": part.filename,
                  "content_type": part.content_type, "content": content, "message_id": message_id}
        self.uploads.append(upload)
        self.sent.append({"chat_id": chat_id, "text": params.get("caption", ""), "message_id": message_id, field_name: part.filename})
        file_id = f"BQACAgIAAxkBAAI{len(self.files) + 1:06d}"
        self.files[file_id] = (f"{field_name}s/file_{len(self.files)}", content)
        media: Any = [{"file_id": file_id, "file_unique_id": file_id[-8:], "width": 1280, "height": 960, "file_size": len(content)}] if method == "sendPhoto" else {
            "file_id": file_id, "file_unique_id": file_id[-8:], "file_name": part.filename, "mime_type": part.content_type, "file_size": len(content)}
        result = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"}, field_name: media}
        if params.get("caption"):
            result["caption"] = params["caption"]
        return JSONResponse({"ok": True, "result": result})

    def _get_file(self, params: dict[str, Any]) -> Response:
        entry = self.files.get(str(params.get("file_id")))
        if entry is None:
            return _error(400, "Bad Request: invalid file_id")
        path, content = entry
        return JSONResponse({"ok": True, "result": {"file_id": params["file_id"], "file_unique_id": params["file_id"][-8:], "file_size": len(content), "file_path": path}})

    def _set_webhook(self, params: dict[str, Any]) -> Response:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token", "")}
        return JSONResponse({"ok": True, "result": True, "description": "Webhook was set"})

    def _webhook_info(self, _params: dict[str, Any]) -> Response:
        return JSONResponse({"ok": True, "result": {"url": self.webhook.get("url", ""), "pending_update_count": 0}})

    async def _file(self, request: Request) -> Response:
        if request.path_params["token"] != self.bot_token:
            return Response(status_code=401)
        for path, content in self.files.values():
            if path == request.path_params["path"]:
                return Response(content, media_type="application/octet-stream")
        return Response(status_code=404)

    # ---- updates pushed to okno -----------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _update(self, user_id: int, first_name: str, **content: Any) -> dict[str, Any]:
        self._update_id += 1
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ru"}
        message = {"message_id": self._next_message_id(user_id), "date": int(time.time()), "from": user, "chat": {"id": user_id, "type": "private", "first_name": first_name}, **content}
        return {"update_id": self._update_id, "message": message}

    async def deliver_update(self, update: dict[str, Any], *, secret: str | None = None):  # noqa: ANN201
        headers = {"content-type": "application/json", SECRET_HEADER: self.secret_token if secret is None else secret}
        response = await self.post_webhook(orjson.dumps(update), headers)
        self._run_reply_method(response)
        return response

    def _run_reply_method(self, response) -> None:  # noqa: ANN001
        """Telegram runs a method given as a 2xx webhook response body ({"method": …, params})."""
        if not 200 <= response.status_code < 300 or not response.headers.get("content-type", "").startswith("application/json"):
            return
        body = response.json()
        if isinstance(body, dict) and body.get("method") == "answerCallbackQuery":
            self._answer_callback_query({k: v for k, v in body.items() if k != "method"})

    def callback_query_update(self, user: str, message_id: int, data: str, *, first_name: str = "Иван") -> dict[str, Any]:
        """The update Telegram sends when ``user`` taps the button with ``data`` under our message."""
        self._update_id += 1
        query_id = str(4_382_174_000_000_000_000 + self._update_id)
        self._open_queries.add(query_id)
        user_id = int(user)
        sender = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ru"}
        message = self._bot_messages.get((user_id, message_id)) or {"message_id": message_id, "chat": {"id": user_id, "type": "private"}, "date": 0}
        query = {"id": query_id, "from": sender, "message": message, "chat_instance": str(-5_318_008_000_000_000_000 - user_id), "data": data}
        return {"update_id": self._update_id, "callback_query": query}

    async def deliver_button_press(self, user: str, message_id: int, data: str, *, first_name: str = "Иван"):  # noqa: ANN201
        return await self.deliver_update(self.callback_query_update(user, message_id, data, first_name=first_name))

    async def deliver_text(self, user: str, text: str, *, first_name: str = "Иван"):  # noqa: ANN201
        return await self.deliver_update(self._update(int(user), first_name, text=text))

    async def deliver_forged_text(self, user: str, text: str):  # noqa: ANN201
        return await self.deliver_update(self._update(int(user), "Mallory", text=text), secret="not-the-secret")

    async def deliver_contact(self, user: str, phone: str, *, own: bool = True, first_name: str = "Иван"):  # noqa: ANN201
        owner = int(user) if own else int(user) + 1
        contact = {"phone_number": phone, "first_name": first_name, "user_id": owner}
        return await self.deliver_update(self._update(int(user), first_name, contact=contact))

    async def deliver_photo(self, user: str, content: bytes, *, caption: str = ""):  # noqa: ANN201
        file_id = f"AgACAgIAAxkBAAI{len(self.files) + 1:06d}"
        self.files[file_id] = (f"photos/file_{len(self.files)}.jpg", content)
        sizes = [{"file_id": f"{file_id}-s", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 100},
                 {"file_id": file_id, "file_unique_id": "l", "width": 1280, "height": 960, "file_size": len(content)}]
        return await self.deliver_update(self._update(int(user), "Иван", photo=sizes, caption=caption))

    def sent_texts(self) -> list[str]:
        return [s["text"] for s in self.sent]


def _reply_markup(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The markup as Telegram reads it (an object, or its JSON in a form field), or the refusal."""
    if raw is None:
        return None, None
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None, "can't parse reply keyboard markup JSON object"
    if not isinstance(raw, dict):
        return None, "can't parse reply keyboard markup JSON object"
    rows = raw.get("inline_keyboard")
    if rows is None:
        return raw, None  # other markups (reply keyboards…) are not what okno sends; taken as is
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return None, "field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays"
    buttons = [button for row in rows for button in row]
    if len(buttons) > 100:
        return None, "too many inline keyboard buttons"
    for button in buttons:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            return None, "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        data = button.get("callback_data")
        if data is not None and (not isinstance(data, str) or not 1 <= len(data.encode()) <= 64):
            return None, "BUTTON_DATA_INVALID"
        if data is None and not any(k in button for k in ("url", "web_app", "login_url", "switch_inline_query", "copy_text", "pay")):
            return None, "can't parse inline keyboard button: InlineKeyboardButton must have exactly one optional field"
    return raw, None


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = orjson.loads(body)
            if isinstance(data, dict):
                params.update(data)
        else:  # form-encoded, as Bot API clients may send (no python-multipart needed)
            params.update(parse_qsl(body.decode()))
    return params
