"""The owners of identity keys the webhook intake has looked up, remembered per process.

Nearly every webhook comes from a sender whose keys already belong to a customer: the lookup of
every key of every batch found what the previous batches found. Each process remembers, per
database engine, the owner (customer id and name) of the keys it looked up, with the value of
the ``identity_epoch`` counter the lookup read in the same statement. Triggers move that counter
in the transaction of any change that could make a remembered owner wrong (migration
``0029_identity_epoch``: an identity's row changed or deleted, a customer deleted, a non-empty
name changed), in whatever process it runs. Each batch still reads the counter, in the one
statement that looks up the keys not remembered; the remembered owners are used only if the
counter is what they were read with, else they are forgotten and the batch looks every key up.

What a lookup found is remembered only once its transaction has committed (a rolled-back batch
may have read its own uncommitted customers), and only for customers with a name (filling an
empty name, as the intake does, does not move the counter). Keys without an owner are never
remembered: inserting an identity does not move the counter either. The keys a batch files
itself (a new customer's, a returning one's new key) are remembered with the owner it filed them
under once it commits, as a lookup in the next batch would find them; not those of a customer
whose empty name the batch filled (that fill is conditional).

Only the intake uses this, at the start of its transaction, before anything in it has changed an
identity: on PostgreSQL the counter moves at commit (deferred triggers), so a transaction would
not see its own changes move it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from weakref import WeakKeyDictionary

from sqlalchemy import BigInteger, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.identities import IdentityKey
from okno.kit.db_wake import call_after_commit

EPOCH_TABLE = table("identity_epoch", column("value", BigInteger))
READ_EPOCH = select(EPOCH_TABLE.c.value)
KEPT = 200_000  # keys remembered per engine at most (then forgotten all at once)


@dataclass
class KnownOwners:
    epoch: int | None = None  # the counter the remembered owners were read with
    owners: dict[IdentityKey, tuple[int, str]] = field(default_factory=dict)  # key -> (customer id, name)

    def forget(self, epoch: int | None) -> None:
        """The counter moved (or is gone): nothing remembered holds any more."""
        self.owners.clear()
        self.epoch = epoch


_KNOWN: WeakKeyDictionary[object, KnownOwners] = WeakKeyDictionary()  # per engine


def known_owners(session: AsyncSession) -> KnownOwners:
    """This process's remembered owners for the session's database."""
    bind = session.bind
    engine = getattr(bind, "sync_engine", bind)
    known = _KNOWN.get(engine)
    if known is None:
        known = _KNOWN[engine] = KnownOwners()
    return known


def remember_after_commit(session: AsyncSession, known: KnownOwners, epoch: int, found: dict[IdentityKey, tuple[int, str]]) -> None:
    """Remembers ``found`` (read at ``epoch`` in the session's transaction) once that commits."""
    named = {key: owner for key, owner in found.items() if owner[1]}
    if named:
        call_after_commit(session, partial(_remember, known, epoch, named))


def _remember(known: KnownOwners, epoch: int, found: dict[IdentityKey, tuple[int, str]]) -> None:
    if known.epoch != epoch:  # the counter moved since (another batch read a new value): too late
        return
    if len(known.owners) + len(found) > KEPT:
        known.owners.clear()
    known.owners.update(found)
