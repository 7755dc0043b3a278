"""Pydantic models as the checks of admin input, refusals worded the way the API words them.

The API refuses with one sentence that starts with where the mistake is: ``actions[0].url must
be an http:// or https:// URL``, ``conditions[1].op 'matches' does not apply to …``. A model's
validator raises ``reason("must be …")`` for its own wording; pydantic's own errors keep theirs.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from okno.kit.errors import Invalid

REASON = "okno_reason"
M = TypeVar("M", bound=BaseModel)


def reason(text: str, **params: Any) -> PydanticCustomError:
    """A validator's refusal, shown after the field's path: ``raise reason("must be 0–3")``; with
    values, a template (``reason("must be 1–%(num)s characters", num=200)``) that the API says
    again in the request's language from the catalog."""
    said = text % params if params else text
    return PydanticCustomError(REASON, "{text}", {"text": said, "template": text, "params": params})


def explained(model: type[M], data: Any, *, where: str) -> M:
    """``model`` validated from ``data``; a refusal is ``Invalid`` naming the first wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise Invalid("%(problems)s", problems=first_reason(exc, where=where), field_errors=[{**error, "loc": (_path(error, where),)}]) from None


def first_reason(exc: ValidationError, *, where: str) -> str:
    error = exc.errors(include_url=False)[0]
    path = _path(error, where)
    if error["type"] == REASON:
        return f"{path} {error['ctx']['text']}"
    if error["type"] == "missing":
        return f"{path} is missing"
    if error["type"] == "extra_forbidden":
        return f"{path} is not a known setting"
    return f"{path}: {error['msg']}"


def _path(error: Any, where: str) -> str:
    return where + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
