"""LiveBook: full ccxt snapshots, read by book_levels, laid on a fixed tick grid (the paper venue's book)."""

from __future__ import annotations

from dataclasses import astuple

import pytest

from ccxt_mm.book.levels import book_levels
from ccxt_mm.exchange.feed import LiveBook


def test_snapshots_replace_the_book_and_the_grid_is_kept_until_left():
    lb = LiveBook(tick=0.01, span=0.001)
    book = lb.update(book_levels([[100.00, 1.0], [99.99, 2.0]], [[100.01, 3.0], [100.05, 4.0]]))
    assert (book.prices[book.best_bid], book.prices[book.best_ask]) == (100.00, 100.01)
    assert book.top_bids(5) == ([100.0, 99.99], [1.0, 2.0])
    # the next snapshot drops 99.99 and the old best ask
    same = lb.update(book_levels([[100.01, 0.5]], [[100.02, 1.5]]))
    assert same is book and lb.rebuilds == 1
    assert same.top_bids(5) == ([100.01], [0.5]) and same.top_asks(5) == ([100.02], [1.5])
    # a price beyond the grid (±0.1 % here) rebuilds it around the new book
    moved = lb.update(book_levels([[101.00, 1.0]], [[101.01, 1.0]]))
    assert lb.rebuilds == 2 and moved.top_asks(1) == ([101.01], [1.0])


def test_levels_with_extra_fields_are_read_as_price_and_quantity():
    """okx books carry [price, qty, order count]: the count must not shift the pairs."""
    lb = LiveBook(tick=0.1, span=0.001)
    book = lb.update(book_levels([[30243.4, 0.5, 3], [30243.3, 1.0, 1]], [[30243.5, 2.0, 7]]))
    assert book.top_bids(5) == ([30243.4, 30243.3], [0.5, 1.0])
    assert book.top_asks(5) == ([30243.5], [2.0])
    assert book.prices.size == 2 * int(302434 * 0.001) + 1  # ±0.1 % of the best bid, in 0.1 ticks


def test_stream_depths_the_exchanges_accept():
    from ccxt_mm.exchange.dialects import dialect

    # ccxt.pro's bybit refuses any spot depth but 1/50/200/1000; binance streams fixed depths
    assert [dialect("bybit").book_depth(d) for d in (1, 20, 51, 5000)] == [1, 50, 200, 1000]
    assert [dialect("binance").book_depth(d) for d in (20, 25)] == [20, 50]
    assert dialect("okx").book_depth(20) == 20


def test_features_of_a_live_book_equal_those_of_the_same_levels_on_an_open_grid(btc_log):
    """Live quoting reads the features straight from the levels ccxt hands over, and the paper
    venue's grid book knows it holds only those levels: both must give the features of the
    same levels on a grid that does not know it (real top-20 books of the Binance BTCUSDT
    recording, every 500th update; imbalance and impact over the best 5 or all 20)."""
    import numpy as np

    from ccxt_mm.book.features import book_features, level_features
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
        levels = book_levels(bids.tolist(), asks.tolist())
        book = live.update(levels)
        assert book.bid_floor > 0 and book.ask_ceiling < book.prices.size  # the grid reaches past the levels
        open_grid = GridBook.from_levels(bids, asks)
        for top, near_bps in ((20, 0.5), (20, 2.0), (20, 10.0), (5, 2.0), (5, 10.0)):  # bands inside the levels and past them
            want = astuple(book_features(open_grid, top, near_bps, 1.0))
            assert astuple(book_features(book, top, near_bps, 1.0)) == pytest.approx(want, rel=1e-12)  # sums of other lengths
            assert astuple(level_features(levels, top, near_bps, 1.0)) == pytest.approx(want, rel=1e-12)
        compared += 1
    assert compared >= 12


def test_levels_are_read_as_price_and_amount_and_bad_rows_are_refused():
    levels = book_levels([[100.0, 1.0, 3], [99.9, 2.0, 1]], [[100.1, 0.5, 2]])  # okx adds an order count
    assert astuple(levels) == ([100.0, 99.9], [1.0, 2.0], [100.1], [0.5]) and levels.quotable
    assert not book_levels([[100.1, 1.0]], [[100.1, 1.0]]).quotable  # crossed (locked)
    assert not book_levels([], [[100.1, 1.0]]).quotable
    with pytest.raises(ValueError, match=r"\[price, amount, \.\.\.\] rows \(IndexError"):
        book_levels([[100.0]], [[100.1, 1.0]])
    with pytest.raises(ValueError, match="without a price or an amount"):
        book_levels([[100.0, None]], [[100.1, 1.0]])


def test_an_empty_book_is_not_ready_and_malformed_levels_are_refused():
    lb = LiveBook(tick=0.01, span=0.001)
    assert not lb.update(book_levels([], [])).ready  # a halted market before any book
    book = lb.update(book_levels([[100.00, 1.0]], [[100.01, 3.0]]))
    assert book.ready
    emptied = lb.update(book_levels([], []))
    assert emptied is book and not emptied.ready and emptied.bid_qty.sum() == emptied.ask_qty.sum() == 0.0
    with pytest.raises(ValueError, match=r"\[price, amount, \.\.\.\]"):
        lb.update(book_levels([[100.00]], [[100.01]]))
    with pytest.raises(ValueError):
        lb.update(book_levels([[100.00, 1.0]], [[100.01]]))  # ragged rows
