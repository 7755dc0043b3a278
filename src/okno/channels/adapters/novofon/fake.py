"""A fake Novofon (Zadarma-compatible) provider: the API okno calls (``/v1/pbx/record/request/``,
``/v1/request/callback/``) with its real response bodies and its ``Authorization`` check, a
recording to download, and call events pushed at okno as form-encoded POSTs signed the way the
provider signs them (``Signature``: base64 of the hex HMAC-SHA1 of the event's signed fields).

A call channel carries no text, so ``deliver_text(user, text)`` — what the shared contract suite
calls — rings okno with a whole short call from ``user`` (start and end; the text is ignored)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.adapters.novofon.signing import api_authorization, webhook_signature
from okno.channels.fakes.base import FakeProviderBase

RECORD_PATH = "/v1/pbx/record/request/"
CALLBACK_PATH = "/v1/request/callback/"
# a tiny MPEG audio frame header and silence: enough for a browser's <audio> to accept the type
RECORDING = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + b"\x00" * 400


@dataclass
class FakeNovofon(FakeProviderBase):
    api_key: str = "a1b2c3d4e5f6a7b8c9d0"
    api_secret: str = "fake-novofon-api-secret-0123"
    did: str = "74951234567"  # the company's number the customers call
    recordings: dict[str, bytes] = field(default_factory=dict)  # call_id_with_rec -> audio
    callbacks: list[dict[str, str]] = field(default_factory=list)  # click-to-call requests accepted
    _calls: itertools.count = field(default_factory=lambda: itertools.count(1))
    _clock: datetime = field(default_factory=lambda: datetime(2026, 1, 15, 10, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route(RECORD_PATH, self._record_request, methods=["GET"]),
                Route(CALLBACK_PATH, self._callback, methods=["GET"]),
                Route("/records/{call_id}.mp3", self._recording, methods=["GET"]),
            ]
        )

    def channel_config(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "api_secret": self.api_secret, "api_base": self.base_url}

    # ---- the API okno calls ----------------------------------------------------------------

    def _authorized(self, request: Request, method_path: str) -> bool:
        params = dict(request.query_params)
        return request.headers.get("authorization") == api_authorization(self.api_key, self.api_secret, method_path, params)

    async def _record_request(self, request: Request) -> Response:
        self.calls.append({"path": RECORD_PATH, "query": dict(request.query_params), "authorization": request.headers.get("authorization")})
        if not self._authorized(request, RECORD_PATH):
            return JSONResponse({"status": "error", "message": "Not authorized"}, status_code=401)
        call_id = request.query_params.get("call_id") or request.query_params.get("pbx_call_id") or ""
        if call_id not in self.recordings:
            return JSONResponse({"status": "error", "message": "Record not found"}, status_code=400)
        till = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
        return JSONResponse({"status": "success", "link": f"{self.base_url}/records/{call_id}.mp3", "lifetime_till": till})

    async def _recording(self, request: Request) -> Response:
        audio = self.recordings.get(request.path_params["call_id"])
        return Response(audio, media_type="audio/mpeg") if audio is not None else Response(status_code=404)

    async def _callback(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.calls.append({"path": CALLBACK_PATH, "query": params, "authorization": request.headers.get("authorization")})
        if not self._authorized(request, CALLBACK_PATH):
            return JSONResponse({"status": "error", "message": "Not authorized"}, status_code=401)
        if not params.get("from") or not params.get("to"):
            return JSONResponse({"status": "error", "message": "Wrong parameters"}, status_code=400)
        self.callbacks.append(params)
        return JSONResponse({"status": "success", "from": _int(params["from"]), "to": _int(params["to"]), "time": int(time.time())})

    # ---- events pushed at okno -------------------------------------------------------------

    def new_call_id(self, *, outbound: bool = False) -> str:
        return f"{'out' if outbound else 'in'}_{next(self._calls):06d}abc"

    def _start_time(self) -> str:
        self._clock += timedelta(minutes=1)
        return self._clock.strftime("%Y-%m-%d %H:%M:%S")

    async def event(self, fields: dict[str, str], *, secret: str | None = None, signature: str | None = None) -> httpx.Response:
        body = urlencode(fields).encode()
        headers = {"content-type": "application/x-www-form-urlencoded"}
        sig = signature if signature is not None else webhook_signature(secret or self.api_secret, fields)
        if sig:
            headers["Signature"] = sig
        return await self.post_webhook(body, headers)

    async def echo(self, value: str) -> httpx.Response:
        if self._okno is None:
            raise RuntimeError("fake provider is not connected to okno: call connect() first")
        return await self._okno.get(self._webhook_url, params={"zd_echo": value})

    async def ring(self, caller: str, pbx_call_id: str, call_start: str, *, internal: str | None = None) -> httpx.Response:
        caller = caller.lstrip("+")  # the provider sends numbers as digits only
        fields = {"event": "NOTIFY_START", "call_start": call_start, "pbx_call_id": pbx_call_id, "caller_id": caller, "called_did": self.did}
        response = await self.event(fields)
        if internal is not None:
            await self.event({**fields, "event": "NOTIFY_INTERNAL", "internal": internal})
        return response

    async def answer(self, caller: str, pbx_call_id: str, call_start: str, internal: str) -> httpx.Response:
        return await self.event({
            "event": "NOTIFY_ANSWER", "caller_id": caller.lstrip("+"), "destination": internal, "call_start": call_start,
            "pbx_call_id": pbx_call_id, "internal": internal,
        })  # fmt: skip

    async def hang_up(
        self, caller: str, pbx_call_id: str, call_start: str, *, disposition: str, duration: int = 0, internal: str = "", recorded: bool = False
    ) -> httpx.Response:
        rec = f"{pbx_call_id}_rec" if recorded else ""
        if recorded:
            self.recordings[rec] = RECORDING
        return await self.event({
            "event": "NOTIFY_END", "call_start": call_start, "pbx_call_id": pbx_call_id, "caller_id": caller.lstrip("+"), "called_did": self.did,
            "internal": internal, "duration": str(duration), "disposition": disposition, "status_code": "16" if disposition == "answered" else "19",
            "is_recorded": "1" if recorded else "0", "call_id_with_rec": rec,
        })  # fmt: skip

    async def record_ready(self, pbx_call_id: str) -> httpx.Response:
        return await self.event({"event": "NOTIFY_RECORD", "pbx_call_id": pbx_call_id, "call_id_with_rec": f"{pbx_call_id}_rec"})

    async def answered_call(self, caller: str, *, internal: str = "100", duration: int = 42, recorded: bool = True) -> str:
        """A whole answered call: start, internal ringing, answer, end (recorded), record ready."""
        pbx_call_id, call_start = self.new_call_id(), self._start_time()
        await self.ring(caller, pbx_call_id, call_start, internal=internal)
        await self.answer(caller, pbx_call_id, call_start, internal)
        await self.hang_up(caller, pbx_call_id, call_start, disposition="answered", duration=duration, internal=internal, recorded=recorded)
        if recorded:
            await self.record_ready(pbx_call_id)
        return pbx_call_id

    async def missed_call(self, caller: str, *, disposition: str = "no answer") -> str:
        pbx_call_id, call_start = self.new_call_id(), self._start_time()
        await self.ring(caller, pbx_call_id, call_start)
        await self.hang_up(caller, pbx_call_id, call_start, disposition=disposition)
        return pbx_call_id

    async def outbound_call(self, destination: str, *, internal: str = "100", duration: int = 30) -> str:
        pbx_call_id, call_start = self.new_call_id(outbound=True), self._start_time()
        fields = {"event": "NOTIFY_OUT_START", "call_start": call_start, "pbx_call_id": pbx_call_id, "internal": internal, "destination": destination.lstrip("+")}
        await self.event(fields)
        await self.event({
            **fields, "event": "NOTIFY_OUT_END", "duration": str(duration), "disposition": "answered", "status_code": "16",
            "is_recorded": "0", "call_id_with_rec": "",
        })  # fmt: skip
        return pbx_call_id

    # ---- what the shared contract suite calls ------------------------------------------------

    async def deliver_text(self, user: str, text: str) -> httpx.Response:
        """A call channel has no text: a short missed call from ``user`` stands for an inbound touch."""
        pbx_call_id, call_start = self.new_call_id(), self._start_time()
        return await self.ring(user, pbx_call_id, call_start)

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        fields = {"event": "NOTIFY_START", "call_start": self._start_time(), "pbx_call_id": self.new_call_id(), "caller_id": user.lstrip("+"), "called_did": self.did}
        return await self.event(fields, secret="not-the-api-secret-at-all")

    def sent_texts(self) -> list[str]:
        return []  # a call channel sends no text


def _int(value: str) -> int | str:
    return int(value) if value.isdigit() else value
