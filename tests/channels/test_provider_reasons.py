"""What a failed send tells operators: the provider's status and its own error field, parsed and
short — never the body an ``api_base`` (any URL an admin typed) answered with. No database."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from okno.channels.adapters.api.adapter import ApiChannel, ApiChannelConfig
from okno.channels.adapters.max.adapter import MaxChannel, MaxConfig
from okno.channels.adapters.telegram.adapter import TelegramChannel, TelegramConfig
from okno.channels.adapters.vk.adapter import VkChannel, VkConfig
from okno.channels.adapters.whatsapp.adapter import WhatsAppChannel, WhatsAppConfig
from okno.channels.base import DeliveryError, OutboundMessage, Recipient
from okno.kit.receiver_reasons import MAX_REASON, short_text

LEAK = "internal-XYZ db=postgres://admin:hunter2@10.0.0.9"
PAGE = f"<html><body><h1>502</h1><pre>{LEAK}</pre></body></html>"
IDENTITIES = (("telegram", "42"), ("phone", "+79161234567"), ("vk", "500777"), ("max", "900777"), ("external", "1:c-1"))

ADAPTERS: dict[str, tuple[object, object]] = {
    "telegram": (TelegramChannel(1), TelegramConfig(bot_token="1:x", secret_token="telegram-secret-0123", api_base="https://tg.example")),
    "whatsapp": (WhatsAppChannel(1), WhatsAppConfig(phone_number_id="1065", access_token="t", app_secret="meta-app-secret-0123", verify_token="v",
                                                    graph_base="https://graph.example")),
    "vk": (VkChannel(1), VkConfig(group_id=1, access_token="t", secret="vk-callback-secret-01", confirmation_code="c", api_base="https://vk.example")),
    "max": (MaxChannel(1), MaxConfig(token="t", secret="max-secret-0123456", api_base="https://max.example")),
    "api": (ApiChannel(1), ApiChannelConfig(secret="api-secret-0123456789", outbound_url="https://crm.example/okno")),
}


def _outbound() -> OutboundMessage:
    return OutboundMessage(message_id=1, conversation_id=1, text="hi", recipient=Recipient(1, "", IDENTITIES), idempotency_key="k", attempt=1)


async def _failure(kind: str, answer: Callable[[httpx.Request], httpx.Response]) -> DeliveryError:
    adapter, config = ADAPTERS[kind]
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(DeliveryError) as raised:
            await adapter.send(config, _outbound(), http)  # type: ignore[attr-defined]
    return raised.value


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
@pytest.mark.parametrize("status", [400, 403, 502])
async def test_an_html_error_page_is_never_quoted(kind: str, status: int) -> None:
    error = await _failure(kind, lambda request: httpx.Response(status, text=PAGE, headers={"content-type": "text/html"}))
    assert LEAK not in error.reason and "<html" not in error.reason and "hunter2" not in error.reason
    assert str(status) in error.reason or kind == "vk"  # VK answers errors in a 200 body; a 4xx page is "an answer without a response"


@pytest.mark.parametrize(
    ("kind", "body", "said"),
    [
        ("telegram", {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, "Telegram 400: Bad Request: chat not found"),
        ("whatsapp", {"error": {"message": "(#131030) Recipient phone number not in allowed list", "code": 131030}},
         "WhatsApp 131030: (#131030) Recipient phone number not in allowed list"),
        ("vk", {"error": {"error_code": 901, "error_msg": "Can't send messages for users without permission"}},
         "VK 901: Can't send messages for users without permission"),
        ("max", {"code": "chat.denied", "message": "chat.denied: dialog is blocked"}, "MAX 403 chat.denied: chat.denied: dialog is blocked"),
        ("api", {"error": "customer 77 is archived"}, "HTTP 403 Forbidden: customer 77 is archived"),
    ],
)
async def test_the_providers_own_error_field_is_shown(kind: str, body: dict, said: str) -> None:
    status = 200 if kind == "vk" else 403 if kind in ("max", "api") else 400
    error = await _failure(kind, lambda request: httpx.Response(status, json=body))
    assert error.reason.startswith(said)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("telegram", {"ok": False, "error_code": 400, "description": "Bad Request: " + "я" * 5000 + LEAK}),
        ("whatsapp", {"error": {"message": "\n\tboom " * 2000 + LEAK, "code": 100}}),
        ("vk", {"error": {"error_code": 100, "error_msg": "One of the parameters specified was missing or invalid " * 100 + LEAK}}),
        ("max", {"code": "proto.payload", "message": "x" * 10_000 + LEAK}),
        ("api", {"error": {"message": "y" * 10_000 + LEAK}}),
    ],
)
async def test_a_long_provider_reason_is_cut_to_a_line(kind: str, body: dict) -> None:
    error = await _failure(kind, lambda request: httpx.Response(200 if kind == "vk" else 400, json=body))
    assert LEAK not in error.reason and "\n" not in error.reason and "\t" not in error.reason
    assert len(error.reason) <= MAX_REASON + 40  # the provider's prefix ("WhatsApp 100: ") and the cut reason


def test_short_text_keeps_text_only() -> None:
    assert short_text("  chat\nnot\x00 found  ") == "chat not found"
    assert short_text(["a"]) is None and short_text(404) is None and short_text(" \n ") is None
    cut = short_text("a" * 500)
    assert cut is not None and len(cut) == MAX_REASON and cut.endswith("…")
