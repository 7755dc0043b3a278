"""The OpenAPI document describes the error bodies okno really sends (okno.api.errors).

FastAPI documents only its own 422 (``detail`` = a list), while okno's refusals carry one
sentence in ``detail`` (and a machine ``code`` beside it). Every operation gets: 422 (either shape: any route may refuse text it
cannot store), 401/403 when it needs a token, 404 when its path or body names a row, 409 when
it writes, 400 and 413 when it takes a body, 429 where okno throttles. Integer path parameters, and query
parameters that name a row, are documented as 64-bit (larger ones answer 404 or 422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from okno.kit.bounds import MAX_ID

PROBLEM = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "Why the request was refused, in one sentence, in the request's language"},
        "code": {"type": "string", "description": "A stable machine name for the refusal (not_found, conflict...); okno's own refusals carry it"},
        "detail_i18n": {
            "type": "object",
            "description": "The same reason in English and Russian, where okno words it in both",
            "properties": {"en": {"type": "string"}, "ru": {"type": "string"}},
        },
    },
}
VALIDATION_PROBLEM = {
    "title": "ValidationProblem",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "description": "One sentence, or FastAPI's list of the fields that failed their schema",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}],
        },
        "detail_i18n": PROBLEM["properties"]["detail_i18n"],
        "code": {"type": "string", "description": "validation_failed for a schema failure; otherwise the refusal's machine name"},
    },
}
# where okno answers 429 (with Retry-After)
THROTTLED = frozenset({"/api/v1/auth/login", "/ui/session", "/widget/{channel_id}/session"})
# refusals particular to a path: wrong password, a provider's bad signature or wrong method, an
# expired download link, a website that may not embed the chat
SPECIAL = {
    "/api/v1/auth/login": ("401",), "/ui/session": ("401",),
    "/webhooks/{channel_id}": ("401", "403", "405", "413"),
    "/files/{file_id}": ("403",), "/widget/{channel_id}/session": ("403",),
}
_WRITES = frozenset({"post", "put", "patch", "delete"})
_REASONS = {
    "400": "The body could not be parsed",
    "401": "Missing, invalid or expired token",
    "403": "The token's operator may not do this",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "405": "The provider used a method this channel does not accept",
    "413": "The body is too large",
    "422": "The request is invalid",
    "429": "Too many requests; see Retry-After",
}


def _response(code: str, schema: str) -> dict[str, Any]:
    return {"description": _REASONS[code], "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _error_codes(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["422", *SPECIAL.get(path, ())]
    if operation.get("security"):
        codes += ["401", "403"]
    if "{" in path or "requestBody" in operation:  # a row named by the path or the body
        codes.append("404")
    if method in _WRITES:
        codes.append("409")
    if "requestBody" in operation:
        codes += ["400", "413"]  # 400: the body is not JSON at all
    if path in THROTTLED:
        codes.append("429")
    return codes


def _bound_ids(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        is_id = parameter["in"] == "path" or parameter["name"].endswith("_id")
        if is_id and schema.get("type") == "integer":
            schema.setdefault("format", "int64")
            schema.setdefault("maximum", MAX_ID)


def describe_errors(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM
    components["ValidationProblem"] = VALIDATION_PROBLEM
    components.setdefault("ValidationError", {
        "title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
        "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                       "msg": {"type": "string"}, "type": {"type": "string"}},
    })
    components.pop("HTTPValidationError", None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _bound_ids(operation)
            responses = operation["responses"]
            for code in _error_codes(path, method, operation):
                if code == "422":
                    responses["422"] = _response("422", "ValidationProblem")
                else:
                    responses.setdefault(code, _response(code, "Problem"))
    return schema


def install_error_schema(app: FastAPI) -> None:
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
