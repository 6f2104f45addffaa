"""Queue position of the paper venue, checked against the real BTCUSDT trades and book."""

from __future__ import annotations

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.execution.paper import PaperParams, PaperVenue, QueueModel
from ccxt_mm.execution.types import Fill, OrderAccepted, PlaceOrder
from ccxt_mm.market.events import MsgKind


def run_order(log, place_at_msg: int, horizon_ns: int):
    """Place a 0.01 BTC bid at the best bid at message ``place_at_msg`` (zero latency,
    risk-averse queue) and replay. Returns (queue ahead at arrival, sell volume traded at our
    price before the first fill, the (price, qty) of the trade that filled us or None, the
    reduction of the queue ahead by cancellations, and our price)."""
    book = GridBook(log.prices)
    venue = PaperVenue(PaperParams(0.0, 0.0, 0.0, 0.0, QueueModel.RISK_AVERSE), book, base=0.0, quote=1e9)
    placed = None
    traded = 0.0
    clamp = 0.0
    for m in range(log.messages):
        kind, a, b, ts = log.msg_kind[m], log.msg_start[m], log.msg_stop[m], int(log.msg_ts_ns[m])
        venue.advance(ts)
        if kind in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            if kind == MsgKind.SNAPSHOT:
                book.clear()
            log.apply_message(book, m)
            before = venue.orders["o"].ahead if "o" in venue.orders else None
            venue.on_book_update()
            if before is not None and "o" in venue.orders:
                clamp += before - venue.orders["o"].ahead
            if m >= place_at_msg and placed is None:
                placed = ts
                price = float(book.prices[book.best_bid])
                venue.submit(PlaceOrder("o", 1, price, 0.01), ts)
                venue.advance(ts)
                events = venue.drain_events()
                assert isinstance(events[0], OrderAccepted)
                queue = venue.orders["o"].ahead
        elif kind == MsgKind.TRADE and placed is not None:
            for i in range(a, b):
                side, px, qty = int(log.row_side[i]), float(log.row_price[i]), float(log.row_qty[i])
                venue.on_trade(ts, side, px, qty)
                fills = [e for e in venue.drain_events() if isinstance(e, Fill)]
                if fills:
                    return queue, traded, (px, qty), clamp, price
                if side < 0 and px == price:
                    traded += qty
        if placed is not None and ts - placed > horizon_ns:
            return queue, traded, None, clamp, price
    return queue, traded, None, clamp, price


def test_resting_order_fills_only_after_more_than_its_queue_has_traded(btc_log):
    diffs = [m for m in range(btc_log.messages) if btc_log.msg_kind[m] == MsgKind.DIFF]
    at_price_fills = 0
    for place_at in diffs[100::150]:
        queue, traded_before, fill, cancels_ahead, price = run_order(btc_log, place_at, 120 * 10**9)
        if cancels_ahead > 0.0:
            continue  # the level shrank below our queue: cancellations ahead moved us up
        if fill is None:
            assert traded_before <= queue
            continue
        fill_px, fill_qty = fill
        assert traded_before <= queue
        if fill_px == price:
            # the trade that fills us is the one that takes the traded volume past the queue
            assert traded_before + fill_qty > queue
            at_price_fills += 1
        else:
            # filled by a sell below our bid: the whole level, us included, was swept
            assert fill_px < price
    assert at_price_fills >= 1
