"""Domain errors mapped to HTTP answers in one place (``okno.api.errors``)."""

from __future__ import annotations


class OknoError(Exception):
    """``detail`` is English; ``ru``, when given, is the same reason in Russian (the answer then
    carries both in ``detail_i18n`` and the UI shows the operator's one)."""

    status_code = 400

    def __init__(self, detail: str, *, ru: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.ru = ru


class NotFound(OknoError):
    status_code = 404


class Invalid(OknoError):
    status_code = 422


class Conflict(OknoError):
    status_code = 409


class Unauthorized(OknoError):
    status_code = 401


class Forbidden(OknoError):
    status_code = 403


class TooLarge(OknoError):
    status_code = 413


class TooManyRequests(OknoError):
    """Throttled: answered 429 with ``Retry-After`` (whole seconds)."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)
