"""Personal data at rest: AES-256-GCM sealing and keyed blind indexes, with a rotatable key ring.

The keys come from the instance's secret keys (``OKNO_SECRET_KEYS``, newest first, or the key
generated into ``<data_dir>/secret.key``): from each, HKDF-SHA256 derives two independent keys,
one that seals values (AES-256-GCM) and one that computes blind indexes (HMAC-SHA256). A sealed
value is ``0x01 | key id (4 bytes) | nonce (12) | ciphertext + tag``; the key id names the ring
key that sealed it, so older keys keep opening old rows until ``okno keys rotate`` re-seals them.

A blind index is ``HMAC(index key, kind \\0 value)`` cut to 16 bytes: equal values give equal
indexes, so an exact lookup is one indexed read, and the index says nothing about the value to
whoever lacks the key. While a rotation runs, a lookup asks for the index under every ring key.

Columns declare their protection with the types below (``Sealed``, ``SealedJson``); code reads
and writes plain values, the column types seal and open them. The process's ring is set once
at start-up (:func:`use_keys`); a process that never set one takes it from the environment's
settings on first use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import JSON, ColumnElement, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

FORMAT = 1
KEY_ID_BYTES = 4
NONCE_BYTES = 12
HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES
TAG_BYTES = 16  # AES-GCM's authentication tag
INDEX_BYTES = 16


class UnreadablePersonalData(ValueError):
    """A sealed value none of the configured keys opens (a key was removed before rotating)."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"okno personal data", info=purpose).derive(secret)


def _secret_bytes(key: str) -> bytes:
    """A Fernet key is urlsafe base64 of 32 bytes; any other non-empty string is used as given."""
    try:
        raw = base64.urlsafe_b64decode(key.encode())
        if len(raw) == 32:
            return raw
    except ValueError:
        pass
    return key.encode()


@dataclass(frozen=True)
class _RingKey:
    key_id: bytes
    aead: AESGCM
    index_key: bytes


class KeyRing:
    """The derived keys of every secret key, newest first: the newest seals and indexes."""

    def __init__(self, secret_keys: Iterable[str]) -> None:
        ring = []
        for key in secret_keys:
            secret = _secret_bytes(key)
            sealing = _derive(secret, b"okno/pii/seal/v1")
            key_id = hashlib.sha256(b"okno/pii/key-id" + sealing).digest()[:KEY_ID_BYTES]
            ring.append(_RingKey(key_id, AESGCM(sealing), _derive(secret, b"okno/pii/index/v1")))
        if not ring:
            raise ValueError("at least one key is required")
        self._ring = tuple(ring)
        self._by_id = {k.key_id: k for k in reversed(ring)}
        self._newest = ring[0]

    @property
    def newest_key_id(self) -> bytes:
        return self._newest.key_id

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        return tuple(k.key_id for k in self._ring)

    def seal(self, plain: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return b"\x01" + self._newest.key_id + nonce + self._newest.aead.encrypt(nonce, plain, None)

    def seal_many(self, plains: list[bytes]) -> list[bytes]:
        """:meth:`seal` of each value (a fresh random nonce each), the nonces drawn in one call."""
        head, encrypt = b"\x01" + self._newest.key_id, self._newest.aead.encrypt
        drawn = os.urandom(NONCE_BYTES * len(plains))
        nonces = [drawn[i : i + NONCE_BYTES] for i in range(0, len(drawn), NONCE_BYTES)]
        return [head + nonce + encrypt(nonce, plain, None) for nonce, plain in zip(nonces, plains, strict=True)]

    def open(self, sealed: bytes) -> bytes:
        if len(sealed) < HEADER_BYTES + TAG_BYTES or sealed[0] != FORMAT:
            raise UnreadablePersonalData("not a sealed value")
        key = self._by_id.get(bytes(sealed[1 : 1 + KEY_ID_BYTES]))
        if key is None:
            raise UnreadablePersonalData("sealed with a key that is no longer configured (rotate before removing a key)")
        nonce = bytes(sealed[1 + KEY_ID_BYTES : HEADER_BYTES])
        try:
            return key.aead.decrypt(nonce, bytes(sealed[HEADER_BYTES:]), None)
        except Exception as exc:  # cryptography's InvalidTag: tampered or truncated
            raise UnreadablePersonalData("sealed value failed authentication") from exc

    def sealed_with_newest(self, sealed: bytes | None) -> bool:
        return sealed is None or bytes(sealed[1 : 1 + KEY_ID_BYTES]) == self._newest.key_id

    def index(self, kind: str, value: str) -> bytes:
        """The blind index of ``value`` (of ``kind``) under the newest key: what rows store."""
        return _mac(self._newest.index_key, kind, value)

    def indexes(self, kind: str, value: str) -> list[bytes]:
        """Its index under every ring key (newest first): what a lookup asks for while a rotation runs."""
        return [_mac(k.index_key, kind, value) for k in self._ring]

    def token(self, kind: str, value: str) -> str:
        """A blind index as text (for keys that live in text columns, e.g. the matcher's blocks)."""
        return base64.urlsafe_b64encode(_mac(self._newest.index_key, kind, value)).decode().rstrip("=")

    def tokens(self, kind: str, values: Iterable[str]) -> list[str]:
        """:meth:`token` of many values in one tight loop (bulk loads, batch filing): the same
        text per value, without the per-call look-ups."""
        key, prefix, digest, encode = self._newest.index_key, kind.encode() + b"\0", hmac.digest, base64.urlsafe_b64encode
        return [encode(digest(key, prefix + value.encode(), "sha256")[:INDEX_BYTES]).decode().rstrip("=") for value in values]


def _mac(key: bytes, kind: str, value: str) -> bytes:
    return hmac.digest(key, kind.encode() + b"\0" + value.encode(), hashlib.sha256)[:INDEX_BYTES]


_ring: KeyRing | None = None
_loader: Callable[[], list[str]] | None = None


def use_keys(secret_keys: Iterable[str]) -> KeyRing:
    """Sets the process's ring (start-up, CLI commands, tests)."""
    global _ring
    _ring = KeyRing(secret_keys)
    return _ring


def keys() -> KeyRing:
    global _ring
    if _ring is None:
        if _loader is None:
            from okno.config import get_settings  # noqa: PLC0415 (kit stays free of settings at import)

            _ring = KeyRing(get_settings().fernet_keys())
        else:
            _ring = KeyRing(_loader())
    return _ring


def sealed_nonempty(column: Any) -> ColumnElement[bool]:
    """True where a sealed column holds more than an empty string (a seal of ``""`` is exactly
    header + tag long): how a sweep skips rows it already emptied without opening them."""
    from sqlalchemy import func

    return func.length(column) > HEADER_BYTES + TAG_BYTES


def seal_text(value: str) -> bytes:
    return keys().seal(value.encode())


def open_text(sealed: bytes) -> str:
    return keys().open(sealed).decode()


def seal_json(value: object) -> bytes:
    return keys().seal(orjson.dumps(value))


def open_json(sealed: bytes) -> Any:
    return orjson.loads(keys().open(sealed))


def blind_index(kind: str, value: str) -> bytes:
    return keys().index(kind, value)


def blind_indexes(kind: str, value: str) -> list[bytes]:
    return keys().indexes(kind, value)


def value_index_default(context: Any) -> bytes:
    """Column default of a ``value_index``: an insert that names ``kind`` and ``value`` but no
    index gets it computed here (per row of an ``executemany`` too)."""
    row = context.get_current_parameters()
    return blind_index(row["kind"], row["value"])


def keep_index_in_step(model: type) -> None:
    """An ORM update that changes ``model.value`` (or ``kind``) recomputes ``value_index`` with it
    (inserts get it from the column default; a Core ``update()`` must set it itself)."""
    from sqlalchemy import event, inspect

    @event.listens_for(model, "before_update")
    def _reindex(mapper: Any, connection: Any, target: Any) -> None:
        state = inspect(target)
        if state.attrs.value.history.has_changes() or state.attrs.kind.history.has_changes():
            target.value_index = blind_index(target.kind, target.value)


class _RefuseComparison(TypeDecorator[Any]):
    impl = LargeBinary
    cache_ok = True

    class comparator_factory(LargeBinary.Comparator):  # noqa: N801 (SQLAlchemy's name)
        """Comparing a sealed column with a value can never match (every seal is different):
        refused loudly. Column-to-column expressions (SQLAlchemy's own bookkeeping) pass."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            _refuse_values(other)
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            _refuse_values((other,))
            return super().reverse_operate(op, other, **kwargs)


    def bulk_bind_processor(self, dialect: Dialect) -> Callable[[list[Any]], list[Any]]:
        """What ``bind_processor(dialect)`` makes of each of many values (none of them None), for
        bulk inserts (``okno.kit.bulk``): sealed as one batch (:meth:`KeyRing.seal_many`)."""
        # on SQLite the binary type's step (wrapping the bytes in ``sqlite3.Binary``, a memoryview)
        # is left out: the driver binds the bytes themselves as the same BLOB (as okno.kit.bulk
        # does for binary columns)
        impl = None if dialect.name == "sqlite" else self.impl_instance.bind_processor(dialect)
        plain = self._plain

        def process(values: list[Any]) -> list[Any]:
            sealed = keys().seal_many([plain(value) for value in values])
            return [impl(value) for value in sealed] if impl is not None else sealed

        return process

    @staticmethod
    def _plain(value: Any) -> bytes:
        raise NotImplementedError


def _refuse_values(other: tuple[Any, ...]) -> None:
    """``IS NULL`` / ``IS NOT NULL`` and column-to-column expressions pass; values are refused."""
    if any(o is not None and not isinstance(o, ColumnElement) for o in other):
        raise TypeError("a sealed column cannot be compared with a value in SQL: look it up through its blind index")


class Sealed(_RefuseComparison):
    """A text column stored sealed (bytes); code reads and writes ``str``. ``None`` stays NULL."""

    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else keys().seal(value.encode())

    @staticmethod
    def _plain(value: str) -> bytes:
        return value.encode()

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else keys().open(value).decode()


class SealedJson(_RefuseComparison):
    """A JSON document stored sealed (bytes); code reads and writes the document."""

    cache_ok = True

    def process_bind_param(self, value: object, dialect: Dialect) -> bytes | None:
        return None if value is None else keys().seal(orjson.dumps(value))

    @staticmethod
    def _plain(value: object) -> bytes:
        return orjson.dumps(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(keys().open(value))


SEALED_MARK = "\u2063pii1:"  # an invisible separator no typed value starts with


class PartlySealedJson(TypeDecorator[Any]):
    """A JSON document (queryable like ``JsonDoc``) whose values under ``sealed_keys`` are stored
    sealed, as text: ``SEALED_MARK`` + base64 of the sealed JSON of the value."""

    impl = JSON
    cache_ok = True

    def __init__(self, sealed_keys: tuple[str, ...]) -> None:
        super().__init__()
        self.sealed_keys = tuple(sealed_keys)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, dict) or not any(k in value for k in self.sealed_keys):
            return value
        ring = keys()
        return {
            k: SEALED_MARK + base64.b64encode(ring.seal(orjson.dumps(v))).decode() if k in self.sealed_keys and not _is_sealed(v) else v
            for k, v in value.items()
        }

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, dict) or not any(_is_sealed(v) for v in value.values()):
            return value
        ring = keys()
        return {k: orjson.loads(ring.open(base64.b64decode(v[len(SEALED_MARK) :]))) if _is_sealed(v) else v for k, v in value.items()}


def _is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_MARK)
