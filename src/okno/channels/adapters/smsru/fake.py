"""A fake SMS.ru: ``POST /sms/send`` with its real JSON answers and refusal codes, and delivery
reports posted to okno as SMS.ru posts them (a ``data[n]`` form to the callback URL with its token)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.fakes.base import FakeProviderBase

CODES = {"sent": 102, "delivered": 103, "read": 110, "failed": 107, "expired": 104}
FAILURE_CODES = {"rate_limit": 220, "permanent": 202, "window_closed": 209, "no_funds": 201}


@dataclass
class FakeSmsRu(FakeProviderBase):
    api_id: str = "0A1B2C3D-FAKE-4E5F-6789-ABCDEF012345"
    webhook_token: str = "okno-smsru-callback-token"
    balance: float = 4122.56
    reports: list[dict[str, Any]] = field(default_factory=list)  # what okno answered to each report
    answers: list[dict[str, Any]] = field(default_factory=list)  # recorded /sms/send answers to give next, in order
    report_after: float | None = None  # the demo: report each accepted SMS delivered after this many seconds

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/sms/send", self._send, methods=["POST"])])
        self._tasks: set[asyncio.Task[None]] = set()

    def channel_config(self) -> dict[str, Any]:
        return {"api_id": self.api_id, "sender": "okno", "api_base": self.base_url, "webhook_token": self.webhook_token}

    async def _send(self, request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode()))
        self.calls.append(params)
        if params.get("api_id") != self.api_id:
            return JSONResponse({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"})
        if params.get("json") != "1":
            return Response("100\n000000-00000000\nbalance=0", media_type="text/plain")  # the plain-text answer
        if self.answers:
            return JSONResponse(self.answers.pop(0))
        failure = self.next_failure()
        if failure is not None and failure.kind == "server_error":
            return Response("<html>502 Bad Gateway</html>", status_code=502, media_type="text/html")
        numbers = [n for n in params.get("to", "").split(",") if n]
        if not numbers or not params.get("msg"):
            return JSONResponse({"status": "ERROR", "status_code": 203 if numbers else 202, "status_text": "Нет текста сообщения"})
        sms: dict[str, Any] = {}
        for number in numbers:
            if failure is not None:
                code = FAILURE_CODES.get(failure.kind, 202)
                sms[number] = {"status": "ERROR", "status_code": code, "status_text": _TEXTS.get(code, "Ошибка")}
            elif not (number.isdigit() and 10 <= len(number) <= 15):
                sms[number] = {"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер телефона получателя"}
            else:
                sms_id = f"{self.next_id():06d}-{len(self.sent) + 10000001}"
                sms[number] = {"status": "OK", "status_code": 100, "sms_id": sms_id}
                self.sent.append({"to": number, "text": params["msg"], "from": params.get("from", ""), "sms_id": sms_id})
                if self.report_after is not None:
                    self._report_later(sms_id)
        return JSONResponse({"status": "OK", "status_code": 100, "sms": sms, "balance": self.balance})

    # ---- reports pushed to okno -------------------------------------------------------------

    def seed_demo(self) -> None:
        """The demo: every accepted SMS is reported sent, then delivered, as a phone network would."""
        self.report_after = 2.0

    def _report_later(self, sms_id: str) -> None:
        async def report() -> None:
            await asyncio.sleep(self.report_after or 0)
            try:
                await self.deliver_reports([(sms_id, 102), (sms_id, 103)])
            except httpx.HTTPError:
                pass  # okno stopped meanwhile: the demo loses a report, as the provider would retry

        task = asyncio.get_running_loop().create_task(report())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_reports(self, reports: list[tuple[str, int]], *, token: str | None = None) -> httpx.Response:
        """One callback with ``data[i] = "sms_status\\n<sms_id>\\n<code>\\n<unix time>"`` per report."""
        form = {f"data[{i}]": f"sms_status\n{sms_id}\n{code}\n1767261600" for i, (sms_id, code) in enumerate(reports)}
        return await self.post_report_form(urlencode(form).encode(), token=token)

    async def post_report_form(self, body: bytes, *, token: str | None = None) -> httpx.Response:
        query = {"token": self.webhook_token if token is None else token}
        response = await self.post_webhook(body, {"content-type": "application/x-www-form-urlencoded"}, query=query)
        self.reports.append({"status": response.status_code, "body": response.text})
        return response

    async def deliver_status(self, provider_message_id: str, status: str) -> httpx.Response:
        return await self.deliver_reports([(provider_message_id, CODES[status])])

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        """SMS.ru brings no inbound SMS: the forged request is a report without the channel's token."""
        return await self.deliver_reports([("000000-00000001", 103)], token="not-the-token")

    async def deliver_text(self, user: str, text: str) -> httpx.Response:
        raise NotImplementedError("SMS.ru brings no inbound SMS (capabilities.inbound_messages is False)")

    async def deliver_bench_item(self, user: str, text: str) -> httpx.Response:
        """bench/ingest.py's load for a kind without inbound messages: a report of three statuses
        on one message (sent, delivered, read), as SMS.ru batches them."""
        sms_id = f"{int(user):06d}-{self.next_id()}"
        return await self.deliver_reports([(sms_id, 102), (sms_id, 103), (sms_id, 110)])

    def sent_texts(self) -> list[str]:
        return [s["text"] for s in self.sent]


_TEXTS = {
    201: "Не хватает средств на лицевом счету",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    209: "Вы добавили этот номер (или один из номеров) в стоп-лист",
    220: "Сервис временно недоступен, попробуйте чуть позже",
}
