"""Domain errors mapped to HTTP answers in one place (``okno.api.errors``)."""

from __future__ import annotations


class OknoError(Exception):
    """A refusal: ``detail`` is one English sentence; ``code`` a stable machine name for it.

    Give the sentence as a template with named values (``NotFound("customer %(id)s not found",
    id=5)``) and the API answers it in the request's language from the UI's catalog (the template
    is the msgid); a literal sentence is translated as it is. A sentence whose words follow a
    number gives its plural too (``Invalid("at most %(num)s file", plural="at most %(num)s files",
    num=10)``): the catalog then holds every Russian form. ``ru``, when given, is the same reason
    in Russian written where it is raised (the answer then carries both in ``detail_i18n``)."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        ru: str | None = None,
        field_errors: list[dict] | None = None,
        plural: str | None = None,
        **params: object,
    ) -> None:
        english = plural if plural is not None and params.get("num") != 1 else detail
        text = english % params if params else english
        super().__init__(text)
        self.detail = text
        self.template = detail
        self.plural = plural
        self.params = params
        self.ru = ru % params if ru is not None and params else ru
        # pydantic's errors behind a ``%(problems)s`` param, said again in the answer's language
        self.field_errors = field_errors
        if code is not None:
            self.code = code


class NotFound(OknoError):
    code = "not_found"
    status_code = 404


class Invalid(OknoError):
    code = "invalid"
    status_code = 422


class Conflict(OknoError):
    code = "conflict"
    status_code = 409


class Unauthorized(OknoError):
    code = "unauthorized"
    status_code = 401


class Forbidden(OknoError):
    code = "forbidden"
    status_code = 403


class TooLarge(OknoError):
    code = "too_large"
    status_code = 413


class TooManyRequests(OknoError):
    """Throttled: answered 429 with ``Retry-After`` (whole seconds)."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int, plural: str | None = None, **params: object) -> None:
        super().__init__(detail, plural=plural, **params)
        self.retry_after = max(1, retry_after)
