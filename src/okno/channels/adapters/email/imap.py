"""The IMAP side, on the standard library's ``imaplib`` (run in a thread: it blocks).

``fetch_new`` is one poll: EXAMINE the folder (read-only, so nothing okno does changes a flag),
``UID SEARCH UID n:*`` past the cursor, ``UID FETCH … (BODY.PEEK[])`` a batch, on the channel's
kept :class:`Session` (logged in once, again after an error).
``IdleWatcher`` holds a second connection in IDLE (RFC 2177) and says when mail arrived.
"""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from okno.channels.adapters.email.config import EmailConfig

TIMEOUT = 30.0  # seconds for connecting and for each answer outside IDLE
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")


class ImapError(Exception):
    """The server refused (``auth`` says whether it refused the login) or could not be reached."""

    def __init__(self, reason: str, *, auth: bool = False, network: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.auth = auth
        self.network = network


def tls_context(config: EmailConfig) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connect(config: EmailConfig, timeout: float = TIMEOUT) -> imaplib.IMAP4:
    """A logged-in connection, or :class:`ImapError` quoting the server."""
    try:
        if config.imap_security == "ssl":
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(config.imap_host, config.imap_port, ssl_context=tls_context(config), timeout=timeout)
        else:
            imap = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=timeout)
            if config.imap_security == "starttls":
                imap.starttls(ssl_context=tls_context(config))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"IMAP {config.imap_host}:{config.imap_port}: {_said(exc)}", network=True) from exc
    try:
        imap.login(config.username, config.password.get_secret_value())
    except imaplib.IMAP4.error as exc:
        _close(imap)
        raise ImapError(f"IMAP login refused: {_said(exc)}", auth=True) from exc
    except OSError as exc:
        _close(imap)
        raise ImapError(f"IMAP {config.imap_host}: {_said(exc)}", network=True) from exc
    return imap


def examine(imap: imaplib.IMAP4, mailbox: str) -> int:
    """Opens the folder read-only; its UIDVALIDITY."""
    kind, data = imap.select(_quoted(folder_name(mailbox)), readonly=True)
    if kind != "OK":
        raise ImapError(f"IMAP folder {mailbox!r}: {_said(data)}")
    for line in imap.untagged_responses.get("UIDVALIDITY", []) or []:
        return int(line)
    match = _UIDVALIDITY.search(b" ".join(x for x in data if isinstance(x, bytes)))
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class Fetched:
    uidvalidity: int
    messages: list[tuple[int, bytes]]  # (uid, raw message), oldest first
    more: bool  # further messages wait past this batch


def fetch_new(config: EmailConfig, cursor: dict, limit: int, session: Session | None = None) -> Fetched:
    """One poll: the messages past the cursor (at most ``limit``). With a ``session`` its logged-in
    connection is used (and kept for the next poll); without one, a connection of its own."""
    if session is None:
        session = Session(config)
        try:
            return session.fetch_new(cursor, limit)
        finally:
            session.close()
    return session.fetch_new(cursor, limit)


def _search_and_fetch(imap: imaplib.IMAP4, mailbox: str, cursor: dict, limit: int) -> Fetched:
    try:
        uidvalidity = examine(imap, mailbox)  # again each poll: a fresh UIDVALIDITY and message count
        start = int(cursor.get("last_uid", 0)) + 1 if cursor.get("uidvalidity") == uidvalidity else 1
        kind, data = imap.uid("SEARCH", f"UID {start}:*")
        if kind != "OK":
            raise ImapError(f"IMAP UID SEARCH: {_said(data)}")
        uids = sorted(u for u in (int(x) for x in b" ".join(data or [b""]).split()) if u >= start)  # n:* always names the last one
        batch = uids[:limit]
        messages = _fetch_bodies(imap, batch) if batch else []
        return Fetched(uidvalidity, messages, more=len(uids) > len(batch))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"IMAP: {_said(exc)}", network=isinstance(exc, OSError | imaplib.IMAP4.abort)) from exc


class Session:
    """One channel's logged-in IMAP connection, kept from poll to poll (a login, and with TLS a
    handshake, per poll is what a backlog would otherwise pay for every batch). It logs in on
    first use and again after a connection error: a poll whose kept connection fails (the server
    closed it, the network dropped) retries once on a fresh one before it reports the error."""

    def __init__(self, config: EmailConfig) -> None:
        self.config = config
        self.logins = 0
        self.last_used = time.monotonic()
        self._imap: imaplib.IMAP4 | None = None
        self._lock = threading.Lock()

    def fetch_new(self, cursor: dict, limit: int) -> Fetched:
        with self._lock:
            self.last_used = time.monotonic()
            kept = self._imap is not None
            try:
                return _search_and_fetch(self._connected(), self.config.mailbox, cursor, limit)
            except ImapError as exc:
                self._drop()
                if not (kept and exc.network):
                    raise
            return _search_and_fetch(self._connected(), self.config.mailbox, cursor, limit)  # once more, logged in anew

    def _connected(self) -> imaplib.IMAP4:
        if self._imap is None:
            self._imap = connect(self.config)
            self.logins += 1
        return self._imap

    def _drop(self) -> None:
        if self._imap is not None:
            _close(self._imap)
            self._imap = None

    def close(self) -> None:
        with self._lock:
            if self._imap is not None:
                _logout(self._imap)
                self._imap = None


class Sessions:
    """The kept sessions of this process, one per channel: replaced when the channel's settings
    change, closed when the channel has not been polled for ``stale`` seconds (disabled, deleted)."""

    def __init__(self, stale: float = 900.0) -> None:
        self.stale = stale
        self._by_channel: dict[int, Session] = {}
        self._lock = threading.Lock()

    def get(self, channel_id: int, config: EmailConfig) -> Session:
        with self._lock:
            now = time.monotonic()
            for other, session in list(self._by_channel.items()):
                if other != channel_id and now - session.last_used > self.stale:
                    del self._by_channel[other]
                    threading.Thread(target=session.close, daemon=True).start()  # LOGOUT waits for the server
            session = self._by_channel.get(channel_id)
            if session is not None and session.config != config:
                threading.Thread(target=session.close, daemon=True).start()
                session = None
            if session is None:
                session = self._by_channel[channel_id] = Session(config)
            return session

    def of(self, channel_id: int) -> Session | None:
        return self._by_channel.get(channel_id)

    def close_all(self) -> None:
        with self._lock:
            sessions, self._by_channel = list(self._by_channel.values()), {}
        for session in sessions:
            session.close()


def fetch_one(config: EmailConfig, message_id: str) -> bytes | None:
    """The raw message with this Message-ID (an attachment is downloaded from it), or None."""
    imap = connect(config)
    try:
        examine(imap, config.mailbox)
        kind, data = imap.uid("SEARCH", "HEADER", "Message-ID", _quoted(f"<{message_id}>"))
        uids = [int(x) for x in b" ".join(data or [b""]).split()] if kind == "OK" else []
        found = _fetch_bodies(imap, uids[-1:]) if uids else []
        return found[0][1] if found else None
    finally:
        _logout(imap)


def _fetch_bodies(imap: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
    kind, data = imap.uid("FETCH", ",".join(str(u) for u in uids), "(UID BODY.PEEK[])")
    if kind != "OK":
        raise ImapError(f"IMAP UID FETCH: {_said(data)}")
    found: dict[int, bytes] = {}
    for part in data or []:
        if isinstance(part, tuple) and len(part) == 2:
            match = _FETCH_UID.search(part[0])
            if match:
                found[int(match.group(1))] = part[1]
    return [(uid, found[uid]) for uid in sorted(found)]


def check(config: EmailConfig) -> None:
    """Log in and open the folder (the connection test when a channel is saved)."""
    imap = connect(config, timeout=10.0)
    try:
        examine(imap, config.mailbox)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"IMAP: {_said(exc)}") from exc
    finally:
        _logout(imap)


# ---- IDLE -----------------------------------------------------------------------------------


class IdleWatcher:
    """One thread per channel holding a connection in IDLE. ``on_mail`` is called (from that
    thread) when the server says EXISTS, and after every (re)connect, since mail may have come
    while it was away. IDLE is renewed every ``config.idle_seconds`` (under the 29 minutes after
    which a server may drop it); a broken connection is reopened after 1, 2, 4… 60 seconds."""

    def __init__(self, config: EmailConfig, on_mail: Callable[[], None], *, tick: float = 1.0,
                 alive: Callable[[], bool] = lambda: True) -> None:
        self.config = config
        self.alive = alive  # False: whoever listens is gone (its event loop closed), stop
        self.on_mail = on_mail
        self.tick = tick
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"imap-idle-{config.username}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = 1.0
        while not self.stopping.is_set() and self.alive():
            try:
                imap = connect(self.config)
            except ImapError as exc:
                self.last_error = exc.reason
                self.stopping.wait(delay)
                delay = min(delay * 2, 60.0)
                continue
            try:
                examine(imap, self.config.mailbox)
                if "IDLE" not in imap.capabilities:
                    self.last_error = "the server does not offer IDLE"
                    return
                self.connected.set()
                self.on_mail()  # whatever came while we were not listening
                delay = 1.0
                while not self.stopping.is_set() and self.alive():
                    if self._idle_once(imap):
                        self.on_mail()
            except (OSError, imaplib.IMAP4.error, ImapError) as exc:
                self.last_error = _said(exc)
            finally:
                self.connected.clear()
                _logout(imap)
            if not self.stopping.is_set():
                self.reconnects += 1
                self.stopping.wait(delay)
                delay = min(delay * 2, 60.0)

    def _idle_once(self, imap: imaplib.IMAP4) -> bool:
        """One IDLE until EXISTS, the renewal period or a stop; whether new mail was announced.
        The IDLE traffic goes over the raw socket (imaplib's buffered reader can't be read with a
        timeout and then used again; imaplib 3.11 has no IDLE command)."""
        lines = _Lines(imap.sock, self.tick)
        tag = imap._new_tag()  # type: ignore[attr-defined]
        imap.sock.sendall(tag + b" IDLE\r\n")
        first = lines.next(TIMEOUT)
        if first is None or not first.startswith(b"+"):
            raise ImapError(f"IDLE refused: {(first or b'no answer').strip().decode(errors='replace')}")
        deadline = time.monotonic() + self.config.idle_seconds
        arrived = False
        while not arrived and not self.stopping.is_set() and self.alive() and time.monotonic() < deadline:
            line = lines.next(self.tick)
            if line is None:
                continue
            arrived = _announces_mail(line)
            if line.startswith(b"* BYE"):
                raise ImapError("the server ended IDLE: " + line.decode(errors="replace").strip(), network=True)
        imap.sock.sendall(b"DONE\r\n")
        while True:  # the rest of the untagged answers, then IDLE's tagged completion
            line = lines.next(TIMEOUT)
            if line is None:
                raise ImapError("no answer to DONE", network=True)
            if line.startswith(tag):
                return arrived
            arrived = arrived or _announces_mail(line)


class _Lines:
    """CRLF lines from a socket, each read waiting at most a given time (None: nothing yet)."""

    def __init__(self, sock: socket.socket, tick: float) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self, wait: float) -> bytes | None:
        end = time.monotonic() + wait
        while b"\n" not in self.buffer:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except (TimeoutError, ssl.SSLWantReadError):
                return None
            finally:
                self.sock.settimeout(TIMEOUT)
            if not chunk:
                raise ImapError("the server closed the connection", network=True)
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"


def _announces_mail(line: bytes) -> bool:
    return line.startswith(b"*") and line.rstrip().upper().endswith(b"EXISTS")


def folder_name(name: str) -> str:
    """A folder name as IMAP spells it: modified UTF-7 (RFC 3501 §5.1.3), so «Входящие» works."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append(f"&{encoded}-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(exc: object) -> str:
    if isinstance(exc, list | tuple):
        text = b" ".join(x for x in exc if isinstance(x, bytes)).decode(errors="replace")
    else:
        text = str(exc.args[0] if isinstance(exc, Exception) and exc.args else exc)
        if text.startswith(("b'", 'b"')):
            text = text[2:-1]
    return " ".join(text.split())[:300] or type(exc).__name__


def _logout(imap: imaplib.IMAP4) -> None:
    try:
        imap.logout()
    except Exception:  # noqa: BLE001  (already broken: nothing to tell)
        _close(imap)


def _close(imap: imaplib.IMAP4) -> None:
    try:
        imap.shutdown()
    except Exception:  # noqa: BLE001
        pass
