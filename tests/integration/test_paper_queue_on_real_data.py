"""Queue position of the paper venue, checked against the real BTCUSDT trades and book."""

from __future__ import annotations

from dataclasses import dataclass

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.execution.paper import PaperParams, PaperVenue, QueueModel
from ccxt_mm.execution.types import Fill, OrderAccepted, PlaceOrder
from ccxt_mm.market.events import MsgKind

HORIZON_NS = 120 * 10**9


@dataclass
class Probe:
    """A 0.01 BTC bid placed at the best bid at one message, on its own paper venue
    (zero latency, risk-averse queue) that shares the replayed book."""

    place_at: int
    venue: PaperVenue
    placed_ns: int = 0
    price: float = 0.0
    queue: float = 0.0
    """Displayed quantity ahead of us at arrival."""
    traded: float = 0.0
    """Sell volume traded at our price before the fill."""
    cancels_ahead: float = 0.0
    fill: tuple[float, float] | None = None
    done: bool = False


def replay_probes(log, starts: list[int]) -> list[Probe]:
    book = GridBook(log.prices)
    params = PaperParams(
        entry_latency_ms=0.0,
        cancel_latency_ms=0.0,
        maker_fee_bps=0.0,
        taker_fee_bps=0.0,
        queue_model=QueueModel.RISK_AVERSE,
        amend_supported=True,
    )
    probes = [Probe(m, PaperVenue(params, book, base=0.0, quote=1e9, lot_size=1e-5)) for m in starts]
    for m in range(log.messages):
        kind, ts = log.msg_kind[m], int(log.msg_ts_ns[m])
        live = [p for p in probes if p.placed_ns and not p.done]
        if kind in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            if kind == MsgKind.SNAPSHOT:
                book.clear()
            log.apply_message(book, m)
            for p in live:
                before = p.venue.orders["o"].ahead
                p.venue.on_book_update(ts)
                if "o" not in p.venue.orders:  # the asks came down to our bid: filled by the book
                    assert book.price(book.best_ask) <= p.price and p.venue.stats.book_fills == 1
                    p.done = True
                    continue
                p.cancels_ahead += before - p.venue.orders["o"].ahead
            for p in probes:
                if not p.placed_ns and m >= p.place_at:
                    p.placed_ns, p.price = ts, float(book.prices[book.best_bid])
                    p.venue.submit(PlaceOrder("o", 1, p.price, 0.01, "test"), ts)
                    p.venue.advance(ts)
                    assert isinstance(p.venue.drain_events()[0], OrderAccepted)
                    p.queue = p.venue.orders["o"].ahead
        elif kind == MsgKind.TRADE:
            for i in range(int(log.msg_start[m]), int(log.msg_stop[m])):
                side, px, qty = int(log.row_side[i]), float(log.row_price[i]), float(log.row_qty[i])
                for p in live:
                    if p.done:
                        continue
                    p.venue.on_trade(ts, side, px, qty)
                    if any(isinstance(e, Fill) for e in p.venue.drain_events()):
                        p.fill, p.done = (px, qty), True
                    elif side < 0 and px == p.price:
                        p.traded += qty
        for p in live:
            if ts - p.placed_ns > HORIZON_NS:
                p.done = True
    return probes


def test_resting_order_fills_only_after_more_than_its_queue_has_traded(btc_log):
    diffs = [m for m in range(btc_log.messages) if btc_log.msg_kind[m] == MsgKind.DIFF]
    at_price_fills = 0
    for p in replay_probes(btc_log, diffs[100::150]):
        if p.cancels_ahead > 0.0:
            continue  # the level shrank below our queue: cancellations ahead moved us up
        assert p.traded <= p.queue + 1e-12  # float sums of the trades
        if p.fill is None:
            continue
        fill_px, fill_qty = p.fill
        if fill_px == p.price:
            # the trade that fills us is the one that takes the traded volume past the queue
            assert p.traded + fill_qty > p.queue
            at_price_fills += 1
        else:
            # filled by a sell below our bid: the whole level, us included, was swept
            assert fill_px < p.price
    assert at_price_fills >= 1
