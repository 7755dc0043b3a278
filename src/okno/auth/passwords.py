from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from okno.kit.errors import Invalid

_hasher = PasswordHash((Argon2Hasher(),))
# verified against when the e-mail is unknown, so a miss costs as much time as a wrong password
_DUMMY_HASH = _hasher.hash("okno-timing-equaliser")

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """False for a wrong password, a missing operator, or a stored hash we can't read (an
    account created outside okno, say): a login refused, never a server error."""
    try:
        return _hasher.verify(password, password_hash or _DUMMY_HASH) and password_hash is not None
    except UnknownHashError:
        _hasher.verify(password, _DUMMY_HASH)  # the same time as any other refusal
        return False


# argon2 is memory- and CPU-hard on purpose. Hashing runs in threads of its own, at most one per
# core but one: a burst of logins (or of wrong ones) queues here instead of taking every core
# from the event loop that serves webhooks and pages.
_hashing = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="okno-argon2")


async def check_password(password: str, password_hash: str | None) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_hashing, verify_password, password, password_hash)


async def new_password_hash(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("password must be at least %(num)s character", plural="password must be at least %(num)s characters", num=MIN_PASSWORD_LENGTH)
    return await asyncio.get_running_loop().run_in_executor(_hashing, hash_password, password)
