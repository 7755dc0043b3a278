"""The reports page in Chromium: the ground-truth simulator's conversations shown as KPI tiles
(with the previous period beside them), charts, the heat map, the operator table, a drill-down
from a tile to the inbox, and an XLSX export, in Russian; periods, day labels and the heat map's
hours in the operator's own time zone (here Yekaterinburg, UTC+5: not the default, Moscow)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from okno.kit import time as okno_time
from okno.reports import ground_truth as gt
from tests.browser.steps import keep_settling, sign_in
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, login, make_operator

ZONE = ZoneInfo("Asia/Yekaterinburg")


async def test_reports_page_shows_the_simulators_figures_and_drills_down(app, client, ctx, browser, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(okno_time, "_offset", okno_time._offset)  # the clock comes back after the test
    monkeypatch.setattr(ctx.settings, "token_ttl_hours", 24 * 365)
    admin = await make_operator(ctx, role="admin", name="Анна")
    headers = await login(client, email=admin["email"])
    assert (await client.patch("/api/v1/auth/me", headers=headers, json={"time_zone": ZONE.key})).status_code == 200
    setup = await gt.prepare(client, headers)
    planned = gt.plan(16)
    await gt.play(client, ctx.db, ctx.settle, setup, planned)
    first_day = min(c.opened for c in planned).astimezone(ZONE).date()
    last_day = max(c.final_resolution for c in planned).astimezone(ZONE).date()
    start = datetime.combine(first_day, datetime.min.time(), ZONE)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), ZONE)
    expected = gt.expected_summary(planned, start, end)

    async with LoopbackServer(app) as okno:
        settling = asyncio.create_task(keep_settling(ctx))
        try:
            page = await (await browser.new_context(locale="ru-RU", viewport={"width": 1440, "height": 1000})).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, okno.url, admin["email"], PASSWORD)
            await page.get_by_test_id("nav-reports").click()
            await expect(page.get_by_test_id("reports")).to_be_visible()
            await page.get_by_test_id("report-from").fill(first_day.isoformat())
            await page.get_by_test_id("report-to").fill(last_day.isoformat())
            await page.get_by_test_id("report-apply").click()
            failed: list[str] = []
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            try:  # a report per day and per hour is many small queries: slow on a loaded machine
                await expect(page.locator("#reports[data-ready='1']")).to_have_count(1, timeout=60_000)
            finally:
                assert errors == [] and failed == [], (errors, failed)

            await expect(page.get_by_test_id("kpi-conversations")).to_have_text(str(expected["conversations"]))
            await expect(page.get_by_test_id("kpi-fcr")).to_have_text(f"{100 * expected['fcr_rate']:.1f} %")
            frt = await page.get_by_test_id("kpi-frt").inner_text()  # units in Russian: "3 мин 12 с", never "min"/"s"
            assert "мин" in frt or "ч" in frt, frt
            assert not any(word in frt.split() for word in ("min", "s", "h")), frt
            await expect(page.locator("[data-kpi='conversations'] .prev")).to_have_text("прошлый период: 0")
            assert await page.evaluate("Object.keys(window.Chart.instances).length") == 5
            # the trend's days are the operator's (Yekaterinburg) days, from the first to the last, not UTC's
            days = await page.evaluate("window.Chart.getChart('chart-times').data.labels")
            assert days[0] == first_day.isoformat() and days[-1] == last_day.isoformat(), days
            assert await page.locator("#heatmap tr").count() == 8
            # each conversation opened counts in its Yekaterinburg weekday and hour
            opened = Counter((c.opened.astimezone(ZONE).weekday(), c.opened.astimezone(ZONE).hour) for c in planned)
            cells = await page.locator("#heatmap td").evaluate_all("cells => cells.map((c) => Number(c.dataset.n))")
            shown = Counter({(i // 24, i % 24): n for i, n in enumerate(cells) if n})
            assert shown == opened, (shown, opened)
            assert await page.locator("#report-operator-rows tr").count() >= 1

            await page.locator("[data-kpi='fcr']").click()
            links = page.locator("#drill-rows a")
            fcr_keys = [c for c in planned if c.reopen is None and c.transfer_at is None and c.key not in gt.repeated(planned)]
            await expect(links).to_have_count(len(fcr_keys))
            export = await page.get_by_test_id("export-summary-xlsx").get_attribute("href")
            body = await page.context.request.get(f"{okno.url}{export}")
            assert body.status == 200 and (await body.body())[:2] == b"PK"
            await links.first.click()
            await page.wait_for_url(f"{okno.url}/inbox?c=*")
            assert errors == []
        finally:
            settling.cancel()
            await asyncio.gather(settling, return_exceptions=True)
