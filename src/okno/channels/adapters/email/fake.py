"""A fake mail provider for tests and the demo: a minimal IMAP4rev1 server (LOGIN, CAPABILITY,
SELECT/EXAMINE, UID SEARCH, UID FETCH BODY.PEEK[], IDLE, NOOP, LOGOUT) and an SMTP server
(aiosmtpd), both on loopback in threads of their own, so okno's real IMAP and SMTP clients talk
to them over real sockets.

Helpers in the style of the other fakes: ``deliver_text(user, text)`` lands a customer's e-mail
in the mailbox (and wakes IDLE listeners with EXISTS), ``sent_texts()`` lists what okno sent,
``fail_next_send("rate_limit" | "permanent" | "server_error")`` scripts the SMTP server's answer.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import re
import select
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okno.channels.fakes.base import FakeProviderBase, ScriptedFailure
from okno.kit.time import utcnow

SUPPORT = "support@shop.example"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
USER = "support"
PASSWORD = "fake-mail-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    uidvalidity: int = 1
    messages: list[tuple[int, bytes]] = field(default_factory=list)  # (uid, raw)
    next_uid: int = 1
    changed: threading.Condition = field(default_factory=threading.Condition)

    def append(self, raw: bytes) -> int:
        with self.changed:
            uid = self.next_uid
            self.next_uid += 1
            self.messages.append((uid, raw))
            self.changed.notify_all()
            return uid

    def renumber(self) -> None:
        """A new UIDVALIDITY with every message under a new UID (what a restored mailbox does)."""
        with self.changed:
            self.uidvalidity += 1
            self.messages = [(i + 1, raw) for i, (_, raw) in enumerate(self.messages)]
            self.next_uid = len(self.messages) + 1
            self.changed.notify_all()


class _ImapHandler(socketserver.StreamRequestHandler):
    server: _ImapServer

    def send(self, line: str | bytes) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.server.sessions.add(self)
        try:
            self.send("* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] fake IMAP ready")
            authed = False
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                tag, _, rest = line.decode(errors="replace").rstrip("\r\n").partition(" ")
                command, _, args = rest.partition(" ")
                command = command.upper()
                if command == "UID":
                    sub, _, args = args.partition(" ")
                    command = "UID " + sub.upper()
                if command == "CAPABILITY":
                    self.send("* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN")
                    self.send(f"{tag} OK CAPABILITY completed")
                elif command == "LOGIN":
                    user, password = (_tokens(args) + ["", ""])[:2]
                    if user == self.server.user and password == self.server.password:
                        authed = True
                        self.server.logins += 1
                        self.send(f"{tag} OK LOGIN completed")
                    else:
                        self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (fake)")
                elif command == "LOGOUT":
                    self.send("* BYE fake IMAP logging out")
                    self.send(f"{tag} OK LOGOUT completed")
                    return
                elif command == "NOOP":
                    self.send(f"{tag} OK NOOP completed")
                elif not authed:
                    self.send(f"{tag} BAD log in first")
                elif command in ("SELECT", "EXAMINE"):
                    box = self.server.mailbox
                    with box.changed:
                        self.send(f"* {len(box.messages)} EXISTS")
                        self.send("* 0 RECENT")
                        self.send(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
                        self.send(f"* OK [UIDNEXT {box.next_uid}] Predicted next UID")
                        self.send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
                    mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
                    self.send(f"{tag} OK [{mode}] {command} completed")
                elif command == "UID SEARCH":
                    self.send("* SEARCH " + " ".join(str(u) for u in self._search(args)))
                    self.send(f"{tag} OK SEARCH completed")
                elif command == "UID FETCH":
                    self._fetch(args)
                    self.send(f"{tag} OK FETCH completed")
                elif command == "IDLE":
                    self._idle(tag)
                else:
                    self.send(f"{tag} BAD unknown command {command}")
        except (OSError, ValueError):
            return
        finally:
            self.server.sessions.discard(self)

    def _search(self, args: str) -> list[int]:
        box = self.server.mailbox
        with box.changed:
            messages = list(box.messages)
        tokens = _tokens(args)
        if len(tokens) >= 3 and tokens[0].upper() == "HEADER":
            name, value = tokens[1], tokens[2]
            found = []
            for uid, raw in messages:
                parsed = email.message_from_bytes(raw, policy=email.policy.default)
                if value.lower() in str(parsed.get(name, "")).lower():
                    found.append(uid)
            return found
        match = re.match(r"UID (\d+):\*", args, re.IGNORECASE)
        start = int(match.group(1)) if match else 1
        uids = [uid for uid, _ in messages if uid >= start]
        if not uids and messages:  # n:* names the last message even when it is below n (RFC 3501)
            uids = [messages[-1][0]]
        return uids

    def _fetch(self, args: str) -> None:
        wanted = {int(x) for x in args.split(" ", 1)[0].split(",") if x.isdigit()}
        box = self.server.mailbox
        with box.changed:
            messages = list(box.messages)
        for seq, (uid, raw) in enumerate(messages, start=1):
            if uid in wanted:
                self.wfile.write(f"* {seq} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode() + raw + b")\r\n")
        self.wfile.flush()

    def _idle(self, tag: str) -> None:
        box = self.server.mailbox
        with box.changed:
            seen = len(box.messages)
        self.send("+ idling")
        while not self.server.stopping.is_set():
            with box.changed:
                box.changed.wait(0.05)
                count = len(box.messages)
            if count != seen:
                seen = count
                self.send(f"* {count} EXISTS")
                self.server.announced.set()
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                continue
            line = self.rfile.readline()
            if not line:
                raise OSError("client went away")
            if line.strip().upper() == b"DONE":
                break
        self.send(f"{tag} OK IDLE terminated")


def _tokens(text: str) -> list[str]:
    return [a if a else b for a, b in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', text)]


class _ImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, mailbox: Mailbox, user: str, password: str) -> None:
        super().__init__(("127.0.0.1", port), _ImapHandler)
        self.mailbox = mailbox
        self.user = user
        self.password = password
        self.sessions: set[_ImapHandler] = set()
        self.logins = 0  # successful LOGINs (a kept session logs in once)
        self.stopping = threading.Event()
        self.announced = threading.Event()

    def kill_connections(self) -> None:
        for session in list(self.sessions):
            try:
                session.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _SmtpHandler:
    """What the fake's SMTP server does with a message: mail to the support mailbox (its address,
    or a ``local+tag@`` form of it) is delivered into the mailbox, as the mailbox's own mail server
    would; mail to anyone else is what okno sent out (``FakeMail.sent``). One message may be both
    (an operator writing to a customer with the support mailbox in Cc)."""

    def __init__(self, fake: FakeMail) -> None:
        self.fake = fake

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: ANN401
        ours = [r for r in envelope.rcpt_tos if self.fake.is_support_address(r)]
        others = [r for r in envelope.rcpt_tos if r not in ours]
        if ours:
            self.fake.append(envelope.content)
        if not others:
            return "250 2.0.0 Ok: delivered to the mailbox"
        failure = self.fake.next_failure()
        self.fake.calls.append({"from": envelope.mail_from, "to": others})
        if failure is not None:
            return _SMTP_FAILURES[failure.kind](failure)
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = mail.get_body(preferencelist=("plain",))
        text = body.get_content().strip() if body is not None else ""
        self.fake.sent.append({"from": envelope.mail_from, "to": ", ".join(others), "subject": str(mail["Subject"] or ""),
                               "text": text, "raw": envelope.content, "message": mail})
        return "250 2.0.0 Ok: queued"


_SMTP_FAILURES = {
    "rate_limit": lambda f: f"451 4.7.1 Greylisted, please try again in {int(f.retry_after)} seconds",
    "server_error": lambda f: "421 4.3.0 Service not available, closing transmission channel",
    "permanent": lambda f: "550 5.1.1 <customer>: Recipient address rejected: User unknown in virtual mailbox table",
    "window_closed": lambda f: "554 5.7.1 Message rejected",
}


@dataclass(eq=False)
class FakeMail(FakeProviderBase):
    """The fake mail provider: an IMAP mailbox and an SMTP server, both live from construction."""

    address: str = SUPPORT
    user: str = USER
    password: str = PASSWORD
    mailbox: Mailbox = field(default_factory=Mailbox)
    imap_port: int = 0
    smtp_port: int = 0
    smtp_tls_context: Any = None  # an ssl.SSLContext: the SMTP server offers STARTTLS with it
    _last_raw: bytes | None = None

    def __post_init__(self) -> None:
        self.imap_port = self.imap_port or free_port()
        self.imap = _ImapServer(self.imap_port, self.mailbox, self.user, self.password)
        threading.Thread(target=self.imap.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.smtp_port = self.smtp_port or free_port()
        kwargs: dict[str, Any] = {}
        if self.smtp_tls_context is not None:
            kwargs.update(tls_context=self.smtp_tls_context, require_starttls=True)
        self.smtp = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.smtp_port, **kwargs)
        self.smtp.start()
        self.app = Starlette(routes=[Route("/sent", self._sent_page)])

    async def _sent_page(self, request: Request) -> JSONResponse:
        return JSONResponse({"sent": [{"to": s["to"], "subject": s["subject"], "text": s["text"]} for s in self.sent]})

    def is_support_address(self, address: str) -> bool:
        local, _, domain = address.lower().rpartition("@")
        mine_local, _, mine_domain = self.address.lower().rpartition("@")
        return domain == mine_domain and local.split("+", 1)[0] == mine_local

    @classmethod
    def locate(cls, config: dict[str, Any]) -> str | None:
        """Where a channel's config points, if at a fake mail server (the demo's): a loopback
        IMAP host and the fake's own login. Mail servers are not under ``/fake`` (they speak IMAP
        and SMTP on ports of their own), so the fakes registry asks the fake class."""
        if config.get("imap_host") in LOOPBACK and config.get("username") == USER and config.get("password") == PASSWORD:
            return f"imap://{config['imap_host']}:{config.get('imap_port')}"
        return None

    @classmethod
    def customer_side(cls, config: dict[str, Any]) -> MailCustomers:
        """How a simulator in any process writes to the mailbox: over this fake's SMTP port."""
        return MailCustomers(address=config["address"], smtp_host=config["smtp_host"], smtp_port=int(config["smtp_port"]))

    def close(self) -> None:
        self.imap.stopping.set()
        self.imap.kill_connections()
        self.imap.shutdown()
        self.imap.server_close()
        self.smtp.stop()

    def kill_imap(self) -> None:
        """Drops every IMAP connection (a server restart, as okno sees it)."""
        self.imap.kill_connections()

    def channel_config(self) -> dict[str, Any]:
        return {
            "address": self.address, "from_name": "Shop support",
            "imap_host": "127.0.0.1", "imap_port": self.imap_port, "imap_security": "none",
            "smtp_host": "127.0.0.1", "smtp_port": self.smtp_port,
            "smtp_security": "starttls" if self.smtp_tls_context is not None else "none",
            "username": self.user, "password": self.password, "verify_tls": self.smtp_tls_context is None, "idle_seconds": 60,
        }

    # ---- the customer's side ------------------------------------------------------------

    def compose(self, sender: str, text: str, **kw: Any) -> bytes:  # noqa: ANN401
        return compose_mail(self.address, sender, text, **kw)

    def append(self, raw: bytes) -> int:
        self._last_raw = raw
        return self.mailbox.append(raw)

    async def deliver_text(self, user: str, text: str, **compose: Any) -> httpx.Response:  # noqa: ANN401
        uid = self.append(self.compose(user, text, **compose))
        return httpx.Response(200, json={"uid": uid})

    async def redeliver_last(self) -> httpx.Response:
        """The same message landing twice (a client's resend, a rule copying it back)."""
        if self._last_raw is None:
            raise RuntimeError("nothing delivered yet")
        return httpx.Response(200, json={"uid": self.mailbox.append(self._last_raw)})

    async def deliver_forged_text(self, user: str, text: str) -> httpx.Response:
        """Mail reaches okno only from the mailbox: a request pretending to push one is refused."""
        return await self.post_webhook(self.compose(user, text), {"content-type": "message/rfc822"})

    def sent_texts(self) -> list[str]:
        return [sent["text"] for sent in self.sent]

    def sent_messages(self) -> list[EmailMessage]:
        return [sent["message"] for sent in self.sent]


@dataclass
class MailCustomers:
    """Customers writing to the support mailbox through the fake's SMTP server (as their own
    mail servers would deliver it): usable from any process, unlike the fake itself."""

    address: str
    smtp_host: str
    smtp_port: int

    def connect(self, http: httpx.AsyncClient, path: str) -> None:
        """Mail reaches okno through the mailbox, never a webhook: nothing to connect."""

    async def deliver_text(self, user: str, text: str, *, to: str | None = None, **compose: Any) -> httpx.Response:  # noqa: ANN401
        """``user`` writes ``text`` to the support address (or to ``to``, e.g. a reply address)."""
        raw = compose_mail(to or self.address, user, text, **compose)
        await aiosmtplib.send(raw, sender=user, recipients=[to or self.address], hostname=self.smtp_host, port=self.smtp_port,
                              use_tls=False, start_tls=False, timeout=10)
        return httpx.Response(200, json={"delivered": True})


_counter = itertools.count(1)


def compose_mail(to: str, sender: str, text: str, *, subject: str = "Вопрос по заказу", name: str = "",
                 in_reply_to: str | None = None, references: list[str] | None = None, message_id: str | None = None,
                 headers: dict[str, str] | None = None) -> bytes:
    """A customer's plain-text e-mail to ``to``, as a mail client would send it."""
    mail = EmailMessage()
    mail["From"] = f"{name} <{sender}>" if name else sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = message_id or make_msgid(idstring=f"c{next(_counter)}", domain="customer.example")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to if in_reply_to.startswith("<") else f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(r if r.startswith("<") else f"<{r}>" for r in references)
    for header, value in (headers or {}).items():
        mail[header] = value
    mail.set_content(text)
    return mail.as_bytes()


__all__ = ["FakeMail", "Mailbox", "ScriptedFailure", "compose_mail"]
