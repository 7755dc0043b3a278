"""The explicit list of channel adapters; third parties add theirs via the ``okno.channels`` entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

from okno.channels.adapters.api.adapter import ApiChannel
from okno.channels.adapters.max.adapter import MaxChannel
from okno.channels.adapters.telegram.adapter import TelegramChannel
from okno.channels.adapters.vk.adapter import VkChannel
from okno.channels.adapters.whatsapp.adapter import WhatsAppChannel
from okno.channels.adapters.widget.adapter import WidgetChannel
from okno.channels.base import ChannelAdapter
from okno.kit.errors import Invalid

AdapterFactory = type  # a class taking ``channel_id`` and implementing ChannelAdapter

_BUILT_IN: tuple[AdapterFactory, ...] = (ApiChannel, TelegramChannel, WidgetChannel, WhatsAppChannel, MaxChannel, VkChannel)


def _load() -> dict[str, AdapterFactory]:
    adapters: dict[str, AdapterFactory] = {cls.kind: cls for cls in _BUILT_IN}
    for ep in entry_points(group="okno.channels"):
        cls = ep.load()
        adapters.setdefault(cls.kind, cls)
    return adapters


ADAPTERS = _load()


def adapter_class(kind: str) -> AdapterFactory:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise Invalid(f"unknown channel kind {kind!r} (one of: {', '.join(sorted(ADAPTERS))})") from None


def build_adapter(kind: str, channel_id: int) -> ChannelAdapter:
    return adapter_class(kind)(channel_id)
