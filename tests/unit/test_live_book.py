"""LiveBook: full ccxt snapshots laid on a fixed tick grid."""

from __future__ import annotations

import pytest

from ccxt_mm.market.feed import LiveBook


def test_snapshots_replace_the_book_and_the_grid_is_kept_until_left():
    lb = LiveBook(tick=0.01, span=0.001)
    book = lb.update([[100.00, 1.0], [99.99, 2.0]], [[100.01, 3.0], [100.05, 4.0]])
    assert (book.prices[book.best_bid], book.prices[book.best_ask]) == (100.00, 100.01)
    assert book.top_bids(5) == ([100.0, 99.99], [1.0, 2.0])
    # the next snapshot drops 99.99 and the old best ask
    same = lb.update([[100.01, 0.5]], [[100.02, 1.5]])
    assert same is book and lb.rebuilds == 1
    assert same.top_bids(5) == ([100.01], [0.5]) and same.top_asks(5) == ([100.02], [1.5])
    # a price beyond the grid (±0.1 % here) rebuilds it around the new book
    moved = lb.update([[101.00, 1.0]], [[101.01, 1.0]])
    assert lb.rebuilds == 2 and moved.top_asks(1) == ([101.01], [1.0])


def test_levels_with_extra_fields_are_read_as_price_and_quantity():
    """okx books carry [price, qty, order count]: the count must not shift the pairs."""
    lb = LiveBook(tick=0.1, span=0.001)
    book = lb.update([[30243.4, 0.5, 3], [30243.3, 1.0, 1]], [[30243.5, 2.0, 7]])
    assert book.top_bids(5) == ([30243.4, 30243.3], [0.5, 1.0])
    assert book.top_asks(5) == ([30243.5], [2.0])
    assert book.prices.size == 2 * int(302434 * 0.001) + 1  # ±0.1 % of the best bid, in 0.1 ticks


def test_stream_depths_the_exchanges_accept():
    from ccxt_mm.market.feed import subscription_depth

    # ccxt.pro's bybit refuses any spot depth but 1/50/200/1000; binance streams fixed depths
    assert [subscription_depth("bybit", d) for d in (1, 20, 51, 5000)] == [1, 50, 200, 1000]
    assert [subscription_depth("binance", d) for d in (20, 25)] == [20, 50]
    assert subscription_depth("okx", 20) == 20


def test_features_of_a_live_book_equal_those_of_the_same_levels_on_an_open_grid(btc_log):
    """A live book knows it holds only its snapshot's levels and stops its searches and depth
    sums there: the features must be those of the same levels on a grid that does not know it
    (real top-20 books of the Binance BTCUSDT recording, every 500th update)."""
    import numpy as np

    from ccxt_mm.book.features import book_features
    from ccxt_mm.book.grid_book import GridBook
    from ccxt_mm.market.events import MsgKind

    replayed = GridBook(btc_log.prices)
    live = LiveBook(tick=0.01, span=0.001)
    compared = 0
    for n, m in enumerate(np.flatnonzero(np.isin(btc_log.msg_kind, (MsgKind.SNAPSHOT, MsgKind.DIFF)))):
        if btc_log.msg_kind[m] == MsgKind.SNAPSHOT:
            replayed.clear()
        btc_log.apply_message(replayed, int(m))
        if n % 500 or not replayed.ready:
            continue
        bids, asks = (np.column_stack(side) for side in (replayed.top_bids(20), replayed.top_asks(20)))
        book = live.update(bids.tolist(), asks.tolist())
        assert book.bid_floor > 0 and book.ask_ceiling < book.prices.size  # the grid reaches past the levels
        for near_bps in (0.5, 2.0, 10.0):  # bands inside the 20 levels and past them
            got, want = book_features(book, 20, near_bps, 1.0), book_features(GridBook.from_levels(bids, asks), 20, near_bps, 1.0)
            assert tuple(got) == pytest.approx(tuple(want), rel=1e-12)  # sums of other lengths: last-bit differences
        compared += 1
    assert compared >= 12


def test_an_empty_book_is_not_ready_and_malformed_levels_are_refused():
    lb = LiveBook(tick=0.01, span=0.001)
    assert not lb.update([], []).ready  # a halted market before any book
    book = lb.update([[100.00, 1.0]], [[100.01, 3.0]])
    assert book.ready
    emptied = lb.update([], [])
    assert emptied is book and not emptied.ready and emptied.bid_qty.sum() == emptied.ask_qty.sum() == 0.0
    with pytest.raises(ValueError, match=r"\[price, amount, \.\.\.\]"):
        lb.update([[100.00]], [[100.01]])
    with pytest.raises(ValueError):
        lb.update([[100.00, 1.0]], [[100.01]])  # ragged rows
