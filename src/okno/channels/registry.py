"""The explicit list of channel adapters; third parties add theirs via the ``okno.channels`` entry point.

Registering an adapter also registers what it declares: its identity kinds and default proof
rules (``okno.customers.identity_kinds``) and, through :func:`adapter_routers`, its own routes.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import structlog

from okno.channels.adapters.api.adapter import ApiChannel
from okno.channels.adapters.google_reviews.adapter import GoogleReviewsChannel
from okno.channels.adapters.email.adapter import EmailChannel
from okno.channels.adapters.max.adapter import MaxChannel
from okno.channels.adapters.smsru.adapter import SmsRuChannel
from okno.channels.adapters.novofon.adapter import NovofonChannel
from okno.channels.adapters.telegram.adapter import TelegramChannel
from okno.channels.adapters.twogis_reviews.adapter import TwoGisReviewsChannel
from okno.channels.adapters.vk.adapter import VkChannel
from okno.channels.adapters.whatsapp.adapter import WhatsAppChannel
from okno.channels.adapters.widget.adapter import WidgetChannel
from okno.channels.adapters.yandex_reviews.adapter import YandexReviewsChannel
from okno.channels.base import ChannelAdapter
from okno.customers import identity_kinds
from okno.kit.errors import Invalid

if TYPE_CHECKING:
    from fastapi import APIRouter

log = structlog.get_logger()

AdapterFactory = type  # a class taking ``channel_id`` and implementing ChannelAdapter

_BUILT_IN: tuple[AdapterFactory, ...] = (
    ApiChannel, TelegramChannel, WidgetChannel, WhatsAppChannel, MaxChannel, VkChannel, SmsRuChannel, GoogleReviewsChannel,
    TwoGisReviewsChannel, YandexReviewsChannel, EmailChannel, NovofonChannel,
)
ENTRY_POINT_GROUP = "okno.channels"

ADAPTERS: dict[str, AdapterFactory] = {}


def register_adapter(cls: AdapterFactory) -> None:
    """Adds an adapter class and what it declares; a kind already registered keeps its adapter."""
    if cls.kind in ADAPTERS:
        if ADAPTERS[cls.kind] is not cls:
            log.error("channel_kind_taken", kind=cls.kind, adapter=_name(cls), kept=_name(ADAPTERS[cls.kind]))
        return
    ADAPTERS[cls.kind] = cls
    identity_kinds.declare(
        f"channel:{cls.kind}",
        kinds=getattr(cls, "identity_kinds", ()),
        rules=getattr(cls, "proof_rules", ()),
    )


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load() -> None:
    for cls in _BUILT_IN:
        register_adapter(cls)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception:  # one broken plugin must not stop okno
            log.exception("channel_plugin_failed_to_load", entry_point=ep.name, value=ep.value)
            continue
        register_adapter(cls)


_load()


def adapter_class(kind: str) -> AdapterFactory:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise Invalid("unknown channel kind %(kind)r (one of: %(adapters)s)", kind=kind, adapters=', '.join(sorted(ADAPTERS))) from None


def build_adapter(kind: str, channel_id: int) -> ChannelAdapter:
    return adapter_class(kind)(channel_id)


def adapter_routers() -> list[APIRouter]:
    """The routers of adapters that serve HTTP themselves (``OwnsRoutes``), to mount in the app."""
    return [cls.routes() for cls in ADAPTERS.values() if callable(getattr(cls, "routes", None))]
