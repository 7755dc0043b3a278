"""Plays realistic customer journeys through okno's real webhooks over HTTP (demo, development).

Journeys: a Telegram customer asks, shares his own phone, later writes in WhatsApp from that
number and is recognised; a website visitor chats over the widget WebSocket and leaves an e-mail;
a CRM pushes a message through the API channel, signed; VK and MAX customers write. Only channels
that point at the fake providers (``…/fake/<kind>``) and the widget allowed on okno's own origin
are played through, so a real bot is never fed made-up customers. With ``operator`` set, the
operator answers through the API and the replies reach the fake providers (``GET /fake/``).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from websockets.asyncio.client import connect as websocket_connect

from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign
from okno.config import Settings
from okno.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, EMAIL_DOMAINS, FEMALE_NAMES, ITEMS, MALE_NAMES, PROMO_CODES, SURNAMES, TOPICS
from okno.demo import LATIN_MEN, LATIN_WOMEN, STAFF, ascii_word, feminine_surname
from okno.kit.time import utcnow
from okno.fakes import FAKE_KINDS, MAIL_KINDS, customer_side, fake_backed_channels, widget_for
from okno.kit.crypto import SecretBox
from okno.kit.db import create_database
from okno.models import Role

log = structlog.get_logger()

MESSENGER_SWITCH = "telegram_then_whatsapp"
WEBSITE_CHAT = "website_chat"
CRM = "crm"
CALLS = "novofon"  # a customer who wrote in WhatsApp calls, misses the operators, calls again and gets through
EMAIL = "email"  # a customer writes to the support mailbox, gets the answer by mail and replies quoting it
JOURNEYS = (MESSENGER_SWITCH, WEBSITE_CHAT, CRM, "vk", "max", CALLS, EMAIL)
DEMO_OPERATOR = (DEMO_ADMIN_EMAIL, DEMO_PASSWORD)

GREETINGS = ("{first}, добрый день! ", "Здравствуйте, {first}! ")
BACK_AGAIN = (
    "Здравствуйте! Это снова {first}, писал{a} вам в Telegram про заказ {order}. ",
    "Добрый день, пишу из WhatsApp, недавно общались в Telegram. ",
)
WEBSITE_QUESTIONS = (
    "Здравствуйте! {item} есть в наличии? Доставите в {city} до выходных?", "Подскажите, можно оплатить {item} частями?",
    "Добрый день! Чем {item} отличается от прошлой модели?", "Есть ли самовывоз в {city}? Хочу забрать {item} сегодня.",
)
CHECKING = "Сейчас уточню наличие на складе и вернусь с ответом."
LEAVE_CONTACT = ("Оставлю почту, пришлите, пожалуйста, ответ туда.", "Напишите мне на почту, когда будет известно.")
CITIES = ("Москву", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Краснодар")
UTM = ({"utm_source": "yandex", "utm_medium": "cpc"}, {"utm_source": "vk", "utm_medium": "social"}, {})
EMAIL_ENGLISH_SHARE = 0.3
EMAIL_SUBJECTS = ("Заказ {order}", "Вопрос по заказу {order}", "{item}: вопрос", "Обращение по заказу {order}")
EMAIL_TOPICS_EN = (  # opening, follow-up, the operator's answer, subject
    ("Hello, my order {order} was due yesterday and the tracking has not changed. Could you check?",
     "Thanks. Will the courier call before coming? I am at work all day.",
     "your order {order} is with the courier service, tracking number {track}. It is at the sorting centre, about a day late.",
     "Where is my order {order}?"),
    ("Hi, I would like to return the {item} from order {order}, it does not suit me.",
     "Will the money go back to the same card?",
     "we have opened a return for order {order}. Pack the item in its box and the courier will collect it for free.",
     "Return of order {order}"),
    ("Good afternoon, the promo code {promo} is refused at checkout as invalid. What is wrong?",
     "Could you still apply the discount to order {order}?",
     "the code {promo} works for orders over 3,000 roubles and not with discounted items.",
     "Promo code {promo}"),
)


class JourneyFailed(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    journey: str
    identity: str  # how the API finds the customer, e.g. ``telegram:17650000001234``
    ok: bool
    error: str = ""


class Serials:
    """Ids that never repeat: tenths of a second since the epoch (strictly increasing within a
    process, and runs are apart in time) followed by three random digits."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(time.time_ns() // 100_000_000, self._last + 1)
        return self._last * 1000 + secrets.randbelow(1000)


SERIALS = Serials()  # one per process: simulators one after another never share a tenth of a second


@dataclass(frozen=True)
class Persona:
    first: str
    last: str
    feminine: bool
    serial: int
    slots: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def phone_digits(self) -> str:  # a Russian mobile: +7 9xx; the time part repeats after ~12 days
        return f"79{(self.serial // 1000) % 10**7:07d}{self.serial % 100:02d}"

    @property
    def email(self) -> str:
        return f"{ascii_word(self.first)}.{ascii_word(self.last)}{self.serial % 1000}@{self.slots['mail_domain']}"

    def user_id(self, kind: str) -> str:
        return str((self.serial // 1000) % 10**8 * 10 + self.serial % 10) if kind == "vk" else str(self.serial)

    def say(self, template: str) -> str:
        return template.format(**self.slots)


def invent_persona(serial: int) -> Persona:
    feminine = random.random() < 0.55
    first = random.choice(FEMALE_NAMES if feminine else MALE_NAMES)
    last = random.choice(SURNAMES)
    slots = {
        "first": first, "a": "а" if feminine else "", "order": f"№{random.randint(100_000, 999_999)}",
        "track": str(random.randint(10**9, 10**10 - 1)), "amount": f"{random.randint(5, 250) * 100:,} ₽".replace(",", " "),
        "promo": random.choice(PROMO_CODES), "item": random.choice(ITEMS), "days": str(random.randint(2, 5)), "city": random.choice(CITIES),
        "mail_domain": random.choice(EMAIL_DOMAINS),
    }
    return Persona(first, feminine_surname(last) if feminine else last, feminine, serial, slots)


@dataclass
class Stage:
    """What the journeys play through: fakes connected to okno's webhooks, the API channel, the widget."""

    fakes: dict[str, Any] = field(default_factory=dict)  # kind → its fake provider (deliver_* calls differ per kind)
    crm: tuple[int, str] | None = None  # channel id, secret
    widget_id: int | None = None

    def journeys(self) -> list[str]:
        available = {MESSENGER_SWITCH: "telegram" in self.fakes, WEBSITE_CHAT: self.widget_id is not None, CRM: self.crm is not None}
        available |= {kind: kind in self.fakes for kind in (*FAKE_KINDS, *MAIL_KINDS) if kind not in ("telegram", "whatsapp")}
        return [j for j in JOURNEYS if available.get(j)]


@dataclass
class Simulator:
    settings: Settings  # where to read the channels' credentials (the same database okno serves)
    okno_url: str
    rate: float = 6.0  # journeys per minute
    step_pause: float = 2.0  # seconds between a journey's steps (at most a sixth of the interval)
    only: tuple[str, ...] | None = None  # journey names; default: every one the channels allow
    operator: tuple[str, str] | None = None  # (e-mail, password) to answer customers through the API
    _serials: Serials = field(default_factory=lambda: SERIALS)
    _token: str | None = None
    # the demo's staff, who answer as themselves: operator id -> e-mail, e-mail -> token, and
    # the people of each team (by team id) who may take an unassigned conversation
    _staff: dict[int, str] | None = None
    _team_people: dict[int, list[int]] = field(default_factory=dict)
    _staff_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.okno_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def pause(self) -> float:
        return min(self.step_pause, 60 / self.rate / 6) if self.rate > 0 else self.step_pause

    async def run(self, journeys: int | None = None) -> list[Outcome]:
        """Play ``journeys`` journeys (forever if None) at ``rate`` per minute; stops on cancel."""
        async with httpx.AsyncClient(base_url=self.okno_url, timeout=10) as http:
            await _wait_until_up(http)
            stage = await self._stage(http)
            plan = [j for j in stage.journeys() if self.only is None or j in self.only]
            if not plan:
                log.warning("simulator_has_nothing_to_play", hint="no channels point at /fake/<kind>: run `okno demo`")
                return []
            log.info("simulator_started", url=self.okno_url, rate=self.rate, journeys=plan)
            return await self._loop(http, stage, plan, journeys)

    async def _loop(self, http: httpx.AsyncClient, stage: Stage, plan: list[str], journeys: int | None) -> list[Outcome]:
        outcomes: list[Outcome] = []
        interval = 60 / self.rate if self.rate > 0 else 0.0
        order = random.sample(plan, len(plan))
        for index in itertools.count() if journeys is None else range(journeys):
            started = time.monotonic()
            outcome = await self._play(order[index % len(order)], stage, http)
            if journeys is not None:
                outcomes.append(outcome)
            if journeys is None or index + 1 < journeys:
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        return outcomes

    async def _stage(self, http: httpx.AsyncClient) -> Stage:
        db = create_database(self.settings.resolved_database_url())
        box = SecretBox(self.settings.fernet_keys())
        stage = Stage()
        try:
            for channel in await fake_backed_channels(db, box):
                if channel.kind == "api":
                    stage.crm = stage.crm or (channel.channel_id, channel.config["secret"])
                elif channel.kind not in stage.fakes:
                    fake = customer_side(channel.kind, channel.config)
                    fake.connect(http, f"/webhooks/{channel.channel_id}")
                    stage.fakes[channel.kind] = fake
            stage.widget_id, _ = await widget_for(db, box, self.origin)
        finally:
            await db.dispose()
        return stage

    async def _play(self, journey: str, stage: Stage, http: httpx.AsyncClient) -> Outcome:
        persona = invent_persona(self._serials.next())
        play = {MESSENGER_SWITCH: self._messenger_switch, WEBSITE_CHAT: self._website_chat, CRM: self._crm, CALLS: self._calls,
                EMAIL: self._email}.get(journey, self._messenger)
        try:
            identity = await play(journey, persona, stage, http)
        except Exception as exc:  # the simulator outlives any one journey (okno restarting, a channel removed…)
            log.warning("simulator_journey_failed", journey=journey, who=persona.name, error=repr(exc))
            return Outcome(journey, "", ok=False, error=repr(exc))
        log.info("simulator_journey_done", journey=journey, who=persona.name, identity=identity)
        return Outcome(journey, identity, ok=True)

    def _step(self, journey: str, persona: Persona, step: str, response: httpx.Response | None = None, **details: Any) -> None:
        if response is not None and response.status_code != 200:
            raise JourneyFailed(f"{journey}/{step}: HTTP {response.status_code} {response.text[:200]}")
        log.info("simulator_step", journey=journey, step=step, who=persona.name, **details)

    # ---- the journeys -------------------------------------------------------------------------

    async def _messenger_switch(self, journey: str, persona: Persona, stage: Stage, http: httpx.AsyncClient) -> str:
        telegram, whatsapp = stage.fakes["telegram"], stage.fakes.get("whatsapp")
        opening, follow_up, answer, second_answer = random.choice(TOPICS)
        user, identity = persona.user_id("telegram"), f"telegram:{persona.user_id('telegram')}"
        sent = await telegram.deliver_text(user, persona.say(opening), first_name=persona.first)
        self._step(journey, persona, "telegram_question", sent, telegram_user=user)
        await self._answer(http, journey, persona, identity, persona.say(random.choice(GREETINGS) + answer))
        await asyncio.sleep(self.pause)
        shared = await telegram.deliver_contact(user, f"+{persona.phone_digits}", own=True, first_name=persona.first)
        self._step(journey, persona, "telegram_shares_phone", shared, phone=f"+{persona.phone_digits}")
        if whatsapp is not None:
            await asyncio.sleep(2 * self.pause)  # later, from the other messenger
            text = persona.say(random.choice(BACK_AGAIN) + follow_up)
            wrote = await whatsapp.deliver_text(persona.phone_digits, text, name=persona.name)
            self._step(journey, persona, "whatsapp_same_phone", wrote, wa_id=persona.phone_digits)
            await self._answer(http, journey, persona, f"whatsapp:{persona.phone_digits}", persona.say(second_answer))
        return identity

    async def _website_chat(self, journey: str, persona: Persona, stage: Stage, http: httpx.AsyncClient) -> str:
        widget_id = stage.widget_id
        session = await http.post(f"/widget/{widget_id}/session", json={}, headers={"origin": self.origin})
        self._step(journey, persona, "widget_session", session)
        token, visitor = session.json()["token"], session.json()["visitor_id"]
        utm = random.choice(UTM)
        page = f"{self.origin}/demo/shop" + ("?" + "&".join(f"{k}={v}" for k, v in utm.items()) if utm else "")
        url = f"{self.origin.replace('http', 'ws', 1)}/ws/widget/{widget_id}?token={token}&last_seq=0"
        async with websocket_connect(url, origin=self.origin, open_timeout=10) as ws:  # type: ignore[arg-type]
            question = persona.say(random.choice(WEBSITE_QUESTIONS))
            await _frame_acked(ws, {"type": "message", "text": question, "page_url": page, "utm": utm})
            self._step(journey, persona, "widget_question", visitor=visitor)
            await self._answer(http, journey, persona, f"web:{visitor}", persona.say(random.choice(GREETINGS) + CHECKING))
            await asyncio.sleep(self.pause)
            await _frame_acked(ws, {"type": "message", "text": random.choice(LEAVE_CONTACT), "page_url": page})
            await _frame_acked(ws, {"type": "contact", "name": persona.name, "email": persona.email, "page_url": page})
            self._step(journey, persona, "widget_leaves_email", visitor=visitor)
        return f"web:{visitor}"

    async def _crm(self, journey: str, persona: Persona, stage: Stage, http: httpx.AsyncClient) -> str:
        assert stage.crm is not None  # the plan has this journey only with an API channel on the fake receiver
        channel_id, secret = stage.crm
        client_id = f"SIM-{persona.serial}"
        sender = {"external_id": client_id, "phone": f"+{persona.phone_digits}", "name": persona.name}
        message_id = f"sim-{persona.serial}-{uuid.uuid4().hex[:8]}"
        opening, _, answer, _ = random.choice(TOPICS)
        body = orjson.dumps({"message_id": message_id, "from": sender, "text": persona.say(opening)})
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
        response = await http.post(f"/webhooks/{channel_id}", content=body, headers=headers)
        self._step(journey, persona, "crm_pushes_message", response, external_id=client_id)
        identity = f"external:{channel_id}:{client_id}"
        await self._answer(http, journey, persona, identity, persona.say(random.choice(GREETINGS) + answer))
        return identity

    async def _messenger(self, journey: str, persona: Persona, stage: Stage, http: httpx.AsyncClient) -> str:
        fake, user = stage.fakes[journey], persona.user_id(journey)
        opening, _, answer, _ = random.choice(TOPICS)
        response = await fake.deliver_text(user, persona.say(opening), **_name_for(fake.deliver_text, persona))
        self._step(journey, persona, f"{journey}_question", response, user=user)
        await self._answer(http, journey, persona, f"{journey}:{user}", persona.say(random.choice(GREETINGS) + answer))
        await resolve_and_rate(self, http, journey, persona, f"{journey}:{user}", lambda text: fake.deliver_text(user, text, **_name_for(fake.deliver_text, persona)))
        return f"{journey}:{user}"

    async def _calls(self, journey: str, persona: Persona, stage: Stage, http: httpx.AsyncClient) -> str:
        """A missed call (a callback task with an SLA), then the customer calls again and an
        operator's extension answers: the recorded call completes the task. From a WhatsApp
        customer's phone when WhatsApp is there, so the calls land on his timeline."""
        phone, whatsapp = persona.phone_digits, stage.fakes.get("whatsapp")
        if whatsapp is not None:
            wrote = await whatsapp.deliver_text(phone, persona.say(random.choice(TOPICS)[0]), name=persona.name)
            self._step(journey, persona, "whatsapp_first", wrote, wa_id=phone)
            await asyncio.sleep(self.pause)
        calls = stage.fakes[CALLS]
        missed = await calls.missed_call(phone)
        self._step(journey, persona, "missed_call", pbx_call_id=missed)
        await asyncio.sleep(2 * self.pause)
        answered = await calls.answered_call(phone, internal=random.choice(("101", "102")), duration=random.randint(20, 300))
        self._step(journey, persona, "answered_call", pbx_call_id=answered)
        return f"phone:+{phone}"

    async def _email(self, journey: str, persona: Persona, stage: Stage, http: httpx.AsyncClient) -> str:
        """A new thread to the support mailbox (in Russian, now and then in English), the
        operator's answer by mail, and the customer's reply to it quoting the whole thread."""
        mail = stage.fakes[EMAIL]
        if random.random() < EMAIL_ENGLISH_SHARE:
            persona = english_persona(persona.serial)
            opening, follow_up, answer, subject = random.choice(EMAIL_TOPICS_EN)
            greeting, quote_head = "Hello {first}, ", "On {date}, {who} wrote:"
        else:
            opening, follow_up, answer, _ = random.choice(TOPICS)
            subject = random.choice(EMAIL_SUBJECTS)
            greeting, quote_head = random.choice(GREETINGS), "{date}, {who} пишет:"
        root = make_msgid(idstring=f"sim{persona.serial}", domain=persona.slots["mail_domain"])
        question = persona.say(opening) + "\n\n" + persona.name
        wrote = await mail.deliver_text(persona.email, question, subject=persona.say(subject), name=persona.name, message_id=root)
        self._step(journey, persona, "email_question", wrote, email=persona.email)
        identity = f"email:{persona.email}"
        reply = await self._answer(http, journey, persona, identity, persona.say(greeting + answer))
        if reply is None:
            return identity
        sent = await _sent_reply(http, await self._operator_headers(http) or {}, reply["conversation_id"], reply["id"])
        quoted = "\n".join("> " + line for line in (sent["text"] + "\n\n" + question).splitlines())
        head = quote_head.format(date=format_datetime(utcnow()), who=mail.address)
        ours = sent["provider_message_id"]
        reply_to = f"support+c{sent['conversation_id']}@{mail.address.rpartition('@')[2]}"  # our Reply-To
        answered = await mail.deliver_text(
            persona.email, f"{persona.say(follow_up)}\n\n{head}\n{quoted}", to=reply_to, subject="Re: " + persona.say(subject),
            name=persona.name, in_reply_to=ours, references=[root, ours],
        )
        self._step(journey, persona, "email_reply_quoting_the_thread", answered, in_reply_to=ours)
        return identity

    # ---- the operator's side --------------------------------------------------------------------

    async def _answer(self, http: httpx.AsyncClient, journey: str, persona: Persona, identity: str, text: str) -> dict[str, Any] | None:
        """The operator replies in the customer's open conversation, through the API; the reply."""
        headers = await self._operator_headers(http)
        if headers is None:
            return None
        try:
            conversation_id = await _open_conversation(http, headers, identity)
            await asyncio.sleep(self.pause)
            author = await self._author(http, headers, conversation_id)
            reply = await http.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text}, headers=author)
            if reply.status_code != 201:
                raise JourneyFailed(f"{journey}/operator_reply: HTTP {reply.status_code} {reply.text[:200]}")
        except JourneyFailed:
            self._token = None  # it may have expired: the next journey logs in again
            self._staff_tokens.clear()
            raise
        log.info("simulator_step", journey=journey, step="operator_reply", who=persona.name, conversation_id=conversation_id)
        return reply.json()

    async def _author(self, http: httpx.AsyncClient, headers: dict[str, str], conversation_id: int) -> dict[str, str]:
        """Who answers: the conversation's operator if he is one of the demo's staff, else one of
        its team's people, who takes it first — never the signed-in admin, unless nobody else can."""
        staff = await self._demo_staff(http, headers)
        conversation = (await http.get(f"/api/v1/conversations/{conversation_id}", headers=headers)).json()
        operator_id = conversation.get("assignee_id")
        if operator_id not in staff:
            people = self._team_people.get(conversation.get("team_id") or 0) or sorted(staff)
            if not people:
                return headers
            operator_id = random.choice(people)
            taken = await http.post(f"/api/v1/conversations/{conversation_id}/assign", json={"operator_id": operator_id}, headers=headers)
            if taken.status_code != 200:
                return headers
        token = self._staff_tokens.get(staff[operator_id])
        if token is None:
            response = await http.post("/api/v1/auth/login", json={"email": staff[operator_id], "password": DEMO_PASSWORD})
            if response.status_code != 200:
                return headers
            token = self._staff_tokens[staff[operator_id]] = response.json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    async def _demo_staff(self, http: httpx.AsyncClient, headers: dict[str, str]) -> dict[int, str]:
        if self._staff is None:
            operators = (await http.get("/api/v1/operators", headers=headers)).json().get("items", [])
            teams = {t["name"]: t["id"] for t in (await http.get("/api/v1/teams", headers=headers)).json().get("items", [])}
            ids = {o["email"]: o["id"] for o in operators if o.get("is_active")}
            self._staff = {ids[email]: email for email, _, role, _ in STAFF if role is not Role.admin and email in ids}
            for email, _, role, names in STAFF:
                if role is not Role.admin and email in ids:
                    for name in names:
                        if name in teams:
                            self._team_people.setdefault(teams[name], []).append(ids[email])
        return self._staff

    async def _operator_headers(self, http: httpx.AsyncClient) -> dict[str, str] | None:
        if self.operator is None:
            return None
        if self._token is None:
            email, password = self.operator
            response = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
            if response.status_code != 200:
                log.warning("simulator_operator_cannot_log_in", email=email, status=response.status_code)
                self.operator = None  # customers keep writing; nobody answers
                return None
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}


async def _sent_reply(http: httpx.AsyncClient, headers: dict[str, str], conversation_id: int, message_id: int,
                      timeout: float = 15.0) -> dict[str, Any]:
    """An operator's reply once the provider took it (its provider message id is known)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = (await http.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)).json().get("items", [])
        found = next((m for m in items if m["id"] == message_id), {})
        if found.get("provider_message_id"):
            return found
        if found.get("status") == "failed":
            raise JourneyFailed(f"the reply failed: {found.get('error')}")
        await asyncio.sleep(0.2)
    raise JourneyFailed(f"reply {message_id} was not sent within {timeout:.0f} s")


def english_persona(serial: int) -> Persona:
    """A customer writing in English (the demo's Latin names)."""
    feminine = random.random() < 0.5
    first, last = random.choice(LATIN_WOMEN if feminine else LATIN_MEN).split()
    return replace(invent_persona(serial), first=first, last=last, feminine=feminine)


def _name_for(deliver: Any, persona: Persona) -> dict[str, str]:
    """The customer's name, as far as this fake's ``deliver_text`` takes one."""
    accepted = inspect.signature(deliver).parameters
    return {k: v for k, v in (("first_name", persona.first), ("name", persona.name)) if k in accepted}


async def _wait_until_up(http: httpx.AsyncClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    for attempt in itertools.count():
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise JourneyFailed(f"okno did not answer at {http.base_url} within {timeout:.0f} s")
        if attempt == 0:
            log.info("simulator_waiting_for_okno", url=str(http.base_url))
        await asyncio.sleep(0.5)


async def _frame_acked(ws: Any, frame: dict[str, Any], timeout: float = 10.0) -> int:
    """Sends a visitor frame and waits for its ack (other frames, e.g. operator replies, are skipped)."""
    client_id = uuid.uuid4().hex
    await ws.send(orjson.dumps({**frame, "client_id": client_id}).decode())
    while True:
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if reply.get("type") == "ack" and reply.get("client_id") == client_id:
            return int(reply["seq"])
        if reply.get("type") == "error" and reply.get("client_id") == client_id:
            raise JourneyFailed(f"widget refused a frame: {reply.get('detail')}")


async def _open_conversation(http: httpx.AsyncClient, headers: dict[str, str], identity: str, timeout: float = 10.0) -> int:
    """The customer's open conversation; waits while the ingest worker is still on it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await http.get("/api/v1/customers", params={"identity": identity}, headers=headers)
        if response.status_code != 200:
            raise JourneyFailed(f"customer lookup: HTTP {response.status_code} {response.text[:200]}")
        if found := response.json()["items"]:
            params = {"customer_id": found[0]["id"], "status": "open"}
            conversations = (await http.get("/api/v1/conversations", params=params, headers=headers)).json().get("items", [])
            if conversations:
                return int(conversations[0]["id"])
        await asyncio.sleep(0.2)
    raise JourneyFailed(f"no open conversation for {identity} within {timeout:.0f} s")


def start_in_background(settings: Settings) -> asyncio.Task[list[Outcome]] | None:
    """``make run``: the simulator inside the server, against ``OKNO_PUBLIC_URL``, answering as the demo admin."""
    if not settings.public_url:
        log.warning("simulator_not_started", reason="OKNO_SIMULATE_RATE needs OKNO_PUBLIC_URL (where this server listens)")
        return None
    simulator = Simulator(settings, settings.public_url.rstrip("/"), rate=settings.simulate_rate, operator=DEMO_OPERATOR)
    return asyncio.create_task(_run_logged(simulator), name="okno-simulator")


async def _run_logged(simulator: Simulator) -> list[Outcome]:
    try:
        return await simulator.run()
    except JourneyFailed as exc:  # okno never came up: nothing to play against
        log.warning("simulator_stopped", reason=str(exc))
        return []
    except Exception:
        log.exception("simulator_crashed")
        return []


# ---- surveys: the operator resolves some conversations and the customer rates the help ---------

SURVEY_SHARE = 0.6  # of the messenger journeys the operator resolves
SURVEY_REPLIES = (("5 спасибо", 5), ("5", 4), ("оценка 4", 2), ("4", 2), ("3", 1), ("отлично", 1), ("2/5", 1))


async def resolve_and_rate(sim: Simulator, http: httpx.AsyncClient, journey: str, persona: Persona, identity: str, deliver: Any) -> None:
    """The operator resolves the conversation; if a survey comes (the demo seeds a CSAT survey
    sent at once), the customer answers it with a score — now and then with words only, which
    gets the retry — and a second message settles it."""
    headers = await sim._operator_headers(http)
    if headers is None or random.random() > SURVEY_SHARE:
        return
    conversation_id = await _open_conversation(http, headers, identity)
    resolved = await http.post(f"/api/v1/conversations/{conversation_id}/status", json={"status": "resolved"}, headers=headers)
    sim._step(journey, persona, "operator_resolves", resolved, conversation_id=conversation_id)
    if resolved.status_code != 200 or not await _survey_arrived(http, headers, conversation_id):
        return
    await asyncio.sleep(sim.pause)
    text = random.choices([t for t, _ in SURVEY_REPLIES], weights=[w for _, w in SURVEY_REPLIES])[0]
    sim._step(journey, persona, "customer_rates", await deliver(text), text=text)
    if not any(c.isdigit() for c in text):  # the retry asked for a number
        await asyncio.sleep(sim.pause)
        sim._step(journey, persona, "customer_rates_again", await deliver("5"), text="5")


async def _survey_arrived(http: httpx.AsyncClient, headers: dict[str, str], conversation_id: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = (await http.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)).json().get("items", [])
        if any((m.get("content") or {}).get("survey") for m in items if m.get("direction") == "out"):
            return True
        await asyncio.sleep(0.5)
    return False
