"""Real mail servers for the e-mail channel's integration tests.

``Dovecot`` starts the Debian package's ``dovecot`` on a free loopback port with a throw-away
configuration: one passwd-file user, a maildir under the test's temporary folder owned by
``nobody``, no TLS. Tests that need it skip, saying why, where ``/usr/sbin/dovecot`` is missing.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
DOVEADM = shutil.which("doveadm") or ("/usr/bin/doveadm" if Path("/usr/bin/doveadm").exists() else None)
USER = "support"
PASSWORD = "dovecot-test-password"

needs_dovecot = pytest.mark.skipif(
    DOVECOT is None or DOVEADM is None, reason="Dovecot is not installed (Debian: apt-get install dovecot-imapd); the IMAP integration tests need a real server"
)

_CONFIG = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/home/%u/Maildir
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
"""


class Dovecot:
    def __init__(self) -> None:
        # its own folder under /tmp (pytest's are private to us: Dovecot's auth and mail processes
        # run as other users and must read the passwd file and write the maildir)
        self.root = root = Path(tempfile.mkdtemp(prefix="okno-dovecot-"))
        root.chmod(0o755)
        self.port = free_port()
        for folder in ("run", "state", "home"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (root / "passwd").chmod(0o644)
        if os.geteuid() == 0:  # the maildir belongs to nobody, as on a real server
            uid, gid = "nobody", "nogroup"
            shutil.chown(root / "home", "nobody", "nogroup")
        else:
            uid, gid = str(os.getuid()), str(os.getgid())
        self.config = root / "dovecot.conf"
        self.config.write_text(_CONFIG.format(root=root, port=self.port, uid=uid, gid=gid))

    def start(self) -> Dovecot:
        # the daemon keeps inherited pipes open: its output goes to the log file, not to us. Right
        # after stop() the killed processes may still hold the port or the run directory for a
        # moment (the master then exits 89): the start is tried again until they are gone.
        deadline = time.monotonic() + 10
        while (started := subprocess.run([DOVECOT, "-c", str(self.config)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot exited {started.returncode}: " + self.log())
            time.sleep(0.1)
        while True:
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=1).logout()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dovecot did not start: " + self.log()) from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stops the server the hard way (the master and its children get SIGKILL): clients see
        their connections drop, as when a mail server crashes."""
        pid_file = self.root / "run" / "master.pid"
        if not pid_file.exists():
            return
        master = int(pid_file.read_text().split()[0])
        children = [int(p) for p in _children(master)]
        for pid in [master, *children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pid_file.unlink(missing_ok=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=0.2).logout()
                time.sleep(0.05)
            except OSError:
                return

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def connect(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        imap = self.connect()
        try:
            kind, data = imap.append(mailbox, "", imaplib.Time2Internaldate(time.time()), raw)
            assert kind == "OK", data
        finally:
            imap.logout()

    def flags(self) -> list[bytes]:
        imap = self.connect()
        try:
            imap.select("INBOX", readonly=True)
            _, data = imap.fetch("1:*", "(FLAGS)")
            return [d for d in data if d]
        finally:
            imap.logout()

    def change_uidvalidity(self, value: int) -> None:
        subprocess.run(
            [DOVEADM, "-c", str(self.config), "mailbox", "update", "-u", USER, "--uid-validity", str(value), "INBOX"],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def channel_config(self, smtp_port: int, **changes: object) -> dict:
        return {
            "address": "support@shop.example", "from_name": "Shop support",
            "imap_host": "127.0.0.1", "imap_port": self.port, "imap_security": "none",
            "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none",
            "username": USER, "password": PASSWORD, "idle_seconds": 60, **changes,
        }


def _children(pid: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(entry.name)
    return found
