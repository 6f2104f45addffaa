"""The adversarial strategy in the live engine: installed as a plugin (entry point), quoting
binance, okx and bybit through ccxt's real clients against the loopback emulators while
takers trade through its bids, then through its asks. Every order the core sends is checked as it goes out (tick
and lot grid, post-only side of the book, risk mode, worst case within the limit); the
exchanges refuse nothing for size, notional or balance; the ledgers equal the exchanges'
fills; and no order is left behind."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from ccxt_mm_testkit.emulator.server import EmulatorServer
from prometheus_client import CollectorRegistry, generate_latest

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.live import LiveEngine, open_market
from ccxt_mm.exchange.clients import point_at
from ccxt_mm.metrics import EngineCollector
from tests.integration.adversary import GuardedVenue, register
from tests.integration.exchanges.conftest import API_KEY, SECRET
from tests.integration.exchanges.test_venues_emulated import ENVS, PASSPHRASE

LIMIT = 0.02
CONFIG = AppConfig.model_validate(
    {
        "live": {"websocket": False, "poll_secs": 0.05, "fill_poll_secs": 0.1, "stale_secs": 1.0, "reconcile_secs": 0.5},
        "strategy": {"name": "adversary", "params": {"seed": 7, "p_raise": 0.02, "big_qty": 0.05}},
        "risk": {"max_position_base": LIMIT, "max_exposure_quote": 1e7},
        "orders": {"client_id_prefix": "adv"},
    }
)


async def trade_through(ex, market_id: str, side: str, share: Decimal) -> None:
    """Takers trade ``share`` of each of our resting orders on ``side``, in whole lots."""
    for order in list(ex.open_orders(market_id)):
        qty = (order.remaining * share).quantize(order.market.lot)
        if qty > 0 and order.side == side:
            ex.trade(market_id, "sell" if order.side == "buy" else "buy", order.price, qty)


def run(seconds: float):
    async def main():
        servers, clients, emus, markets, guards = [], [], [], [], []
        try:
            for i, env in enumerate(ENVS):
                ex = env.seed()
                server = EmulatorServer(env.routes(ex), ex)
                url = await server.start()
                params = {"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE, "enableRateLimit": False}
                client = getattr(ccxt_async, env.name)(params)
                point_at(client, url)
                servers.append(server)
                clients.append(client)
                emus.append((env, ex))
                config = CONFIG.model_copy(update={"strategy": CONFIG.strategy.model_copy(update={"params": {"seed": i, "p_raise": 0.02}})})
                m = await open_market(config, client, env.symbol, live=True, run_id="adv")
                guard = GuardedVenue(m.core.venue, m.core, LIMIT)
                m.core.venue = guard
                markets.append(m)
                guards.append(guard)
            engine = LiveEngine(CONFIG, markets)
            stop = asyncio.Event()
            runner = asyncio.create_task(engine.run(stop))
            worst = {m.key: 0.0 for m in markets}
            steps = int(seconds / 0.05)
            for step in range(steps):
                await asyncio.sleep(0.05)
                for m in markets:
                    buy, sell = m.core.orders.resting()
                    pos = m.core.inventory.position
                    worst[m.key] = max(worst[m.key], pos + buy, sell - pos)
                # sellers first (we get long, to the limit), then buyers; partial fills, and a
                # whole order now and then (halving alone never reaches the limit)
                share = Decimal(1) if step % 4 == 0 else Decimal("0.5")
                for env, ex in emus:
                    await trade_through(ex, env.market_id, "buy" if step < steps // 2 else "sell", share)
            stop.set()
            await runner
            return engine, emus, markets, guards, worst
        finally:
            for c in clients:
                await c.close()
            for s in servers:
                await s.stop()

    return asyncio.run(main())


def test_the_adversary_cannot_move_the_live_engine_outside_the_envelope(tmp_path, monkeypatch):
    register(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    engine, emus, markets, guards, worst = run(4.0)
    summary = engine.summary()
    modes = set()
    for (_, ex), m, guard in zip(emus, markets, guards, strict=True):
        s = summary[m.key]
        assert guard.breaches == [], (m.key, guard.breaches[:5])
        assert worst[m.key] <= LIMIT + m.core.lot_size + 1e-12, (m.key, worst[m.key])
        assert s["orders_created"] > 0 and s["fills"] > 0, (m.key, s)
        assert s["envelope"]["strategy_errors"] > 0 and s["envelope"]["dropped"], (m.key, s["envelope"])
        # our own venue refuses queued creates at the stop; okx and bybit refuse an amend to no
        # more than the order has filled, which fills not polled yet can make it here (the takers
        # hit every order every 50 ms, fills are polled every 100 ms): the order rests as it was
        refused = [r for kind, r in guard.rejects if kind != "AmendOrder" and "not sent, shutting down" not in r]
        assert refused == [], f"{m.key}: the exchange refused orders: {refused}"
        assert ex.open_orders() == [], f"{m.key}: orders left on the exchange"
        ours = [f for f in ex.fills if f.order.client_id.startswith("adv")]
        assert m.core.inventory.position == pytest.approx(float(sum(f.qty if f.order.side == "buy" else -f.qty for f in ours)), abs=1e-12)
        assert all(o.post_only for o in ex.orders.values())
        modes |= guard.modes_sent_in
    assert "reduce_only" in modes, "the adversary never reached its limit: the run proves less than it says"
    # the operator sees the same counts in the metrics
    registry = CollectorRegistry()
    registry.register(EngineCollector(engine))
    metrics = generate_latest(registry).decode()
    for m in markets:
        exchange, symbol = m.key.split(" ")
        n = summary[m.key]["envelope"]["dropped"]["bad_side"]
        assert f'ccxt_mm_envelope_dropped_total{{exchange="{exchange}",reason="bad_side",symbol="{symbol}"}} {float(n)}' in metrics
        n = summary[m.key]["envelope"]["strategy_errors"]
        assert f'ccxt_mm_strategy_errors_total{{exchange="{exchange}",symbol="{symbol}"}} {float(n)}' in metrics
