"""Regenerates the screenshots of the main screens in docs/screenshots: the inbox with an open
conversation, the contacts page, the supervisor page and the administration page, in Russian and
English, on a desktop (1440×900) and a phone (390×844).

Seeds the demo into a fresh SQLite database in a temporary folder, serves okno on a loopback
port in this process (no background workers: the pictures show the seeded state) and drives
headless Chromium (``/usr/bin/chromium``, or ``OKNO_CHROMIUM``) signed in as the demo admin.

    .venv/bin/python bench/screenshots.py [--out docs/screenshots] [--customers 120]

Writes ``<screen>-<ru|en>-<desktop|phone>.png`` and prints each file's name and size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
from pathlib import Path

# bench/email.py would shadow the standard library's email package that uvicorn imports
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import uvicorn  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from playwright.async_api import Page, async_playwright  # noqa: E402

from okno.app import create_app  # noqa: E402
from okno.cli import _migrate  # noqa: E402
from okno.config import Settings  # noqa: E402
from okno.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, seed_demo  # noqa: E402
from okno.kit import pii  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
DEVICES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
CHROMIUM = os.environ.get("OKNO_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _shoot(page: Page, base: str, out: Path, lang: str, device: str) -> list[Path]:
    taken = []

    async def save(name: str) -> None:
        path = out / f"{name}-{lang}-{device}.png"
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(path))
        taken.append(path)

    await page.goto(f"{base}/inbox?queue=all")
    await page.locator("#inbox-list .row").first.click()
    await page.get_by_test_id("conversation-title").wait_for()
    await save("inbox")
    for name, path in (("contacts", "/contacts"), ("supervisor", "/supervisor"), ("admin", "/admin")):
        await page.goto(f"{base}{path}")
        await save(name)
    return taken


async def main(out: Path, customers: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="okno-screens-") as data_dir:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(data_dir=Path(data_dir), secret_keys=Fernet.generate_key().decode(), log_level="warning", allow_private_urls=True)
        pii.use_keys(settings.fernet_keys())  # the demo's personal data is sealed with this run's key
        await _migrate(settings)
        await seed_demo(settings, customers=customers, base_url=base)
        app = create_app(settings, start_workers=False)
        async with app.router.lifespan_context(app):
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            try:
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
                    for lang in ("ru", "en"):
                        for device, viewport in DEVICES.items():
                            context = await browser.new_context(locale=lang, viewport=viewport, is_mobile=device == "phone", color_scheme="light")
                            page = await context.new_page()
                            await page.goto(f"{base}/login")
                            await page.fill("#login-form [name=email]", DEMO_ADMIN_EMAIL)
                            await page.fill("#login-form [name=password]", DEMO_PASSWORD)
                            await page.press("#login-form [name=password]", "Enter")
                            await page.wait_for_url(f"{base}/inbox")
                            chosen = await page.evaluate(
                                """async (lang) => (await fetch("/ui/preferences/language", {method: "POST", credentials: "same-origin",
                                   headers: {"Content-Type": "application/json", "X-Okno-Client": "web"}, body: JSON.stringify({locale: lang})})).status""",
                                lang,
                            )
                            assert chosen == 200, chosen
                            for path in await _shoot(page, base, out, lang, device):
                                print(f"{path.name}: {path.stat().st_size // 1024} KB")
                            await context.close()
                    await browser.close()
            finally:
                server.should_exit = True
                await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--customers", type=int, default=120)
    args = parser.parse_args()
    asyncio.run(main(args.out, args.customers))
