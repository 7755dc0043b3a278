"""Check a pooled PostgreSQL connection before use only when it has sat idle.

SQLAlchemy's ``pool_pre_ping`` checks every checkout; asyncpg's ping is three round trips
(``BEGIN``, an empty query, ``ROLLBACK``), which on a single-message ingest or a real-time
match costs as much as the work itself. A connection returned to the pool moments ago is as
good as the last statement it ran: it is checked only after :data:`PING_AFTER_IDLE` seconds in
the pool, which is where a server restart, a proxy's idle timeout or a failover leaves dead
connections. A connection killed within that window fails its next statement; SQLAlchemy then
invalidates every pooled connection of the engine, so one transaction fails (the ingest
pipeline retries it) and the next ones connect afresh.
"""

from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

PING_AFTER_IDLE = 5.0  # seconds
_RETURNED = "okno_returned_at"


def ping_when_idle(engine: Engine) -> None:
    """Installs the check on ``engine``'s pool (an async engine's ``sync_engine``)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: object, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "handle_error")
    def _broken_protocol_is_a_disconnect(context: ExceptionContext) -> None:
        # A statement sent as the server's "terminating connection" arrives can fail with asyncpg's
        # internal state error ("cannot switch to state …; another operation … is in progress")
        # before the driver marks the connection closed, so SQLAlchemy would pool it again and the
        # next transaction would fail too. A connection whose protocol state is broken is as good
        # as gone: drop it (and, as for any disconnect, the pool's other connections).
        if not context.is_disconnect and type(context.original_exception).__name__ == "InternalClientError":
            context.is_disconnect = True

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: object, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE:  # new, or just used
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:  # the pool drops it and checks out a fresh one
            raise exc.DisconnectionError(f"a pooled connection idle for {time.monotonic() - returned:.0f} s is gone") from error
