"""Everyday forms of given names (Russian and English): ``Саша`` is ``Александр``, ``Bill`` is
``William``. The matcher folds each form to its full name before a phonetic key is taken
(blocking) and counts two different forms of one name as "similar" (comparison), never as
"exact": a nickname is good evidence, not proof.

Each line is a full name and its usual short forms, as people write them; the table is folded
through :func:`~okno.customers.names.latin_key` once, so ``Саша``, ``Sasha`` and ``Sascha`` all
meet. A short form shared by two full names (``Женя``: Евгений and Евгения) belongs to the first
line that lists it; the female full name is then listed on the male line.
"""

from __future__ import annotations

from functools import lru_cache

RUSSIAN = """
Александр Александра Alexander Саша Шура Саня Алекс Санек
Алексей Лёша Алёша Лёха Алеша Леша
Анастасия Настя Ася Стася
Анна Аня Анюта Нюра Анечка
Андрей Андрюша Дюша
Анатолий Толя
Артём Артем Тёма Тема
Борис Боря
Валентина Валя
Валентин
Валерий Валера
Василий Вася
Виктор Витя
Виктория Вика
Владимир Вова Володя
Владислав Влад
Вячеслав Слава
Галина Галя
Дарья Даша
Дмитрий Дима Митя
Евгений Евгения Женя
Екатерина Катя Катерина
Елена Лена
Елизавета Лиза
Иван Ваня
Илья Илюша
Ирина Ира
Кирилл Кирюша
Константин Костя
Ксения Ксюша
Любовь Люба
Людмила Люда Мила
Максим Макс
Маргарита Рита
Мария Маша Маня Маруся
Михаил Миша
Надежда Надя
Наталья Наталия Наташа
Николай Коля
Ольга Оля
Павел Паша
Пётр Петр Петя
Полина Поля
Роман Рома
Сергей Серёжа Сережа Серж
Светлана Света
Софья София Соня
Станислав Стас
Степан Стёпа Степа
Татьяна Таня
Тимофей Тима
Фёдор Федор Федя
Юлия Юля
Юрий Юра
Ярослав Ярик
Ульяна Уля
Матвей Мотя
Григорий Гриша
Георгий Гоша Жора
Леонид Лёня
Зинаида Зина
Тамара Тома
Антон Тоша
"""

ENGLISH = """
William Bill Billy Will Willy
Robert Bob Bobby Rob Robbie Bert
Richard Rick Ricky Dick Rich
James Jim Jimmy Jamie
John Johnny Jon
Michael Mike Mikey Mick
Joseph Joe Joey
Thomas Tom Tommy
Charles Charlie Chuck Chas
David Dave Davy
Daniel Dan Danny
Matthew Matt
Andrew Andy Drew
Steven Stephen Steve Stevie
Christopher Chris Kit
Anthony Tony
Edward Ed Eddie Ted Ned
Samuel Sam Sammy
Benjamin Ben Benny
Nicholas Nick Nicky
Jonathan
Timothy Tim Timmy
Kenneth Ken Kenny
Gregory Greg
Lawrence Larry
Ronald Ron Ronnie
Donald Don Donnie
Peter Pete
Frederick Fred Freddie
Patrick Paddy
Elizabeth Liz Lizzie Beth Betty Eliza Bess
Margaret Maggie Meg Peggy
Katherine Catherine Kathryn Kate Katie Cathy Kathy Kat
Jennifer Jen Jenny
Patricia Pat Patty Trish
Susan Sue Susie
Barbara Barb Babs
Jessica Jess Jessie
Rebecca Becky Becca
Victoria Vicky Tori
Abigail Abby
Deborah Debbie Deb
Pamela Pam
Dorothy Dot Dottie
Sophia Sophie
Isabella Isabel Bella Izzy
Christine Christina Chrissy
Samantha Sammie
Josephine Josie Jo
"""


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    from okno.customers.names import latin_key

    table: dict[str, str] = {}
    for line in (RUSSIAN + ENGLISH).strip().splitlines():
        forms = [latin_key(w) for w in line.split()]
        if not forms:
            continue
        full = forms[0]
        for form in forms:
            table.setdefault(form, full)
    return table


def full_name_of(folded: str) -> str:
    """A folded given name's full form (``"sasha"`` → ``"aleksandr"``); itself when unknown."""
    return _table().get(folded, folded)
