"""The paper venue on a perpetual swap: a position of either sign on margin, fees and cash in
the settle currency, funding at the funding times."""

from __future__ import annotations

import numpy as np
import pytest

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.paper import PaperParams, PaperVenue, starting_balances
from ccxt_mm.execution.types import Fill, FundingPaid, OrderAccepted, OrderCancelled, OrderRejected, PlaceOrder, TakeOrder
from ccxt_mm.quoting.contract import Contract
from ccxt_mm.quoting.risk import RiskParams

MS = 1_000_000
HOUR_NS = 3_600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS
COINM = Contract(10.0, True, True)
"""Binance COIN-M ETHUSD_PERP: 10 USD a contract, settled in ETH."""
USDM = Contract(1.0, False, True)


def swap(contract: Contract, collateral: float, leverage: float = 2.0, rate: float = 0.0) -> PaperVenue:
    """A venue with the book bid 1,999 / ask 2,001 (mid 2,000) and ``collateral`` (settle)."""
    book = GridBook.from_levels(np.array([[1_999.0, 500.0], [1_998.0, 500.0]]), np.array([[2_001.0, 500.0], [2_002.0, 500.0]]))
    params = PaperParams(entry_latency_ms=0.0, maker_fee_bps=2.0, funding_rate=rate)
    return PaperVenue(params, book, base=0.0, quote=collateral, lot_size=1.0, contract=contract, leverage=leverage)


def place(v: PaperVenue, cid: str, side: int, price: float, qty: float) -> object:
    v.submit(PlaceOrder(cid, side, price, qty, "test"), 0)
    v.advance(0)
    (event,) = v.drain_events()
    return event


def test_a_short_from_flat_needs_margin_not_coins():
    """Spot would refuse a sell with no base; a swap sells short on margin: 100 contracts of
    10 USD at 2,001 are 0.49975 ETH of notional, 0.2499 ETH of margin at 2x."""
    v = swap(COINM, collateral=0.25)
    assert isinstance(place(v, "s", -1, 2_001.0, 100.0), OrderAccepted)
    assert isinstance(place(v, "s2", -1, 2_002.0, 1.0), OrderRejected)  # 101 contracts: 0.2525 ETH > 0.25


def test_the_worse_side_takes_the_margin_and_a_reducing_order_is_always_accepted():
    v = swap(USDM, collateral=1_000.0)  # 2x: 2,000 USDT of notional, one ETH at the 2,000 mid
    assert isinstance(place(v, "b", 1, 1_999.0, 1.0), OrderAccepted)
    assert isinstance(place(v, "a", -1, 2_001.0, 1.0), OrderAccepted)  # long 1 or short 1: the worst is still 1
    assert isinstance(place(v, "b2", 1, 1_998.0, 1.0), OrderRejected)  # long 2 would need 2,000 USDT
    v.on_trade(5 * MS, -1, 1_999.0, 600.0)  # our bid fills: long 1
    fill = next(e for e in v.drain_events() if isinstance(e, Fill))
    assert fill.fee == pytest.approx(1_999.0 * 2e-4) and v.base == 1.0
    assert v.quote == pytest.approx(1_000.0 - 1_999.0 - 1_999.0 * 2e-4)  # cash paid; equity = cash + 1 × 2,000
    v.quote -= 990.0  # the collateral is nearly gone: no order that adds exposure passes, one that reduces does
    assert isinstance(place(v, "a2", -1, 2_002.0, 1.0), OrderAccepted)  # long 1 or short 1 again: no larger
    assert isinstance(place(v, "b3", 1, 1_998.0, 1.0), OrderRejected)


def test_funding_is_paid_on_the_position_at_every_funding_time():
    """ETHUSD_PERP long 100 contracts at a 2,000 mid, rate +0.01 %: longs pay
    100 × 10 / 2,000 × 0.0001 = 0.00005 ETH at 00:00, 08:00 and 16:00 UTC."""
    v = swap(COINM, collateral=1.0, rate=0.0001)
    start = 20_000 * DAY_NS - HOUR_NS  # 23:00 UTC
    v.on_book_update(start)  # the first update sets the next funding time: 00:00
    v.base = 100.0
    v.on_book_update(start + HOUR_NS - 1)
    assert v.drain_events() == []
    v.on_book_update(start + 17 * HOUR_NS + 5)  # 16:00 passed: three funding times
    events = v.drain_events()
    assert [e.ts_ns for e in events] == [start + HOUR_NS + k * 8 * HOUR_NS for k in range(3)]
    assert all(isinstance(e, FundingPaid) and e.amount == pytest.approx(-0.00005) and e.mark == 2_000.0 for e in events)
    assert v.quote == pytest.approx(1.0 - 3 * 0.00005) and v.funding_paid == pytest.approx(-0.00015)


def test_spot_pays_no_funding_and_a_swap_starts_flat_with_its_collateral():
    spot = PaperVenue(PaperParams(funding_rate=0.01), swap(USDM, 1.0).book, base=1.0, quote=0.0, lot_size=1.0)
    spot.on_book_update(0)
    spot.on_book_update(DAY_NS)
    assert spot.drain_events() == [] and spot.quote == 0.0
    params, risk = PaperParams(initial_quote=5_000.0, initial_base=3.0), RiskParams().max_position_base
    assert starting_balances(params, MarketParams(symbol="ETH/USDT:USDT", contract_size=1.0), risk) == (0.0, 5_000.0)
    assert starting_balances(params, MarketParams(symbol="ETH/USD:ETH", contract_size=10.0), risk) == (0.0, 3.0)
    assert starting_balances(params, MarketParams(symbol="ETH/USDT"), risk) == (3.0, 5_000.0)


def test_a_reduce_only_order_reduces_and_no_more():
    """Short 3 contracts: a reduce-only sell is rejected at arrival (it would add), a reduce-only
    buy of 5 fills 3 of a 10-contract trade through it and is then cancelled, flat."""
    v = swap(USDM, collateral=100_000.0)
    v.base = -3.0
    v.submit(PlaceOrder("s", -1, 2_001.0, 1.0, "test", reduce_only=True), 0)
    v.submit(PlaceOrder("b", 1, 1_999.0, 5.0, "test", reduce_only=True), 0)
    v.advance(0)
    rejected, accepted = v.drain_events()
    assert isinstance(rejected, OrderRejected) and rejected.reason == "reduce-only order would not reduce the position"
    assert isinstance(accepted, OrderAccepted) and v.stats.reduce_only_rejects == 1
    v.on_trade(5 * MS, -1, 1_998.0, 10.0)  # a sell through our bid: it would give us all 5
    (fill,) = v.drain_events()
    assert isinstance(fill, Fill) and fill.qty == 3.0 and v.base == 0.0
    v.on_trade(6 * MS, -1, 1_998.0, 10.0)
    (cancelled,) = v.drain_events()
    assert isinstance(cancelled, OrderCancelled) and cancelled.client_id == "b" and v.orders == {}


def test_a_reduce_only_take_stops_at_flat():
    v = swap(USDM, collateral=100_000.0)
    v.base = 2.0
    v.submit(TakeOrder("t", -1, 5.0, "test", reduce_only=True), 0)
    v.advance(0)
    (fill,) = v.drain_events()
    assert isinstance(fill, Fill) and fill.qty == 2.0 and fill.taker and v.base == 0.0
    v.submit(TakeOrder("t2", -1, 1.0, "test", reduce_only=True), 0)
    v.advance(0)
    (rejected,) = v.drain_events()
    assert isinstance(rejected, OrderRejected) and v.base == 0.0
