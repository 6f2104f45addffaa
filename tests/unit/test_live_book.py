"""LiveBook: full ccxt snapshots laid on a fixed tick grid."""

from __future__ import annotations

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
