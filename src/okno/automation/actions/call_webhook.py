"""``call_webhook``: POSTs the event, the conversation and the customer to a URL — as a durable
job (``okno.automation.webhook_calls``) sent after commit by the webhook worker, never from the
rule's transaction. With a secret the body is signed (``X-Okno-Signature``); the secret is
sealed at rest and shown masked, and sending the mask back keeps the one the rule has for that URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import field_validator

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Checking, Names
from okno.automation.webhook_calls import record_webhook_call
from okno.channels.service import MASK
from okno.kit.labels import Label, labelled
from okno.kit.reasons import reason

MAX_URL = 2000
MIN_SECRET = 16  # a shorter signing key can be found by trying against one signed body
MAX_SECRET = 500
SECRET_RULE = "must be %(least)s–%(most)s characters (it signs the body: X-Okno-Signature)"
SIGNED = Label(en="signed", ru="с подписью")


class CallWebhookParams(ActionParams):
    explain_missing = ("url",)

    url: str = labelled("URL", "URL", json_schema_extra={"format": "uri"})
    secret: str | None = labelled(
        "Secret", "Секрет", default=None, help_en="signs the body: X-Okno-Signature", help_ru="подписывает тело: X-Okno-Signature",
        json_schema_extra={"format": "password", "writeOnly": True},
    )

    @field_validator("url", mode="before")
    @classmethod
    def _http(cls, value: Any) -> str:
        url = str(value or "").strip()
        parts = urlsplit(url)
        if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
            raise reason("must be an http:// or https:// URL with a host (at most %(num)s characters)", num=MAX_URL)
        return url

    @field_validator("secret", mode="before")
    @classmethod
    def _sized(cls, value: Any) -> Any:
        if value is not None and value != MASK and (not isinstance(value, str) or not MIN_SECRET <= len(value) <= MAX_SECRET):
            raise reason(SECRET_RULE, least=MIN_SECRET, most=MAX_SECRET)
        return value


class CallWebhook(AutomationAction):
    type = "call_webhook"
    label = Label(en="Call a webhook", ru="Вызвать вебхук")
    params = CallWebhookParams

    async def validate(self, params: CallWebhookParams, checking: Checking) -> dict[str, Any]:
        stored: dict[str, Any] = {"type": self.type, "url": params.url}
        refused = await checking.urls.refusal(params.url) if checking.urls is not None else None
        if refused is not None:
            raise checking.refuse("%(refused)s", at="url", refused=refused)
        if params.secret == MASK:
            kept = next((a["secret_sealed"] for a in checking.previous if a.get("type") == self.type and a.get("url") == params.url and "secret_sealed" in a), None)
            if kept is None:
                raise checking.refuse(SECRET_RULE, at="secret", least=MIN_SECRET, most=MAX_SECRET)
            stored["secret_sealed"] = kept
        elif params.secret is not None:
            if checking.box is None:
                raise checking.refuse("cannot be stored here (no key to seal it with)", at="secret")
            stored["secret_sealed"] = checking.box.seal_json(params.secret)
        return stored

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        await record_webhook_call(
            run.session, conversation_id=run.conversation_id, rule_id=run.rule_id, action_index=run.index, event=run.event,
            url=action["url"], secret_sealed=action.get("secret_sealed"),
        )

    def describe(self, action: dict[str, Any], names: Names) -> str:
        """The secret stays out of the page: only whether calls are signed."""
        signed = f" · {SIGNED.in_(names.locale)}" if action.get("secret_sealed") or action.get("secret") else ""
        return f"{action.get('url', '')}{signed}"
