"""One entry per channel kind: how to build its fake provider and name a test user.

Every fake implements: ``app`` (ASGI), ``base_url``, ``connect(client, webhook_url)``,
``channel_config()``, ``deliver_text(user, text)``, ``deliver_forged_text(user, text)``,
``redeliver_last()``, ``fail_next_send(kind, retry_after=)``, ``sent_texts()`` (plain or
awaitable); fakes of providers with delivery statuses also ``deliver_status(provider_message_id, status)``.

``tests/channels/test_harness_coverage.py`` fails when a built-in kind has no entry here or no
recorded payloads under ``tests/channels/fixtures/<kind>/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from okno.channels.adapters.google_reviews.fake import FakeGoogleReviews
from okno.channels.adapters.email.fake import FakeMail
from okno.channels.adapters.max.fake import FakeMax
from okno.channels.adapters.smsru.fake import FakeSmsRu
from okno.channels.adapters.novofon.fake import FakeNovofon
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.twogis_reviews.fake import FakeTwoGisReviews
from okno.channels.adapters.vk.fake import FakeVk
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.channels.adapters.yandex_reviews.fake import FakeYandexReviews
from tests.channels.api_integrator import FakeApiIntegrator
from tests.channels.widget_visitor import FakeVisitor


@dataclass(frozen=True)
class Harness:
    kind: str
    make_fake: Callable[[], object]
    user: Callable[[int], str]  # n → a provider user id
    identity_kind: str  # the identity the provider's user id becomes
    # okno is the provider (the widget): the fake talks to okno served on loopback, and has no
    # outside API whose errors could be scripted
    okno_is_provider: bool = False


HARNESSES: dict[str, Harness] = {
    # a CRM names its customer by phone here (external ids are prefixed with the channel id)
    "api": Harness("api", FakeApiIntegrator, lambda n: f"+7916100{n:04d}", "phone"),
    "telegram": Harness("telegram", FakeTelegram, lambda n: str(700_000_000 + n), "telegram"),
    # with_bsuid off: the contract looks customers up by whatsapp:<wa_id>; BSUID senders are covered in test_whatsapp.py
    "whatsapp": Harness("whatsapp", FakeWhatsApp, lambda n: str(79_160_000_000 + n), "whatsapp"),
    "max": Harness("max", FakeMax, lambda n: str(900_000_000 + n), "max"),
    "vk": Harness("vk", FakeVk, lambda n: str(500_000 + n), "vk"),
    "widget": Harness("widget", FakeVisitor, lambda n: f"v_contract{n:06d}", "web", okno_is_provider=True),
    # no inbound SMS: the contract suite finds the customer through an API channel and replies by SMS
    "smsru": Harness("smsru", FakeSmsRu, lambda n: f"+7916200{n:04d}", "phone"),
    # polled: a "delivered" review is read by the poll worker; the user is the review's id (reviewers have none)
    "google_reviews": Harness("google_reviews", FakeGoogleReviews, lambda n: f"AbFvOqContract{n:04d}", "google_review"),
    # read-only review lists: polled in, no replies (capabilities.posts_replies is False)
    "twogis_reviews": Harness("twogis_reviews", FakeTwoGisReviews, lambda n: str(140_000_000 + n), "2gis_review"),
    "yandex_reviews": Harness("yandex_reviews", FakeYandexReviews, lambda n: f"Yc0nTrAcT{n:06d}", "yandex_review"),
    # polled: the fake is an IMAP mailbox and an SMTP server on loopback (threads of their own)
    "email": Harness("email", FakeMail, lambda n: f"customer{n}@mail.example", "email"),
    # a caller id: the provider sends digits, okno keys the customer on the normalised phone
    "novofon": Harness("novofon", FakeNovofon, lambda n: f"+7916200{n:04d}", "phone"),
}
