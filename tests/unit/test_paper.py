"""Paper venue semantics on a small hand-built book."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.execution.paper import PaperParams, PaperVenue, QueueModel
from ccxt_mm.execution.types import (
    AmendAccepted,
    AmendOrder,
    CancelOrder,
    CancelRejected,
    Fill,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    PlaceOrder,
    TakeOrder,
)

MS = 1_000_000


def venue(queue=QueueModel.RISK_AVERSE, base=10.0, quote=10_000.0, lot=0.5) -> PaperVenue:
    book = GridBook.from_levels(
        np.array([[99.0, 5.0], [98.0, 4.0], [97.0, 10.0]]),
        np.array([[101.0, 2.0], [102.0, 3.0], [103.0, 10.0]]),
    )
    params = PaperParams(
        entry_latency_ms=20.0, cancel_latency_ms=10.0, maker_fee_bps=1.0, taker_fee_bps=5.0, queue_model=queue, amend_supported=True
    )
    return PaperVenue(params, book, base=base, quote=quote, lot_size=lot)


def set_level(v: PaperVenue, price: float, side: int, qty: float, ts: int = 0) -> None:
    """Set one level of ``v``'s book to ``qty``, an update of exchange time ``ts`` (ns)."""
    level, none = np.array([np.searchsorted(v.book.prices, price)]), np.array([], dtype=np.int64)
    if side > 0:
        v.book.apply(level, np.array([qty]), none, np.array([]))
    else:
        v.book.apply(none, np.array([]), level, np.array([qty]))
    v.on_book_update(ts)


def test_latency_and_post_only_reject_at_arrival():
    v = venue()
    set_level(v, 101.0, -1, 0.0)  # best ask now 102
    v.submit(PlaceOrder("a", 1, 101.0, 1.0, "test"), 0)
    v.advance(19 * MS)
    assert v.drain_events() == []
    # an ask at 101 comes back before our bid arrives: it would take, so it is rejected
    set_level(v, 101.0, -1, 1.0)
    v.advance(20 * MS)
    (ev,) = v.drain_events()
    assert isinstance(ev, OrderRejected) and ev.post_only and v.stats.post_only_rejects == 1


def test_queue_position_partial_fills_and_fees():
    v = venue()
    v.submit(PlaceOrder("b", 1, 99.0, 2.0, "test"), 0)
    v.advance(20 * MS)
    assert isinstance(v.drain_events()[0], OrderAccepted)
    assert v.orders["b"].ahead == 5.0
    v.on_trade(30 * MS, -1, 99.0, 4.0)  # 4 of the 5 ahead
    assert v.drain_events() == [] and v.orders["b"].ahead == pytest.approx(1.0)
    v.on_trade(40 * MS, -1, 99.0, 1.5)  # 1 ahead, then 0.5 to us
    (fill,) = v.drain_events()
    assert (fill.qty, fill.remaining, fill.taker) == (0.5, 1.5, False)
    assert fill.fee == pytest.approx(99.0 * 0.5 * 1e-4)
    v.on_trade(50 * MS, -1, 98.0, 3.0)  # through our price: no queue
    (fill,) = v.drain_events()
    assert (fill.qty, fill.remaining) == (1.5, 0.0) and "b" not in v.orders
    assert v.base == pytest.approx(12.0)
    assert v.quote == pytest.approx(10_000.0 - 198.0 - 198.0 * 1e-4)


def test_cancel_arriving_after_a_fill_is_rejected():
    v = venue()
    v.submit(PlaceOrder("d", -1, 101.0, 1.0, "test"), 0)
    v.advance(20 * MS)
    v.drain_events()
    v.submit(CancelOrder("d", "test"), 25 * MS)
    v.on_trade(30 * MS, 1, 102.0, 1.0)  # a buy through our ask before the cancel lands
    v.advance(35 * MS)
    events = v.drain_events()
    assert isinstance(events[0], Fill) and isinstance(events[1], CancelRejected)
    assert v.stats.late_cancels == 1


def test_amend_resets_queue_and_cancel_before_fill_cancels():
    v = venue()
    v.submit(PlaceOrder("e", 1, 98.0, 1.0, "test"), 0)
    v.advance(20 * MS)
    v.submit(AmendOrder("e", 99.0, 0.5, "test"), 20 * MS)
    v.advance(40 * MS)
    assert isinstance(v.drain_events()[-1], AmendAccepted)
    assert (v.orders["e"].price, v.orders["e"].ahead) == (99.0, 5.0)
    v.submit(CancelOrder("e", "test"), 40 * MS)
    v.advance(50 * MS)
    assert isinstance(v.drain_events()[-1], OrderCancelled) and v.orders == {}


def test_taker_walks_the_book_and_pays_taker_fee():
    v = venue()
    v.submit(TakeOrder("t", 1, 4.0, "test"), 0)
    v.advance(20 * MS)
    fills = v.drain_events()
    assert [(f.price, f.qty) for f in fills] == [(101.0, 2.0), (102.0, 2.0)]
    assert all(f.taker for f in fills)
    assert sum(f.fee for f in fills) == pytest.approx((202.0 + 204.0) * 5e-4)


def test_balance_is_locked_by_resting_orders():
    v = venue(base=1.0, quote=150.0)
    v.submit(PlaceOrder("f", 1, 99.0, 1.0, "test"), 0)
    v.submit(PlaceOrder("g", 1, 98.0, 1.0, "test"), 0)  # 99 + 98 > 150
    v.submit(PlaceOrder("h", -1, 102.0, 1.5, "test"), 0)  # only 1 base
    v.advance(20 * MS)
    kinds = [(type(e).__name__, e.client_id) for e in v.drain_events()]
    assert kinds == [("OrderAccepted", "f"), ("OrderRejected", "g"), ("OrderRejected", "h")]
    assert v.stats.balance_rejects == 2


def test_a_balance_summed_down_to_a_few_lots_still_covers_them():
    """0.02 BTC + 0.02247 + 0.02599 + 0.01953 − 0.08797 is exactly 2 lots (0.00002), as an
    exchange's decimal balance says, but its float sum is 1.999999999997837e-05: short by
    2.2e-17, more than an error relative to the balance now (2e-05 × 1e-12) forgives, far less
    than the error of the sums of 0.02..0.088 it came from. A sell of the 2 lots is accepted;
    one more lot is not."""
    v = venue(base=0.02, lot=0.00001)
    for i, (side, qty) in enumerate([(1, 0.02247), (1, 0.02599), (1, 0.01953), (-1, 0.08797)]):
        v.submit(TakeOrder(f"t{i}", side, qty, "test"), 0)
    v.advance(20 * MS)
    assert v.base == 1.999999999997837e-05 and v.base < 2e-05 * (1.0 - 1e-12)
    v.submit(PlaceOrder("two_lots", -1, 102.0, 0.00002, "test"), 20 * MS)
    v.submit(PlaceOrder("one_more", -1, 103.0, 0.00001, "test"), 20 * MS)
    v.advance(40 * MS)
    kinds = [(type(e).__name__, e.client_id) for e in v.drain_events() if not isinstance(e, Fill)]
    assert kinds == [("OrderAccepted", "two_lots"), ("OrderRejected", "one_more")]
    assert v.stats.balance_rejects == 1


def test_a_trade_the_exchange_executed_before_our_order_arrived_does_not_fill_it():
    v = venue()
    v.submit(PlaceOrder("x", 1, 99.0, 1.0, "test"), 0)  # reaches the exchange at 20 ms
    v.advance(20 * MS)
    v.drain_events()
    v.on_trade(19 * MS, -1, 98.0, 3.0)  # a sell through our bid, executed 1 ms before: we were not there
    assert v.drain_events() == [] and v.orders["x"].remaining == 1.0
    v.on_trade(21 * MS, -1, 98.0, 3.0)  # the same 1 ms after: filled, no queue
    (fill,) = v.drain_events()
    assert (fill.ts_ns, fill.qty, fill.price) == (21 * MS, 1.0, 99.0)


def test_an_amended_order_rests_at_its_new_price_only_from_the_amend_arrival():
    v = venue()
    v.submit(PlaceOrder("y", -1, 103.0, 1.0, "test"), 0)
    v.advance(20 * MS)
    v.submit(AmendOrder("y", 102.0, 1.0, "test"), 30 * MS)  # at 102 from 50 ms
    v.advance(50 * MS)
    v.drain_events()
    v.on_trade(45 * MS, 1, 102.5, 1.0)  # above 102 but below 103, before the amend landed
    assert v.drain_events() == []
    v.on_trade(55 * MS, 1, 102.5, 1.0)
    assert [type(e) for e in v.drain_events()] == [Fill]


def test_the_book_trading_through_an_order_fills_it_once():
    v = venue()
    v.submit(PlaceOrder("z", 1, 99.0, 2.0, "test"), 0)
    v.advance(20 * MS)
    v.drain_events()
    set_level(v, 99.0, -1, 1.5, ts=30 * MS)  # 1.5 offered at our bid: they would have sold to us
    (fill,) = v.drain_events()
    assert (fill.price, fill.qty, fill.remaining, fill.ts_ns) == (99.0, 1.5, 0.5, 30 * MS)
    assert v.stats.book_fills == 1
    set_level(v, 98.0, 1, 4.0, ts=40 * MS)  # another update, the same 1.5 still offered: nothing new
    v.on_trade(25 * MS, -1, 99.0, 1.5)  # the print of that execution, received late: nothing more
    assert v.drain_events() == []
    set_level(v, 99.0, -1, 3.0, ts=50 * MS)  # 1.5 more offered at our bid: the rest fills
    (fill,) = v.drain_events()
    assert (fill.qty, fill.remaining) == (0.5, 0.0) and v.orders == {}


def test_cancellations_ahead_in_the_three_queue_models():
    # 5 ahead of us; 2.5 join behind (7.5), then 2.5 cancel (5.0), then 4 more (1.0)
    # risk averse: ahead stays 5 until the level holds less (then 1)
    # proportional: 5 − 2.5·5/7.5 = 3.333, then 3.333 − 4·3.333/5 = 0.667
    # optimistic: 5 − 2.5 = 2.5, then 0
    cases = ((QueueModel.RISK_AVERSE, 5.0, 1.0), (QueueModel.PROPORTIONAL, 10 / 3, 2 / 3), (QueueModel.OPTIMISTIC, 2.5, 0.0))
    for model, after_first, after_second in cases:
        v = venue(model)
        v.submit(PlaceOrder("c", 1, 99.0, 1.0, "test"), 0)
        v.advance(20 * MS)
        set_level(v, 99.0, 1, 7.5)
        set_level(v, 99.0, 1, 5.0)
        assert v.orders["c"].ahead == pytest.approx(after_first)
        set_level(v, 99.0, 1, 1.0)
        assert v.orders["c"].ahead == pytest.approx(after_second)


def test_trades_after_a_book_update_are_not_taken_for_cancels_in_it():
    """A trade at our price the exchange executed after the update being applied (the venue
    hears trades in the exchange's order, ahead of the book) is not counted as a cancel."""
    v = venue(QueueModel.OPTIMISTIC)
    v.submit(PlaceOrder("q", 1, 99.0, 1.0, "test"), 0)
    v.advance(20 * MS)
    v.on_trade(40 * MS, -1, 99.0, 2.0)  # 2 of the 5 ahead traded at 40 ms
    set_level(v, 99.0, 1, 4.0, ts=30 * MS)  # at 30 ms the level lost 1: a cancel, ahead 3 − 1
    assert v.orders["q"].ahead == pytest.approx(2.0)
    set_level(v, 99.0, 1, 2.0, ts=50 * MS)  # at 50 ms it lost 2 more: the trade, not a cancel
    assert v.orders["q"].ahead == pytest.approx(2.0)


@settings(max_examples=200, deadline=None)
@given(
    model=st.sampled_from(list(QueueModel)),
    qty_lots=st.integers(1, 40),
    events=st.lists(
        st.tuples(st.booleans(), st.sampled_from([98.0, 99.0]), st.integers(0, 30), st.integers(0, 2_000)),
        min_size=1,
        max_size=30,
    ),
)
def test_every_fill_and_remainder_is_a_whole_number_of_lots(model, qty_lots, events):
    """Trades (through or at our price) and book changes at our level, in any order and size:
    with a lot of 0.001, whatever the queue model attributes, every fill and every remainder is
    whole lots, and fills never exceed the order."""
    lot = 0.001
    v = venue(model, lot=lot)
    v.submit(PlaceOrder("p", 1, 99.0, qty_lots * lot, "test"), 0)
    v.advance(20 * MS)
    for i, (is_trade, price, lots, level_qty_milli) in enumerate(events):
        ts = (21 + i) * MS
        if is_trade:
            v.on_trade(ts, -1, price, lots * lot * 0.37)  # sizes off our lot: the attribution is fractional
        else:
            set_level(v, 99.0, 1, level_qty_milli * 0.0037, ts=ts)
    fills = [e for e in v.drain_events() if isinstance(e, Fill)]
    for f in fills:
        assert abs(f.qty / lot - round(f.qty / lot)) < 1e-9 and f.qty > 0
        assert abs(f.remaining / lot - round(f.remaining / lot)) < 1e-9
    assert sum(f.qty for f in fills) <= qty_lots * lot + 1e-12
    if "p" in v.orders:
        o = v.orders["p"]
        assert abs(o.remaining / lot - round(o.remaining / lot)) < 1e-9 and 0.0 <= o.carry < lot


def test_a_book_crossing_fills_our_orders_once_between_them_best_price_first():
    v = venue(lot=0.5)
    v.submit(PlaceOrder("hi", 1, 99.0, 1.0, "test"), 0)
    v.submit(PlaceOrder("lo", 1, 98.0, 1.0, "test"), 0)
    v.advance(20 * MS)
    v.drain_events()
    set_level(v, 99.0, 1, 0.0, ts=25 * MS)
    set_level(v, 98.0, 1, 0.0, ts=26 * MS)
    set_level(v, 98.0, -1, 1.0, ts=30 * MS)  # 1.0 offered at 98: below both bids, enough for one
    fills = [e for e in v.drain_events() if isinstance(e, Fill)]
    assert [(f.client_id, f.qty) for f in fills] == [("hi", 1.0)] and v.stats.book_fills == 1
