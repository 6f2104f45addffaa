"""The live engine quoting binance, okx and bybit at once against three emulators:
real ccxt clients, REST books seeded from the real recordings, post-only orders, fills,
an exchange going down mid-run, and a shutdown that leaves nothing behind."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from aiohttp import web
from ccxt_mm_testkit.emulator.llm import LlmEmulator, Reply
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.config import AppConfig, LlmConfig
from ccxt_mm.engine.live import LiveEngine, open_market
from ccxt_mm.engine.predictions import LivePredictions
from ccxt_mm.exchange.clients import point_at
from tests.integration.exchanges.conftest import API_KEY, SECRET
from tests.integration.exchanges.test_venues_emulated import ENVS, PASSPHRASE

CONFIG = AppConfig.model_validate(
    {
        "live": {"websocket": False, "poll_secs": 0.05, "fill_poll_secs": 0.1, "stale_secs": 1.0, "reconcile_secs": 0.5},
        "strategy": {"params": {"order_qty": 0.01, "uncalibrated_widen": 1.0}},
        "risk": {"max_position_base": 0.05},
        "spread": {"min_spread_bps": 4.0, "base_bps": {"low": 4.0, "medium": 8.0, "high": 16.0, "extreme": 40.0}},
    }
)


ORPHAN = "mme2eBTCUSDTxorphan"  # named like an order of this run on binance BTC/USDT


async def trade_through_our_quotes(ex, market_id: str) -> None:
    """A taker sweeps the best of our resting orders on each side (what the market does)."""
    for order in list(ex.open_orders(market_id)):
        if order.client_id == ORPHAN:
            continue
        taker = "sell" if order.side == "buy" else "buy"
        ex.trade(market_id, taker, order.price, order.remaining / 2)


async def open_emulated(config: AppConfig, run_id: str, servers: list, clients: list, emus: list, markets: list) -> None:
    """Start an emulator per exchange of ENVS, a real ccxt client on each (keys of the
    emulator's account) and its market, live; each appended to its list (the caller closes the
    clients and stops the servers)."""
    for env in ENVS:
        ex = env.seed()
        server = EmulatorServer(env.routes(ex), ex)
        url = await server.start()
        client = getattr(ccxt_async, env.name)({"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE, "enableRateLimit": False})
        point_at(client, url)
        servers.append(server)
        clients.append(client)
        emus.append((env, ex))
        markets.append(await open_market(config, client, env.symbol, live=True, run_id=run_id))


def run_engine(
    seconds: float,
    break_okx_after: float | None = None,
    meddle_at: float | None = None,
    freeze_bybit_books_at: float | None = None,
    llm: LlmEmulator | None = None,
):
    async def main():
        servers, clients, emus, markets = [], [], [], []
        predictions = None
        if llm is not None:
            llm_server = EmulatorServer(llm.routes())
            servers.append(llm_server)
            cfg = LlmConfig(
                predictor="llm", base_url=f"{await llm_server.start()}/v1", interval_secs=0.3, attempt_timeout_secs=0.5, deadline_secs=1.0
            )
            predictions = LivePredictions.llm(cfg, "sk-test")
        await open_emulated(CONFIG, "e2e", servers, clients, emus, markets)
        engine = LiveEngine(CONFIG, markets, predictions=predictions)
        stop = asyncio.Event()
        runner = asyncio.create_task(engine.run(stop))
        try:
            return await drive(engine, emus, markets, servers, stop, runner)
        finally:
            for c in clients:
                await c.close()
            for s in servers:
                await s.stop()

    async def drive(engine, emus, markets, servers, stop, runner):
        servers = [s for s in servers if s.exchange is not None]  # exchanges only, in ENVS order
        t = 0.0
        while t < seconds:
            await asyncio.sleep(0.25)
            t += 0.25
            for env, ex in emus:
                await trade_through_our_quotes(ex, env.market_id)
            if meddle_at is not None and t == meddle_at:
                # an order of this run the engine does not know (a late create), and one of
                # ours cancelled behind our back (an operator, a maintenance sweep)
                env, ex = emus[0]
                bid, _ = ex.best(env.market_id)
                ex.place(env.market_id, "buy", bid - 100, Decimal("0.01"), ORPHAN, post_only=True)
                env, ex = emus[2]
                ours = [o for o in ex.open_orders(env.market_id) if o.client_id.startswith("mme2e")]
                ex.cancel(env.market_id, ours[0].order_id)
            if freeze_bybit_books_at is not None and t == freeze_bybit_books_at:

                async def books_hang(request, handler):
                    if "orderbook" in request.path:  # the book feed goes silent, orders still work
                        await asyncio.sleep(30)
                    return await handler(request)

                servers[2].fault = books_hang
                open_at_freeze = len(emus[2][1].open_orders())
            if break_okx_after is not None and t >= break_okx_after and servers[1].fault is None:

                async def down(request, handler):
                    return web.Response(status=503, text="Service Unavailable")

                servers[1].fault = down
                okx_requests_at_break = len(servers[1].requests)
                counts_at_break = [m.core.orders.stats.placed + m.core.orders.stats.amended for m in markets]
        if break_okx_after is not None:
            servers[1].fault = None  # back up for the shutdown
        if freeze_bybit_books_at is not None:
            bybit_env, bybit_ex = emus[2]
            left_while_stale = len(bybit_ex.open_orders(bybit_env.market_id))
            servers[2].fault = None
        stop.set()
        await runner
        extra = {}
        if freeze_bybit_books_at is not None:
            extra["left_while_stale"] = left_while_stale
            extra["open_at_freeze"] = open_at_freeze
        if break_okx_after is not None:
            extra = {"counts_at_break": counts_at_break, "okx_requests_at_break": okx_requests_at_break}
        return engine, emus, markets, extra

    return asyncio.run(main())


def test_three_exchanges_quote_at_once_fill_and_leave_no_order_behind():
    engine, emus, markets, _ = run_engine(3.0)
    summary = engine.summary()
    for (env, ex), m in zip(emus, markets, strict=True):
        s = summary[m.key]
        assert s["orders_created"] > 0 and s["book_updates"] > 5, (m.key, s)
        assert ex.open_orders() == [], f"{m.key}: orders left on the exchange"
        # every fill the exchange made reached our ledger, fees included
        ours = [f for f in ex.fills if f.order.client_id.startswith("mme2e")]
        assert len(ours) > 0 and len(ours) == len(m.core.fills), m.key
        assert m.core.inventory.position == pytest.approx(float(sum(f.qty if f.order.side == "buy" else -f.qty for f in ours)), abs=1e-12)
        base, quote = ex.markets[env.market_id].base, ex.markets[env.market_id].quote
        assert m.core.base_balance == pytest.approx(float(ex.balances[base]), abs=1e-9)
        assert m.core.quote_balance == pytest.approx(float(ex.balances[quote]), abs=1e-6)
        # nothing placed crosses the book: every create was a post-only order
        assert all(o.post_only for o in ex.orders.values())
        assert s["tick_to_intent_us_p99"] > 0


@pytest.mark.parametrize(
    "llm",
    [LlmEmulator(fallback=Reply(delay_secs=30.0)), LlmEmulator(fallback=Reply(content="not json")), LlmEmulator()],
    ids=["hanging", "garbage", "answering"],
)
def test_the_predictor_runs_beside_quoting_and_never_holds_it(llm):
    engine, emus, markets, _ = run_engine(2.5, llm=llm)
    summary = engine.summary()
    p = engine.predictions.summary()
    assert p["predictor"] == "llm:gpt-4.1-mini" and p["rounds"] >= 1 and p["requests"] >= 1
    answering = llm.fallback.content is None and not llm.fallback.delay_secs
    if answering:
        assert p["predictions"] >= 3 and engine.predictions.board.latest.keys() == {m.key for m in markets}
        assert all(m.core.prediction is not None for m in markets)  # read by the quoting path
    else:
        assert p["predictions"] == 0 and p["failed_requests"] + p["discarded"] >= 1
    for (_, ex), m in zip(emus, markets, strict=True):
        assert summary[m.key]["orders_created"] > 0 and summary[m.key]["book_updates"] > 5, m.key
        assert ex.open_orders() == [], f"{m.key}: orders left on the exchange"


def test_one_exchange_down_does_not_stop_the_others():
    _, emus, markets, extra = run_engine(3.0, break_okx_after=1.0)
    binance, okx, bybit = markets
    placed_at_break = extra["counts_at_break"]
    # still quoting: placing, or amending where the exchange amends in place
    assert binance.core.orders.stats.placed + binance.core.orders.stats.amended > placed_at_break[0]
    assert bybit.core.orders.stats.placed + bybit.core.orders.stats.amended > placed_at_break[2]
    assert okx.errors, "okx failures were counted"
    assert okx.stale or okx.errors.get("book", 0) > 0
    for (_, ex), m in zip(emus, markets, strict=True):
        assert ex.open_orders() == [], f"{m.key}: orders left on the exchange"


def test_reconciliation_cancels_orphans_frees_vanished_slots_and_finds_no_drift():
    _, emus, markets, _ = run_engine(3.0, meddle_at=1.0)
    binance, _, bybit = markets
    assert binance.reconciled["orphans_cancelled"] == 1
    assert bybit.reconciled["vanished"] >= 1
    for (env, ex), m in zip(emus, markets, strict=True):
        assert ex.open_orders() == []
        base, quote = ex.markets[env.market_id].base, ex.markets[env.market_id].quote
        assert m.drift[base] == pytest.approx(0.0, abs=1e-9) and m.drift[quote] == pytest.approx(0.0, abs=1e-6), m.key
        assert m.core.orders.stats.placed > 0


def test_a_silent_book_feed_pulls_that_market_s_quotes():
    """bybit's order book stops updating (requests hang) while its order API works: after
    live.stale_secs its quotes are cancelled; the other markets keep quoting."""
    _, _, markets, extra = run_engine(4.0, freeze_bybit_books_at=1.0)
    binance, _, bybit = markets
    assert extra["open_at_freeze"] > 0 and extra["left_while_stale"] == 0
    assert bybit.stale
    assert binance.core.orders.stats.placed > 0 and not binance.stale
