"""SMS.ru: ``POST /sms/send`` out, delivery reports in (docs/channel-protocols.md §7, docs/sms.md).

SMS.ru brings no inbound SMS and signs nothing: its report callback is protected by a secret
token in the callback URL (``?token=``) that only okno and the SMS.ru cabinet know.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qsl

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from okno.channels.base import (
    Capabilities,
    ChannelNeedsAction,
    DeliveryError,
    InboundStatus,
    Label,
    NeedsAction,
    OutboundMessage,
    PermanentFailure,
    ProviderUrl,
    RetryLater,
    SendResult,
    TemporaryFailure,
    WebhookRejected,
    WebhookReply,
    WebhookRequest,
    WebhookResult,
    json_object,
    provider_base_url,
    secret_of_at_least,
)
from okno.kit.labels import labelled
from okno.kit.receiver_reasons import short_text, status_phrase

ACCEPTED = 100
MAX_TEXT = 670  # ten Cyrillic (UCS-2) parts of 67: okno refuses longer replies (each part is billed)
TOKEN_MIN = 16
MAX_REPORTS = 1000  # data[n] fields in one callback
RETRY_AFTER = 60.0  # SMS.ru gives no hint with 220 / 231

# report codes: what each means for the message (100/101 — queued, handed to the operator — change nothing)
REPORTS: dict[int, tuple[str, str | None]] = {
    102: ("sent", None),
    103: ("delivered", None),
    104: ("failed", "SMS.ru 104: not delivered, the message expired (the phone was off or out of reach)"),
    105: ("failed", "SMS.ru 105: not delivered, deleted by the mobile operator"),
    106: ("failed", "SMS.ru 106: not delivered, the phone failed to take it"),
    107: ("failed", "SMS.ru 107: not delivered for an unknown reason"),
    108: ("failed", "SMS.ru 108: not delivered, rejected"),
    110: ("read", None),
    150: ("failed", "SMS.ru 150: not delivered, no route to this number"),
}

# send refusals: (what kind of failure, a sentence for the operator)
CHANNEL = "channel"  # the channel needs an admin (ChannelNeedsAction)
OPERATOR = "operator"  # this customer needs a person (NeedsAction)
PERMANENT = "permanent"
LATER = "later"
REFUSALS: dict[int, tuple[str, str]] = {
    200: (CHANNEL, "the api_id is wrong: copy it again from the SMS.ru cabinet"),
    201: (CHANNEL, "the SMS.ru account has no funds: top it up"),
    202: (PERMANENT, "the recipient's number is invalid"),
    203: (PERMANENT, "the message has no text"),
    204: (CHANNEL, "the sender name is not approved by SMS.ru: approve it in the cabinet or clear the sender setting"),
    205: (PERMANENT, "the message is too long"),
    206: (CHANNEL, "the daily sending limit of the SMS.ru account is reached: raise it in the cabinet or wait for tomorrow"),
    207: (PERMANENT, "SMS.ru can't deliver to this number (no route)"),
    208: (PERMANENT, "the send time is wrong"),
    209: (OPERATOR, "the number is in the account's stop-list: remove it in the SMS.ru cabinet if the customer agreed to SMS"),
    220: (LATER, "SMS.ru is temporarily unavailable"),
    230: (OPERATOR, "the daily limit of messages to this number is reached: try again tomorrow or write in another channel"),
    231: (LATER, "the same text was sent to this number within a minute"),
    232: (OPERATOR, "the same text was already sent to this number today"),
    300: (CHANNEL, "the SMS.ru credentials are wrong or expired"),
    301: (CHANNEL, "the SMS.ru credentials are wrong"),
    302: (CHANNEL, "the SMS.ru account is not confirmed"),
}


class SmsRuConfig(BaseModel):
    """Send SMS through SMS.ru and receive its delivery reports (SMS.ru brings no inbound SMS)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"x-help": {
        "en": "Send SMS through SMS.ru and receive its delivery reports (SMS.ru brings no inbound SMS).",
        "ru": "Отправка SMS через SMS.ru и отчёты о доставке (входящих SMS SMS.ru не передаёт).",
    }})

    api_id: SecretStr = labelled(
        "api_id", "api_id", min_length=1,
        help_en="the api_id from the SMS.ru cabinet", help_ru="api_id из личного кабинета SMS.ru",
    )
    sender: str = labelled(
        "Sender name", "Имя отправителя", default="", max_length=11, pattern=r"^[A-Za-z0-9 .\-]*$",
        help_en="a sender name approved by SMS.ru; empty: SMS.ru's default",
        help_ru="имя отправителя, одобренное SMS.ru; пусто — отправитель по умолчанию",
    )
    api_base: ProviderUrl = provider_base_url("https://sms.ru", "SMS.ru's API; change only for a test server", "API SMS.ru; меняйте только для тестового сервера")
    webhook_token: Annotated[SecretStr, secret_of_at_least(TOKEN_MIN)] = labelled(
        "Callback token", "Токен callback", min_length=1, json_schema_extra={"minLength": TOKEN_MIN},
        help_en="a random secret of 16+ characters: give SMS.ru the callback URL ending with ?token=<it> (SMS.ru signs nothing)",
        help_ru="случайный секрет от 16 символов: в кабинете SMS.ru укажите callback-адрес с ?token=<он> (SMS.ru ничего не подписывает)",
    )


class SmsRuChannel:
    kind: ClassVar[str] = "smsru"
    title: ClassVar[str] = "SMS (SMS.ru)"
    title_label: ClassVar[Label] = Label(en="SMS (SMS.ru)", ru="SMS (SMS.ru)")
    config_model: ClassVar[type[BaseModel]] = SmsRuConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT,
        delivery_statuses=True,
        read_receipts=True,
        address_kinds=frozenset({"phone"}),
        starts_conversations=True,
        one_time_codes=frozenset({"phone"}),
        inbound_messages=False,
        public_address=True,
        sms_segments=True,
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id

    def handle_webhook(self, config: SmsRuConfig, request: WebhookRequest) -> WebhookResult:
        if request.method != "POST":
            raise WebhookRejected(405, "SMS.ru posts its reports")
        _verify_token(config, request.query.get("token", ""))
        return WebhookResult(items=parse_reports(request.body), reply=WebhookReply(200, body=b"100", media_type="text/plain"))

    async def send(self, config: SmsRuConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        phone = message.recipient.first("phone")
        if phone is None:
            raise PermanentFailure("the customer has no phone number to send an SMS to")
        to = phone.lstrip("+")
        form = {"api_id": config.api_id.get_secret_value(), "to": to, "msg": message.text, "json": "1"}
        if config.sender:
            form["from"] = config.sender
        try:
            response = await http.post(f"{config.api_base.rstrip('/')}/sms/send", data=form)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporaryFailure(f"SMS.ru HTTP {response.status_code}: {status_phrase(response.status_code) or 'error'}")
        return SendResult(provider_message_id=accepted_id(json_object(response), to))


def _verify_token(config: SmsRuConfig, given: str) -> None:
    if not given:
        raise WebhookRejected(401, "the callback URL has no ?token= (give SMS.ru the URL shown in okno)")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), config.webhook_token.get_secret_value().encode()):
        raise WebhookRejected(403, "the callback token does not match the channel's webhook_token")


def parse_reports(body: bytes) -> list[InboundStatus]:
    """``data[0]=sms_status\\n<sms_id>\\n<code>…``: one status per known report (others are skipped)."""
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_REPORTS + 10, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"the body is not an SMS.ru report form: {exc}") from exc
    items: list[InboundStatus] = []
    for name, value in fields:
        if not (name.startswith("data[") and name.endswith("]")):
            continue
        item = _report(value)
        if item is not None:
            items.append(item)
    return items


def _report(value: str) -> InboundStatus | None:
    lines = value.replace("\r\n", "\n").split("\n")
    if lines[0].strip() != "sms_status":
        return None  # other callbacks (call checks…) are not okno's business
    if len(lines) < 3:
        raise WebhookRejected(422, "an sms_status report needs the sms_id and the status code")
    sms_id, code = lines[1].strip(), lines[2].strip()
    if not sms_id or len(sms_id) > 200 or not sms_id.isprintable():
        raise WebhookRejected(422, "an sms_status report has no valid sms_id")
    if not (code.isascii() and code.isdigit() and len(code) <= 4):
        raise WebhookRejected(422, f"an sms_status report has a status code that is not a number: {code[:20]!r}")
    known = REPORTS.get(int(code))
    if known is None:
        return None  # 100/101: still queued; an unknown code changes nothing
    status, error = known
    return InboundStatus(provider_message_id=sms_id, status=status, error=error)  # type: ignore[arg-type]


def accepted_id(data: dict[str, Any], to: str) -> str:
    """The sms_id SMS.ru gave the number, or the typed failure its status codes mean."""
    if _code(data) != ACCEPTED:
        raise refusal(_code(data), data.get("status_text"))
    sms = data.get("sms")
    per_number = sms.get(to) if isinstance(sms, dict) else None
    if not isinstance(per_number, dict):
        raise TemporaryFailure("SMS.ru accepted the request but said nothing about the number")
    if _code(per_number) != ACCEPTED:
        raise refusal(_code(per_number), per_number.get("status_text"))
    sms_id = per_number.get("sms_id")
    if not isinstance(sms_id, str) or not sms_id:
        raise TemporaryFailure("SMS.ru accepted the number but gave no sms_id")
    return sms_id


def refusal(code: int | None, status_text: Any) -> DeliveryError:
    kind, sentence = REFUSALS.get(code or 0, (PERMANENT, "SMS.ru refused the message"))
    said = short_text(status_text)
    reason = f"SMS.ru {code if code is not None else '?'}: {sentence}" + (f" ({said})" if said else "")
    if code is None:
        return TemporaryFailure("SMS.ru answered without a status code")
    return {
        CHANNEL: lambda: ChannelNeedsAction(reason),
        OPERATOR: lambda: NeedsAction(reason),
        LATER: lambda: RetryLater(reason, RETRY_AFTER),
    }.get(kind, lambda: PermanentFailure(reason))()


def _code(data: dict[str, Any]) -> int | None:
    code = data.get("status_code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) <= 4:
        return int(code)
    return None
