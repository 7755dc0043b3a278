"""Labelled person records from several DIFFERENT generators, for measuring recall on data the
matcher was not built against. Each generator differs in its error model, its share of
households (relatives sharing surname and address), the fields present, and the names used
(Russian, English or both). Every row carries ``rec_id`` and ``person_id`` (the truth).

    .venv/bin/python bench/identity_data.py households 100000 /tmp/households.csv

Generators (name → what it varies):

* ``households`` — RU and EN names; typos, transliteration, nicknames, day/month swaps, near
  dates, moved addresses; 25 % of people live with relatives who share surname and address;
  no phones, no e-mails.
* ``households_mild`` — the same people and households, but only the errors the issue's outside
  households name: typos, dropped letters, transliteration, nicknames, day/month swaps (the only
  date error), moved addresses; 5 % of fields missing.
* ``ru_nicknames`` — Russian only, written in Cyrillic or any of three Latin spellings; half of
  the duplicates use an everyday form of the given name (Саша, Lesha…); dates as dd.mm.yyyy;
  some records lose their address; no phones, no e-mails.
* ``en_sparse`` — English only; names and birth date, sometimes a postcode; keyboard typos,
  dropped letters, initials for the given name now and then; 10 % households.
* ``crm_full`` — RU and EN; phone and e-mail present (often rewritten), few typos, many exact
  copies, 5 % households: an old CRM merged with a web shop.
* ``noisy`` — RU and EN; two or three errors per duplicate (typo in surname AND a wrong date,
  moved AND a nickname…), 40 % of fields missing, 15 % households.
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from okno.customers.matching.synthetic import (  # noqa: E402
    EMAIL_DOMAINS,
    EN_CITIES,
    EN_FIRST,
    EN_LAST,
    EN_STREETS,
    RU_CITIES,
    RU_FIRST_F,
    RU_FIRST_M,
    RU_LAST,
    RU_STREETS,
    transliterate,
    typo,
)
from okno.customers.nicknames import ENGLISH, RUSSIAN  # noqa: E402

NICKNAMES = {line.split()[0]: line.split()[1:] for line in (RUSSIAN + ENGLISH).strip().splitlines() if line.strip()}
KEYBOARD = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm", "wqrtyuiopoadfghjklkxcvbnmn", strict=True)}


ERROR_KINDS = ("typo_first", "typo_last", "keyboard", "date_swap", "date_near", "date_typo", "moved", "swap_names", "drop_letter", "initial")


@dataclass(frozen=True)
class Recipe:
    russian_share: float
    household_share: float
    duplicate_share: float  # share of rows that are duplicates of an earlier person
    errors_per_duplicate: tuple[int, int]  # at least, at most
    missing: float  # chance that each optional field is blank in a row
    fields: tuple[str, ...]
    nickname_rate: float
    transliterate_rate: float
    date_format: str = "iso"  # or "dotted"
    error_kinds: tuple[str, ...] = ERROR_KINDS  # the errors a duplicate may get


RECIPES: dict[str, Recipe] = {
    "households": Recipe(0.6, 0.25, 0.35, (1, 2), 0.08, ("first_name", "last_name", "birth_date", "city", "address", "postcode"), 0.15, 0.35),
    # the issue's own description of its held-out households: typos, transliteration, nicknames,
    # day/month swaps (the only date error), moved addresses, families sharing surname and address
    "households_mild": Recipe(0.6, 0.25, 0.35, (1, 2), 0.05, ("first_name", "last_name", "birth_date", "city", "address", "postcode"), 0.15, 0.35,
                              error_kinds=("typo_first", "typo_last", "keyboard", "drop_letter", "date_swap", "moved")),
    "ru_nicknames": Recipe(1.0, 0.1, 0.4, (1, 2), 0.15, ("first_name", "last_name", "birth_date", "city", "address"), 0.5, 0.5, "dotted"),
    "en_sparse": Recipe(0.0, 0.1, 0.3, (1, 2), 0.1, ("first_name", "last_name", "birth_date", "postcode"), 0.1, 0.0),
    "crm_full": Recipe(0.6, 0.05, 0.3, (0, 1), 0.1, ("first_name", "last_name", "birth_date", "phone", "email", "city", "address", "postcode"), 0.05, 0.3),
    "noisy": Recipe(0.5, 0.15, 0.35, (2, 3), 0.4, ("first_name", "last_name", "birth_date", "city", "address", "postcode"), 0.15, 0.35),
}


def _weighted(rng: random.Random, items: list[str], skew: float) -> str:
    return rng.choices(items, weights=[1 / (i + 1) ** skew for i in range(len(items))])[0]


def _original(rng: random.Random, recipe: Recipe, index: int) -> dict:
    russian = rng.random() < recipe.russian_share
    female = rng.random() < 0.5
    if russian:
        first = _weighted(rng, RU_FIRST_F if female else RU_FIRST_M, 1.0)
        last = _weighted(rng, RU_LAST, 0.8)
        if female and last.endswith(("ов", "ев", "ёв", "ин")):
            last += "а"
        city = _weighted(rng, [c for c, _ in RU_CITIES], 1.0)
        post = dict(RU_CITIES)[city] + f"{rng.randrange(1000):03d}"
        address = f"ул. {rng.choice(RU_STREETS)}, д. {rng.randrange(1, 150)}, кв. {rng.randrange(1, 400)}"
    else:
        first, last = _weighted(rng, EN_FIRST, 0.9), _weighted(rng, EN_LAST, 0.8)
        city = _weighted(rng, [c for c, _ in EN_CITIES], 1.0)
        post = dict(EN_CITIES)[city] + f" {rng.randrange(1, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}"
        address = f"{rng.randrange(1, 300)} {rng.choice(EN_STREETS)} {rng.choice(['Street', 'Road', 'Lane', 'Avenue'])}"
    born = f"{rng.randrange(1940, 2008)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    return {"first_name": first, "last_name": last, "birth_date": born, "phone": f"+79{rng.randrange(10**8, 10**9)}",
            "email": f"{transliterate(first, rng).lower()}.{index}@{rng.choice(EMAIL_DOMAINS)}", "city": city, "address": address,
            "postcode": post, "_russian": russian, "_person": index}  # fmt: skip


def _relative(rng: random.Random, recipe: Recipe, head: dict, index: int) -> dict:
    """Another person of the same household: surname, address, postcode, city (and phone) shared."""
    person = _original(rng, recipe, index)
    person["_russian"] = head["_russian"]
    if head["_russian"]:
        female = rng.random() < 0.5
        person["first_name"] = _weighted(rng, RU_FIRST_F if female else RU_FIRST_M, 1.0)
        base = head["last_name"].removesuffix("а") if head["last_name"].endswith(("ова", "ева", "ёва", "ина")) else head["last_name"]
        person["last_name"] = base + "а" if female and base.endswith(("ов", "ев", "ёв", "ин")) else base
    else:
        person["first_name"], person["last_name"] = _weighted(rng, EN_FIRST, 0.9), head["last_name"]
    for key in ("address", "postcode", "city", "phone"):
        person[key] = head[key]
    return person


def _error(rng: random.Random, record: dict, kinds: tuple[str, ...] = ERROR_KINDS) -> None:
    kind = rng.choice(kinds)
    if kind in ("typo_first", "typo_last"):
        name = "first_name" if kind == "typo_first" else "last_name"
        record[name] = typo(record[name], rng)
    elif kind == "keyboard":
        name = rng.choice(["first_name", "last_name"])
        text = record[name]
        if len(text) > 2:
            i = rng.randrange(1, len(text))
            record[name] = text[:i] + KEYBOARD.get(text[i].lower(), text[i]) + text[i + 1 :]
    elif kind == "drop_letter":
        name = rng.choice(["first_name", "last_name"])
        text = record[name]
        if len(text) > 4:
            i = rng.randrange(1, len(text) - 1)
            record[name] = text[:i] + text[i + 1 :]
    elif kind == "initial" and not record["_russian"]:
        record["first_name"] = record["first_name"][0]
    elif kind.startswith("date") and record["birth_date"]:
        y, m, d = record["birth_date"].split("-")
        if kind == "date_swap" and int(d) <= 12:
            record["birth_date"] = f"{y}-{d}-{m}"
        elif kind == "date_near":
            record["birth_date"] = f"{y}-{m}-{max(1, min(28, int(d) + rng.choice([-2, -1, 1, 2]))):02d}"
        else:
            record["birth_date"] = f"{int(y) + rng.choice([-10, -1, 1, 10])}-{m}-{d}"
    elif kind == "moved":
        if record["_russian"]:
            record["address"] = f"ул. {rng.choice(RU_STREETS)}, д. {rng.randrange(1, 150)}, кв. {rng.randrange(1, 400)}"
            record["postcode"] = record["postcode"][:3] + f"{rng.randrange(1000):03d}"
        else:
            record["address"] = f"{rng.randrange(1, 300)} {rng.choice(EN_STREETS)} Road"
    elif kind == "swap_names":
        record["first_name"], record["last_name"] = record["last_name"], record["first_name"]


def _duplicate(rng: random.Random, recipe: Recipe, original: dict) -> dict:
    record = dict(original)
    if rng.random() < recipe.nickname_rate:
        forms = NICKNAMES.get(record["first_name"])
        if forms:
            record["first_name"] = rng.choice(forms)
    for _ in range(rng.randint(*recipe.errors_per_duplicate)):
        _error(rng, record, recipe.error_kinds)
    if record["_russian"] and rng.random() < recipe.transliterate_rate:
        for key in ("first_name", "last_name", "city", "address"):
            record[key] = transliterate(record[key], rng)
    if rng.random() < 0.5 and record["phone"]:
        d = record["phone"][2:]
        record["phone"] = f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"
    if record["email"] and rng.random() < 0.2:
        local, domain = record["email"].split("@")
        record["email"] = f"{local}+shop@{domain}"
    for key in ("birth_date", "city", "address", "postcode", "phone", "email"):
        if rng.random() < recipe.missing:
            record[key] = ""
    return record


def generate(name: str, n: int, *, seed: int = 1) -> list[dict]:
    recipe = RECIPES[name]
    rng = random.Random(f"{name}:{seed}")
    originals_count = max(2, int(n * (1 - recipe.duplicate_share)))
    originals: list[dict] = []
    for i in range(originals_count):
        if originals and rng.random() < recipe.household_share:
            originals.append(_relative(rng, recipe, rng.choice(originals[-50:]), i))
        else:
            originals.append(_original(rng, recipe, i))
    rows = list(originals)
    while len(rows) < n:
        rows.append(_duplicate(rng, recipe, rng.choice(originals)))
    rng.shuffle(rows)
    out = []
    for i, row in enumerate(rows):
        record = {"rec_id": f"r{i}", "person_id": row["_person"]}
        for key in recipe.fields:
            value = row[key]
            if key == "birth_date" and value and recipe.date_format == "dotted":
                y, m, d = value.split("-")
                value = f"{d}.{m}.{y}"
            record[key] = value
        out.append(record)
    return out


def write(name: str, n: int, path: Path, *, seed: int = 1) -> Path:
    rows = generate(name, n, seed=seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
