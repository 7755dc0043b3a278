from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

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
