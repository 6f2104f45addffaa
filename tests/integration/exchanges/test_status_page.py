"""The status page of a live run, read in a real headless browser (Debian's Chromium driven by
Playwright): the numbers on the page are the engine's, market by market and asset by asset of
the book the markets share."""

from __future__ import annotations

import asyncio
import math
import os
import shutil

import pytest

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.live import LiveEngine
from ccxt_mm.engine.status import portfolio_status, run_status
from ccxt_mm.metrics import serve_metrics
from ccxt_mm.report.status_page import ASSET_COLUMNS, COLUMNS, cell
from tests.integration.exchanges.test_live_engine_emulated import open_emulated
from tests.integration.exchanges.test_venues_emulated import ENVS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CONFIG = AppConfig.model_validate(
    {
        "live": {"websocket": False, "poll_secs": 0.05, "fill_poll_secs": 0.1, "order_budget_per_min": 600, "stale_secs": 60.0},
        "strategy": {"params": {"order_qty": 0.01, "uncalibrated_widen": 1.0}},
        "risk": {"max_position_base": 0.05},
        "spread": {"min_spread_bps": 4.0, "base_bps": {"low": 4.0, "medium": 8.0, "high": 16.0, "extreme": 40.0}},
    }
)
CHANGING = {"book_age_secs", "order_headroom"}
"""Fields that move between the page's read and the engine's (time passes): checked apart."""

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it, so CI never skips",
)


async def page_rows(url: str) -> dict[str, list[dict[str, str]]]:
    """Each row of each table of the page at ``url`` (by table id) as field → text, as the
    browser renders it."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(url)
            tables = {}
            for table in ("markets", "portfolio"):
                rows = await page.locator(f"table#{table} tr:has(td)").all()
                tables[table] = [
                    {await td.get_attribute("data-field") or "": await td.inner_text() for td in await row.locator("td").all()}
                    for row in rows
                ]
            return tables
        finally:
            await browser.close()


async def books_hang(request, handler):
    """An exchange whose book requests never answer (orders and fills still work)."""
    if any(word in request.path for word in ("depth", "books", "orderbook")):
        await asyncio.sleep(60)
    return await handler(request)


def test_the_status_page_shows_the_engines_numbers_for_every_market():
    """Three exchanges quoted live on their emulators, one fill made on each: the page a browser
    loads has a row per market whose every cell is the engine's figure at that moment."""

    async def main():
        servers, clients, markets, emus = [], [], [], []
        await open_emulated(CONFIG, "page", servers, clients, emus, markets)
        engine = LiveEngine(CONFIG, markets)
        stop = asyncio.Event()
        runner = asyncio.create_task(engine.run(stop))
        site = await serve_metrics(engine, "127.0.0.1", 0)
        try:
            port = site.addresses[0][1]
            for _ in range(100):  # until each exchange holds an order of ours
                if all(ex.open_orders(env.market_id) for env, ex in emus):
                    break
                await asyncio.sleep(0.1)
            for env, ex in emus:  # a taker through one of our orders: a fill each
                order = ex.open_orders(env.market_id)[0]
                ex.trade(env.market_id, "sell" if order.side == "buy" else "buy", order.price, order.remaining / 2)
            await asyncio.sleep(1.0)
            for server in servers:  # the books stop coming: the quotes stand still while the page is read
                server.fault = books_hang
            await asyncio.sleep(0.5)
            tables = await page_rows(f"http://127.0.0.1:{port}/status")
            return tables, run_status(engine), portfolio_status(engine)
        finally:
            stop.set()
            await runner
            await site.cleanup()
            for c in clients:
                await c.close()
            for s in servers:
                await s.stop()

    tables, statuses, assets = asyncio.run(main())
    rows = tables["markets"]
    assert [r["market"] for r in rows] == [s.market for s in statuses] == [f"{e.name} {e.symbol}" for e in ENVS]
    for row, status in zip(rows, statuses, strict=True):
        assert set(row) == {name for name, _, _ in COLUMNS}
        for name, _, _ in COLUMNS:
            if name not in CHANGING:
                assert row[name] == cell(getattr(status, name)), (status.market, name)
        assert status.fills >= 1 and status.open_orders >= 1 and status.mode == "live" and math.isfinite(status.mid)
        assert 0.0 <= float(row["book_age_secs"]) < 2.0
        assert 0.0 <= float(row["order_headroom"]) <= 600
    # the book the markets share: BTC on binance and okx together, LTC on bybit
    assert [(a.asset, a.markets) for a in assets] == [("BTC", 2), ("LTC", 1)]
    by_market = {s.market: s.position_base for s in statuses}
    assert assets[0].position_base == pytest.approx(by_market["binance BTC/USDT"] + by_market["okx BTC/USDT"], abs=1e-12)
    for row, asset in zip(tables["portfolio"], assets, strict=True):
        assert row == {name: cell(getattr(asset, name)) for name, _, _ in ASSET_COLUMNS}
    assert assets[0].book == "this process" and row["limit_base"] == "–"
