"""A live engine quoting two symbols on each of binance, okx and bybit (ccxt's real clients
against the loopback emulators), with one fault injected on one exchange for a while, and the
invariants every scenario must keep, checked rather than logged.

Books come by REST polling (static books), or with ``websocket`` by ccxt.pro's
``watch_order_book`` and fills by ``watch_my_trades`` over the emulators' websockets, each
exchange's books stepping through its own real recording every 50 ms."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import ccxt.async_support as ccxt_async
from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
from ccxt_mm_testkit.emulator.public_ws import PublicStream
from ccxt_mm_testkit.emulator.server import EmulatorServer
from ccxt_mm_testkit.emulator.websockets import websockets

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.live import LiveEngine, LiveMarket, open_market
from ccxt_mm.exchange.clients import client_class, point_at
from ccxt_mm.execution.orders import OrderStatus
from tests.integration.exchanges.conftest import API_KEY, SECRET, recorded_frames, step_books
from tests.integration.exchanges.test_venues_emulated import ENVS, PASSPHRASE, Env

SETTINGS = {
    "live": {
        "websocket": False,
        "poll_secs": 0.05,
        "fill_poll_secs": 0.1,
        "stale_secs": 0.6,
        "reconcile_secs": 0.5,
        "backoff_max_secs": 0.5,
    },
    "strategy": {"params": {"order_qty": 0.01, "uncalibrated_widen": 1.0}},
    "risk": {"max_position_base": 0.05, "max_exposure_quote": 1e7},
    "spread": {"min_spread_bps": 4.0, "base_bps": {"low": 4.0, "medium": 8.0, "high": 16.0, "extreme": 40.0}},
}
CONFIG = AppConfig.model_validate(SETTINGS)
WS_CONFIG = AppConfig.model_validate(
    SETTINGS | {"live": SETTINGS["live"] | {"websocket": True, "ws_fallback_after": 2, "ws_retry_secs": 1.0}}
)
LIMIT = CONFIG.risk.max_position_base
PREFIX = CONFIG.orders.client_id_prefix
FAULT_SECS = 1.2
FRAME_SECS = 0.05


async def move_books(venues: list[Venue]) -> None:
    """Every :data:`FRAME_SECS`, each market's book takes the next frame of its exchange's
    recording (both markets of an exchange show the same book)."""
    frames = [(v.ex, market_id, recorded_frames(v.env.name, v.env.symbol)) for v in venues for market_id in v.market_ids]
    await step_books(frames, FRAME_SECS)


def add_second_market(ex: EmulatedExchange, env: Env) -> str:
    """A second market, ETH/USDT by name, that shows the first market's real recorded book
    (same prices, quantities, tick and lot): two symbols per exchange quoting at once; returns
    its exchange id."""
    first = ex.markets[env.market_id]
    market_id = "ETH-USDT" if env.name == "okx" else "ETHUSDT"
    ex.markets[market_id] = EmuMarket("ETH/USDT", market_id, "ETH", "USDT", first.tick, first.lot, first.min_qty, first.min_notional)
    bids, asks = ex.depth(first.id, 1000)
    ex.set_book(market_id, [(str(p), str(q)) for p, q in bids], [(str(p), str(q)) for p, q in asks])
    ex.balances["ETH"] = ex.balances[first.base]
    return market_id


@dataclass
class Venue:
    env: Env
    ex: EmulatedExchange
    server: EmulatorServer
    market_ids: list[str]
    book_stream: PublicStream | None

    def market_id(self, key: str) -> str:
        """Exchange id of the market a live market key (``okx ETH/USDT``) names."""
        return self.market_ids[0 if key.endswith(self.env.symbol) else 1]


@dataclass
class Outcome:
    engine: LiveEngine
    venues: list[Venue]
    start_balances: dict[str, tuple[float, float]]
    """Market key → (base, quote) of the core's ledger when it started."""
    worst: dict[str, float] = field(default_factory=dict)
    """Market key → largest |position| including every resting order, over the run."""
    untouched_quoting: dict[str, bool] = field(default_factory=dict)
    """Market key → still quoting (book moving, orders resting) at the end of the fault."""
    touched_quoting: dict[str, bool] = field(default_factory=dict)
    """The same for the markets of the faulted exchange."""
    open_orders_match: dict[str, tuple[set, set, set]] = field(default_factory=dict)
    """Exchange → (on the exchange, open in the engine, in flight in the engine) after recovery."""
    recovered: dict[str, bool] = field(default_factory=dict)
    request_rates: tuple[float, float] = (0.0, 0.0)
    """Requests per second the faulted exchange received in the half second before the fault,
    and while it lasted."""
    books_match: dict[str, bool] = field(default_factory=dict)
    """Market key → the engine's top 10 levels equal the exchange's once the market is quiet
    (websocket runs)."""


async def trade_through(ex: EmulatedExchange) -> None:
    """Takers trade half of each of our resting orders (partial fills all run long)."""
    for order in list(ex.open_orders()):
        if order.client_id.startswith(PREFIX):
            taker = "sell" if order.side == "buy" else "buy"
            qty = (order.remaining / 2).quantize(order.market.lot)
            if qty > 0:
                ex.trade(order.market.id, taker, order.price, qty)


def ours(ex: EmulatedExchange, market_id: str | None = None) -> set[str]:
    return {o.client_id for o in ex.open_orders(market_id) if o.client_id.startswith(PREFIX)}


def sample_worst(markets: list[LiveMarket], worst: dict[str, float]) -> None:
    for m in markets:
        buy, sell = m.core.orders.resting()
        pos = m.core.inventory.position
        worst[m.key] = max(worst.get(m.key, 0.0), abs(pos), pos + buy, sell - pos)


async def wait_until(condition: Callable[[], bool], timeout: float, tick: Callable[[], None]) -> bool:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return True
        tick()
        await asyncio.sleep(0.05)
    return condition()


def run(
    target: str,
    apply: Callable[[Venue], Callable[[], None]],
    activity: bool = True,
    websocket: bool = False,
    fault_secs: float = FAULT_SECS,
) -> Outcome:
    """Quote on all three exchanges, inject the fault returned by ``apply`` (which returns
    the function that clears it) on ``target`` for ``fault_secs``, recover, stop."""
    config = WS_CONFIG if websocket else CONFIG

    async def main() -> Outcome:
        venues, clients, markets, streams = [], [], [], []
        try:
            for env in ENVS:
                ex = env.seed()
                second = add_second_market(ex, env)
                routes, book_stream = env.routes(ex), None
                if websocket:
                    book_stream, user_stream = websockets(env.name, ex, API_KEY, SECRET, PASSPHRASE)
                    streams += [book_stream, user_stream]
                    routes += [*book_stream.routes(), *user_stream.routes()]
                server = EmulatorServer(routes, ex)
                url = await server.start()
                params = {"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE, "enableRateLimit": False, "timeout": 1000}
                client = client_class(env.name)(params) if websocket else getattr(ccxt_async, env.name)(params)
                point_at(client, url, url.replace("http", "ws"))
                clients.append(client)
                venues.append(Venue(env, ex, server, [env.market_id, second], book_stream))
                for symbol in (env.symbol, "ETH/USDT"):
                    markets.append(await open_market(config, client, symbol, live=True, run_id="flt"))
            engine = LiveEngine(config, markets)
            out = Outcome(engine, venues, {m.key: (m.core.base_balance, m.core.quote_balance) for m in markets})
            stop = asyncio.Event()
            mover = asyncio.create_task(move_books(venues)) if websocket else None
            runner = asyncio.create_task(engine.run(stop))
            try:
                await drive(out, target, apply, activity, markets, mover)
            finally:
                if mover is not None:
                    mover.cancel()
                    await asyncio.gather(mover, return_exceptions=True)
                stop.set()
                await runner
            return out
        finally:
            for c in clients:
                await c.close()
            for s in streams:
                await s.close()
            for v in venues:
                await v.server.stop()

    async def drive(out: Outcome, target: str, apply, activity: bool, markets: list[LiveMarket], mover: asyncio.Task | None) -> None:
        def quoting(m: LiveMarket) -> bool:
            v = next(v for v in out.venues if m.key.startswith(v.env.name))
            return bool(ours(v.ex, v.market_id(m.key))) and not m.stale

        def tick() -> None:
            sample_worst(markets, out.worst)

        assert await wait_until(lambda: all(quoting(m) for m in markets), 5.0, tick), "not every market quoted before the fault"
        victim = next(v for v in out.venues if v.env.name == target)
        updates = {m.key: m.book_feed.updates for m in markets}
        before = len(victim.server.requests)
        await asyncio.sleep(0.5)
        tick()
        at_fault = len(victim.server.requests)
        started = time.monotonic()
        clear = apply(victim)
        steps = int(fault_secs / 0.05)
        seen_quoting: dict[str, int] = {}
        """Market key → last step it was seen quoting."""
        for step in range(steps):
            await asyncio.sleep(0.05)
            tick()
            if activity and step % 5 == 0:
                for v in out.venues:
                    await trade_through(v.ex)
            for m in markets:
                if quoting(m):
                    seen_quoting[m.key] = step
        for m in markets:
            # quoting in the last 0.5 s of the fault (an order replaced at the sampling
            # instant leaves a side empty for a moment), its book still moving
            recent = seen_quoting.get(m.key, -1) >= steps - 10
            (out.touched_quoting if m.key.startswith(target) else out.untouched_quoting)[m.key] = (
                recent and m.book_feed.updates > updates[m.key] + 5
            )
        out.request_rates = ((at_fault - before) / 0.5, (len(victim.server.requests) - at_fault) / (time.monotonic() - started))
        clear()
        for _ in range(10):  # the market keeps trading a little after the fault
            await asyncio.sleep(0.05)
            tick()
            if activity and _ % 5 == 0:
                for v in out.venues:
                    await trade_through(v.ex)

        def back(m: LiveMarket) -> bool:
            """Quoting, and on its websocket again where it had one."""
            return quoting(m) and (mover is None or m.book_feed.mode.failures == 0)

        recovered = await wait_until(lambda: all(back(m) for m in markets), 6.0, tick)
        for m in markets:
            out.recovered[m.key] = recovered and back(m)
        if mover is not None:
            # the market goes quiet: every book the engine holds must be the exchange's
            mover.cancel()
            await asyncio.gather(mover, return_exceptions=True)

            def same_book(m: LiveMarket) -> bool:
                v = next(v for v in out.venues if m.key.startswith(v.env.name))
                bids, asks = v.ex.depth(v.market_id(m.key), 10)
                lv = m.levels
                ours = [list(zip(lv.bid_px[:10], lv.bid_q[:10], strict=True)), list(zip(lv.ask_px[:10], lv.ask_q[:10], strict=True))]
                theirs = [[(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks]]
                return ours == theirs

            await wait_until(lambda: all(same_book(m) for m in markets), 2.0, tick)
            out.books_match = {m.key: same_book(m) for m in markets}

        def compare() -> dict[str, tuple[set, set, set]]:
            """Per exchange: (ours open there, open in the engine, in flight in the engine)."""
            sets = {}
            for v in out.venues:
                engine_open, in_flight = set(), set()
                for m in markets:
                    if m.key.startswith(v.env.name):
                        for cid, o in m.core.orders.by_id.items():
                            (engine_open if o.status is OrderStatus.OPEN else in_flight).add(cid)
                sets[v.env.name] = (ours(v.ex), engine_open, in_flight)
            return sets

        def agree() -> bool:
            return all(e <= o | f and o <= e for e, o, f in compare().values())

        # the market is quiet now: the engine must come to agree with the exchanges (fills
        # polled, acks landed) within a few polling periods
        await wait_until(agree, 3.0, tick)
        out.open_orders_match = compare()

    logger = logging.getLogger("ccxt_mm")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # every injected failure is logged; the invariants are what count here
    try:
        return asyncio.run(main())
    finally:
        logger.setLevel(level)


def expected_ledger(ex: EmulatedExchange, market_id: str) -> tuple[float, float, float]:
    """(position, base change, quote change) from the exchange's own fills of our orders in
    ``market_id``, fees included."""
    pos = base = quote = Decimal(0)
    for f in ex.fills:
        o = f.order
        if o.market.id != market_id or not o.client_id.startswith(PREFIX):
            continue
        sign = 1 if o.side == "buy" else -1
        pos += sign * f.qty
        base += sign * f.qty - (f.fee if f.fee_asset == o.market.base else 0)
        quote += -sign * f.qty * f.price - (f.fee if f.fee_asset == o.market.quote else 0)
    return float(pos), float(base), float(quote)
