"""One book of risk across three exchanges: the live engine quotes the ETH/USDT linear swap on
the emulated binance (1 ETH a contract), okx (0.1 ETH a contract) and bybit at once, through
ccxt's real clients, each market's own position limit 0.05 ETH and the portfolio's 0.05 ETH
for all three together."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from ccxt_mm_testkit.emulator.core import EmulatedExchange

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.live import LiveEngine, open_market
from tests.integration.exchanges.conftest import step_books
from tests.integration.exchanges.test_swap_live import BINANCE, BYBIT, OKX, SwapEnv, client_on, futures_exchange

ENVS: tuple[SwapEnv, ...] = (BINANCE, OKX, BYBIT)
SYMBOL = "ETH/USDT:USDT"
LIMIT = Decimal("0.05")


def config() -> AppConfig:
    return AppConfig.model_validate(
        {
            "live": {
                "markets": [{"exchange": env.name, "symbol": SYMBOL} for env in ENVS],
                "websocket": False,
                "poll_secs": 0.05,
                "fill_poll_secs": 0.1,
                "stale_secs": 1.0,
                "reconcile_secs": 0.3,
            },
            "market": {"symbol": SYMBOL, "contract_size": 1.0, "leverage": 3},
            "strategy": {"params": {"order_qty": 0.02, "uncalibrated_widen": 1.0}},
            "risk": {"max_position_base": float(LIMIT)},
            "portfolio": {"max_asset_base": {"ETH": float(LIMIT)}},
            "spread": {"min_spread_bps": 1.0, "base_bps": {"low": 1.0, "medium": 2.0, "high": 4.0, "extreme": 10.0}},
        }
    )


def eth(env: SwapEnv, ex: EmulatedExchange) -> Decimal:
    """The ETH long the exchange holds for us."""
    return ex.position(env.linear.id).contracts * env.linear.contract_size


def bids_resting(env: SwapEnv, ex: EmulatedExchange) -> Decimal:
    """ETH our resting bids on the exchange would buy."""
    return sum((o.remaining * env.linear.contract_size for o in ex.open_orders(env.linear.id) if o.side == "buy"), Decimal(0))


def test_three_exchanges_hold_one_limit_and_a_fill_on_one_moves_the_others():
    """Takers hit every bid of ours on binance only for a second, then on all three for two:
    after binance's first fill, okx's and bybit's bids shrink to the room the portfolio leaves
    (every resting bid everywhere counted as filled) and their inventory term counts binance's
    long; the ETH held on the three exchanges together, and held plus every bid resting,
    never pass 0.05 (each market alone would allow 0.05: 0.15 together), and after the shutdown
    each market's ledger is its exchange's."""
    worst: list[Decimal] = []
    skews: list[tuple[float, float, float]] = []

    async def main() -> tuple[LiveEngine, dict[str, EmulatedExchange]]:
        exs = {env.name: futures_exchange(env) for env in ENVS}
        opened = [await client_on(env, exs[env.name]) for env in ENVS]
        frames = [(exs[env.name], env.linear.id, env.books[env.linear.id]()) for env in ENVS]
        stepping = asyncio.create_task(step_books(frames, 0.1))
        try:
            cfg = config()
            markets = [await open_market(cfg, client, SYMBOL, live=True, run_id="pf") for _, client in opened]
            engine = LiveEngine(cfg, markets)
            stop = asyncio.Event()
            runner = asyncio.create_task(engine.run(stop))
            for step in range(15):
                await asyncio.sleep(0.2)
                for env in ENVS[:1] if step < 5 else ENVS:
                    ex = exs[env.name]
                    for o in ex.open_orders(env.linear.id):
                        if o.side == "buy":
                            ex.trade(env.linear.id, "sell", o.price, o.remaining)
                worst.append(sum(eth(env, exs[env.name]) + bids_resting(env, exs[env.name]) for env in ENVS))
                if step == 4:  # binance alone has filled: what okx's inventory term counts besides its own
                    okx = markets[1]
                    skews.append((engine.portfolio.others(okx.key), float(eth(BINANCE, exs["binance"])), okx.core.inventory.position))
            stop.set()
            await runner
            for m in markets:
                await engine.reconcile(m)
            return engine, exs
        finally:
            stepping.cancel()
            for server, client in opened:
                await client.close()
                await server.stop()

    engine, exs = asyncio.run(main())
    held = {env.name: eth(env, exs[env.name]) for env in ENVS}
    assert held["binance"] > 0 and held["okx"] + held["bybit"] > 0, held  # both phases filled
    assert sum(held.values()) <= LIMIT and max(worst) <= LIMIT + Decimal("1e-9"), (held, worst)
    others, binance_then, okx_own = skews[0]
    assert 0 < others <= binance_then + 1e-12 and okx_own == 0.0  # binance's fills as polled so far, in ETH
    assert engine.portfolio.position("ETH") == pytest.approx(float(sum(held.values())), abs=1e-9)
    for m, env in zip(engine.markets, ENVS, strict=True):
        assert m.core.base_balance == pytest.approx(float(exs[env.name].position(env.linear.id).contracts), abs=1e-12)
        assert not exs[env.name].open_orders()
