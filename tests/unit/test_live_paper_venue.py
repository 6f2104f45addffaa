"""The paper venue on live books through the Venue lifecycle: market facts from the exchange's
market, matching on the books offered to it, locked balances, and a stop that leaves nothing."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.book.levels import book_levels
from ccxt_mm.exchange.paper import LivePaperVenue
from ccxt_mm.exchange.venue import VenueError
from ccxt_mm.execution.paper import PaperParams, PaperVenue, QueueModel
from ccxt_mm.execution.types import CancelOrder, Fill, OrderAccepted, OrderCancelled, PlaceOrder
from ccxt_mm.execution.venue import MarketFacts

MS = 1_000_000
MARKET = {
    "symbol": "BTC/USDT",
    "type": "spot",
    "base": "BTC",
    "quote": "USDT",
    "precision": {"price": 0.1, "amount": 0.001},
    "limits": {"amount": {"min": 0.002, "max": None}, "cost": {"min": None}},
}


class PublicExchange:
    """The public part of a ccxt client: markets only."""

    id = "stub"

    def __init__(self) -> None:
        self.markets = {"BTC/USDT": MARKET}

    async def load_markets(self) -> dict:
        return self.markets

    def market(self, symbol: str) -> dict:
        return self.markets[symbol]


def venue(symbol: str = "BTC/USDT", clock: list[int] | None = None) -> LivePaperVenue:
    """``clock``: our time (ns) is its first item, set by the test (else the system's)."""
    params = PaperParams(entry_latency_ms=10, cancel_latency_ms=10, maker_fee_bps=0, taker_fee_bps=0, queue_model=QueueModel.PROPORTIONAL)
    paper = PaperVenue(params, GridBook(np.empty(0)), 1.0, 1e5, lot_size=1e-5)
    if clock is None:
        return LivePaperVenue(PublicExchange(), symbol, paper, 0.001)
    return LivePaperVenue(PublicExchange(), symbol, paper, 0.001, lambda: clock[0])


def test_facts_come_from_the_exchange_s_market_and_an_unknown_symbol_is_named():
    v = venue()
    assert asyncio.run(v.start()) == MarketFacts(0.1, 0.001, 0.002, 0.0, "BTC", "USDT")
    assert not v.supports_amend and v.workers() == [] and asyncio.run(v.arm_dead_man(60)) is None
    with pytest.raises(VenueError, match="stub: unknown symbol ETH/USDT"):
        asyncio.run(venue("ETH/USDT").start())


def test_orders_match_on_the_offered_books_and_trades_and_the_stop_leaves_nothing():
    async def main() -> None:
        v = venue()
        await v.start()
        v.on_book(0, book_levels([[100.0, 1.0]], [[100.2, 1.0]]))
        v.submit(PlaceOrder("b1", 1, 99.9, 0.5, "test"), 0)
        v.submit(PlaceOrder("b2", 1, 99.8, 0.5, "test"), 0)
        v.on_book(5 * MS, book_levels([[100.0, 1.0]], [[100.2, 1.0]]))
        assert v.events == []  # not arrived yet (10 ms)
        await v.housekeeping(10 * MS)
        assert [type(e) for e in v.drain_events()] == [OrderAccepted, OrderAccepted]
        assert await v.balances() == {"BTC": (1.0, 1.0), "USDT": (pytest.approx(1e5 - 0.5 * 99.9 - 0.5 * 99.8), 1e5)}
        v.on_trade(11 * MS, -1, 99.9, 0.2)  # a seller hits our bid
        (fill,) = v.drain_events()
        assert isinstance(fill, Fill) and (fill.client_id, fill.qty, fill.remaining) == ("b1", 0.2, pytest.approx(0.3))
        assert await v.reconcile({"b1", "b2"}, "b") is None and v.seen_trades() == []
        # the stop: a cancel and a create in flight; what the create leaves is cancelled in close
        v.submit(CancelOrder("b1", "test"), 12 * MS)
        v.submit(PlaceOrder("b3", 1, 99.7, 0.5, "test"), 12 * MS)
        await v.settle_in_flight()
        assert {o.client_id for o in await v.open_orders()} == {"b2", "b3"}
        v.submit(CancelOrder("b2", "test"), 13 * MS)
        v.submit(CancelOrder("b3", "test"), 13 * MS)
        assert await v.close("b") == [] and await v.open_orders() == []

    asyncio.run(main())


def test_a_trade_is_matched_at_its_exchange_time_on_our_clock():
    """The exchange's clock 500 ms ahead of ours, trades reaching us 2 ms after they happen (the
    venue takes the fastest for no latency: exchange time − 498 ms is ours): a trade received
    after our bid reached the exchange, but executed before, does not fill it."""

    async def main() -> None:
        now = [0]
        v = venue(clock=now)
        await v.start()
        now[0] = 502 * MS
        v.on_trade(1000 * MS, 1, 100.1, 0.1)  # the first trade: 2 ms old, 500 ms ahead
        now[0] = 600 * MS
        v.on_book(now[0], book_levels([[100.0, 1.0]], [[100.2, 1.0]]))
        v.submit(PlaceOrder("b", 1, 100.0, 0.5, "test"), now[0])  # at the exchange from 610 ms, our clock
        await v.housekeeping(611 * MS)  # the exchange's 611 ms less the feed's latency (under 0.01 ms)
        assert [type(e) for e in v.drain_events()] == [OrderAccepted]
        now[0] = 615 * MS
        v.on_trade(1107 * MS, -1, 99.9, 1.0)  # a sell through our bid at 609 ms our clock, received late
        assert v.drain_events() == []
        now[0] = 619 * MS
        v.on_trade(1115 * MS, -1, 99.9, 1.0)  # the same at 617 ms: filled
        (fill,) = v.drain_events()
        assert isinstance(fill, Fill) and (fill.ts_ns, fill.qty) == (617 * MS, 0.5)

    asyncio.run(main())


def test_a_cancel_that_reached_the_exchange_before_a_trade_stops_it_filling():
    """The cancel lands at 30 ms; a sell through the bid at 70 ms (our clock) finds nothing,
    though no book or housekeeping delivered the cancel in between."""

    async def main() -> None:
        now = [0]
        v = venue(clock=now)
        await v.start()
        v.on_trade(0, 1, 100.1, 0.1)  # the exchange's clock is ours
        v.on_book(0, book_levels([[100.0, 1.0]], [[100.2, 1.0]]))
        v.submit(PlaceOrder("b", 1, 100.0, 0.5, "test"), 5 * MS)  # rests from 15 ms
        v.submit(CancelOrder("b", "test"), 20 * MS)  # gone at 30 ms
        now[0] = 71 * MS
        v.on_trade(70 * MS, -1, 99.9, 1.0)
        assert [type(e) for e in v.drain_events()] == [OrderAccepted, OrderCancelled] and v.paper.orders == {}

    asyncio.run(main())
