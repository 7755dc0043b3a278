"""A realistic, deterministic demo: staff, teams, channels and customers with cross-channel histories.

Besides the two API channels, every registered messenger (Telegram, WhatsApp, VK, MAX) gets a
channel pointing at its fake provider under ``{base_url}/fake/<kind>`` with the fake's fixed demo
credentials, and the website chat is allowed on ``base_url`` itself (the ``/demo/shop`` page).

Histories go straight into the tables the live pipeline fills (conversations, messages, timeline),
in bulk and in one transaction; no outbox events or delivery jobs are made for them.
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.auth.service import create_operator
from okno.channels.service import create_channel
from okno.config import Settings
from okno.channels.registry import ADAPTERS
from okno.customers.identities import IdentityKey, normalize_identity
from okno.customers.matching.profiles import refresh_profiles
from okno.fakes import FAKE_KINDS, MAIL_KINDS, SMS_AND_REVIEW_KINDS, demo_fake_config, fake_class
from okno.kit.crypto import SecretBox
from okno.kit.db import create_database
from okno.kit.outbound_urls import OutboundUrls
from okno.kit.time import utcnow
from okno.demo_service import seed_service, staff_online
from okno.models import Channel, Conversation, ConversationStatus, Customer, Direction, Identity, Message, MessageStatus
from okno.models import Operator, Role, Team, TimelineEvent, team_members

DEMO_ADMIN_EMAIL = "admin@okno.local"
DEMO_PASSWORD = "okno-demo"

SEED = 2026
HISTORY_DAYS = 60
TEXT_PREVIEW = 200
UNFINISHED_SHARE = 0.17
LATIN_SHARE = 0.1
CHANNEL_SWITCH_SHARE = 0.15
NOTE_SHARE = 0.12
OPEN, PENDING = ConversationStatus.open.value, ConversationStatus.pending.value
FINISHED = (ConversationStatus.resolved.value, ConversationStatus.closed.value)
# The ORM drops ``None`` values by default, which splits one batch into a statement per row shape.
BULK = {"render_nulls": True}

SUPPORT, SALES = "Поддержка", "Продажи"
STAFF = (  # e-mail, name, role, teams
    (DEMO_ADMIN_EMAIL, "Администратор", Role.admin, (SUPPORT,)),
    ("supervisor@okno.local", "Ольга Смирнова", Role.supervisor, (SUPPORT, SALES)),
    ("ivan@okno.local", "Иван Петров", Role.operator, (SUPPORT,)),
    ("maria@okno.local", "Мария Соколова", Role.operator, (SUPPORT,)),
    ("alexey@okno.local", "Алексей Кузнецов", Role.operator, (SALES,)),
    ("ekaterina@okno.local", "Екатерина Волкова", Role.operator, (SALES,)),
)
CHANNELS = (  # name, fake-receiver box, team, the integrator's own customer id
    ("CRM (1С)", "crm", SUPPORT, "CRM-{:06d}"),
    ("Интернет-магазин", "shop", SALES, "user{}"),
)
MESSENGER_CHANNELS = {"telegram": "Telegram-бот", "whatsapp": "WhatsApp Business", "vk": "Сообщество ВКонтакте", "max": "Бот в MAX", "novofon": "Телефон (Novofon)"}
# support operators' telephone extensions: the simulator's calls are answered on them
EXTENSIONS = {"ivan@okno.local": "101", "maria@okno.local": "102"}
WIDGET_CHANNEL = "Чат на сайте"
MAIL_CHANNEL = "Почта поддержки"
SMS_AND_REVIEW_CHANNELS = {"smsru": "SMS", "google_reviews": "Отзывы Google", "twogis_reviews": "Отзывы 2ГИС", "yandex_reviews": "Отзывы Яндекс Карт"}

MALE_NAMES = (
    "Александр Алексей Андрей Антон Артём Борис Вадим Владимир Дмитрий Евгений "
    "Игорь Илья Кирилл Максим Михаил Николай Олег Павел Роман Сергей"
).split()
FEMALE_NAMES = (
    "Анастасия Анна Валерия Виктория Галина Дарья Екатерина Елена Ирина Ксения "
    "Людмила Марина Мария Наталья Ольга Полина Светлана Софья Татьяна Юлия"
).split()
SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров "
    "Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев "
    "Орлов Андреев Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев "
    "Романов Воробьёв Сергеев Фролов Ильин Гусев Шевченко Ковальчук Жуковский Высоцкий"
).split()
LATIN_MEN = ("John Smith", "Lukas Weber", "Daniel Kim", "Mateo García", "Timur Abdullaev")
LATIN_WOMEN = ("Emma Wilson", "Sofia Rossi", "Anna Müller", "Olivia Brown", "Aigerim Nurlanova")
CITIES = ("Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Нижний Новгород", "Краснодар", "Самара")
EMAIL_DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru")
ITEMS = ("смартфон", "робот-пылесос", "электрочайник", "роутер", "блендер", "ноутбук", "фен", "планшет", "монитор", "утюг")
PROMO_CODES = ("VESNA15", "OKNO10", "WELCOME500", "SALE20")

# Per topic: the customer's opening and follow-up, the operator's answer and second answer.
# ``{a}`` is the customer's past-tense gender ending ("" or "а").
TOPICS = (
    ("Здравствуйте! Где мой заказ {order}? Обещали доставить вчера, а статус не меняется.",
     "А курьер позвонит заранее? Я весь день на работе.",
     "Заказ {order} уже передан в службу доставки, трек-номер {track}. Посылка на сортировочном складе, задержка около суток.",
     "Да, курьер звонит за час до приезда. Если неудобно, доставку можно перенести в личном кабинете."),
    ("Хочу вернуть товар из заказа {order} ({item}), он не подошёл.",
     "Деньги вернутся на ту же карту?",
     "Оформили возврат по заказу {order}. Упакуйте товар в оригинальную упаковку — курьер заберёт его бесплатно.",
     "Да, {amount} вернутся на карту, с которой была оплата, в течение 3–10 рабочих дней после проверки товара."),
    ("Не проходит оплата заказа {order} на {amount}: банк пишет «операция отклонена».",
     "Попробовал{a} другую карту — та же ошибка.",
     "Проверили: платёж до нас не дошёл, деньги не списаны. Попробуйте, пожалуйста, оплатить через СБП.",
     "Передали вопрос в платёжный отдел. Заказ {order} зарезервирован за вами ещё на 48 часов."),
    ("Промокод {promo} не применяется к корзине, пишет «недействителен». Что не так?",
     "А можно всё-таки получить скидку? Заказ {order}.",
     "Промокод {promo} действует на заказы от 3 000 ₽ и не суммируется с уценёнными товарами.",
     "Применили скидку вручную: новая сумма заказа {order} — {amount}. Ссылка на оплату придёт в SMS."),
    ("Пришёл не тот товар: заказывал{a} {item}, а в коробке совсем другое. Заказ {order}.",
     "Мне нужно отправлять товар обратно самостоятельно?",
     "Приносим извинения за ошибку склада! Правильный товар уже отправили, трек-номер {track}.",
     "Нет, курьер сам заберёт неверный товар, когда привезёт правильный. Доплачивать ничего не нужно."),
    ("Получил{a} {item}, коробка помята, на корпусе царапина. Заказ {order}. Что делать?",
     "Фото отправил{a} на почту, посмотрите, пожалуйста.",
     "Очень жаль! Пришлите, пожалуйста, фото повреждений — оформим замену или возврат {amount}.",
     "Фото получили, замену одобрили. Новый товар привезут в течение {days} дней."),
    ("Можно изменить адрес доставки для заказа {order}? Я переезжаю на этой неделе.",
     "Новый адрес: ул. Ленина, 15, кв. 42. Домофон не работает, лучше позвонить.",
     "Конечно! Напишите новый адрес, и мы передадим его в службу доставки.",
     "Адрес в заказе {order} обновили, курьер предупреждён про домофон."),
    ("Отмените, пожалуйста, заказ {order}, я передумал{a}.",
     "А когда вернутся деньги?",
     "Заказ {order} отменён, подтверждение придёт на почту.",
     "{amount} вернутся на карту в течение 3–5 рабочих дней, срок зависит от банка."),
    ("Добрый день! Нужен счёт для юрлица по заказу {order} и закрывающие документы.",
     "Реквизиты отправил{a} вам на почту. Документы нужны по ЭДО.",
     "Пришлите, пожалуйста, реквизиты компании — выставим счёт на {amount}.",
     "Счёт отправили на почту, закрывающие документы придут по ЭДО после отгрузки."),
    ("Не начислились бонусы за заказ {order}, хотя я его уже получил{a}.",
     "А потратить их можно сразу на следующую покупку?",
     "Бонусы начисляются через 14 дней после получения заказа — это срок на возврат. По заказу {order} они скоро придут.",
     "Да, бонусами можно оплатить до 30 % следующего заказа."),
    ("Мой {item} из заказа {order} перестал работать через месяц. Это гарантийный случай?",
     "Чек сохранился, гарантийный талон тоже.",
     "Гарантия на {item} — 12 месяцев. Оформили заявку на диагностику, курьер заберёт товар.",
     "Сервисный центр подтвердил гарантийный случай, ремонт займёт до 14 дней."),
    ("Когда снова появится в наличии {item}? Хочу оформить предзаказ.",
     "Сообщите, пожалуйста, когда поступит.",
     "Поставка ожидается через {days} недели. Можем оформить предзаказ — цена зафиксируется.",
     "Оформили предзаказ, пришлём уведомление, как только товар поступит на склад."),
)
CUSTOMER_EXTRAS = (
    "Хорошо, жду.", "А можно побыстрее?", "А по срокам что-то известно?", "Понял{a}, спасибо.",
    "Извините, есть какие-то новости?", "Уточните, пожалуйста, ещё раз трек-номер.",
)
OPERATOR_EXTRAS = (
    "Уточняем информацию, ответим в течение часа.", "Проверили — заказ {order} в работе, всё в порядке.",
    "Передали ваш вопрос ответственному специалисту.", "Номер заказа: {order}, трек-номер: {track}.",
    "Понимаем ваше недовольство и делаем всё возможное, чтобы решить вопрос сегодня.",
)
THANKS = ("Спасибо, всё получилось!", "Отлично, спасибо за помощь!", "Получил{a}, всё в порядке. Спасибо!", "Спасибо, решено.")
GREETINGS = ("Здравствуйте, {first}! ", "{first}, добрый день! ")
NOTES = (
    "В 1С заказ {order} оплачен, ждёт отгрузки.", "Клиент уже писал по этому заказу — смотрите историю.",
    "Согласовано с логистикой: отправка сегодня.", "Постоянный клиент, ответить в приоритете.",
    "Нужен возврат {amount}, передать в бухгалтерию.", "Трек {track} не отслеживается, запросить у службы доставки.",
)
VIP_EVERY = 12
_TRANSLIT = str.maketrans(
    dict(zip("абвгдеёзийклмнопрстуфыэ", "abvgdeeziyklmnoprstufye", strict=True))
    | {"ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ю": "yu", "я": "ya", "ъ": "", "ь": ""}
)


@dataclass(frozen=True)
class _DemoChannel:
    id: int
    team_id: int
    agent_ids: tuple[int, ...]
    external_format: str


@dataclass(frozen=True)
class _Cast:
    supervisor_id: int
    channels: tuple[_DemoChannel, ...]

    def other_than(self, channel: _DemoChannel) -> _DemoChannel:
        return next((c for c in self.channels if c is not channel), channel)


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    feminine: bool


@dataclass(eq=False)
class _Cust:
    person: _Person
    city: str
    home: _DemoChannel
    keys: list[IdentityKey] = field(default_factory=list)
    conversations: list[_Conv] = field(default_factory=list)
    id: int | None = None
    vip: bool = False  # a few VIPs, as a CRM would mark them

    @property
    def first_touch(self) -> datetime:
        return self.conversations[0].created_at


@dataclass(eq=False)
class _Conv:
    customer: _Cust
    channel: _DemoChannel
    status: str
    priority: int
    assignee_id: int | None
    messages: list[_Msg] = field(default_factory=list)
    status_changed_at: datetime | None = None
    id: int | None = None

    @property
    def created_at(self) -> datetime:
        return self.messages[0].at

    @property
    def updated_at(self) -> datetime:
        return max(self.messages[-1].at, self.status_changed_at or self.messages[-1].at)

    def last_at(self, *directions: str) -> datetime:
        return max(m.at for m in self.messages if m.direction in directions)


@dataclass(eq=False)
class _Msg:
    conversation: _Conv
    direction: str
    channel_id: int | None
    text: str
    status: str
    author_id: int | None
    at: datetime
    id: int | None = None


async def seed_demo(
    settings: Settings, *, customers: int = 300, base_url: str = "http://127.0.0.1:8000", force: bool = False
) -> bool:
    """Seed the demo in one transaction; ``False`` (and nothing written) if it is already there."""
    box = SecretBox(settings.fernet_keys())
    db = create_database(settings.resolved_database_url())
    try:
        async with db.transaction() as session:
            if not force and await session.scalar(select(Operator.id).where(Operator.email == DEMO_ADMIN_EMAIL)):
                return False
            cast = await _seed_staff(session, box, base_url.rstrip("/"))
            await _ensure_demo_survey(session)
            planner = _Planner(cast, await _taken_identities(session), settings.default_region)
            await _write_histories(session, planner.customers(customers))
        return True
    finally:
        await db.dispose()


async def _seed_staff(session: AsyncSession, box: SecretBox, base_url: str) -> _Cast:
    operator_ids = await _ensure_operators(session)
    team_ids = await _ensure_teams(session)
    wanted = {(team_ids[team], operator_ids[email]) for email, _, _, teams in STAFF for team in teams}
    present = set((await session.execute(select(team_members.c.team_id, team_members.c.operator_id))).all())
    if missing := sorted(wanted - present):
        await session.execute(insert(team_members), [{"team_id": t, "operator_id": o} for t, o in missing])
    admin_id = operator_ids[DEMO_ADMIN_EMAIL]
    channels = []
    for name, box_name, team, external_format in CHANNELS:
        config = {"secret": secrets.token_hex(16), "outbound_url": f"{base_url}/fake/api/boxes/{box_name}/messages"}
        channel_id = await _ensure_channel(session, box, "api", name, config, team_ids[team], admin_id)
        agents = tuple(operator_ids[e] for e, _, role, teams in STAFF if role is Role.operator and team in teams)
        channels.append(_DemoChannel(channel_id, team_ids[team], agents, external_format))
    await _ensure_live_channels(session, box, base_url, team_ids, admin_id)
    await seed_service(session, team_ids=team_ids, support=SUPPORT, sales=SALES, admin_id=admin_id)
    await staff_online(session, [operator_ids[e] for e, _, role, _ in STAFF if role is not Role.admin])
    supervisor_id = next(operator_ids[e] for e, _, role, _ in STAFF if role is Role.supervisor)
    return _Cast(supervisor_id=supervisor_id, channels=tuple(channels))


async def _ensure_operators(session: AsyncSession) -> dict[str, int]:
    emails = [email for email, *_ in STAFF]
    ids = dict((await session.execute(select(Operator.email, Operator.id).where(Operator.email.in_(emails)))).all())
    for email, name, role, _ in STAFF:
        if email not in ids:
            operator = await create_operator(
                session, email=email, password=DEMO_PASSWORD, name=name, role=role.value, actor_id=ids.get(DEMO_ADMIN_EMAIL)
            )
            ids[email] = operator.id
    for email, extension in EXTENSIONS.items():  # only where nobody has it yet (an admin may have changed them)
        if await session.scalar(select(Operator.id).where(Operator.extension == extension)) is None:
            await session.execute(update(Operator).where(Operator.id == ids[email], Operator.extension.is_(None)).values(extension=extension))
    return ids


async def _ensure_teams(session: AsyncSession) -> dict[str, int]:
    ids = dict((await session.execute(select(Team.name, Team.id).where(Team.name.in_((SUPPORT, SALES))))).all())
    for name in (SUPPORT, SALES):
        if name not in ids:
            ids[name] = await session.scalar(insert(Team).values(name=name, created_at=utcnow()).returning(Team.id))
    return ids


async def _ensure_live_channels(session: AsyncSession, box: SecretBox, base_url: str, team_ids: dict[str, int], admin_id: int) -> None:
    """The messengers (against their fake providers) and the website chat the simulator plays through."""
    for kind in (k for k in FAKE_KINDS if k in ADAPTERS):
        config = demo_fake_config(kind, f"{base_url}/fake/{kind}")
        if config is not None:
            await _ensure_channel(session, box, kind, MESSENGER_CHANNELS[kind], config, team_ids[SUPPORT], admin_id)
    for kind in (k for k in SMS_AND_REVIEW_KINDS if k in ADAPTERS):
        config = demo_fake_config(kind, f"{base_url}/fake/{kind}")
        if config is not None:
            await _ensure_channel(session, box, kind, SMS_AND_REVIEW_CHANNELS[kind], config, team_ids[SUPPORT], admin_id)
    for kind in (k for k in MAIL_KINDS if k in ADAPTERS):
        await _ensure_mail_channel(session, box, kind, team_ids[SUPPORT], admin_id)
    parts = urlsplit(base_url)
    widget = {"allowed_origins": [f"{parts.scheme}://{parts.netloc}"], "title": "Чат с магазином"}
    await _ensure_channel(session, box, "widget", WIDGET_CHANNEL, widget, team_ids[SALES], admin_id)


async def _ensure_mail_channel(session: AsyncSession, box: SecretBox, kind: str, team_id: int, admin_id: int) -> None:
    """The support mailbox on the fake mail server (IMAP and SMTP on two free loopback ports,
    which ``okno serve`` with OKNO_FAKE_PROVIDERS=1 listens on again). The fake runs while the
    channel is saved, so the connection test logs in to it like to a real server."""
    cls = fake_class(kind)
    if cls is None or await session.scalar(select(Channel.id).where(Channel.kind == kind, Channel.name == MAIL_CHANNEL)) is not None:
        return
    fake = cls()
    try:
        await _ensure_channel(session, box, kind, MAIL_CHANNEL, fake.channel_config(), team_id, admin_id)  # type: ignore[attr-defined]
    finally:
        fake.close()  # type: ignore[attr-defined]


async def _ensure_channel(
    session: AsyncSession, box: SecretBox, kind: str, name: str, config: dict[str, Any], team_id: int, admin_id: int
) -> int:
    existing = await session.scalar(select(Channel.id).where(Channel.kind == kind, Channel.name == name).order_by(Channel.id))
    if existing is not None:
        return existing
    # the demo's channels point at the fake providers on loopback on purpose (served with
    # OKNO_ALLOW_PRIVATE_URLS=true, see the Makefile)
    demo_urls = OutboundUrls(allow_private=True)
    channel, _ = await create_channel(session, box, kind=kind, name=name, config=config, team_id=team_id, actor_id=admin_id, urls=demo_urls)
    return channel.id


async def _taken_identities(session: AsyncSession) -> set[IdentityKey]:
    rows = await session.execute(select(Identity.kind, Identity.value).where(Identity.kind.in_(("phone", "email", "external"))))
    return {IdentityKey(kind, value) for kind, value in rows}


class _Planner:
    """Invents customers and their histories in memory; nothing here touches the database."""

    def __init__(self, cast: _Cast, taken: set[IdentityKey], region: str) -> None:
        self.rng = random.Random(SEED)
        self.cast, self.taken, self.region = cast, taken, region
        self.now = utcnow()

    def customers(self, count: int) -> list[_Cust]:
        with_unfinished = set(self.rng.sample(range(count), round(count * UNFINISHED_SHARE)))
        planned = []
        for index in range(count):
            customer = _Cust(person=self._person(), city=self.rng.choice(CITIES), home=self.rng.choice(self.cast.channels))
            customer.keys = self._identity_keys(customer)
            customer.conversations = self._history(customer, unfinished=index in with_unfinished)
            customer.vip = index % VIP_EVERY == 0
            planned.append(customer)
        return planned

    def _person(self) -> _Person:
        feminine = self.rng.random() < 0.55
        if self.rng.random() < LATIN_SHARE:
            first, last = self.rng.choice(LATIN_WOMEN if feminine else LATIN_MEN).split()
            return _Person(first, last, feminine)
        first, surname = self.rng.choice(FEMALE_NAMES if feminine else MALE_NAMES), self.rng.choice(SURNAMES)
        return _Person(first, feminine_surname(surname) if feminine else surname, feminine)

    def _identity_keys(self, customer: _Cust) -> list[IdentityKey]:
        rng, home = self.rng, customer.home
        keys = []
        if rng.random() < 0.9:
            keys.append(self._unused(lambda: normalize_identity("phone", _raw_phone(rng), default_region=self.region)))
        if rng.random() < 0.6 or not keys:
            keys.append(self._unused(lambda: normalize_identity("email", _raw_email(rng, customer.person))))
        if rng.random() < 0.5:
            crm_id = home.external_format.format
            keys.append(self._unused(lambda: normalize_identity("external", f"{home.id}:{crm_id(rng.randint(1000, 999_999))}")))
        return keys

    def _unused(self, candidate: Callable[[], IdentityKey]) -> IdentityKey:
        while (key := candidate()) in self.taken:
            pass
        self.taken.add(key)
        return key

    def _history(self, customer: _Cust, *, unfinished: bool) -> list[_Conv]:
        """1–3 conversations that never overlap; only the newest may be unfinished."""
        rng, now = self.rng, self.now
        total = rng.choice((1, 1, 2, 2, 3))
        finished = total - 1 if unfinished else total
        starts = sorted(now - timedelta(days=rng.uniform(12, HISTORY_DAYS - 2)) for _ in range(finished))
        history: list[_Conv] = []
        not_before = now - timedelta(days=HISTORY_DAYS)
        for start in starts:
            status = rng.choices(FINISHED, weights=(3, 1))[0]
            offsets = _schedule(rng, _message_count(rng, status))
            history.append(self._conversation(customer, status, max(start, not_before), offsets, first=not history))
            not_before = history[-1].updated_at + timedelta(hours=rng.uniform(2, 24))
        if unfinished:
            status = OPEN if rng.random() < 0.85 else PENDING
            offsets = _schedule(rng, _message_count(rng, status))
            start = now - offsets[-1] - timedelta(minutes=rng.uniform(5, 36 * 60))
            history.append(self._conversation(customer, status, max(start, not_before), offsets, first=not history))
        return history

    def _conversation(self, customer: _Cust, status: str, start: datetime, offsets: list[timedelta], *, first: bool) -> _Conv:
        rng = self.rng
        origin = customer.home if first or rng.random() < 0.8 else self.cast.other_than(customer.home)
        assigned = status != OPEN or len(offsets) > 1 or rng.random() < 0.4
        priority = rng.choices((0, 1, 2, 3), weights=(10, 70, 15, 5))[0]
        conv = _Conv(customer, origin, status, priority, assignee_id=rng.choice(origin.agent_ids) if assigned else None)
        slots = _slots(rng, customer.person)
        channel = origin
        for index, (offset, line) in enumerate(zip(offsets, _dialogue(rng, status, len(offsets)), strict=True)):
            text, at = line.format(**slots), start + offset
            if index % 2 == 0:
                channel = origin if index == 0 or rng.random() > CHANNEL_SWITCH_SHARE else self.cast.other_than(origin)
                received = MessageStatus.received.value
                conv.messages.append(_Msg(conv, Direction.inbound.value, channel.id, text, received, None, at))
            else:  # replies go out where the customer last wrote from
                delivery = MessageStatus.delivered.value if rng.random() < 0.7 else MessageStatus.sent.value
                conv.messages.append(_Msg(conv, Direction.outbound.value, channel.id, text, delivery, conv.assignee_id, at))
        if len(offsets) > 1 and rng.random() < NOTE_SHARE:
            note, author = rng.choice(NOTES).format(**slots), rng.choice((conv.assignee_id, self.cast.supervisor_id))
            at = start + offsets[1] * rng.uniform(0.3, 0.9)
            conv.messages.insert(1, _Msg(conv, Direction.note.value, None, note, MessageStatus.noted.value, author, at))
        if status != OPEN:
            wait = rng.uniform(1, 10) if status == PENDING else rng.uniform(5, 180)
            conv.status_changed_at = conv.messages[-1].at + timedelta(minutes=wait)
        return conv


def feminine_surname(surname: str) -> str:
    if surname.endswith(("ский", "цкий")):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    return surname


def _raw_phone(rng: random.Random) -> str:
    code, digits = rng.randint(900, 999), f"{rng.randint(0, 9_999_999):07d}"
    spaced, dashed = f"{digits[:3]} {digits[3:]}", f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
    return rng.choice((f"+7{code}{digits}", f"8 ({code}) {dashed}", f"+7 {code} {spaced}"))


def _raw_email(rng: random.Random, person: _Person) -> str:
    first, last = ascii_word(person.first), ascii_word(person.last)
    local = rng.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{last}.{first}", f"{first}{last}"))
    suffix = rng.choice(("", "", str(rng.randint(1965, 2006)), str(rng.randint(1, 99))))
    return f"{local}{suffix}@{rng.choice(EMAIL_DOMAINS)}"


def ascii_word(word: str) -> str:
    """Transliterated to Latin letters and digits (for e-mail addresses)."""
    folded = unicodedata.normalize("NFKD", word.lower().translate(_TRANSLIT))
    return "".join(c for c in folded if c.isascii() and c.isalnum())


def _message_count(rng: random.Random, status: str) -> int:
    if status == OPEN:
        return rng.choice((1, 1, 3, 3, 5, 7))  # the customer wrote last and waits for an answer
    if status == PENDING:
        return rng.choice((2, 2, 4, 6))  # the operator wrote last and waits for the customer
    return rng.randint(2, 8)


def _schedule(rng: random.Random, count: int) -> list[timedelta]:
    """Offsets from the first message: replies within 2–90 min, customers answer within 5 min–8 h."""
    offsets, at = [timedelta()], timedelta()
    for index in range(1, count):
        at += timedelta(minutes=rng.uniform(2, 90) if index % 2 else rng.uniform(5, 480))
        offsets.append(at)
    return offsets


def _slots(rng: random.Random, person: _Person) -> dict[str, str]:
    return {
        "first": person.first,
        "a": "а" if person.feminine else "",
        "order": f"№{rng.randint(100_000, 999_999)}",
        "track": str(rng.randint(10**9, 10**10 - 1)),
        "amount": f"{rng.randint(5, 250) * 100:,} ₽".replace(",", " "),
        "promo": rng.choice(PROMO_CODES),
        "item": rng.choice(ITEMS),
        "days": str(rng.randint(2, 5)),
    }


def _dialogue(rng: random.Random, status: str, count: int) -> list[str]:
    """Templates alternating customer / operator, the customer first."""
    opening, follow_up, answer, second_answer = rng.choice(TOPICS)
    customer_lines = [opening, follow_up, *rng.sample(CUSTOMER_EXTRAS, 2)]
    operator_lines = [rng.choice(GREETINGS) + answer, second_answer, *rng.sample(OPERATOR_EXTRAS, 2)]
    lines = [(customer_lines if i % 2 == 0 else operator_lines)[i // 2] for i in range(count)]
    if status in FINISHED and count > 2 and count % 2 == 1:
        lines[-1] = rng.choice(THANKS)
    return lines


async def _write_histories(session: AsyncSession, planned: list[_Cust]) -> None:
    """Rows go in chronological order, so ids grow with time as they do in a live instance."""
    customers = sorted(planned, key=lambda c: c.first_touch)
    await _insert_with_ids(session, Customer, customers, _customer_row)
    await session.execute(insert(Identity), [_identity_row(c, key) for c in customers for key in c.keys], execution_options=BULK)
    conversations = sorted((conv for c in customers for conv in c.conversations), key=lambda conv: conv.created_at)
    await _insert_with_ids(session, Conversation, conversations, _conversation_row)
    messages = sorted((m for conv in conversations for m in conv.messages), key=lambda m: m.at)
    await _insert_with_ids(session, Message, messages, _message_row)
    events = sorted((e for c in customers for e in _customer_events(c)), key=lambda e: e["occurred_at"])
    await session.execute(insert(TimelineEvent), events, execution_options=BULK)
    await refresh_profiles(session, [c.id for c in customers])  # the matcher's index, as live traffic files it


async def _insert_with_ids(session: AsyncSession, model: Any, items: list[Any], to_row: Callable[[Any], dict[str, Any]]) -> None:
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    result = await session.execute(statement, [to_row(item) for item in items], execution_options=BULK)
    for item, new_id in zip(items, result.scalars(), strict=True):
        item.id = new_id


def _customer_row(customer: _Cust) -> dict[str, Any]:
    person, updated_at = customer.person, max(conv.updated_at for conv in customer.conversations)
    name = f"{person.first} {person.last}"
    attributes: dict[str, Any] = {"city": customer.city}
    if customer.vip:
        attributes["vip_tier"] = "gold"
    return {"name": name, "attributes": attributes, "created_at": customer.first_touch, "updated_at": updated_at}


def _identity_row(customer: _Cust, key: IdentityKey) -> dict[str, Any]:
    return {
        "customer_id": customer.id, "kind": key.kind, "value": key.value,
        "source_channel_id": customer.home.id, "created_at": customer.first_touch,
    }


def _conversation_row(conv: _Conv) -> dict[str, Any]:
    return {
        "customer_id": conv.customer.id, "channel_id": conv.channel.id, "status": conv.status, "priority": conv.priority,
        "team_id": conv.channel.team_id, "assignee_id": conv.assignee_id,
        "created_at": conv.created_at, "updated_at": conv.updated_at,
        "last_message_at": conv.last_at(Direction.inbound, Direction.outbound),
        "last_inbound_at": conv.last_at(Direction.inbound),
        "resolved_at": conv.status_changed_at if conv.status in FINISHED else None,
    }


def _message_row(message: _Msg) -> dict[str, Any]:
    settled_at = message.at + timedelta(seconds=2 if message.direction == Direction.outbound else 0)
    return {
        "conversation_id": message.conversation.id, "customer_id": message.conversation.customer.id,
        "channel_id": message.channel_id, "direction": message.direction, "text": message.text, "attachments": [],
        "status": message.status, "author_id": message.author_id, "created_at": message.at, "status_updated_at": settled_at,
    }


def _customer_events(customer: _Cust) -> list[dict[str, Any]]:
    events = [
        _event(customer.id, "identity.added", customer.first_touch, channel_id=customer.home.id, data={"identity": str(key)})
        for key in customer.keys
    ]
    for conv in customer.conversations:
        events.extend(_conversation_events(conv))
    return events


def _conversation_events(conv: _Conv) -> list[dict[str, Any]]:
    customer_id, where = conv.customer.id, {"conversation_id": conv.id, "channel_id": conv.channel.id}
    events = [_event(customer_id, "conversation.opened", conv.created_at, **where)]
    for message in conv.messages:
        events.extend(_message_events(message))
        if message is conv.messages[0]:
            routed = {"team_id": conv.channel.team_id, "rule": "channel team"}
            events.append(_event(customer_id, "conversation.routed", message.at, data=routed, **where))
    if conv.status_changed_at is not None:
        change = {"from": OPEN, "to": conv.status}
        at, actor_id = conv.status_changed_at, conv.assignee_id
        events.append(_event(customer_id, "conversation.status_changed", at, actor_id=actor_id, data=change, **where))
    return events


def _message_events(message: _Msg) -> list[dict[str, Any]]:
    conv = message.conversation
    where = {"conversation_id": conv.id, "message_id": message.id, "channel_id": message.channel_id}
    preview = message.text[:TEXT_PREVIEW]
    if message.direction == Direction.inbound:
        return [_event(conv.customer.id, "message.received", message.at, data={"text": preview, "attachments": 0}, **where)]
    if message.direction == Direction.note:
        return [_event(conv.customer.id, "note.added", message.at, actor_id=message.author_id, data={"text": preview}, **where)]
    return [
        _event(conv.customer.id, "message.queued", message.at, actor_id=message.author_id, data={"text": preview}, **where),
        _event(conv.customer.id, "message.sent", message.at + timedelta(seconds=2), **where),
    ]


def _event(customer_id: int | None, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """One timeline row; every row names every column so the batch stays one statement."""
    row = {"customer_id": customer_id, "kind": kind, "occurred_at": at, "data": {}}
    return row | {"conversation_id": None, "message_id": None, "channel_id": None, "actor_id": None} | fields


DEMO_SURVEY = {
    "kind": "csat", "name": "CSAT после решения", "trigger": "resolved", "delay_minutes": 0, "team_ids": [], "channel_ids": [],
    "question": {"ru": "Оцените, пожалуйста, как мы помогли: от 1 (плохо) до 5 (отлично).", "en": "How did we do? Rate us from 1 (poor) to 5 (excellent)."},
    "follow_up": None, "is_active": True,
}  # fmt: skip


async def _ensure_demo_survey(session: AsyncSession) -> None:
    """One CSAT survey, sent as soon as a conversation is resolved (the simulator answers it)."""
    from okno.models.surveys import Survey
    from okno.surveys.service import create_survey

    if await session.scalar(select(Survey.id).where(Survey.name == DEMO_SURVEY["name"])) is None:
        await create_survey(session, fields=dict(DEMO_SURVEY), actor_id=None)
