"""Paper venue semantics on a small hand-built book."""

from __future__ import annotations

import numpy as np
import pytest

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
    v.submit(PlaceOrder("a", 1, 101.0, 1.0), 0)
    v.advance(19 * MS)
    assert v.drain_events() == []
    # an ask at 101 comes back before our bid arrives: it would take, so it is rejected
    set_level(v, 101.0, -1, 1.0)
    v.advance(20 * MS)
    (ev,) = v.drain_events()
    assert isinstance(ev, OrderRejected) and ev.post_only and v.stats.post_only_rejects == 1


def test_queue_position_partial_fills_and_fees():
    v = venue()
    v.submit(PlaceOrder("b", 1, 99.0, 2.0), 0)
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


def test_cancellations_move_the_queue_only_in_the_proportional_model():
    # level 5 ahead of us; 2.5 join behind (7.5), 2.5 cancel (5.0), then 4 more cancel (1.0)
    # risk averse: ahead stays 5 until the level holds less (then 1)
    # proportional: 5 − 2.5·5/7.5 = 3.333, then 3.333 − 4·3.333/5 = 0.667
    for model, after_first, after_second in ((QueueModel.RISK_AVERSE, 5.0, 1.0), (QueueModel.PROPORTIONAL, 10 / 3, 2 / 3)):
        v = venue(model)
        v.submit(PlaceOrder("c", 1, 99.0, 1.0), 0)
        v.advance(20 * MS)
        set_level(v, 99.0, 1, 7.5)
        set_level(v, 99.0, 1, 5.0)
        assert v.orders["c"].ahead == pytest.approx(after_first)
        set_level(v, 99.0, 1, 1.0)
        assert v.orders["c"].ahead == pytest.approx(after_second)


def test_cancel_arriving_after_a_fill_is_rejected():
    v = venue()
    v.submit(PlaceOrder("d", -1, 101.0, 1.0), 0)
    v.advance(20 * MS)
    v.drain_events()
    v.submit(CancelOrder("d"), 25 * MS)
    v.on_trade(30 * MS, 1, 102.0, 1.0)  # a buy through our ask before the cancel lands
    v.advance(35 * MS)
    events = v.drain_events()
    assert isinstance(events[0], Fill) and isinstance(events[1], CancelRejected)
    assert v.stats.late_cancels == 1


def test_amend_resets_queue_and_cancel_before_fill_cancels():
    v = venue()
    v.submit(PlaceOrder("e", 1, 98.0, 1.0), 0)
    v.advance(20 * MS)
    v.submit(AmendOrder("e", 99.0, 0.5), 20 * MS)
    v.advance(40 * MS)
    assert isinstance(v.drain_events()[-1], AmendAccepted)
    assert (v.orders["e"].price, v.orders["e"].ahead) == (99.0, 5.0)
    v.submit(CancelOrder("e"), 40 * MS)
    v.advance(50 * MS)
    assert isinstance(v.drain_events()[-1], OrderCancelled) and v.orders == {}


def test_taker_walks_the_book_and_pays_taker_fee():
    v = venue()
    v.submit(TakeOrder("t", 1, 4.0), 0)
    v.advance(20 * MS)
    fills = v.drain_events()
    assert [(f.price, f.qty) for f in fills] == [(101.0, 2.0), (102.0, 2.0)]
    assert all(f.taker for f in fills)
    assert sum(f.fee for f in fills) == pytest.approx((202.0 + 204.0) * 5e-4)


def test_balance_is_locked_by_resting_orders():
    v = venue(base=1.0, quote=150.0)
    v.submit(PlaceOrder("f", 1, 99.0, 1.0), 0)
    v.submit(PlaceOrder("g", 1, 98.0, 1.0), 0)  # 99 + 98 > 150
    v.submit(PlaceOrder("h", -1, 102.0, 1.5), 0)  # only 1 base
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
        v.submit(TakeOrder(f"t{i}", side, qty), 0)
    v.advance(20 * MS)
    assert v.base == 1.999999999997837e-05 and v.base < 2e-05 * (1.0 - 1e-12)
    v.submit(PlaceOrder("two_lots", -1, 102.0, 0.00002), 20 * MS)
    v.submit(PlaceOrder("one_more", -1, 103.0, 0.00001), 20 * MS)
    v.advance(40 * MS)
    kinds = [(type(e).__name__, e.client_id) for e in v.drain_events() if not isinstance(e, Fill)]
    assert kinds == [("OrderAccepted", "two_lots"), ("OrderRejected", "one_more")]
    assert v.stats.balance_rejects == 1
