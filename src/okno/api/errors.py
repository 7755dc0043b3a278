"""How a refused request is answered: always ``{"detail": ...}`` (docs/security.md).

``detail`` is one sentence for okno's own refusals (okno.kit.errors) and FastAPI's list of
``{loc, msg, type}`` for a body or parameter that failed its schema; beside it ``code`` names the
refusal for programs (``not_found``, ``validation_failed``...). The sentences are in the
request's language (okno.api.problems). A value no database column
can hold (a number past 64 bits, text the driver cannot encode) is the client's error too: 422,
never 500, whichever route it reached.
"""

from __future__ import annotations

import re

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, StatementError

from okno.kit.bounds import MAX_ID
from okno.api.problems import request_locale, say, validation_body
from okno.kit.errors import OknoError, TooManyRequests, Unauthorized
from okno.web.i18n import Translator


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OknoError)
    async def _okno_error(request: Request, exc: OknoError) -> JSONResponse:
        headers = {"www-authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        if isinstance(exc, TooManyRequests):
            headers = {"retry-after": str(exc.retry_after)}
        body: dict[str, object] = {"detail": say(request, exc), "code": exc.code}
        if body["detail"] != exc.detail and (path := _field_path(exc.detail)):
            body["path"] = path  # the field the English sentence starts with: the page marks it
        if exc.ru is not None:
            body["detail_i18n"] = {"en": exc.detail, "ru": exc.ru}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_fields(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(request, exc.errors()), status_code=422)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, _exc: OverflowError) -> JSONResponse:
        refusal = OknoError("a number is out of range (ids and counts are at most %(max)s)", code="out_of_range", max=MAX_ID)
        return JSONResponse({"detail": say(request, refusal), "code": refusal.code}, status_code=422)

    @app.exception_handler(orjson.JSONEncodeError)
    async def _unstorable_json(request: Request, exc: orjson.JSONEncodeError) -> JSONResponse:
        if not _json_number_too_large(exc):
            raise exc
        refusal = OknoError("a value cannot be stored as JSON: %(reason)s", code="unstorable_value", reason=str(exc)[:200])
        return JSONResponse({"detail": say(request, refusal), "code": refusal.code}, status_code=422)

    @app.exception_handler(StatementError)
    async def _statement_error(request: Request, exc: StatementError) -> JSONResponse:
        if not _bad_value(exc):
            raise exc
        refusal = OknoError("a value does not fit the database: %(reason)s", code="unstorable_value", reason=_reason(exc))
        return JSONResponse({"detail": say(request, refusal), "code": refusal.code}, status_code=422)


# what FastAPI's own refusals (an unknown address, a wrong method) are called, by status
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "too_large"}


def http_problem(request: Request, status_code: int, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    """A Starlette ``HTTPException`` as okno answers it: the reason translated, with its code."""
    t = Translator(request_locale(request))
    text = t.gettext(detail) if isinstance(detail, str) else detail
    return JSONResponse({"detail": text, "code": HTTP_CODES.get(status_code, f"http_{status_code}")},
                        status_code=status_code, headers=headers)


# a refusal about one field starts with its path: "weekly.mon[0] has …", "actions[1].url: …"
FIELD_PATH = re.compile(r"^[a-z_]+(?:\.[a-z_]+|\[\d+\])*", re.IGNORECASE)


def _field_path(english: str) -> str | None:
    """The path an English refusal starts with when it is a field's (a key with ``_``, ``.`` or
    ``[n]``), for an answer in another language, whose sentence starts otherwise."""
    found = FIELD_PATH.match(english)
    path = found.group(0) if found else ""
    return path if any(c in path for c in "._[") else None


def _bad_value(exc: StatementError) -> bool:
    """The driver refused a parameter's value (a number past 64 bits, text it cannot encode), as
    opposed to a failing statement: SQLAlchemy's DataError, a driver's DataError/OverflowError
    behind a generic DBAPIError (asyncpg checks int64 parameters on the client), or a JSON column
    given an integer past 64 bits."""
    if isinstance(exc, DataError):
        return True
    error: BaseException | None = exc.orig
    for _ in range(4):
        if error is None:
            return False
        if isinstance(error, OverflowError | UnicodeEncodeError) or _json_number_too_large(error):
            return True
        if any(c.__name__ == "DataError" for c in type(error).__mro__):
            return True
        error = error.__cause__ or error.__context__
    return False


def _json_number_too_large(error: BaseException) -> bool:
    """orjson refuses integers past 64 bits (a JSON document column, a job's payload)."""
    return isinstance(error, orjson.JSONEncodeError) and "64-bit" in str(error)


def _reason(exc: StatementError) -> str:
    """The driver's one-line reason, without the statement or its parameters."""
    text = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return text.split(">: ", 1)[-1][:200]
