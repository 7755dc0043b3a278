"""Mounts the fake providers under ``/fake`` (demo and development only: ``OKNO_FAKE_PROVIDERS=1``).

Each fake speaks its provider's real wire contract on loopback; okno's real adapters talk to it
over HTTP exactly as they would to the provider. A channel whose config points at
``…/fake/<kind>`` gets that kind's fake, built with the channel's own credentials (one fake per
kind); API channels whose ``outbound_url`` points at ``…/fake/api/boxes/<box>/…`` share the
multi-box receiver. ``GET /fake/`` shows what every fake accepted; ``GET /demo/shop`` is a shop
page with the website chat embedded, to chat as a visitor.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse

from okno.channels.adapters.api.fake import FakeApiReceiver
from okno.channels.adapters.telegram.fake import FakeTelegram
from okno.channels.adapters.whatsapp.fake import FakeWhatsApp
from okno.channels.fakes.base import FakeProviderBase
from okno.channels.registry import ADAPTERS
from okno.channels.service import open_config, plain_config
from okno.kit.crypto import SecretBox
from okno.kit.db import Database
from okno.models import Channel

if TYPE_CHECKING:
    from fastapi import FastAPI

    from okno.context import AppContext

log = structlog.get_logger()

FAKE_KINDS = ("telegram", "whatsapp", "vk", "max", "novofon")  # channels the demo runs against a fake provider (novofon: calls)
# SMS and review sites on their fakes: no simulator journeys (SMS brings no inbound, reviews are
# polled); their fakes seed themselves for the demo (``seed_demo``) and SMS.ru reports deliveries
SMS_AND_REVIEW_KINDS = ("smsru", "google_reviews", "twogis_reviews", "yandex_reviews")
LOG_LIMIT = 50
# mail on a fake mail server (IMAP and SMTP on loopback ports of its own, not under /fake): the
# demo's support mailbox, which the simulator writes to over SMTP
MAIL_KINDS = ("email",)


# ---- which channels run against a fake, and building that fake --------------------------------


@dataclass(frozen=True)
class FakeBackedChannel:
    kind: str
    channel_id: int
    name: str
    config: dict[str, Any]  # plain: secrets revealed
    fake_url: str  # the config value that points at /fake/<kind>


def fake_url_in(kind: str, config: dict[str, Any]) -> str | None:
    """The config value (api_base, graph_base, outbound_url…) that points at ``/fake/<kind>``."""
    marker = f"/fake/{kind}"
    for value in config.values():
        if isinstance(value, str) and (value.endswith(marker) or f"{marker}/" in value):
            return value
    locate = getattr(fake_class(kind), "locate", None) if kind in MAIL_KINDS else None
    return locate(config) if callable(locate) else None  # a fake that is a server of its own (mail)


async def fake_backed_channels(
    db: Database, box: SecretBox, kinds: Iterable[str] = ("api", *FAKE_KINDS, *SMS_AND_REVIEW_KINDS, *MAIL_KINDS)
) -> list[FakeBackedChannel]:
    """Active channels of ``kinds`` pointing at a fake provider, oldest first."""
    wanted = [k for k in kinds if k in ADAPTERS]
    async with db.reading() as session:
        active = select(Channel).where(Channel.kind.in_(wanted), Channel.is_active.is_(True)).order_by(Channel.id)
        rows = (await session.scalars(active)).all()
    found = []
    for channel in rows:
        config = plain_config(open_config(box, channel))
        url = fake_url_in(channel.kind, config)
        if url is not None:
            found.append(FakeBackedChannel(channel.kind, channel.id, channel.name, config, url))
    return found


async def widget_for(db: Database, box: SecretBox, origin: str) -> tuple[int | None, list[str]]:
    """The oldest active website chat that names ``origin`` (never just "*": that may be a real
    site's); else ``None`` and the origins the chats do name."""
    async with db.reading() as session:
        active = select(Channel).where(Channel.kind == "widget", Channel.is_active.is_(True)).order_by(Channel.id)
        widgets = (await session.scalars(active)).all()
    named: list[str] = []
    for channel in widgets:
        origins = [o for o in open_config(box, channel).allowed_origins if o != "*"]  # type: ignore[attr-defined]
        if origin in origins:
            return channel.id, []
        named += origins
    return None, named


def fake_class(kind: str) -> type[FakeProviderBase] | None:
    """The fake provider shipped in ``okno.channels.adapters.<kind>.fake``, if there is one."""
    module_name = f"okno.channels.adapters.{kind}.fake"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None
        raise
    return next(
        (
            obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, FakeProviderBase) and obj.__module__ == module_name
        ),
        None,
    )


def _telegram(config: dict[str, Any], url: str) -> FakeTelegram:
    return FakeTelegram(bot_token=config["bot_token"], secret_token=config["secret_token"], base_url=url)


def _whatsapp(config: dict[str, Any], url: str) -> FakeWhatsApp:
    return FakeWhatsApp(
        phone_number_id=config["phone_number_id"], access_token=config["access_token"], app_secret=config["app_secret"],
        verify_token=config["verify_token"], api_version=config["api_version"], base_url=url,
        templates={(t["name"], t["language"]): t["body_parameters"] for t in config.get("templates") or []},  # approved = configured
    )


def _by_matching_fields(kind: str) -> Callable[[dict[str, Any], str], FakeProviderBase]:
    """Kinds without a factory here: config keys that name a field of the fake (its
    ``channel_config()`` convention) become its constructor arguments."""

    def build(config: dict[str, Any], url: str) -> FakeProviderBase:
        cls = fake_class(kind)
        if cls is None:
            raise LookupError(f"no fake provider for channel kind {kind!r}")
        accepted = {f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}
        return cls(**{k: v for k, v in config.items() if k in accepted and k != "base_url"}, base_url=url)

    return build


def _mail(config: dict[str, Any], url: str) -> FakeProviderBase:
    """The fake mail server on the channel's own ports, with its address and login."""
    cls = fake_class("email")
    if cls is None:
        raise LookupError("no fake mail server")
    return cls(address=config["address"], user=config["username"], password=config["password"],  # type: ignore[call-arg]
               imap_port=int(config["imap_port"]), smtp_port=int(config["smtp_port"]), base_url=url)


FACTORIES: dict[str, Callable[[dict[str, Any], str], FakeProviderBase]] = {"telegram": _telegram, "whatsapp": _whatsapp, "email": _mail}


def customer_side(kind: str, config: dict[str, Any]) -> Any:  # noqa: ANN401
    """What a simulator delivers this channel's customer messages through: the fake provider
    itself (it posts to okno's webhook), or for a fake that is a server of its own (mail) a
    client of it, so a simulator in another process reaches the one the server runs."""
    make = getattr(fake_class(kind), "customer_side", None) if kind in MAIL_KINDS else None
    return make(config) if callable(make) else fake_from_config(kind, config)


def fake_from_config(kind: str, config: dict[str, Any]) -> FakeProviderBase:
    """A fake speaking for the channel with this (plain) config: same credentials, same URL."""
    url = fake_url_in(kind, config) or ""
    return FACTORIES.get(kind, _by_matching_fields(kind))(config, url)


def demo_fake_config(kind: str, fake_url: str) -> dict[str, Any] | None:
    """A channel config for ``kind`` pointing at ``fake_url`` with the fake's fixed demo credentials."""
    cls = fake_class(kind)
    if cls is None:
        return None
    fake = cls(base_url=fake_url)
    return fake.channel_config()  # type: ignore[attr-defined]


# ---- timestamps for what the fakes accepted -----------------------------------------------------


class StampedLog(list):
    """A fake's ``sent`` list that also remembers when each entry arrived."""

    def __init__(self, entries: Iterable[Any] = ()) -> None:
        super().__init__(entries)
        self.times: list[float] = [time.time()] * len(self)

    def append(self, entry: Any) -> None:
        super().append(entry)
        self.times.append(time.time())


class StampedDeliveries(dict):
    """A fake API box's deliveries (by idempotency key) that remember when each arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[str, float] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.times.setdefault(key, time.time())
        super().__setitem__(key, value)


# ---- mounting -----------------------------------------------------------------------------------


async def mount_fake_providers(app: FastAPI, ctx: AppContext) -> None:
    channels = await fake_backed_channels(ctx.db, ctx.box)
    receiver = _api_receiver([c for c in channels if c.kind == "api"])
    app.mount("/fake/api", receiver.app)
    fakes = _messenger_fakes([c for c in channels if c.kind != "api"])
    for kind, fake in fakes.items():
        app.mount(f"/fake/{kind}", fake.app)  # type: ignore[attr-defined]
    _seed_demo_fakes(app, fakes, {c.kind: c.channel_id for c in channels})
    app.state.fake_api = receiver
    app.state.fake_providers = fakes
    app.add_route("/fake/", _log_page, methods=["GET"], include_in_schema=False)
    app.add_route("/fake", _log_page, methods=["GET"], include_in_schema=False)
    app.add_route("/demo/shop", _shop_page, methods=["GET"], include_in_schema=False)
    log.info("fake_providers_mounted", kinds=["api", *fakes])


def close_fake_providers(app: FastAPI) -> None:
    """Stops fakes that run servers of their own (the mail server's IMAP and SMTP ports)."""
    for fake in getattr(app.state, "fake_providers", {}).values():
        close = getattr(fake, "close", None)
        if callable(close):
            close()


def _seed_demo_fakes(app: FastAPI, fakes: dict[str, FakeProviderBase], channel_ids: dict[str, int]) -> None:
    """Fakes that fill themselves for the demo (reviews to poll) or call okno back (SMS.ru's
    delivery reports, posted to the channel's webhook in-process)."""
    for kind, fake in fakes.items():
        seed = getattr(fake, "seed_demo", None)
        if callable(seed):
            okno = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okno.demo")
            fake.connect(okno, f"/webhooks/{channel_ids[kind]}")
            seed()


def _api_receiver(channels: list[FakeBackedChannel]) -> FakeApiReceiver:
    receiver = FakeApiReceiver()
    for channel in channels:
        if "/fake/api/boxes/" in channel.fake_url:
            box = channel.fake_url.split("/fake/api/boxes/", 1)[1].split("/", 1)[0]
            receiver.add_box(box, channel.config["secret"])
            receiver.boxes[box].deliveries = StampedDeliveries()
    return receiver


def _messenger_fakes(channels: list[FakeBackedChannel]) -> dict[str, FakeProviderBase]:
    fakes: dict[str, FakeProviderBase] = {}
    for channel in channels:
        if channel.kind in fakes:
            log.warning("fake_provider_taken", kind=channel.kind, channel_id=channel.channel_id)
            continue
        try:
            fake = fake_from_config(channel.kind, channel.config)
        except (LookupError, KeyError, TypeError) as exc:
            log.warning("fake_provider_unavailable", kind=channel.kind, channel_id=channel.channel_id, error=str(exc))
            continue
        fake.sent = StampedLog(fake.sent)
        fakes[channel.kind] = fake
    return fakes


# ---- GET /fake/: what every fake accepted -------------------------------------------------------

PAGE_STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111}table{border-collapse:collapse;width:100%;margin-bottom:24px}"
    "th,td{border-bottom:1px solid #e3e7ef;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f5f7fb}"
    "td.t{white-space:nowrap;color:#555}.empty{color:#777}"
)


@dataclass(frozen=True)
class LogRow:
    at: float | None
    recipient: str
    text: str


def _recipient(entry: dict[str, Any]) -> str:
    for key in ("to", "recipient", "chat_id", "peer_id", "user_id"):
        if entry.get(key) not in (None, ""):
            return str(entry[key])
    return "—"


def _text(entry: dict[str, Any]) -> str:
    text = entry.get("text", entry.get("message", ""))
    return str(text.get("body", text) if isinstance(text, dict) else text)


def _messenger_rows(fake: FakeProviderBase) -> list[LogRow]:
    times = getattr(fake.sent, "times", [])
    return [LogRow(times[i] if i < len(times) else None, _recipient(e), _text(e)) for i, e in enumerate(fake.sent)]


def _api_rows(receiver: FakeApiReceiver) -> list[LogRow]:
    rows = []
    for box_name, box in receiver.boxes.items():
        times = getattr(box.deliveries, "times", {})
        for key, delivery in box.deliveries.items():
            to = delivery["body"].get("to") or {}
            who = ", ".join(str(v) for v in (to.get("name"), to.get("phone"), to.get("email"), to.get("external_id")) if v)
            rows.append(LogRow(times.get(key), f"{box_name}: {who or '—'}", str(delivery["body"].get("text", ""))))
    return sorted(rows, key=lambda r: r.at or 0)


def _table(title: str, rows: list[LogRow]) -> str:
    shown = rows[-LOG_LIMIT:][::-1]
    head = f"<h2>{escape(title)} <small>(принято: {len(rows)})</small></h2>"
    if not shown:
        return head + '<p class="empty">Пока ничего не отправлено.</p>'
    cells = "".join(
        f'<tr><td class="t">{escape(time.strftime("%H:%M:%S", time.localtime(r.at)) if r.at else "—")}</td>'
        f"<td>{escape(r.recipient)}</td><td>{escape(r.text)}</td></tr>"
        for r in shown
    )
    return head + f"<table><tr><th>Время</th><th>Получатель</th><th>Текст</th></tr>{cells}</table>"


async def _log_page(request: Request) -> HTMLResponse:
    receiver: FakeApiReceiver = request.app.state.fake_api
    fakes: dict[str, FakeProviderBase] = request.app.state.fake_providers
    sections = [_table("API (/fake/api)", _api_rows(receiver))]
    sections += [_table(f"{kind} (/fake/{kind})", _messenger_rows(fake)) for kind, fake in fakes.items()]
    body = (
        "<h1>Фейковые провайдеры</h1>"
        f"<p>Что okno отправил провайдерам, последние {LOG_LIMIT} по каждому, новые сверху. "
        'Страница обновляется каждые 3 секунды. <a href="/demo/shop">Демо-магазин с чатом</a></p>' + "".join(sections)
    )
    return HTMLResponse(_page("Фейковые провайдеры", body, refresh=3))


def _page(title: str, body: str, *, refresh: int | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        f'<!doctype html><html lang="ru"><head><meta charset="utf-8">{meta}<title>{escape(title)}</title>'
        f"<style>{PAGE_STYLE}</style></head><body>{body}</body></html>"
    )


# ---- GET /demo/shop: a shop page with the website chat --------------------------------------------

SHOP_ITEMS = (("Робот-пылесос", "24 990 ₽"), ("Электрочайник", "3 490 ₽"), ("Смартфон", "32 990 ₽"), ("Роутер", "5 990 ₽"))


async def _shop_page(request: Request) -> HTMLResponse:
    origin = f"{request.url.scheme}://{request.url.netloc}"
    ctx: AppContext = request.app.state.ctx
    channel_id, allowed = await widget_for(ctx.db, ctx.box, origin)
    items = "".join(f"<li>{escape(name)} — <b>{escape(price)}</b></li>" for name, price in SHOP_ITEMS)
    if channel_id is not None:
        chat = f'<p>Есть вопрос? Напишите нам в чат — кнопка справа внизу.</p><script src="/widget/{channel_id}.js" async></script>'
    elif allowed:
        links = ", ".join(f'<a href="{escape(o)}/demo/shop">{escape(o)}/demo/shop</a>' for o in allowed)
        chat = f"<p>Чат на сайте разрешён для другого адреса: откройте {links}</p>"
    else:
        chat = "<p>Чат на сайте не настроен: создайте канал <code>widget</code> (или запустите <code>okno demo</code>).</p>"
    body = f"<h1>Магазин «Окошко»</h1><p>Демо-страница: вы — посетитель сайта.</p><ul>{items}</ul>{chat}"
    return HTMLResponse(_page("Магазин «Окошко»", body))
