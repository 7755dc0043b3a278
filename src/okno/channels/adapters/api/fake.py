"""A fake integrator endpoint for the API channel: verifies okno's signature, applies the
``Idempotency-Key`` the way a careful receiver does, and can be told to fail.

Run alone: ``uvicorn --factory okno.channels.adapters.api.fake:app_from_env`` (``FAKE_API_SECRET``),
or mounted by okno under ``/fake/api`` when ``OKNO_FAKE_PROVIDERS=1``.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okno.channels.adapters.api.signing import SIGNATURE_HEADER, signature_matches


@dataclass
class _Box:
    secret: str
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    attempts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[int, float | None]] = field(default_factory=list)  # (status, retry_after)


class FakeApiReceiver:
    def __init__(self) -> None:
        self.boxes: dict[str, _Box] = {}
        self._ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/boxes/{box}", self._create_box, methods=["PUT"]),
                Route("/boxes/{box}/messages", self._receive, methods=["POST"]),
                Route("/boxes/{box}/messages", self._list, methods=["GET"]),
                Route("/boxes/{box}/fail", self._script_failures, methods=["POST"]),
            ]
        )

    def add_box(self, name: str, secret: str) -> None:
        self.boxes.setdefault(name, _Box(secret=secret))

    def fail_next(self, name: str, times: int, status: int = 500, retry_after: float | None = None) -> None:
        self.boxes[name].failures.extend([(status, retry_after)] * times)

    async def _create_box(self, request: Request) -> Response:
        data = orjson.loads(await request.body() or b"{}")
        if not isinstance(data, dict) or not isinstance(data.get("secret"), str):
            return JSONResponse({"detail": "body must be {\"secret\": \"...\"}"}, status_code=422)
        self.add_box(request.path_params["box"], data["secret"])
        return JSONResponse({"box": request.path_params["box"]})

    async def _script_failures(self, request: Request) -> Response:
        box = self.boxes.get(request.path_params["box"])
        if box is None:
            return JSONResponse({"detail": "no such box"}, status_code=404)
        data = orjson.loads(await request.body() or b"{}")
        self.fail_next(request.path_params["box"], int(data.get("times", 1)), int(data.get("status", 500)), data.get("retry_after"))
        return JSONResponse({"queued_failures": len(box.failures)})

    async def _receive(self, request: Request) -> Response:
        box = self.boxes.get(request.path_params["box"])
        if box is None:
            return JSONResponse({"detail": "no such box"}, status_code=404)
        body = await request.body()
        key = request.headers.get("idempotency-key", "")
        box.attempts.append({"idempotency_key": key, "signed": bool(request.headers.get(SIGNATURE_HEADER))})
        if not signature_matches(box.secret, body, request.headers.get(SIGNATURE_HEADER)):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        if box.failures:
            status, retry_after = box.failures.pop(0)
            headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
            return JSONResponse({"detail": f"scripted failure {status}"}, status_code=status, headers=headers)
        if not key:
            return JSONResponse({"detail": "Idempotency-Key header is required"}, status_code=400)
        if key not in box.deliveries:  # a retry of something already applied changes nothing
            box.deliveries[key] = {"id": f"crm-{next(self._ids)}", "body": orjson.loads(body)}
        return JSONResponse({"id": box.deliveries[key]["id"]})

    async def _list(self, request: Request) -> Response:
        box = self.boxes.get(request.path_params["box"])
        if box is None:
            return JSONResponse({"detail": "no such box"}, status_code=404)
        return JSONResponse({"items": list(box.deliveries.values()), "attempts": box.attempts})


def app_from_env() -> Starlette:
    fake = FakeApiReceiver()
    fake.add_box(os.environ.get("FAKE_API_BOX", "crm"), os.environ["FAKE_API_SECRET"])
    return fake.app
