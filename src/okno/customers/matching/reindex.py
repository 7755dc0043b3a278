"""Re-filing the stored profiles after the matcher learnt a new field or blocking key.

Profiles are re-filed only when something about their customer changes, so a key added to
:func:`okno.customers.matching.fields.blocking_keys` (``bz:``, ``i:``) reaches older profiles
only through this pass. It walks the customers in id order, a chunk per transaction, and
rewrites only profiles whose fields or keys differ from what the code derives now: a second
run writes nothing, and an interrupted run leaves every chunk before it done (resume with
``after_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from okno.customers.matching.profiles import refile_stale_profiles
from okno.kit.db import Database
from okno.models import Customer

REINDEX_CHUNK = 1000


@dataclass
class ReindexReport:
    customers: int = 0  # looked at
    refiled: int = 0  # whose profile or blocking keys were rewritten
    last_id: int = 0  # the last customer of the last committed chunk


async def customers_after(db: Database, after_id: int) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(Customer).where(Customer.id > after_id)) or 0)


async def reindex_profiles(
    db: Database, *, after_id: int = 0, chunk: int = REINDEX_CHUNK, progress: Callable[[ReindexReport], None] | None = None
) -> ReindexReport:
    """Re-files stale profiles of the customers with ids above ``after_id``, ``chunk`` customers
    per transaction; ``progress`` is called after each committed chunk."""
    report = ReindexReport(last_id=after_id)
    while True:
        async with db.transaction() as session:
            ids = list((await session.scalars(select(Customer.id).where(Customer.id > report.last_id).order_by(Customer.id).limit(chunk))).all())
            if not ids:
                return report
            refiled = await refile_stale_profiles(session, ids)
        report.customers, report.refiled, report.last_id = report.customers + len(ids), report.refiled + refiled, ids[-1]
        if progress is not None:
            progress(report)
