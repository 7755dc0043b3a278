"""A fake WhatsApp Cloud API (Meta Graph): ``/{version}/{phone_number_id}/messages`` (text, and
``interactive`` reply buttons and lists checked against Meta's limits), media lookup
and download, real Graph error bodies on demand, and webhooks pushed to okno signed the way Meta
signs them (``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the app secret)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.fakes.base import FakeProviderBase, ScriptedFailure

WABA_ID = "102290129340398"
# templates the fake business has approved (a channel config lists them for operators to pick)
DEMO_TEMPLATES = (
    {"name": "order_ready", "language": "ru", "body_parameters": 2, "preview": "Здравствуйте, {{1}}! Заказ {{2}} готов к выдаче."},
    {"name": "follow_up", "language": "ru", "body_parameters": 0, "preview": "Здравствуйте! Остались ли у вас вопросы? Напишите нам, мы на связи."},
)
WINDOW_CLOSED_ERROR = {
    "code": 131047,
    "title": "Re-engagement message",
    "message": "Re-engagement message",
    "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
}


def graph_error(
    http_status: int, code: int, message: str, *, kind: str = "OAuthException", details: str | None = None,
    subcode: int | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": "A" + secrets.token_urlsafe(16)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return JSONResponse({"error": error}, status_code=http_status, headers=headers)


def wamid(digits: str, serial: int) -> str:
    """Shaped like Meta's: base64 of a small protobuf holding the phone and a hex id."""
    raw = b"\x1c\x18" + bytes([len(digits)]) + digits.encode() + b"\x15\x02\x00\x11\x18\x12" + f"{serial:018X}".encode() + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


@dataclass
class FakeWhatsApp(FakeProviderBase):
    phone_number_id: str = "106540352242922"
    display_phone_number: str = "15550783881"
    access_token: str = "EAAJB0fake0whatsapp0system0user0token"
    app_secret: str = "fake-meta-app-secret"
    verify_token: str = "okno-whatsapp-verify"
    api_version: str = "v25.0"
    with_bsuid: bool = False  # contacts[] carry user_id (BSUID) as well as wa_id
    auto_statuses: bool = False  # push sent → delivered → read webhooks after accepting a send
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # media_id -> (mime_type, bytes)
    uploads: list[dict[str, Any]] = field(default_factory=list)  # what okno uploaded to /{phone_number_id}/media
    # approved templates: (name, language code) -> number of body parameters
    templates: dict[tuple[str, str], int] = field(default_factory=lambda: {(t["name"], t["language"]): t["body_parameters"] for t in DEMO_TEMPLATES})
    _sends: int = 0
    _pushes: set[asyncio.Task] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/download/{media_id}", self._download, methods=["GET"]),
                Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"]),
                Route("/{version}/{phone_number_id}/media", self._upload, methods=["POST"]),
                Route("/{version}/{media_id}", self._media_info, methods=["GET"]),
            ]
        )

    def channel_config(self) -> dict[str, Any]:
        return {
            "phone_number_id": self.phone_number_id, "access_token": self.access_token, "app_secret": self.app_secret,
            "verify_token": self.verify_token, "graph_base": self.base_url, "api_version": self.api_version,
            "templates": [t for t in DEMO_TEMPLATES if (t["name"], t["language"]) in self.templates],
        }

    # ---- the Graph API okno calls ---------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.access_token}"

    async def _messages(self, request: Request) -> Response:
        if not self._authorized(request):
            return graph_error(401, 190, "Invalid OAuth access token.", subcode=463)
        if request.path_params["phone_number_id"] != self.phone_number_id:
            return _unknown_object("post", request.path_params["phone_number_id"])
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return graph_error(400, 100, "(#100) Invalid parameter")
        self.calls.append({"path": request.url.path, "authorization": request.headers.get("authorization"), "body": body})
        failure = self.next_failure()
        if failure is not None:
            return _scripted(failure)
        problem = _invalid_send(body, self.media)
        if problem:
            return graph_error(400, 100, problem)
        refused = _invalid_interactive(body.get("interactive")) if body.get("type") == "interactive" else None
        if refused:
            return graph_error(400, 131009, "(#131009) Parameter value is not valid", details=refused)
        if body["type"] == "template":
            refused_template = self._check_template(body["template"])
            if refused_template is not None:
                return refused_template
        return self._accept(body)

    def _check_template(self, template: Any) -> Response | None:
        """What Meta answers for a template it doesn't have, or with the wrong parameters."""
        name = template.get("name") if isinstance(template, dict) else None
        code = (template.get("language") or {}).get("code") if isinstance(template, dict) else None
        if (name, code) not in self.templates:
            return graph_error(404, 132001, "(#132001) Template name does not exist in the translation",
                               details=f"template name ({name}) does not exist in {code}")
        given = [p for c in template.get("components") or [] if c.get("type") == "body" for p in c.get("parameters") or []]
        if len(given) != self.templates[(name, code)] or any(p.get("type") != "text" or not p.get("text") for p in given):
            return graph_error(400, 132000, "(#132000) Number of parameters does not match the expected number of params",
                               details=f"body: number of localizable_params ({len(given)}) does not match the expected number of params ({self.templates[(name, code)]})")
        return None

    async def _upload(self, request: Request) -> Response:
        """``POST /{phone_number_id}/media``: multipart with messaging_product, type and file."""
        if not self._authorized(request):
            return graph_error(401, 190, "Invalid OAuth access token.", subcode=463)
        if request.path_params["phone_number_id"] != self.phone_number_id:
            return _unknown_object("post", request.path_params["phone_number_id"])
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return graph_error(400, 100, "(#100) The parameter file is required.")
        form = await request.form()
        part = form.get("file")
        if form.get("messaging_product") != "whatsapp":
            return graph_error(400, 100, "(#100) The parameter messaging_product is required.")
        if not isinstance(part, UploadFile) or not isinstance(form.get("type"), str):
            return graph_error(400, 100, "(#100) The parameter " + ("type" if isinstance(part, UploadFile) else "file") + " is required.")
        content = await part.read()
        media_id = str(2_000_000_000_000_000 + len(self.media) + 1)
        self.media[media_id] = (str(form["type"]), content)
        self.uploads.append({"id": media_id, "type": form["type"], "filename": part.filename, "content_type": part.content_type, "content": content})
        return JSONResponse({"id": media_id})

    def _accept(self, body: dict[str, Any]) -> Response:
        address = body.get("to") or body.get("recipient")
        message_id = self.upcoming_wamid(address)
        self._sends += 1
        self.sent.append({"id": message_id, "to": body.get("to"), "recipient": body.get("recipient"), "text": _shown_text(body), "body": body})
        if self.auto_statuses:
            self._push_later(self._statuses_after_send(message_id, address))
        contact = {"input": address, "wa_id": address} if "to" in body else {"input": address, "user_id": address}
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": message_id}]})

    async def _media_info(self, request: Request) -> Response:
        if not self._authorized(request):
            return graph_error(401, 190, "Invalid OAuth access token.", subcode=463)
        media_id = request.path_params["media_id"]
        if media_id not in self.media:
            return _unknown_object("get", media_id)
        mime_type, content = self.media[media_id]
        return JSONResponse({
            "messaging_product": "whatsapp", "url": f"{self.base_url}/download/{media_id}?ext=1&hash=ATuQ", "mime_type": mime_type,
            "sha256": hashlib.sha256(content).hexdigest(), "file_size": len(content), "id": media_id,
        })

    async def _download(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(status_code=401)
        entry = self.media.get(request.path_params["media_id"])
        return Response(status_code=404) if entry is None else Response(entry[1], media_type=entry[0])

    # ---- webhooks pushed to okno ----------------------------------------------------------

    def upcoming_wamid(self, to: str) -> str:
        """The id the next accepted send to ``to`` will get (to report a status before the send returns)."""
        return wamid(to if to.isdigit() else self.display_phone_number, self._sends + 1)

    @staticmethod
    def bsuid_of(user: str) -> str:
        return f"RU.{user}"

    def envelope(self, value: dict[str, Any], *, phone_number_id: str | None = None) -> dict[str, Any]:
        metadata = {"display_phone_number": self.display_phone_number, "phone_number_id": phone_number_id or self.phone_number_id}
        change = {"value": {"messaging_product": "whatsapp", "metadata": metadata, **value}, "field": "messages"}
        return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [change]}]}

    def contact(self, user: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = {"profile": {"name": name}, "wa_id": user}
        return {**found, "user_id": self.bsuid_of(user)} if self.with_bsuid else found

    def message_payload(self, user: str, kind: str, content: dict[str, Any], *, name: str = "Иван", **extra: Any) -> dict[str, Any]:
        message = {"from": user, "id": wamid(user, 10**9 + self.next_id()), "timestamp": str(int(time.time())), "type": kind, kind: content, **extra}
        return self.envelope({"contacts": [self.contact(user, name)], "messages": [message]})

    def status_payload(self, provider_message_id: str, status: str, *, recipient: str = "", errors: list[dict] | None = None) -> dict[str, Any]:
        report: dict[str, Any] = {"id": provider_message_id, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient}
        if status == "failed":
            report["errors"] = errors or [WINDOW_CLOSED_ERROR]
        else:
            report["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
            report["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
        return self.envelope({"statuses": [report]})

    def signature(self, body: bytes, secret: str | None = None) -> str:
        return "sha256=" + hmac.new((secret or self.app_secret).encode(), body, hashlib.sha256).hexdigest()

    async def deliver_raw(self, body: bytes, *, signature: str | None = None) -> httpx.Response:
        headers = {"content-type": "application/json", "X-Hub-Signature-256": signature or self.signature(body)}
        return await self.post_webhook(body, headers)

    async def deliver_payload(self, payload: dict[str, Any], *, secret: str | None = None) -> httpx.Response:
        body = orjson.dumps(payload)  # UTF-8, unescaped: Russian text and emoji go out as Meta sends them
        return await self.deliver_raw(body, signature=self.signature(body, secret))

    async def deliver_text(self, user: str, text: str, *, name: str = "Иван") -> httpx.Response:
        return await self.deliver_payload(self.message_payload(user, "text", {"body": text}, name=name))

    async def deliver_reply(self, user: str, prompt_wamid: str, reply_kind: str, reply: dict[str, Any], *, name: str = "Иван") -> httpx.Response:
        """The customer picks under our message ``prompt_wamid``: ``button_reply`` {id, title} or
        ``list_reply`` {id, title, description}."""
        context = {"from": self.display_phone_number, "id": prompt_wamid}
        content = {"type": reply_kind, reply_kind: reply}
        return await self.deliver_payload(self.message_payload(user, "interactive", content, name=name, context=context))

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        return await self.deliver_payload(self.message_payload(user, "text", {"body": text}, name="Mallory"), secret="not-the-app-secret")

    async def deliver_media(self, user: str, kind: str, content: bytes, *, mime_type: str, **fields: Any) -> httpx.Response:
        media_id = str(1_000_000_000_000_000 + len(self.media) + 1)
        self.media[media_id] = (mime_type, content)
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        return await self.deliver_payload(self.message_payload(user, kind, {"mime_type": mime_type, "sha256": digest, "id": media_id, **fields}))

    async def deliver_status(self, provider_message_id: str, status: str, *, recipient: str = "", errors: list[dict] | None = None) -> httpx.Response:
        return await self.deliver_payload(self.status_payload(provider_message_id, status, recipient=recipient, errors=errors))

    async def handshake(self, verify_token: str | None = None, challenge: str = "1158201444", mode: str = "subscribe") -> httpx.Response:
        if self._okno is None:
            raise RuntimeError("fake provider is not connected to okno: call connect() first")
        query = {"hub.mode": mode, "hub.verify_token": self.verify_token if verify_token is None else verify_token, "hub.challenge": challenge}
        return await self._okno.get(self._webhook_url, params=query)

    def _push_later(self, push: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(push)
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _statuses_after_send(self, message_id: str, recipient: str) -> None:
        for status in ("sent", "delivered", "read"):
            await self.deliver_status(message_id, status, recipient=recipient)

    async def pushes_done(self) -> None:
        """Waits for the status webhooks ``auto_statuses`` scheduled."""
        while self._pushes:
            await asyncio.gather(*self._pushes)

    def sent_texts(self) -> list[str]:
        return [s["text"] for s in self.sent]


def _scripted(failure: ScriptedFailure) -> Response:
    if failure.kind == "rate_limit":
        retry_after = {"Retry-After": str(math.ceil(failure.retry_after))}
        return graph_error(429, 130429, "(#130429) Rate limit hit", details="Cloud API message throughput has been reached.", headers=retry_after)
    if failure.kind == "permanent":
        return graph_error(400, 131026, "Message undeliverable", details="Message could not be delivered to the recipient.")
    if failure.kind == "window_closed":
        return graph_error(400, 131047, "Re-engagement message", details=WINDOW_CLOSED_ERROR["error_data"]["details"])
    return graph_error(500, 1, "An unknown error occurred")


def _unknown_object(verb: str, object_id: str) -> Response:
    message = f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
    return graph_error(400, 100, message, kind="GraphMethodException", subcode=33)


def _invalid_send(body: Any, media: dict[str, tuple[str, bytes]]) -> str | None:
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "(#100) The parameter messaging_product is required."
    if not isinstance(body.get("to") or body.get("recipient"), str):
        return "(#100) The parameter to is required."
    kind = body.get("type")
    content = body.get(kind) if isinstance(kind, str) else None
    if kind == "interactive":
        if not isinstance(content, dict) or not isinstance(content.get("body"), dict) or not str(content["body"].get("text", "")).strip():
            return "(#100) The parameter interactive['body']['text'] is required."
        if content.get("type") not in ("button", "list") or not isinstance(content.get("action"), dict):
            return "(#100) Param interactive['type'] must be one of {BUTTON, LIST, PRODUCT, PRODUCT_LIST, CTA_URL, FLOW, LOCATION_REQUEST_MESSAGE}"
        return None
    if kind in ("image", "document"):
        if not isinstance(content, dict) or not (content.get("id") in media or str(content.get("link", "")).startswith("https://")):
            return f"(#100) Param {kind}['id'] is not a valid media id"
        if kind == "image" and content.get("id") in media and media[content["id"]][0] not in ("image/jpeg", "image/png"):
            return "(#100) Param image['id'] must be a JPEG or PNG image"
        return None
    if kind == "template":
        return None if isinstance(content, dict) and content.get("name") else "(#100) The parameter template['name'] is required."
    if kind != "text" or not isinstance(content, dict) or not str(content.get("body", "")).strip():
        return "(#100) The parameter text['body'] is required."
    return None


def _invalid_interactive(content: dict[str, Any]) -> str | None:
    """Meta's limits on reply buttons and lists (the details of its 131009 refusals)."""
    if len(content["body"]["text"]) > 1024:
        return "Body text length invalid. Min length: 1, Max length: 1024"
    for frame in ("header", "footer"):
        text = (content.get(frame) or {}).get("text")
        if text is not None and not 1 <= len(text) <= 60:
            return f"{frame.capitalize()} text length invalid. Min length: 1, Max length: 60"
    action = content["action"]
    if content["type"] == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return "Buttons count should be between 1 and 3"
        replies = [b.get("reply") if isinstance(b, dict) and b.get("type") == "reply" else None for b in buttons]
        if not all(isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"] for r in replies):
            return "Button id is required"
        if any(not 1 <= len(str(r.get("title", ""))) <= 20 for r in replies):
            return "Button title length invalid. Min length: 1, Max length: 20"
        ids = [r["id"] for r in replies]
        return "Button id must be unique" if len(set(ids)) != len(ids) else None
    label, sections = action.get("button"), action.get("sections")
    if not isinstance(label, str) or not 1 <= len(label) <= 20:
        return "Button label length invalid. Min length: 1, Max length: 20"
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return "Sections count should be between 1 and 10"
    if len(sections) > 1 and not all(isinstance(s, dict) and s.get("title") for s in sections):
        return "Section title is required when there is more than one section"
    rows = [row for section in sections for row in (section.get("rows") or [] if isinstance(section, dict) else [])]
    if not 1 <= len(rows) <= 10:
        return "Total row count exceed max allowed count: 10" if rows else "Rows count should be at least 1"
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not 1 <= len(row["id"]) <= 200:
            return "Row id length invalid. Min length: 1, Max length: 200"
        if not 1 <= len(str(row.get("title", ""))) <= 24:
            return "Row title length invalid. Min length: 1, Max length: 24"
        if len(str(row.get("description", ""))) > 72:
            return "Row description length invalid. Max length: 72"
    ids = [row["id"] for row in rows]
    return "Row ids must be unique" if len(set(ids)) != len(ids) else None


def _shown_text(body: dict[str, Any]) -> str:
    """What the customer reads: the text, the question of an interactive message, a file's caption, or the template's name."""
    content = body.get(body["type"]) or {}
    if body["type"] == "text":
        return content["body"]
    if body["type"] == "interactive":
        return content["body"]["text"]
    if body["type"] == "template":
        return f"[template {content['name']}]"
    return content.get("caption", "")
