"""One entry per channel kind: how to build its fake provider and name a test user.

Every fake implements: ``app`` (ASGI), ``base_url``, ``connect(client, webhook_url)``,
``channel_config()``, ``deliver_text(user, text)``, ``deliver_forged_text(user, text)``,
``redeliver_last()``, ``fail_next_send(kind, retry_after=)``, ``sent_texts()``; fakes of
providers with delivery statuses also ``deliver_status(provider_message_id, status)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from okno.channels.adapters.max.fake import FakeMax
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.vk.fake import FakeVk
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp


@dataclass(frozen=True)
class Harness:
    kind: str
    make_fake: Callable[[], object]
    user: Callable[[int], str]  # n → a provider user id
    identity_kind: str  # the identity the provider's user id becomes


HARNESSES: dict[str, Harness] = {
    "telegram": Harness("telegram", FakeTelegram, lambda n: str(700_000_000 + n), "telegram"),
    # with_bsuid off: the contract looks customers up by whatsapp:<wa_id>; BSUID senders are covered in test_whatsapp.py
    "whatsapp": Harness("whatsapp", FakeWhatsApp, lambda n: str(79_160_000_000 + n), "whatsapp"),
    "max": Harness("max", FakeMax, lambda n: str(900_000_000 + n), "max"),
    "vk": Harness("vk", FakeVk, lambda n: str(500_000 + n), "vk"),
}
