"""Perpetual swaps quoted live and on paper through ccxt's real binance client against the
emulator's USDⓈ-M (``/fapi``) and COIN-M (``/dapi``) dialects, books from the real Binance
futures captures: leverage and margin mode set at start, the position and the settle
currency's wallet read back, post-only and reduce-only orders as Binance answers them
(-5022, -2022), and a live engine whose ledger agrees with the exchange's position and wallet
at the end, with nothing left behind."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from decimal import Decimal

import ccxt.async_support as ccxt_async
import pytest
from ccxt_mm_testkit.emulator import faults
from ccxt_mm_testkit.emulator.binance import BinanceDialect
from ccxt_mm_testkit.emulator.binance_futures import BinanceFuturesDialect
from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
from ccxt_mm_testkit.emulator.frames import book_frames
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.live import LiveEngine, LiveMarket, open_market
from ccxt_mm.exchange.clients import point_at
from ccxt_mm.exchange.venue import CcxtVenue
from ccxt_mm.execution.types import AmendAccepted, AmendOrder, CancelOrder, Fill, OrderAccepted, OrderCancelled, OrderRejected, PlaceOrder
from ccxt_mm.market.binance_capture import read_binance_capture
from tests.conftest import COINM_FILE, RECORDINGS
from tests.integration.exchanges.conftest import API_KEY, SECRET, step_books

USDM_FILE = str(RECORDINGS / "binance_futures/usdm_ethusdt_20240808.gz")
ETHUSDT = EmuMarket(
    "ETH/USDT:USDT", "ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("20"), Decimal(1), "USDT"
)
ETHUSD = EmuMarket(
    "ETH/USD:ETH", "ETHUSD_PERP", "ETH", "USD", Decimal("0.01"), Decimal(1), Decimal(1), Decimal(0), Decimal(10), "ETH", True
)
CAPTURES = {"ETHUSDT": (USDM_FILE, "ETH/USDT:USDT"), "ETHUSD_PERP": (COINM_FILE, "ETH/USD:ETH")}
clock = itertools.count(1).__next__


def frames(market_id: str) -> list:
    """Top-20 books after each of the first 300 updates of the market's real capture."""
    path, symbol = CAPTURES[market_id]
    return book_frames(read_binance_capture([path], symbol, tickers=False), 20, 300)


def futures_exchange() -> EmulatedExchange:
    """Both swaps, books at their captures' first, 10 000 USDT and 5 ETH of collateral."""
    ex = EmulatedExchange({m.id: m for m in (ETHUSDT, ETHUSD)}, {"USDT": Decimal(10_000), "ETH": Decimal(5)})
    for m in (ETHUSDT, ETHUSD):
        bids, asks = frames(m.id)[0]
        ex.set_book(m.id, [(repr(p), repr(q)) for p, q in bids], [(repr(p), repr(q)) for p, q in asks])
    ex.funding_rates["ETHUSDT"] = Decimal("0.0001")
    return ex


def routes(ex: EmulatedExchange) -> list:
    return [
        *BinanceDialect(ex, API_KEY, SECRET).routes(),
        *BinanceFuturesDialect(ex, API_KEY, SECRET, "fapi").routes(),
        *BinanceFuturesDialect(ex, API_KEY, SECRET, "dapi").routes(),
    ]


async def client_on(ex: EmulatedExchange, kind: str) -> tuple[EmulatorServer, ccxt_async.Exchange]:
    server = EmulatorServer(routes(ex), ex)
    url = await server.start()
    client = ccxt_async.binance({"apiKey": API_KEY, "secret": SECRET, "enableRateLimit": False})
    point_at(client, url, kinds=(kind,))
    return server, client


@pytest.mark.parametrize(("market", "kind", "qty"), [(ETHUSDT, "linear", 0.02), (ETHUSD, "inverse", 3.0)])
def test_swap_venue_orders_position_and_wallet(market: EmuMarket, kind: str, qty: float) -> None:
    """One swap through CcxtVenue: leverage and margin mode set, a post-only bid filled by a
    taker becomes a long with its fee in the settle currency, a reduce-only ask rests (flagged),
    a reduce-only bid is refused (-2022), a crossing post-only is a post-only reject (-5022), an
    amend keeps the order id, and the wallet read back is the exchange's."""

    async def main() -> None:
        ex = futures_exchange()
        server, client = await client_on(ex, kind)
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
            balances, position = await venue.holdings()
            assert position == qty and await venue.position() == (qty, bid)
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
            assert isinstance(refused, OrderRejected) and not refused.post_only and "ReduceOnly" in refused.reason
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


LIVE = {
    "live": {
        "markets": [{"exchange": "binance", "symbol": "ETH/USDT:USDT"}],
        "websocket": False,
        "poll_secs": 0.05,
        "fill_poll_secs": 0.1,
        "stale_secs": 1.0,
        "reconcile_secs": 0.3,
    },
    "market": {"symbol": "ETH/USDT:USDT", "contract_size": 1.0, "leverage": 3},
    "strategy": {"params": {"order_qty": 0.02, "uncalibrated_widen": 1.0}},
    "risk": {"max_position_base": 0.05},
    "spread": {"min_spread_bps": 1.0, "base_bps": {"low": 1.0, "medium": 2.0, "high": 4.0, "extreme": 10.0}},
}


Script = Callable[[int, EmulatedExchange, EmulatorServer], None]
"""Run at each 0.2 s step of :func:`run_live_swap` with (step, exchange, server)."""


def run_live_swap(
    config: AppConfig,
    live: bool,
    seconds: float,
    hit: tuple[str, ...] = ("buy", "sell"),
    held: str = "0",
    script: Script | None = None,
    on: EmulatedExchange | None = None,
) -> tuple[dict, EmulatedExchange, LiveEngine]:
    """The engine on binance ETH/USDT:USDT for ``seconds``, the account holding ``held``
    contracts (bought at the mid) at start: books step through the capture, and every 0.2 s
    ``script`` runs (if any), then a taker trades through our resting orders of the sides
    ``hit`` (live), or 0.05 ETH at the best bid and ask (paper, which fills from public
    trades); then the shutdown. ``on``: the emulated exchange of an earlier run (a restart),
    else a new one."""

    async def main():
        ex = futures_exchange() if on is None else on
        if Decimal(held):
            ex.position("ETHUSDT").apply(ETHUSDT, Decimal(held), ex.mark("ETHUSDT"))
        server, client = await client_on(ex, "linear")
        stepping = asyncio.create_task(step_books([(ex, "ETHUSDT", frames("ETHUSDT"))], 0.1))
        try:
            market = await open_market(config, client, "ETH/USDT:USDT", live=live, run_id="swp")
            engine = LiveEngine(config, [market])
            stop = asyncio.Event()
            runner = asyncio.create_task(engine.run(stop))
            for step in range(int(seconds / 0.2)):
                await asyncio.sleep(0.2)
                if script is not None:
                    script(step, ex, server)
                for o in ex.open_orders("ETHUSDT"):
                    if o.side in hit:
                        ex.trade("ETHUSDT", "sell" if o.side == "buy" else "buy", o.price, o.remaining)
                if not live:
                    bid, ask = ex.best("ETHUSDT")
                    ex.trade("ETHUSDT", "sell", bid, Decimal("0.05"))
                    ex.trade("ETHUSDT", "buy", ask, Decimal("0.05"))
            stop.set()
            await runner
            if live:
                await engine.reconcile(market)
            return engine.summary()["binance ETH/USDT:USDT"], ex, engine
        finally:
            stepping.cancel()
            await client.close()
            await server.stop()

    return asyncio.run(main())


def test_live_swap_engine_ledger_agrees_with_the_exchange() -> None:
    """Live on the emulated USDⓈ-M ETHUSDT: leverage 3 set, quotes fill both ways, the
    position never passes its limit (0.05 ETH = 0.05 contracts), and after the shutdown
    nothing rests, the core's position is the exchange's and its cash plus the position's
    value at the mark is the exchange's equity (wallet: start + realized PnL - fees, plus the
    unrealized PnL), to the decimals of its reply."""
    config = AppConfig.model_validate(LIVE)
    summary, ex, engine = run_live_swap(config, live=True, seconds=3.0)
    (market,) = engine.markets
    assert ex.leverage["ETHUSDT"] == 3
    assert not ex.open_orders() and summary["fills"] >= 2
    assert market.core.base_balance == pytest.approx(float(ex.position("ETHUSDT").contracts), abs=1e-12)
    mark, contract = float(ex.mark("ETHUSDT")), market.core.contract
    equity = market.core.quote_balance + contract.position_value(market.core.base_balance, mark)
    assert equity == pytest.approx(float(ex.balances["USDT"] + ex.unrealized("USDT")), abs=1e-6)
    assert set(market.drift) == {"position", "USDT"} and max(abs(d) for d in market.drift.values()) < 1e-6
    fills = [f for f in ex.fills if f.order.market.id == "ETHUSDT"]
    assert {f.order.side for f in fills} == {"buy", "sell"}
    position, peak = Decimal(0), Decimal(0)
    for f in fills:  # the position, fill by fill, as the exchange saw it
        position += f.qty if f.order.side == "buy" else -f.qty
        peak = max(peak, abs(position))
    assert peak <= Decimal("0.05")


def test_live_swap_in_reduce_only_sends_reduce_only_orders() -> None:
    """The account holds a long of 0.04 ETH at start: the core takes it as its inventory, and a
    margin-ratio limit no position can meet puts the risk layer in reduce-only at once. The
    first orders reaching the exchange are asks flagged ``reduceOnly``; buyers lift them and
    the long goes flat. From then on an order is flagged exactly when the order log says
    ``quote (reduce-only)`` (a position of either sign puts the mode back), and the position
    never grows past what it started at."""
    config = AppConfig.model_validate(LIVE | {"risk": {"max_position_base": 0.05, "max_margin_ratio": 1e-6}})
    _, ex, engine = run_live_swap(config, live=True, seconds=3.0, hit=("sell",), held="0.04")
    first_fill = min(f.time_ms for f in ex.fills)
    opening = [o for o in ex.orders.values() if o.created_ms <= first_fill]
    assert opening and all(o.reduce_only and o.side == "sell" for o in opening)
    rows = engine.markets[0].core.order_rows
    logged = {r[2] for r in rows if r[1] == "place" and r[6] == "quote (reduce-only)"}
    assert logged == {o.client_id for o in ex.orders.values() if o.reduce_only}
    position, peak = Decimal("0.04"), Decimal("0.04")
    for f in ex.fills:
        position += f.qty if f.order.side == "buy" else -f.qty
        peak = max(peak, abs(position))
    assert position == ex.position("ETHUSDT").contracts and peak == Decimal("0.04")
    assert engine.markets[0].core.base_balance == pytest.approx(float(position), abs=1e-12)
    assert not ex.open_orders()


def test_a_restart_takes_the_position_and_its_limit_holds() -> None:
    """A run ends long (only sellers trade with us); the next run on the same account starts
    from that position (its inventory, its entry) and, sellers still hitting its bids, the long
    never passes the 0.05 ETH limit over both runs."""
    config = AppConfig.model_validate(LIVE)
    _, ex, _ = run_live_swap(config, live=True, seconds=2.0, hit=("buy",))
    first = ex.position("ETHUSDT").contracts
    assert first > 0 and not ex.open_orders()
    _, ex, engine = run_live_swap(config, live=True, seconds=2.0, hit=("buy",), on=ex)
    core = engine.markets[0].core
    assert Decimal("0.05") >= ex.position("ETHUSDT").contracts >= first
    assert core.inventory.position == pytest.approx(float(ex.position("ETHUSDT").contracts), abs=1e-12)
    assert not ex.open_orders()


def test_live_swap_funding_paid_reaches_the_ledger() -> None:
    """Holding 0.04 ETH long with quotes nobody takes, the exchange pays funding at 0.01 % a
    second into the run: the next reconciliation reads it (``fetch_funding_history``) as one
    payment of the exchange's amount, the ledger's equity stays the exchange's, and the
    strategy's funding rate becomes the exchange's new one."""
    config = AppConfig.model_validate(LIVE)

    def fund(step: int, ex: EmulatedExchange, _: EmulatorServer) -> None:
        if step == 5:
            ex.pay_funding("ETHUSDT")
            ex.funding_rates["ETHUSDT"] = Decimal("0.0003")

    _, ex, engine = run_live_swap(config, live=True, seconds=2.0, hit=(), held="0.04", script=fund)
    core = engine.markets[0].core
    ((_, market_id, rate, mark, amount),) = ex.fundings
    assert amount == (-Decimal("0.04") * mark * rate).quantize(Decimal("1e-8")) < 0
    assert [f[4] for f in core.fundings] == [float(amount)] and core.inventory.funding == float(amount)
    equity = core.quote_balance + core.contract.position_value(core.base_balance, float(ex.mark(market_id)))
    assert equity == pytest.approx(float(ex.balances["USDT"] + ex.unrealized("USDT")), abs=1e-6)
    assert core.funding_rate == pytest.approx(3e-4) and not ex.fills and not ex.open_orders()


def test_paper_swap_quotes_public_books_and_sends_nothing() -> None:
    """Paper on the emulated USDⓈ-M swap: the market's facts and funding rate come from the
    public API, the simulated venue starts flat with 10 000 USDT on margin at leverage 3 and
    fills from the public trades; not one order reaches the exchange."""
    config = AppConfig.model_validate(LIVE)
    summary, ex, engine = run_live_swap(config, live=False, seconds=2.0)
    (market,) = engine.markets
    assert summary["mode"] == "paper" and not ex.orders
    assert market.core.contract.margined and market.core.funding_rate == pytest.approx(1e-4)
    assert market.venue.paper.leverage == 3.0 and summary["orders_created"] > 0


FAULTS: dict[str, Callable[[EmulatedExchange], faults.Fault | None]] = {
    "5xx": lambda ex: faults.status(502, "Bad Gateway"),
    "429_retry_after": lambda ex: faults.status(429, "Too many requests", retry_after=1),
    "create_reply_lost": lambda ex: faults.lose_reply(("POST /fapi/v1/order",)),
    "late_ack": lambda ex: faults.late_reply(0.8, ("POST /fapi/v1/order", "DELETE /fapi/v1/order")),
    "duplicated_fills": lambda ex: faults.duplicate_items(("/fapi/v1/userTrades",)),
    "cancel_of_filled_order": lambda ex: faults.fill_first(ex, ("DELETE /fapi/v1/order",)),
}


SEEN: dict[str, Callable[[LiveMarket], bool]] = {
    "5xx": lambda m: sum(m.errors.values()) > 0,
    "429_retry_after": lambda m: m.venue.stats.rate_limited > 0,
    "create_reply_lost": lambda m: m.venue.stats.lost_creates_found > 0,
    "cancel_of_filled_order": lambda m: m.venue.stats.errors.get("not_found", 0) > 0,
}
"""How the venue shows it met the fault (where it shows)."""


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_on_a_swap_keeps_position_ledger_and_limit(fault: str) -> None:
    """A second into a live swap run the exchange misbehaves for a second (``fault``) while
    takers trade through our quotes: afterwards nothing of ours rests, every fill of the
    exchange is in the ledger once, the core's position and equity are the exchange's, and the
    position (from the exchange's own fills) never passed its limit."""

    def inject(step: int, ex: EmulatedExchange, server: EmulatorServer) -> None:
        if step == 5:
            server.fault = FAULTS[fault](ex)
        elif step == 10:
            server.fault = None

    config = AppConfig.model_validate(LIVE)
    _, ex, engine = run_live_swap(config, live=True, seconds=4.0, script=inject)
    core, venue = engine.markets[0].core, engine.markets[0].venue
    assert SEEN.get(fault, lambda m: True)(engine.markets[0]), (venue.stats, engine.markets[0].errors)
    assert not ex.open_orders() and ex.fills
    assert sorted(f.trade_id for f in ex.fills) == sorted(int(t) for t in venue.seen_trades())
    assert len(core.fills) == len(ex.fills)
    assert core.base_balance == pytest.approx(float(ex.position("ETHUSDT").contracts), abs=1e-12)
    equity = core.quote_balance + core.contract.position_value(core.base_balance, float(ex.mark("ETHUSDT")))
    assert equity == pytest.approx(float(ex.balances["USDT"] + ex.unrealized("USDT")), abs=1e-6)
    position, peak = Decimal(0), Decimal(0)
    for f in ex.fills:
        position += f.qty if f.order.side == "buy" else -f.qty
        peak = max(peak, abs(position))
    assert peak <= Decimal("0.05")
