"""Labelled person records with known truth, FEBRL-style, for measuring the matcher.

Originals get realistic Russian (Cyrillic) and English names with a skewed frequency (a few
names are very common), a birth date, a phone, sometimes an e-mail, a city, address and
postcode. Households share a surname, address and phone but are different people. Duplicates
of an original are corrupted the way real data is: typos, transliteration (``Юлия`` →
``Iuliia``), first and last name swapped, phone written as ``8 (916) …``, date as ``dd.mm.yyyy``
or with day and month swapped, e-mail with Gmail dots or a ``+tag``, a moved address, missing
fields. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

RU_FIRST_M = "Александр Сергей Дмитрий Андрей Алексей Максим Иван Михаил Евгений Никита Артём Владимир Павел Роман Николай Олег Игорь Юрий Денис Тимур Ярослав Глеб Фёдор Степан Лев Матвей Кирилл Егор Илья Виктор".split()
RU_FIRST_F = "Анна Мария Елена Ольга Наталья Татьяна Ирина Екатерина Юлия Светлана Ксения Дарья Алина Полина Виктория Анастасия Марина Людмила Валентина Софья Вера Надежда Любовь Евгения Кристина Алёна Зоя Жанна Яна Ульяна".split()
RU_LAST = "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Овчинников Трофимов Леонов Соболев Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов Громов Кириллов Малышев Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов Еремин Тихомиров Галкин Лукьянов Михеев Скворцов Юдин Белоусов Нестеров Симонов Прокофьев Харитонов Князев Цветков Левин Митрофанов Воронов Аксёнов Софронов Мальцев Логинов Горшков Савин Краснов Майоров Демидов Елисеев Рыбаков Сафонов Плотников Дёмин Хохлов Жданов Руднев Шубин Хабибуллин Гарипов Шарипов Валиев Ахмедов Алиев Ким Цой Шевченко Бондаренко Коваленко Ткаченко".split()
EN_FIRST = "James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Emma Olivia Sophia Liam Noah Oliver Jack Harry George Amelia Isla Ava Chloe Lucy Daniel Matthew Andrew Mark Paul Steven".split()
EN_LAST = "Smith Johnson Williams Brown Jones Garcia Miller Davis Wilson Anderson Taylor Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders Myers Long Ross Foster".split()
RU_CITIES = [("Москва", "101"), ("Санкт-Петербург", "190"), ("Новосибирск", "630"), ("Екатеринбург", "620"), ("Казань", "420"), ("Нижний Новгород", "603"), ("Челябинск", "454"), ("Самара", "443"), ("Омск", "644"), ("Ростов-на-Дону", "344"), ("Уфа", "450"), ("Красноярск", "660"), ("Пермь", "614"), ("Воронеж", "394"), ("Волгоград", "400")]
EN_CITIES = [("London", "SW1"), ("Manchester", "M1"), ("Birmingham", "B1"), ("Leeds", "LS1"), ("Glasgow", "G1"), ("Bristol", "BS1")]
RU_STREETS = "Ленина Мира Советская Садовая Школьная Лесная Центральная Молодёжная Новая Парковая Гагарина Пушкина Лермонтова Чехова Кирова Победы Луговая Набережная Заречная Полевая".split()
EN_STREETS = "High Station Main Park Church London Victoria Green Manor Kings Queens Mill Bridge Grange".split()
TRANSLIT_VARIANTS = [
    {"ю": "yu", "я": "ya", "й": "y", "х": "kh", "щ": "shch", "ц": "ts", "ё": "e", "е": "e", "ж": "zh", "ч": "ch", "ш": "sh", "ы": "y", "ь": "", "ъ": "", "э": "e", "и": "i"},
    {"ю": "iu", "я": "ia", "й": "i", "х": "kh", "щ": "shch", "ц": "ts", "ё": "e", "е": "e", "ж": "zh", "ч": "ch", "ш": "sh", "ы": "y", "ь": "", "ъ": "ie", "э": "e", "и": "i"},
    {"ю": "ju", "я": "ja", "й": "j", "х": "h", "щ": "sch", "ц": "c", "ё": "jo", "е": "e", "ж": "zh", "ч": "ch", "ш": "sh", "ы": "y", "ь": "'", "ъ": "", "э": "e", "и": "i"},
]
_BASIC = dict(zip("абвгдзклмнопрстуф", "abvgdzklmnoprstuf", strict=True))
EMAIL_DOMAINS = ["gmail.com", "yandex.ru", "mail.ru", "outlook.com", "ya.ru", "bk.ru", "icloud.com"]


def _zipf_choice(rng: random.Random, items: list[str], skew: float = 1.1) -> str:
    weights = [1 / (i + 1) ** skew for i in range(len(items))]
    return rng.choices(items, weights=weights)[0]


def transliterate(text: str, rng: random.Random) -> str:
    table = rng.choice(TRANSLIT_VARIANTS)
    out = []
    for ch in text:
        low = ch.lower()
        latin = table.get(low, _BASIC.get(low, low))
        out.append(latin.capitalize() if ch.isupper() and latin else latin)
    return "".join(out)


def typo(text: str, rng: random.Random) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text))
    kind = rng.random()
    letters = "абвгдеклмнопрстaeioulnrst" if not text.isascii() else "aeioulnrstmk"
    if kind < 0.3:
        return text[:i] + text[i + 1 :]
    if kind < 0.55:
        return text[:i] + rng.choice(letters) + text[i:]
    if kind < 0.8:
        return text[:i] + rng.choice(letters) + text[i + 1 :]
    j = min(i + 1, len(text) - 1)
    return text[:i] + text[j] + text[i] + text[j + 1 :] if j != i else text


def _phone(rng: random.Random) -> str:
    return f"+79{rng.randrange(10**8, 10**9)}"


def _phone_written(phone: str, rng: random.Random) -> str:
    d = phone[2:]
    return rng.choice([phone, f"8{d}", f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}", f"+7 {d[:3]} {d[3:6]} {d[6:]}"])


def _person(rng: random.Random, index: int) -> dict:
    russian = rng.random() < 0.7
    female = rng.random() < 0.5
    if russian:
        first = _zipf_choice(rng, RU_FIRST_F if female else RU_FIRST_M)
        last = _zipf_choice(rng, RU_LAST, 0.9)
        if female and last.endswith(("ов", "ев", "ёв", "ин")):
            last += "а"
        city, post = _zipf_choice(rng, [c for c, _ in RU_CITIES], 1.0), None
        post = dict(RU_CITIES)[city] + f"{rng.randrange(1000):03d}"
        address = f"ул. {rng.choice(RU_STREETS)}, д. {rng.randrange(1, 120)}, кв. {rng.randrange(1, 300)}"
    else:
        first, last = _zipf_choice(rng, EN_FIRST), _zipf_choice(rng, EN_LAST, 0.9)
        city = _zipf_choice(rng, [c for c, _ in EN_CITIES], 1.0)
        post = dict(EN_CITIES)[city] + f" {rng.randrange(1, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}"
        address = f"{rng.randrange(1, 200)} {rng.choice(EN_STREETS)} Street"
    born = f"{rng.randrange(1945, 2006)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    latin_first = transliterate(first, rng) if russian else first
    latin_last = transliterate(last, rng) if russian else last
    # an address belongs to one person: the index keeps common names apart
    email = f"{latin_first.lower()}.{latin_last.lower()}{index}@{rng.choice(EMAIL_DOMAINS)}"
    return {
        "first_name": first, "last_name": last, "birth_date": born, "phone": _phone(rng),
        "email": email.replace("'", "") if rng.random() < 0.6 else "", "city": city, "address": address, "postcode": post,
        "_russian": russian, "_person": index,
    }  # fmt: skip


def _corrupt(original: dict, rng: random.Random) -> dict:
    record = dict(original)
    if record["_russian"] and rng.random() < 0.35:
        record["first_name"], record["last_name"] = transliterate(record["first_name"], rng), transliterate(record["last_name"], rng)
        record["city"] = transliterate(record["city"], rng)
        record["address"] = transliterate(record["address"], rng)
    for field_name in ("first_name", "last_name", "address"):
        if rng.random() < 0.2:
            record[field_name] = typo(record[field_name], rng)
    if rng.random() < 0.08:
        record["first_name"], record["last_name"] = record["last_name"], record["first_name"]
    if rng.random() < 0.6:
        record["phone"] = _phone_written(record["phone"], rng)
    if rng.random() < 0.05:
        record["phone"] = _phone(rng)  # a new number
    y, m, d = record["birth_date"].split("-")
    roll = rng.random()
    if roll < 0.3:
        record["birth_date"] = f"{d}.{m}.{y}"
    elif roll < 0.36 and int(d) <= 12:
        record["birth_date"] = f"{y}-{d}-{m}"
    elif roll < 0.42:
        record["birth_date"] = f"{y}-{m}-{(int(d) % 28) + 1:02d}"
    if record["email"] and rng.random() < 0.25:
        local, domain = record["email"].split("@")
        if domain == "gmail.com":
            local = local.replace(".", "")
        elif domain in ("yandex.ru", "ya.ru", "outlook.com", "icloud.com"):  # providers with +tags
            local += "+shop"
        record["email"] = f"{local}@{domain}"
    if rng.random() < 0.12:  # moved
        record["address"] = f"ул. {rng.choice(RU_STREETS)}, д. {rng.randrange(1, 120)}" if record["_russian"] else f"{rng.randrange(1, 200)} {rng.choice(EN_STREETS)} Road"
        record["postcode"] = record["postcode"][:3] + f"{rng.randrange(1000):03d}" if record["_russian"] else record["postcode"]
    for field_name in ("email", "phone", "birth_date", "address", "postcode"):
        if rng.random() < 0.12:
            record[field_name] = ""
    return record


def generate_records(n: int, *, duplicate_share: float = 0.3, household_share: float = 0.05, seed: int = 42) -> list[dict]:
    """``n`` rows: ``rec_id``, ``person_id`` (the truth), and the person columns as written."""
    rng = random.Random(seed)
    originals_count = max(1, int(n * (1 - duplicate_share)))
    originals = [_person(rng, i) for i in range(originals_count)]
    for i in range(1, originals_count):
        if rng.random() < household_share:  # same family: surname, address, phone — another person
            head = originals[rng.randrange(i)]
            for key in ("last_name", "address", "postcode", "city", "phone", "_russian"):
                originals[i][key] = head[key]
    rows = list(originals)
    while len(rows) < n:
        rows.append(_corrupt(rng.choice(originals), rng))
    rng.shuffle(rows)
    return [
        {"rec_id": f"r{i}", "person_id": r["_person"], **{k: v for k, v in r.items() if not k.startswith("_")}}
        for i, r in enumerate(rows)
    ]


def true_pairs(rows: list[dict]) -> Iterator[tuple[int, int]]:
    by_person: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        by_person.setdefault(row["person_id"], []).append(index)
    for members in by_person.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                yield (min(members[a], members[b]), max(members[a], members[b]))
