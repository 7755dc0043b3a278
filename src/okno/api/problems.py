"""Refusals in the request's language, each with a stable machine ``code`` beside the sentence.

The language: the operator's saved one when the call comes from the web UI (its session cookie);
otherwise the request's ``Accept-Language`` (ru or en); otherwise English, the API's own language.
okno's refusals are translated through the UI's catalog (the English template is the msgid, see
``okno.kit.errors.OknoError``); a schema failure's ``msg`` is said again from its pydantic
``type`` and ``ctx`` (limits with proper plurals). A sentence the catalog does not know stays in
English rather than being guessed; ``code`` and each item's ``type`` never change with language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder

from okno.kit.errors import OknoError
from okno.web.i18n import Translator, translations

API_DEFAULT_LOCALE = "en"


def accepted_language(header: str) -> str | None:
    """The first of ru/en in an ``Accept-Language`` header, by quality (``ru-RU,ru;q=0.9,en;q=0.8``)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().lower()[:2]
        if language in ("ru", "en") and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def request_locale(request: Request) -> str:
    saved = getattr(request.state, "web_locale", None)
    if saved in ("ru", "en"):
        return saved
    return accepted_language(request.headers.get("accept-language", "")) or API_DEFAULT_LOCALE


def say(request: Request, exc: OknoError) -> str:
    t = Translator(request_locale(request))
    if exc.ru is not None and t.locale == "ru":  # worded in Russian where it was raised
        return exc.ru
    if t.locale == "en":
        return exc.detail
    if exc.plural is not None:
        translated = translations(t.locale).ngettext(exc.template, exc.plural, int(exc.params.get("num", 0)))  # type: ignore[call-overload]
        if translated in (exc.template, exc.plural):
            return exc.detail
    else:
        translated = t.gettext(exc.template)
        if translated == exc.template and not exc.field_errors:
            return exc.detail
    if not exc.params:
        return translated
    params = dict(exc.params)
    if isinstance(params.get("what"), str):  # the kind of row, a noun from the catalog ("customer")
        params["what"] = t.gettext(params["what"])
    if exc.field_errors:
        params["problems"] = "; ".join(f"{_field_name(t, e)}: {say_invalid_field(t, e)}" for e in exc.field_errors)
    return translated % params


# pydantic error type -> how to say it (given the translator and the error's ctx)
_Saying = Callable[[Translator, dict[str, Any]], str]
_SAYINGS: dict[str, _Saying] = {
    "missing": lambda t, c: t.gettext("This field is required"),
    "string_type": lambda t, c: t.gettext("Must be text"),
    "string_too_short": lambda t, c: t.ngettext(
        "Must have at least %(num)s character", "Must have at least %(num)s characters", int(c["min_length"])),
    "string_too_long": lambda t, c: t.ngettext(
        "Must have at most %(num)s character", "Must have at most %(num)s characters", int(c["max_length"])),
    "too_short": lambda t, c: t.ngettext(
        "Must have at least %(num)s item", "Must have at least %(num)s items", int(c["min_length"])),
    "too_long": lambda t, c: t.ngettext(
        "Must have at most %(num)s item", "Must have at most %(num)s items", int(c["max_length"])),
    "string_pattern_mismatch": lambda t, c: t.gettext("Has the wrong format"),
    "int_type": lambda t, c: t.gettext("Must be a whole number"),
    "int_parsing": lambda t, c: t.gettext("Must be a whole number"),
    "int_from_float": lambda t, c: t.gettext("Must be a whole number"),
    "float_type": lambda t, c: t.gettext("Must be a number"),
    "float_parsing": lambda t, c: t.gettext("Must be a number"),
    "bool_type": lambda t, c: t.gettext("Must be true or false"),
    "bool_parsing": lambda t, c: t.gettext("Must be true or false"),
    "greater_than": lambda t, c: t.gettext("Must be greater than %(limit)s", limit=c["gt"]),
    "greater_than_equal": lambda t, c: t.gettext("Must be at least %(limit)s", limit=c["ge"]),
    "less_than": lambda t, c: t.gettext("Must be less than %(limit)s", limit=c["lt"]),
    "less_than_equal": lambda t, c: t.gettext("Must be at most %(limit)s", limit=c["le"]),
    "literal_error": lambda t, c: t.gettext("Must be one of: %(choices)s", choices=c["expected"]),
    "enum": lambda t, c: t.gettext("Must be one of: %(choices)s", choices=c["expected"]),
    "dict_type": lambda t, c: t.gettext("Must be an object"),
    "model_type": lambda t, c: t.gettext("Must be an object"),
    "model_attributes_type": lambda t, c: t.gettext("Must be an object"),
    "list_type": lambda t, c: t.gettext("Must be a list"),
    "extra_forbidden": lambda t, c: t.gettext("This field is not accepted here"),
    "json_invalid": lambda t, c: t.gettext("The body is not valid JSON"),
    "datetime_type": lambda t, c: t.gettext("Must be a date and time (ISO 8601)"),
    "datetime_parsing": lambda t, c: t.gettext("Must be a date and time (ISO 8601)"),
    "datetime_from_date_parsing": lambda t, c: t.gettext("Must be a date and time (ISO 8601)"),
    "date_parsing": lambda t, c: t.gettext("Must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": lambda t, c: t.gettext("Must be a date (YYYY-MM-DD)"),
    "time_parsing": lambda t, c: t.gettext("Must be a time (HH:MM)"),
    "url_parsing": lambda t, c: t.gettext("Must be a web address"),
    "url_scheme": lambda t, c: t.gettext("Must be a web address"),
    "value_error": lambda t, c: t.gettext("The value is not accepted"),
    # okno's own checks (pydantic_core.PydanticCustomError types)
    "secret_too_short": lambda t, c: t.ngettext(
        "must be at least %(num)s character: a shorter secret can be guessed",
        "must be at least %(num)s characters: a shorter secret can be guessed", int(c["length"])),
    "not_an_origin": lambda t, c: t.gettext("%(origin)s is not an origin like https://shop.example", origin=c["origin"]),
    "not_a_phone_number": lambda t, c: t.gettext("%(number)s is not a phone number (digits, optionally with +)", number=c["number"]),
    "assertion_error": lambda t, c: t.gettext("The value is not accepted"),
}


def say_invalid_field(t: Translator, error: dict[str, Any]) -> str:
    """One schema failure in the translator's language; English keeps pydantic's own words
    (a validator's reason included), Russian says it again by type."""
    if t.locale == "en":
        return str(error.get("msg", ""))
    reason = _validator_reason(error)
    if reason and t.gettext(reason) != reason:
        return t.gettext(reason)
    if error.get("type") == "okno_reason":  # ``okno.kit.reasons.reason(template, **params)``
        ctx = error.get("ctx") or {}
        template, params = str(ctx.get("template", ctx.get("text", ""))), ctx.get("params") or {}
        if t.gettext(template) != template:
            return t.gettext(template) % params if params else t.gettext(template)
        return str(ctx.get("text", ""))  # not in the catalog: the reason itself rather than a vague one
    saying = _SAYINGS.get(str(error.get("type", "")))
    if saying is None:
        return t.gettext("The value is not accepted")
    try:
        return saying(t, error.get("ctx") or {})
    except (KeyError, TypeError, ValueError):
        return t.gettext("The value is not accepted")


def validation_body(request: Request, errors: Any) -> dict[str, Any]:
    t = Translator(request_locale(request))
    items = jsonable_encoder(errors)
    for item in items:
        item["msg"] = say_invalid_field(t, item)
    return {"detail": items, "code": "validation_failed"}


def _field_name(t: Translator, error: dict[str, Any]) -> str:
    """Where a failure is: the field's title in the language asked (as the form shows it) when the
    refusal carries it, else its path."""
    label = error.get("label")
    if isinstance(label, dict) and label.get(t.locale):
        return str(label[t.locale])
    return ".".join(str(p) for p in error["loc"]) or "config"


def _validator_reason(item: dict[str, Any]) -> str | None:
    """A validator's own sentence ("Value error, <reason>"), when the catalog can say it."""
    msg = str(item.get("msg", ""))
    return msg.removeprefix("Value error, ") if item.get("type") == "value_error" else None
