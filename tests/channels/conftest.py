"""Fixtures the e-mail channel's test modules share: the fake mail server (real IMAP and SMTP
sockets on loopback), a real Dovecot, and no IDLE watcher left running after a test.

The e-mail modules ask for the last with ``pytestmark = pytest.mark.usefixtures("no_email_watchers_left")``.
"""

from __future__ import annotations

import pytest

from okno.channels.adapters.email.adapter import watchers
from okno.channels.adapters.email.fake import FakeMail
from tests.channels.mail_servers import Dovecot


@pytest.fixture
def no_email_watchers_left():  # noqa: ANN201
    yield
    watchers.stop_all()


@pytest.fixture
def fake():  # noqa: ANN201
    """The fake mail server."""
    mail = FakeMail()
    yield mail
    mail.close()


@pytest.fixture
def dovecot():  # noqa: ANN201
    server = Dovecot().start()
    yield server
    server.remove()
