"""A third-party channel, installed with pip and found through the ``okno.channels`` entry point,
driven over HTTP through a real ``okno serve`` process: nothing in okno names it.

The example package (examples/okno-example-channel) is built and installed into a temporary
folder (never into the shared environment); the server gets that folder on its PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LoopbackServer
from tests.test_server_process import ADMIN, OknoProcess, _poll, server_env  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "okno-example-channel"
API_KEY = "plugin-process-key-42"


@pytest.fixture(scope="module")
def plugin_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install --no-deps --target``: the package and its entry point metadata, in a folder."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(EXAMPLE, work / "source", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (target / "okno_example_channel" / "adapter.py").exists()
    return target


@pytest.fixture
def plugin_env(server_env: dict[str, str], plugin_target: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:  # noqa: F811
    monkeypatch.syspath_prepend(str(plugin_target))  # this process serves the plugin's fake provider
    pythonpath = os.pathsep.join(p for p in (str(plugin_target), server_env.get("PYTHONPATH", "")) if p)
    yield {**server_env, "PYTHONPATH": pythonpath}


async def test_an_installed_plugin_adds_a_polled_channel_with_its_own_identity_kind(plugin_env: dict[str, str]) -> None:
    from okno_example_channel.fake import FakeGuestbook

    okno = OknoProcess(plugin_env)
    assert okno.cli("admin", "create", "--email", ADMIN[0], "--password", ADMIN[1]).returncode == 0
    fake = FakeGuestbook(api_key=API_KEY)
    async with LoopbackServer(fake.app) as provider:
        await okno.start()
        try:
            async with httpx.AsyncClient(base_url=okno.url, timeout=10) as http:
                token = (await http.post("/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}

                kinds = {k["kind"]: k for k in (await http.get("/api/v1/channels/kinds", headers=auth)).json()["items"]}
                assert kinds["guestbook"]["identity_kinds"] == ["guestbook"]
                assert kinds["guestbook"]["capabilities"]["ingress"] == ["poll"]
                rules = (await http.get("/api/v1/identity-rules", headers=auth)).json()["items"]
                assert {"kind": "phone", "source": "guestbook.verified_phone", "proves": True} in [
                    {k: r[k] for k in ("kind", "source", "proves")} for r in rules
                ]

                created = await http.post(
                    "/api/v1/channels",
                    json={"kind": "guestbook", "name": "Гостевая книга", "config": {"base_url": provider.url, "api_key": API_KEY, "poll_seconds": 0.2}},
                    headers=auth,
                )
                assert created.status_code == 201, created.text
                channel = created.json()
                assert channel["config"]["api_key"] == "********" and channel["webhook_url"] is None

                # the plugin's own route, mounted through the registry
                echo = await http.get(f"/channels/guestbook/{channel['id']}/echo", params={"challenge": "ping-1"})
                assert echo.status_code == 200 and echo.json() == {"challenge": "ping-1", "channel": "Гостевая книга"}

                # traffic arrives by polling; the customer gets the plugin's identity kind
                fake.add_entry("@Gosha_P", "Добрый день! Вопрос по брони.", name="Гоша", phone="+7 916 555-44-33", phone_verified=True)

                async def customers() -> list[dict]:
                    return (await http.get("/api/v1/customers", params={"identity": "guestbook: GOSHA_P"}, headers=auth)).json()["items"]

                found = await _poll(customers, bool)
                assert len(found) == 1, "the polled entry never became a customer"
                assert {(i["kind"], i["value"]) for i in found[0]["identities"]} == {("guestbook", "gosha_p"), ("phone", "+79165554433")}

                conversations = (await http.get("/api/v1/conversations", params={"customer_id": found[0]["id"]}, headers=auth)).json()["items"]
                assert len(conversations) == 1
                reply = await http.post(f"/api/v1/conversations/{conversations[0]['id']}/messages", json={"text": "Бронь подтверждена"}, headers=auth)
                assert reply.status_code == 201, reply.text

                async def replies() -> list[dict]:
                    return fake.replies

                assert [(r["to"], r["text"]) for r in await _poll(replies, bool)] == [("gosha_p", "Бронь подтверждена")]

                # a revoked key: the poll worker backs off and admins see the channel needs action
                fake.revoke_key()

                async def shown() -> dict:
                    return (await http.get(f"/api/v1/channels/{channel['id']}", headers=auth)).json()

                health = await _poll(shown, lambda c: c["health"] == "needs_action")
                assert health["health"] == "needs_action" and "401" in health["health_reason"]
                assert health["polling"]["failures"] >= 1 and "401" in health["polling"]["last_error"]
        finally:
            okno.stop()
