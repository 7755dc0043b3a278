"""The Russian UI shows no English: every page a person sees is rendered for an operator who
chose Russian, and its visible text (and the titles, placeholders and labels screen readers
read) must hold no English word but brand names, codes and technical abbreviations.

Customer content is Russian here on purpose, so any English found is the UI's own. The widget is
checked in Chromium (tests/browser/test_widget_russian.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from okno.channels.registry import ADAPTERS
from okno.channels.service import create_channel
from okno.fakes import FAKE_KINDS, SMS_AND_REVIEW_KINDS, demo_fake_config
from okno.kit.crypto import SecretBox
from okno.kit.outbound_urls import OutboundUrls
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

# names of things that are not translated (brands, standards, abbreviations people say as they are)
ALLOWED = {
    "okno", "telegram", "whatsapp", "vk", "max", "viber", "avito", "sla", "api", "csat", "nps", "ces", "utm", "url", "urls",
    "email", "e-mail", "id", "json", "csv", "xlsx", "http", "https", "smtp", "imap", "novofon", "google", "yandex", "gis",
    "english", "webhook", "html", "sms", "ip", "tls", "ssl", "pdf", "ok", "utc", "gmt", "msk", "bsuid", "wa", "oauth",
    "crm", "faq", "pop", "dkim", "www", "vip", "tg", "mx", "enter", "esc", "ctrl", "tab", "shift",
    # providers' own names for their settings and protocol words, as their cabinets and manuals say them
    "hmac", "sha", "post", "idle", "reply-to", "from", "bot", "graph", "meta", "did", "callback", "starttls", "none",
    "auto", "lang", "client", "secret", "refresh", "token", "business", "profile", "csrftoken", "botfather",
    "setwebhook", "x-hub-signature", "authorization", "sms.ru", "ru", "v25",
}
SKIPPED_TAGS = {"script", "style", "code", "kbd", "datalist", "pre", "samp", "var", "template"}
ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "aria-description")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
NOT_WORDS = re.compile(r"Канал [a-z_]+|\bX-[\w-]+|\b\w+/[\w/{}.-]+|`[^`]*`|\b\w+\.\w+[\w.]*\b|\b[A-Z][a-z]+/[A-Za-z_]+\b|\bop-[0-9a-f]{6}\b|\S+@\S+|https?://\S+|/[\w/{}.-]+|\b[\w.-]+\.(ru|com|org|test|png|svg)\b|\{[^}]*\}|\b[a-z]+_[a-z_]+\b|#\w+")


class VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping: list[str] = []
        self.pieces: list[tuple[str, str]] = []  # (where, text)
        self.path: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # code, and what the page marks as not to be translated or as English data (lang="en")
        if tag in SKIPPED_TAGS or ("translate", "no") in attrs or ("lang", "en") in attrs:
            self.skipping.append(tag)
        for name, value in attrs:
            if name in ATTRIBUTES and value and not self.skipping:
                self.pieces.append((f"<{tag} {name}>", value))
        if tag not in {"br", "img", "input", "meta", "link", "hr", "source", "col", "wbr"}:
            self.path.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
        if tag in self.path:
            while self.path and self.path.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.pieces.append((f"<{self.path[-1] if self.path else '?'}>", data.strip()))


def english_in(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    found = []
    for where, text in parser.pieces:
        parts = [p for w in WORD.findall(NOT_WORDS.sub(" ", text)) if w.lower() not in ALLOWED for p in w.split("-")]
        words = [p for p in parts if len(p) > 1 and p.lower().strip("'") not in ALLOWED]
        if words:
            found.append(f"{where} {text[:120]!r}")
    return sorted(set(found))


async def _russian_world(ctx, client: httpx.AsyncClient) -> tuple[dict, int]:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    sent = await post_inbound(client, channel, {"message_id": "ru1", "from": {"phone": "+79160002222", "name": "Зоя Русская"}, "text": "Где мой заказ?"})
    assert sent.status_code == 200
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"][0]["id"]
    admin = await make_operator(ctx, role="admin", name="Анна Админова")
    async with ctx.db.transaction() as session:  # a channel of every kind the fakes serve: their badges and names show
        box = SecretBox(ctx.settings.fernet_keys())
        for kind in (k for k in (*FAKE_KINDS, *SMS_AND_REVIEW_KINDS) if k in ADAPTERS):
            config = demo_fake_config(kind, f"http://127.0.0.1:9/fake/{kind}")
            if config is not None:
                await create_channel(session, box, kind=kind, name=f"Канал {kind}", config=config, team_id=None,
                                     actor_id=admin["id"], urls=OutboundUrls(allow_private=True))
    return admin, conversation


PAGES = ("/inbox", "/inbox?c={cid}", "/profile", "/admin/channels", "/admin/operators", "/admin/teams", "/admin/canned",
         "/admin/statuses", "/admin/routing", "/admin/calendars", "/admin/sla", "/admin/automation", "/admin/tokens", "/reports", "/admin/surveys", "/supervisor", "/contacts", "/admin/audit",
         "/ui/admin/service", "/ui/conversations/{cid}", "/no-such-page")


async def test_russian_pages_show_no_english(app, ctx, client) -> None:  # noqa: ANN001
    admin, cid = await _russian_world(ctx, client)
    login = await client.get("/login", headers={"Accept-Language": "ru"})
    leaks = {"/login": english_in(login.text)}
    signed = await client.post("/ui/session", json={"email": admin["email"], "password": PASSWORD})
    assert signed.status_code == 200
    for path in PAGES:
        url = path.format(cid=cid)
        response = await client.get(url, headers={"Accept": "text/html", "Accept-Language": "ru"})
        assert response.status_code in (200, 404), (url, response.status_code)
        assert "<html" in response.text or url.startswith("/ui/"), url
        leaks[url] = english_in(response.text)
    leaks = {url: found for url, found in leaks.items() if found}
    assert leaks == {}, "\n".join(f"{url}:\n  " + "\n  ".join(found) for url, found in leaks.items())


def test_the_checker_finds_english_and_spares_brands() -> None:
    assert english_in("<p>Открыть в Telegram</p><code>GET /api/v1</code><p>olga@example.ru</p>") == []
    assert english_in('<button title="Send now">Отправить</button>') == ["<button title> 'Send now'"]
    assert english_in("<p>Leave contact details</p>") == ["<p> 'Leave contact details'"]
    assert english_in('<td lang="en">Closed</td><span translate="no">read.customer</span><p>Зона Europe/Moscow</p>') == []
