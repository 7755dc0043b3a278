"""Interactive content: the choices an outbound message offers (buttons, quick replies, a list),
what each adapter says it can show of them, the numbered plain-text fallback for channels that
can't, and the typed answer a press (or a number typed back to a fallback) becomes.

Styles:

- ``buttons``: buttons attached to the message (they stay with it);
- ``quick_replies``: suggested answers offered once, gone after the customer answers; a channel
  without them shows them as buttons;
- ``list``: a menu opened from a button (``button`` is its label), options may carry a description.

Core decides once, from the adapter's declared :class:`InteractiveSupport`, how a message goes
out (:func:`choose_rendering`); adapters only ever receive a style they declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ChoiceStyle = Literal["buttons", "quick_replies", "list"]
STYLES: tuple[ChoiceStyle, ...] = ("buttons", "quick_replies", "list")
# an option id travels in Telegram's callback_data (1–64 bytes): ASCII keeps bytes == characters
OPTION_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"
MAX_OPTIONS = 30
MAX_TITLE = 100
MAX_DESCRIPTION = 200
MAX_FRAME = 200  # header and footer
MAX_BUTTON = 40
FALLBACK = "text"  # the rendering recorded for a message sent as numbered text
_BARE_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=OPTION_ID, description="what comes back when the customer picks it (A-Z a-z 0-9 _ . : -, ≤ 64)")
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION, description="lists only")


class Interactive(BaseModel):
    """Choices offered with an outbound message; the message's text is the question."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    style: ChoiceStyle = "buttons"
    options: list[Option] = Field(min_length=1, max_length=MAX_OPTIONS)
    header: str | None = Field(default=None, max_length=MAX_FRAME)
    footer: str | None = Field(default=None, max_length=MAX_FRAME)
    button: str | None = Field(default=None, max_length=MAX_BUTTON, description="the label that opens a list")

    @field_validator("header", "footer", "button")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _consistent(self) -> Interactive:
        ids = [o.id for o in self.options]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"option ids must be unique; repeated: {', '.join(repeated)}")
        if self.style != "list" and any(o.description for o in self.options):
            raise ValueError("option descriptions are shown in lists only (style 'list')")
        if self.style != "list" and self.button:
            raise ValueError("'button' labels a list (style 'list')")
        if self.style == "list" and not self.button:
            raise ValueError("a list needs 'button': the label the customer taps to open it")
        return self

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def framed(self, text: str) -> str:
        """The text with the header above and the footer below (for channels showing no frames)."""
        return "\n\n".join(p for p in (self.header, text, self.footer) if p)


class Answer(BaseModel):
    """A customer's pick: the option id, its title and, when known, the message it answers."""

    model_config = ConfigDict(extra="forbid")

    option_id: str = Field(min_length=1, max_length=256)
    title: str = Field(default="", max_length=1000)
    in_reply_to: str | None = Field(default=None, max_length=255, description="the prompt's provider message id")
    message_id: int | None = Field(default=None, description="the prompt's okno message id")


@dataclass(frozen=True)
class ChoiceLimits:
    max_options: int
    max_title: int
    max_description: int = 0  # 0: descriptions are not shown


@dataclass(frozen=True)
class InteractiveSupport:
    """What an adapter renders natively; a style left ``None`` goes out as numbered text."""

    buttons: ChoiceLimits | None = None
    quick_replies: ChoiceLimits | None = None
    list: ChoiceLimits | None = None
    max_text: int | None = None  # the question's length when choices are attached
    max_header: int = 0  # 0: the adapter shows no header, core folds it into the text
    max_footer: int = 0
    max_button: int = 0  # a list's opening label

    def limits(self, style: ChoiceStyle) -> ChoiceLimits | None:
        return getattr(self, style)

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for style in STYLES:
            limits = self.limits(style)
            if limits is not None:
                shown[style] = {"max_options": limits.max_options, "max_title": limits.max_title, "max_description": limits.max_description}
        return {**shown, "max_text": self.max_text, "max_header": self.max_header, "max_footer": self.max_footer, "max_button": self.max_button}


NO_INTERACTIVE = InteractiveSupport()


class ChoicesRefused(ValueError):
    """The channel renders this style, but not this content (too many options, a long title…):
    ``template`` (English, with named values, the catalog's msgid) and its ``params``."""

    def __init__(self, template: str, params: dict[str, object]) -> None:
        super().__init__(template % params)
        self.template = template
        self.params = params


@dataclass(frozen=True)
class Rendering:
    style: ChoiceStyle | None  # None: numbered plain text

    @property
    def name(self) -> str:
        return self.style or FALLBACK


def choose_rendering(support: InteractiveSupport, interactive: Interactive, text: str, *, channel: str = "this channel") -> Rendering:
    """How ``interactive`` goes out on a channel with ``support``; raises :class:`ChoicesRefused`
    when the channel shows the style but the content exceeds its limits (an operator should
    shorten it rather than have it silently turned into text)."""
    candidates: list[ChoiceStyle] = [interactive.style] + (["buttons"] if interactive.style == "quick_replies" else [])
    for style in candidates:
        limits = support.limits(style)
        if limits is None:
            continue
        problem = _over_limits(support, limits, interactive, text, style)
        if problem:
            template, params = problem
            raise ChoicesRefused("%(channel)s " + template, {"channel": channel, **params})
        return Rendering(style)
    return Rendering(None)


def _over_limits(
    support: InteractiveSupport, limits: ChoiceLimits, interactive: Interactive, text: str, style: ChoiceStyle
) -> tuple[str, dict[str, object]] | None:
    """The limit the content exceeds, as an English template (``okno.api.problems`` says it in
    the operator's language) with its values."""
    shown = style.replace("_", " ")
    if len(interactive.options) > limits.max_options:
        return "shows at most %(max)s options as %(style)s (%(given)s given)", {"max": limits.max_options, "style": shown, "given": len(interactive.options)}
    for option in interactive.options:
        if len(option.title) > limits.max_title:
            return "shows option titles of at most %(max)s characters as %(style)s (%(title)r… has %(given)s)", {
                "max": limits.max_title, "style": shown, "title": option.title[:30], "given": len(option.title)}
        if option.description and limits.max_description and len(option.description) > limits.max_description:
            return "shows option descriptions of at most %(max)s characters (%(option)r has %(given)s)", {
                "max": limits.max_description, "option": option.id, "given": len(option.description)}
    framed_text = text if support.max_header and support.max_footer else interactive.framed(text)
    if support.max_text is not None and len(framed_text) > support.max_text:
        return "shows at most %(max)s characters of text with %(style)s (%(given)s given)", {"max": support.max_text, "style": shown, "given": len(framed_text)}
    if interactive.header and support.max_header and len(interactive.header) > support.max_header:
        return "shows a header of at most %(max)s characters (%(given)s given)", {"max": support.max_header, "given": len(interactive.header)}
    if interactive.footer and support.max_footer and len(interactive.footer) > support.max_footer:
        return "shows a footer of at most %(max)s characters (%(given)s given)", {"max": support.max_footer, "given": len(interactive.footer)}
    if style == "list" and interactive.button and support.max_button and len(interactive.button) > support.max_button:
        return "shows a list button label of at most %(max)s characters (%(given)s given)", {"max": support.max_button, "given": len(interactive.button)}
    return None


def fallback_text(text: str, interactive: Interactive) -> str:
    """The question with numbered options, for channels that can't show the choices."""
    lines = [f"{n}. {o.title}" + (f" — {o.description}" if o.description else "") for n, o in enumerate(interactive.options, 1)]
    return "\n\n".join(p for p in (interactive.header, text, "\n".join(lines), interactive.footer) if p)


def framed_for(support: InteractiveSupport, interactive: Interactive, text: str) -> str:
    """The text an adapter sends with native choices: frames it can't show are folded in."""
    header = None if support.max_header else interactive.header
    footer = None if support.max_footer else interactive.footer
    return "\n\n".join(p for p in (header, text, footer) if p)


# ---- what a stored message keeps -----------------------------------------------------------


def prompt_content(interactive: Interactive, rendering: Rendering) -> dict[str, Any]:
    """``messages.content`` of an outbound message offering choices."""
    return {"interactive": interactive.model_dump(exclude_none=True), "rendering": rendering.name}


def interactive_of(content: dict[str, Any] | None) -> Interactive | None:
    if not content or not isinstance(content.get("interactive"), dict):
        return None
    return Interactive.model_validate(content["interactive"])


def answer_content(answer: Answer) -> dict[str, Any]:
    """``messages.content`` of an inbound answer."""
    return {"answer": answer.model_dump(exclude_none=True)}


def typed_number(text: str) -> int | None:
    """The number in a reply that is only a number ("2", " 2. ", "2)"), else None."""
    match = _BARE_NUMBER.match(text or "")
    return int(match.group(1)) if match else None


def answer_by_number(prompt_id: int, content: dict[str, Any] | None, number: int) -> Answer | None:
    """The answer a typed number gives to a prompt that went out as numbered text, else None."""
    if not content or content.get("rendering") != FALLBACK:
        return None
    interactive = interactive_of(content)
    if interactive is None or not 1 <= number <= len(interactive.options):
        return None
    option = interactive.options[number - 1]
    return Answer(option_id=option.id, title=option.title, message_id=prompt_id)
