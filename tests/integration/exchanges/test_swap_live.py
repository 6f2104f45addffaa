"""Perpetual swaps quoted live and on paper through ccxt's real binance client against the
emulator's USDⓈ-M (``/fapi``) and COIN-M (``/dapi``) dialects, books from the real Binance
futures captures: leverage and margin mode set at start, the position and the settle
currency's wallet read back, post-only and reduce-only orders as Binance answers them
(-5022, -2022), and a live engine whose ledger agrees with the exchange's position and wallet
at the end, with nothing left behind."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl

import ccxt.pro as ccxt_pro
import pytest
from ccxt_mm_testkit.emulator import faults
from ccxt_mm_testkit.emulator.binance import BinanceDialect
from ccxt_mm_testkit.emulator.binance_futures import BinanceFuturesDialect
from ccxt_mm_testkit.emulator.bybit import BybitDialect
from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
from ccxt_mm_testkit.emulator.frames import book_frames
from ccxt_mm_testkit.emulator.okx import OkxDialect
from ccxt_mm_testkit.emulator.server import EmulatorServer
from ccxt_mm_testkit.emulator.stream import PushStream
from ccxt_mm_testkit.emulator.websockets import websockets

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.live import LiveEngine, LiveMarket, open_market
from ccxt_mm.errors import VenueError
from ccxt_mm.exchange.clients import point_at
from ccxt_mm.exchange.venue import CcxtVenue
from ccxt_mm.execution.types import AmendAccepted, AmendOrder, CancelOrder, Fill, OrderAccepted, OrderCancelled, OrderRejected, PlaceOrder
from ccxt_mm.market.binance_capture import read_binance_capture
from ccxt_mm.report import summarize
from tests.conftest import CASSETTES, COINM_FILE, RECORDINGS
from tests.integration.exchanges.conftest import API_KEY, SECRET, market_frames, step_books
from tests.integration.exchanges.test_venues_emulated import PASSPHRASE

USDM_FILE = str(RECORDINGS / "binance_futures/usdm_ethusdt_20240808.gz")
clock = itertools.count(1).__next__


def swap(symbol: str, market_id: str, tick: str, lot: str, min_notional: str, size: str) -> EmuMarket:
    """A perpetual swap: linear if ``symbol`` settles in its quote, else inverse."""
    base, rest = symbol.split("/")
    quote, settle = rest.split(":")
    d = Decimal
    return EmuMarket(symbol, market_id, base, quote, d(tick), d(lot), d(lot), d(min_notional), d(size), settle, settle == base)


@functools.cache
def capture_frames(path: str, symbol: str) -> list:
    """Top-20 books after each of the first 300 updates of a real Binance futures capture."""
    return book_frames(read_binance_capture([path], symbol, tickers=False), 20, 300)


@dataclass(frozen=True)
class SwapEnv:
    """One emulated exchange's swaps: a linear one (quoted by the engine tests) and an inverse
    one, each showing a real recorded book, and the text of its reduce-only refusal."""

    name: str
    linear: EmuMarket
    inverse: EmuMarket
    books: dict[str, Callable[[], list]]
    """Market id → its book frames."""
    routes: Callable[[EmulatedExchange], list]
    reduce_only_refusal: str

    def lots(self, base: str) -> Decimal:
        """``base`` ETH in contracts of the linear swap."""
        return Decimal(base) / self.linear.contract_size


BINANCE = SwapEnv(
    "binance",
    swap("ETH/USDT:USDT", "ETHUSDT", "0.01", "0.001", "20", "1"),
    swap("ETH/USD:ETH", "ETHUSD_PERP", "0.01", "1", "0", "10"),
    {
        "ETHUSDT": lambda: capture_frames(USDM_FILE, "ETH/USDT:USDT"),
        "ETHUSD_PERP": lambda: capture_frames(COINM_FILE, "ETH/USD:ETH"),
    },
    lambda ex: [
        *BinanceDialect(ex, API_KEY, SECRET).routes(),
        *BinanceFuturesDialect(ex, API_KEY, SECRET, "fapi").routes(),
        *BinanceFuturesDialect(ex, API_KEY, SECRET, "dapi").routes(),
    ],
    "ReduceOnly Order is rejected",
)
OKX = SwapEnv(
    "okx",
    swap("ETH/USDT:USDT", "ETH-USDT-SWAP", "0.01", "0.01", "0", "0.1"),
    swap("UNI/USD:UNI", "UNI-USD-SWAP", "0.001", "1", "0", "10"),
    {
        "ETH-USDT-SWAP": lambda: capture_frames(USDM_FILE, "ETH/USDT:USDT"),
        "UNI-USD-SWAP": lambda: market_frames("okx", "UNI-USD"),
    },
    lambda ex: OkxDialect(ex, API_KEY, SECRET, PASSPHRASE).routes(),
    "51169",
)
"""OKX's ETH-USDT-SWAP (0.1 ETH a contract) shows the Binance USDⓈ-M capture's book (OKX's
capture has no linear swap), its UNI-USD-SWAP its own capture's."""
BYBIT = SwapEnv(
    "bybit",
    swap("ETH/USDT:USDT", "ETHUSDT", "0.01", "0.01", "5", "1"),
    swap("ETH/USD:ETH", "ETHUSD", "0.01", "1", "0", "1"),
    {
        "ETHUSDT": lambda: capture_frames(USDM_FILE, "ETH/USDT:USDT"),
        "ETHUSD": lambda: capture_frames(COINM_FILE, "ETH/USD:ETH"),
    },
    lambda ex: BybitDialect(ex, API_KEY, SECRET).routes(),
    "110017",
)
"""Bybit's linear ETHUSDT and inverse ETHUSD (1 USD a contract) show the Binance futures
captures' books (Bybit's capture has LTCUSDT only)."""


def futures_exchange(env: SwapEnv) -> EmulatedExchange:
    """Both swaps of ``env``, books at their recordings' first, 10 000 USDT, 5 ETH and 500 UNI
    of collateral, funding at 0.01 % on the linear swap."""
    markets = (env.linear, env.inverse)
    ex = EmulatedExchange({m.id: m for m in markets}, {"USDT": Decimal(10_000), "ETH": Decimal(5), "UNI": Decimal(500)})
    for m in markets:
        bids, asks = env.books[m.id]()[0]
        ex.set_book(m.id, [(repr(p), repr(q)) for p, q in bids], [(repr(p), repr(q)) for p, q in asks])
    ex.funding_rates[env.linear.id] = Decimal("0.0001")
    return ex


async def client_on(env: SwapEnv, ex: EmulatedExchange, streams: tuple[PushStream, ...] = ()) -> tuple[EmulatorServer, ccxt_pro.Exchange]:
    """A ccxt.pro client of ``env`` on an emulator serving ``ex`` (and ``streams``' websockets)."""
    server = EmulatorServer([*env.routes(ex), *(r for s in streams for r in s.routes())], ex)
    url = await server.start()
    client = getattr(ccxt_pro, env.name)({"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE, "enableRateLimit": False})
    point_at(client, url, url.replace("http", "ws"), kinds=("linear", "inverse"))
    return server, client


VENUE_CASES = [
    *((env, kind, qty) for env in (BINANCE, BYBIT) for kind, qty in (("linear", 0.02), ("inverse", 30.0))),
    *((OKX, kind, qty) for kind, qty in (("linear", 0.2), ("inverse", 3.0))),
]


@pytest.mark.parametrize(("env", "kind", "qty"), VENUE_CASES, ids=[f"{e.name}-{k}" for e, k, _ in VENUE_CASES])
def test_swap_venue_orders_position_and_wallet(env: SwapEnv, kind: str, qty: float) -> None:
    """One swap through CcxtVenue: leverage and margin mode set, a post-only bid filled by a
    taker becomes a long with its fee in the settle currency, a reduce-only ask rests (flagged),
    a reduce-only bid is refused (binance -2022, okx 51169), a crossing post-only is a post-only
    reject (binance -5022; okx accepts and cancels it), an amend keeps the order id, and the
    cash read back is the exchange's wallet less what the position cost."""
    market = env.linear if kind == "linear" else env.inverse

    async def main() -> None:
        ex = futures_exchange(env)
        server, client = await client_on(env, ex)
        venue = CcxtVenue(client, market.symbol, clock, leverage=5, margin_mode="isolated")
        try:
            facts = await venue.start()
            assert (facts.swap, facts.settle, facts.inverse, facts.contract_size) == (
                True,
                market.settle,
                market.inverse,
                float(market.contract_size),
            )
            assert ex.leverage[market.id] == 5 and ex.margin_mode[market.id] == "isolated"
            assert facts.mark_price == pytest.approx(float(ex.mark(market.id)))
            assert facts.funding_rate == float(ex.funding_rates.get(market.id, 0))
            bid, ask = (float(p) for p in ex.best(market.id))
            venue.submit(PlaceOrder("b1", 1, bid, qty, "quote"), 0)
            await venue.flush()
            assert isinstance(venue.drain_events()[0], OrderAccepted)
            ex.trade(market.id, "sell", Decimal(repr(bid)), Decimal(repr(qty)))
            await venue.poll_fills()
            (fill,) = venue.drain_events()
            assert isinstance(fill, Fill) and fill.qty == qty and fill.fee_base == 0.0
            notional = qty * float(market.contract_size) * (1 / bid if market.inverse else bid)
            assert fill.fee == pytest.approx(notional * float(ex.maker_fee), abs=1e-8)  # as stated, 8 decimals
            held = await venue.holdings()
            balances, position = held.balances, held.position
            assert position == qty and held.mark == pytest.approx(float(ex.mark(market.id)))
            # the cash is the wallet less what the long cost: linear its notional paid, inverse
            # its notional received (a long of an inverse contract is short of its coin)
            cash, paid = balances[market.settle][1], -notional if market.inverse else notional
            assert cash == pytest.approx(float(ex.balances[market.settle]) - paid, abs=1e-8)  # 8 decimals stated
            venue.submit(PlaceOrder("r1", -1, ask + 50 * float(market.tick), qty, "quote (reduce-only)", reduce_only=True), 0)
            venue.submit(PlaceOrder("r2", 1, bid - 50 * float(market.tick), qty, "quote (reduce-only)", reduce_only=True), 0)
            venue.submit(PlaceOrder("x1", 1, ask + float(market.tick), qty, "quote"), 0)
            await venue.flush()
            accepted, refused, crossed = venue.drain_events()
            assert isinstance(accepted, OrderAccepted) and ex.find(market.id, client_id="r1").reduce_only
            assert isinstance(refused, OrderRejected) and not refused.post_only and env.reduce_only_refusal in refused.reason
            assert isinstance(crossed, OrderRejected) and crossed.post_only
            order_id = ex.find(market.id, client_id="r1").order_id
            venue.submit(AmendOrder("r1", ask + 60 * float(market.tick), qty, "amend"), 0)
            venue.submit(CancelOrder("r1", "pull"), 0)
            await venue.flush()
            amended, cancelled = venue.drain_events()
            assert isinstance(amended, AmendAccepted) and isinstance(cancelled, OrderCancelled)
            assert ex.find(market.id, client_id="r1").order_id == order_id and not ex.open_orders()
        finally:
            await client.close()
            await server.stop()

    asyncio.run(main())


@pytest.mark.parametrize("env", [BINANCE, OKX, BYBIT], ids=lambda e: e.name)
def test_an_account_in_hedge_mode_is_refused_before_anything_is_set(env: SwapEnv) -> None:
    """Hedge (two-sided) position mode, as each exchange states it (binance
    ``dualSidePosition``, okx ``posMode``, bybit a position index of 1): the start stops with
    an error naming the mode and the fix, before any leverage or margin mode is changed; in
    one-way mode the same start goes through."""

    async def start(ex: EmulatedExchange) -> None:
        server, client = await client_on(env, ex)
        try:
            await CcxtVenue(client, env.linear.symbol, clock, leverage=4, margin_mode="isolated").start()
        finally:
            await client.close()
            await server.stop()

    ex = futures_exchange(env)
    ex.hedge_mode = True
    with pytest.raises(VenueError, match=r"hedge \(two-sided\) position mode.*switch the account to one-way mode"):
        asyncio.run(start(ex))
    assert ex.leverage == {} and ex.margin_mode == {}
    ex.hedge_mode = False
    asyncio.run(start(ex))
    assert ex.leverage == {env.linear.id: 4} and ex.margin_mode[env.linear.id] == "isolated"


def live_config(env: SwapEnv, kind: str = "linear", live: dict | None = None, **risk: float) -> AppConfig:
    """Quote ``env``'s swap of ``kind``: 0.02 ETH orders, a 0.05 ETH position limit (``risk``
    overrides), leverage 3, REST books polled every 50 ms, fills every 0.1 s, reconciled every
    0.3 s (``live`` overrides)."""
    market = env.linear if kind == "linear" else env.inverse
    symbol = market.symbol
    return AppConfig.model_validate(
        {
            "live": {
                "markets": [{"exchange": env.name, "symbol": symbol}],
                "websocket": False,
                "poll_secs": 0.05,
                "fill_poll_secs": 0.1,
                "stale_secs": 1.0,
                "reconcile_secs": 0.3,
                **(live or {}),
            },
            "market": {"symbol": symbol, "contract_size": float(market.contract_size), "leverage": 3},
            "strategy": {"params": {"order_qty": 0.02, "uncalibrated_widen": 1.0}},
            "risk": {"max_position_base": 0.05, **risk},
            "spread": {"min_spread_bps": 1.0, "base_bps": {"low": 1.0, "medium": 2.0, "high": 4.0, "extreme": 10.0}},
        }
    )


Script = Callable[[int, EmulatedExchange, EmulatorServer], None]
"""Run at each 0.2 s step of :func:`run_live_swap` with (step, exchange, server)."""


def run_live_swap(
    env: SwapEnv,
    config: AppConfig,
    live: bool,
    seconds: float,
    hit: tuple[str, ...] = ("buy", "sell"),
    held: str = "0",
    script: Script | None = None,
    on: EmulatedExchange | None = None,
    kind: str = "linear",
) -> tuple[dict, EmulatedExchange, LiveEngine]:
    """The engine on ``env``'s linear swap for ``seconds``, the account holding ``held`` ETH
    long (bought at the mid) at start: books step through the recording, and every 0.2 s
    ``script`` runs (if any), then a taker trades through our resting orders of the sides
    ``hit`` (live), or 0.05 ETH sweeps 300 ticks through the best bid and ask (paper, which
    fills from public trades); then the shutdown. ``on``: the emulated exchange of an earlier run (a restart),
    else a new one; ``kind``: the swap quoted (linear or inverse). With ``live.websocket`` the
    emulator serves its exchange's websockets too."""
    m = env.linear if kind == "linear" else env.inverse

    async def main():
        ex = futures_exchange(env) if on is None else on
        if Decimal(held):
            ex.position(m.id).apply(m, env.lots(held), ex.mark(m.id))
        streams = websockets(env.name, ex, API_KEY, SECRET, PASSPHRASE) if config.live.websocket else ()
        server, client = await client_on(env, ex, streams)
        stepping = asyncio.create_task(step_books([(ex, m.id, env.books[m.id]())], 0.1))
        try:
            market = await open_market(config, client, m.symbol, live=live, run_id="swp")
            engine = LiveEngine(config, [market])
            stop = asyncio.Event()
            runner = asyncio.create_task(engine.run(stop))
            for step in range(int(seconds / 0.2)):
                await asyncio.sleep(0.2)
                if script is not None:
                    script(step, ex, server)
                for o in ex.open_orders(m.id):
                    if o.side in hit:
                        ex.trade(m.id, "sell" if o.side == "buy" else "buy", o.price, o.remaining)
                if not live:  # takers sweeping 300 ticks (~11 bps) through each side
                    bid, ask = ex.best(m.id)
                    ex.trade(m.id, "sell", bid - 300 * m.tick, env.lots("0.05"))
                    ex.trade(m.id, "buy", ask + 300 * m.tick, env.lots("0.05"))
            stop.set()
            await runner
            if live:
                await engine.reconcile(market)
            return engine.summary()[f"{env.name} {m.symbol}"], ex, engine
        finally:
            stepping.cancel()
            await client.close()
            for stream in streams:
                await stream.close()
            await server.stop()

    return asyncio.run(main())


def path(ex: EmulatedExchange, start: Decimal = Decimal(0)) -> tuple[Decimal, Decimal]:
    """(position at the end, largest |position|) from ``start`` through the exchange's fills."""
    position, peak = start, abs(start)
    for f in ex.fills:
        position += f.qty if f.order.side == "buy" else -f.qty
        peak = max(peak, abs(position))
    return position, peak


def assert_ledger_is_the_exchange_s(env: SwapEnv, ex: EmulatedExchange, market: LiveMarket, kind: str = "linear") -> None:
    """Nothing rests; the core's position is the exchange's, and its cash plus the position's
    value at the mark is the exchange's equity (wallet: start + realized PnL - fees + funding,
    plus the unrealized PnL), to the decimals of its replies."""
    core, m = market.core, env.linear if kind == "linear" else env.inverse
    assert not ex.open_orders()
    assert core.base_balance == pytest.approx(float(ex.position(m.id).contracts), abs=1e-12)
    equity = core.quote_balance + core.contract.position_value(core.base_balance, float(ex.mark(m.id)))
    assert equity == pytest.approx(float(ex.balances[m.settle] + ex.unrealized(m.settle)), abs=1e-6)


ENVS = [BINANCE, OKX, BYBIT]


LEDGER_CASES = [(BINANCE, "linear"), (OKX, "linear"), (BYBIT, "linear"), (BINANCE, "inverse")]


@pytest.mark.parametrize(("env", "kind"), LEDGER_CASES, ids=[f"{e.name}-{k}" for e, k in LEDGER_CASES])
def test_live_swap_engine_ledger_agrees_with_the_exchange(env: SwapEnv, kind: str) -> None:
    """Live on an emulated swap: leverage 3 set, quotes fill both ways, the position never
    passes its limit (0.05 ETH in contracts: at the mark, inverse), and after the shutdown the
    ledger is the exchange's, its reconciliation finding no drift, and the report's equity is
    the exchange's in the settle currency."""
    summary, ex, engine = run_live_swap(env, live_config(env, kind), live=True, seconds=3.0, kind=kind)
    (market,) = engine.markets
    m = env.linear if kind == "linear" else env.inverse
    assert ex.leverage[m.id] == 3 and summary["fills"] >= 2
    assert_ledger_is_the_exchange_s(env, ex, market, kind)
    assert set(market.drift) == {"position", m.settle} and max(abs(d) for d in market.drift.values()) < 1e-6
    assert {f.order.side for f in ex.fills} == {"buy", "sell"}
    limit = Decimal(repr(market.core.cfg.risk.max_position_base))  # contracts, as converted at start
    assert path(ex)[1] <= limit
    report = summarize(market.core.cfg, market.result(time.time_ns()), {})
    equity = ex.balances[m.settle] + ex.unrealized(m.settle)
    assert report["equity_settle"] == pytest.approx(float(equity), abs=1e-3)  # at the core's last mid


WS_CASES = [(BINANCE, "linear"), (BINANCE, "inverse"), (OKX, "linear"), (BYBIT, "linear")]


@pytest.mark.parametrize(("env", "kind"), WS_CASES, ids=[f"{e.name}-{k}" for e, k in WS_CASES])
def test_live_swap_over_websockets_holds_its_limit_on_pushed_fills(env: SwapEnv, kind: str) -> None:
    """``live.websocket`` (the default) on a swap: the book comes from ccxt.pro's
    watch_order_book over the futures streams (binance: ``pu``-chained depth on fstream /
    dstream after one REST snapshot; okx SWAP books; bybit's linear topic) without falling back
    to REST, and every fill is pushed to watch_my_trades (binance ``ORDER_TRADE_UPDATE`` on a
    listen key, okx's orders channel, bybit's execution topic). Fill polling and reconciliation
    are set to a minute (okx's cancels still poll: its cancel reply does not say what filled),
    takers hit every bid, and the position still stops at its limit; after the shutdown the
    ledger is the exchange's."""
    config = live_config(env, kind, live={"websocket": True, "fill_poll_secs": 60.0, "reconcile_secs": 60.0})
    summary, ex, engine = run_live_swap(env, config, live=True, seconds=3.0, hit=("buy",), kind=kind)
    (market,) = engine.markets
    limit = Decimal(repr(market.core.cfg.risk.max_position_base))  # contracts, as converted at start
    position, peak = path(ex)
    assert summary["book_fallbacks_to_rest"] == 0 and summary["book_updates"] >= 10, summary
    pushed = {t["id"] for t in market.venue.exchange.myTrades}  # ccxt.pro keeps what the websocket brought
    assert pushed == {str(f.trade_id) for f in ex.fills} and len(pushed) >= 2
    assert limit / 2 < position == peak <= limit  # long to the limit, and no further
    assert_ledger_is_the_exchange_s(env, ex, market, kind)


@pytest.mark.parametrize("env", ENVS, ids=lambda e: e.name)
def test_live_swap_in_reduce_only_sends_reduce_only_orders(env: SwapEnv) -> None:
    """The account holds a long of 0.04 ETH at start: the core takes it as its inventory, and a
    margin-ratio limit no position can meet puts the risk layer in reduce-only at once. The
    first orders reaching the exchange are asks flagged reduce-only; buyers lift them and the
    long goes flat. From then on an order is flagged exactly when the order log says
    ``quote (reduce-only)`` (a position of either sign puts the mode back), and the position
    never grows past what it started at."""
    config = live_config(env, max_margin_ratio=1e-6)
    _, ex, engine = run_live_swap(env, config, live=True, seconds=3.0, hit=("sell",), held="0.04")
    first_fill = min(f.time_ms for f in ex.fills)
    opening = [o for o in ex.orders.values() if o.created_ms <= first_fill]
    assert opening and all(o.reduce_only and o.side == "sell" for o in opening)
    rows = engine.markets[0].core.order_rows
    logged = {r[2] for r in rows if r[1] == "place" and r[6] == "quote (reduce-only)"}
    assert logged == {o.client_id for o in ex.orders.values() if o.reduce_only}
    held = env.lots("0.04")
    assert path(ex, held) == (ex.position(env.linear.id).contracts, held)
    assert_ledger_is_the_exchange_s(env, ex, engine.markets[0])


def test_a_restart_takes_the_position_and_its_limit_holds() -> None:
    """A run ends long (only sellers trade with us); the next run on the same account starts
    from that position (its inventory, its entry) and, sellers still hitting its bids, the long
    never passes the 0.05 ETH limit over both runs."""
    config = live_config(BINANCE)
    _, ex, _ = run_live_swap(BINANCE, config, live=True, seconds=2.0, hit=("buy",))
    first = ex.position("ETHUSDT").contracts
    assert first > 0 and not ex.open_orders()
    _, ex, engine = run_live_swap(BINANCE, config, live=True, seconds=2.0, hit=("buy",), on=ex)
    core = engine.markets[0].core
    assert Decimal("0.05") >= ex.position("ETHUSDT").contracts >= first
    assert core.inventory.position == pytest.approx(float(ex.position("ETHUSDT").contracts), abs=1e-12)
    assert_ledger_is_the_exchange_s(BINANCE, ex, engine.markets[0])


@pytest.mark.parametrize("env", ENVS, ids=lambda e: e.name)
def test_live_swap_funding_paid_reaches_the_ledger(env: SwapEnv) -> None:
    """Holding 0.04 ETH long with quotes nobody takes, the exchange pays funding at 0.01 % just
    before the run and a second into it: the next reconciliation reads the second
    (``fetch_funding_history``) as one payment of the exchange's amount (the first is in the
    wallet the run started from), the ledger stays the exchange's, and the strategy's funding
    rate becomes the exchange's new one."""

    def fund(step: int, ex: EmulatedExchange, _: EmulatorServer) -> None:
        if step == 5:
            ex.pay_funding(env.linear.id)
            ex.funding_rates[env.linear.id] = Decimal("0.0003")

    ex = futures_exchange(env)
    ex.position(env.linear.id).apply(env.linear, env.lots("0.04"), ex.mark(env.linear.id))
    ex.pay_funding(env.linear.id)  # before the run: in the wallet the run starts from
    _, ex, engine = run_live_swap(env, live_config(env), live=True, seconds=2.0, hit=(), script=fund, on=ex)
    core = engine.markets[0].core
    (_, (_, _, rate, mark, amount)) = ex.fundings
    assert amount == (-env.lots("0.04") * env.linear.contract_size * mark * rate).quantize(Decimal("1e-8")) < 0
    assert [f[4] for f in core.fundings] == [float(amount)] and core.inventory.funding == float(amount)
    assert_ledger_is_the_exchange_s(env, ex, engine.markets[0])
    assert core.funding_rate == pytest.approx(3e-4) and not ex.fills


def test_paper_swap_quotes_public_books_and_sends_nothing() -> None:
    """Paper on the emulated USDⓈ-M swap: the market's facts and funding rate come from the
    public API, the simulated venue starts flat with 10 000 USDT on margin at leverage 3 and
    fills from the public trades, the core's ledger its own; not one order reaches the
    exchange. The exchange's funding rate, changed during the run, is the one the next
    simulated payment is at (read at each reconciliation)."""
    config = live_config(BINANCE, max_position_base=0.2)  # room for both levels: no churn at the limit

    def new_rate(step: int, ex: EmulatedExchange, server: EmulatorServer) -> None:
        if step == 2:
            ex.funding_rates[BINANCE.linear.id] = Decimal("-0.0005")

    summary, ex, engine = run_live_swap(BINANCE, config, live=False, seconds=2.0, script=new_rate)
    (market,) = engine.markets
    core, paper = market.core, market.venue.paper
    assert summary["mode"] == "paper" and not ex.orders and summary["fills"] > 0
    assert core.contract.margined and core.funding_rate == pytest.approx(1e-4) and paper.leverage == 3.0
    assert paper.funding_rate == -0.0005 and config.paper.funding_rate == 0.0
    assert core.base_balance == pytest.approx(paper.base, abs=1e-12) and core.quote_balance == pytest.approx(paper.quote, abs=1e-9)
    assert abs(paper.base) <= 0.2 + 1e-12 and paper.quote != 10_000.0  # fees and trading moved the collateral


FAULTS: dict[str, Callable[[EmulatedExchange], faults.Fault | None]] = {
    "5xx": lambda ex: faults.status(502, "Bad Gateway"),
    "429_retry_after": lambda ex: faults.status(429, "Too many requests", retry_after=1),
    "create_reply_lost": lambda ex: faults.lose_reply(("POST /fapi/v1/order",)),
    "late_ack": lambda ex: faults.late_reply(0.8, ("POST /fapi/v1/order", "DELETE /fapi/v1/order")),
    "duplicated_fills": lambda ex: faults.duplicate_items(("/fapi/v1/userTrades",)),
    "cancel_of_filled_order": lambda ex: faults.fill_first(ex, ("DELETE /fapi/v1/order",)),
}
"""Faults of the emulated Binance USDⓈ-M (the spot fault suite's, on its paths)."""
SEEN: dict[str, Callable[[LiveMarket], bool]] = {
    "5xx": lambda m: sum(m.errors.values()) > 0,
    "429_retry_after": lambda m: m.venue.stats.rate_limited > 0,
    "create_reply_lost": lambda m: m.venue.stats.lost_creates_found > 0,
    "cancel_of_filled_order": lambda m: m.venue.stats.errors.get("not_found", 0) > 0,
}
"""How the venue shows it met the fault (where it shows)."""


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_on_a_swap_keeps_position_ledger_and_limit(fault: str) -> None:
    """A second into a live Binance USDⓈ-M run the exchange misbehaves for a second
    (``fault``) while takers trade through our quotes: afterwards every fill of the exchange is
    in the ledger once, the ledger is the exchange's, and the position (from the exchange's own
    fills) never passed its limit."""

    def inject(step: int, ex: EmulatedExchange, server: EmulatorServer) -> None:
        if step == 5:
            server.fault = FAULTS[fault](ex)
        elif step == 10:
            server.fault = None

    _, ex, engine = run_live_swap(BINANCE, live_config(BINANCE), live=True, seconds=3.0, script=inject)
    market = engine.markets[0]
    assert SEEN.get(fault, lambda m: True)(market), (market.venue.stats, market.errors)
    assert ex.fills and sorted(f.trade_id for f in ex.fills) == sorted(int(t) for t in market.venue.seen_trades())
    assert len(market.core.fills) == len(ex.fills)
    assert_ledger_is_the_exchange_s(BINANCE, ex, market)
    assert path(ex)[1] <= Decimal("0.05")


def request_fixture(exchange: str, description: str) -> dict:
    """ccxt's own request fixture of ``exchange``'s createOrder with ``description``."""
    path = CASSETTES / "ccxt_static" / f"{exchange}.request.subset.json"
    return next(c for c in json.loads(path.read_text())["methods"]["createOrder"] if c["description"] == description)


def sent_order(env: SwapEnv, market: EmuMarket, order: PlaceOrder) -> dict[str, str]:
    """The params of the create request the venue sends for ``order`` on ``env``'s emulator
    (its body: binance a form, bybit JSON), as the exchange receives them."""

    async def main() -> dict[str, str]:
        ex = futures_exchange(env)
        ex.markets[market.id] = market
        bids, asks = env.books[env.linear.id]()[0]
        ex.set_book(market.id, [(repr(p / 30), "10") for p, _ in bids], [(repr(p / 30), "10") for p, _ in asks])
        server, client = await client_on(env, ex)
        bodies: list[str] = []

        async def record(request, handler):
            if request.method == "POST" and request.path.endswith(("/order", "/order/create")):
                bodies.append(await request.text())
            return await handler(request)

        server.fault = record
        venue = CcxtVenue(client, market.symbol, clock, leverage=5)
        try:
            await venue.start()
            venue.submit(order, 0)
            await venue.flush()
        finally:
            await client.close()
            await server.stop()
        (body,) = bodies
        return json.loads(body) if body.startswith("{") else dict(parse_qsl(body))

    return asyncio.run(main())


def test_a_reduce_only_post_only_quote_is_sent_as_ccxt_s_fixtures_send_it() -> None:
    """The venue's reduce-only quote on a linear swap reaches the exchange as ccxt's own request
    fixtures say it must: Binance USDⓈ-M ``timeInForce=GTX`` and ``reduceOnly=true`` (its
    postOnly and reduceOnly fixtures, each flag as there), Bybit the fixture "Swap limit sell
    with reduceOnly and postOnly" field for field; the client order id is ours."""
    ltc = {env.name: swap("LTC/USDT:USDT", "LTCUSDT", "0.01", "0.1", "5", "1") for env in (BINANCE, BYBIT)}
    binance = sent_order(BINANCE, ltc["binance"], PlaceOrder("mmq1", 1, 60.0, 0.2, "quote (reduce-only)", reduce_only=True))
    post_only = dict(parse_qsl(request_fixture("binance", "Swap limit buy with postOnly")["output"]))
    reduce_only = dict(parse_qsl(request_fixture("binance", "Swap limit buy with reduce only (closing short position)")["output"]))
    volatile = {"timestamp", "signature", "newClientOrderId", "recvWindow"}
    for fixture in (post_only, reduce_only):
        for key in set(fixture) - volatile - {"price", "timeInForce"}:
            assert binance[key] == fixture[key], key
    assert (binance["price"], binance["timeInForce"], binance["newClientOrderId"]) == ("60", "GTX", "mmq1")
    bybit = sent_order(BYBIT, ltc["bybit"], PlaceOrder("mmq2", -1, 100.0, 0.1, "quote (reduce-only)", reduce_only=True))
    fixture = json.loads(request_fixture("bybit", "Swap limit sell with reduceOnly and postOnly")["output"])
    assert {k: bybit[k] for k in fixture} == fixture and bybit["orderLinkId"] == "mmq2"
