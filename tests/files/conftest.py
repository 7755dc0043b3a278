"""Fixtures for the file, template and start-conversation tests."""

from __future__ import annotations

import pytest

from tests.channels.test_widget import widget  # noqa: F401  (a widget channel served on loopback)
from tests.conftest import LoopbackServer
from tests.test_delivery import receiver  # noqa: F401  (a fake integrator behind the API channel)


@pytest.fixture
async def served():  # noqa: ANN201
    """Serves fake providers on loopback for the test: ``fake = await served(FakeVk())``."""
    servers = []

    async def serve(fake):  # noqa: ANN001, ANN202
        server = LoopbackServer(fake.app)
        await server.__aenter__()
        servers.append(server)
        fake.base_url = server.url
        return fake

    yield serve
    for server in servers:
        await server.__aexit__(None, None, None)
