"""GridBook: best-level tracking and views, against a brute-force book (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.book.grid_book import GridBook

GRID = np.round(np.arange(100.0, 100.0 + 0.01 * 400, 0.01), 2)

update = st.lists(
    st.tuples(st.integers(0, GRID.size - 1), st.sampled_from([1, -1]), st.sampled_from([0.0, 0.0, 0.5, 1.25, 3.0])),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(update, min_size=1, max_size=40))
def test_best_levels_and_top_views_match_brute_force(updates):
    book = GridBook(GRID)
    bids = np.zeros(GRID.size)
    asks = np.zeros(GRID.size)
    for rows in updates:
        # one message never sets the same level twice on one side
        seen: dict[tuple[int, int], float] = {}
        for level, side, qty in rows:
            seen[(level, side)] = qty
        bid = [(k[0], q) for k, q in seen.items() if k[1] > 0]
        ask = [(k[0], q) for k, q in seen.items() if k[1] < 0]
        book.apply(
            np.array([lv for lv, _ in bid], dtype=np.int64),
            np.array([q for _, q in bid]),
            np.array([lv for lv, _ in ask], dtype=np.int64),
            np.array([q for _, q in ask]),
        )
        for (level, side), qty in seen.items():
            (bids if side > 0 else asks)[level] = qty
        nz_b, nz_a = np.flatnonzero(bids), np.flatnonzero(asks)
        assert book.best_bid == (nz_b[-1] if nz_b.size else -1)
        assert book.best_ask == (nz_a[0] if nz_a.size else GRID.size)
        px, q = book.top_bids(5)
        assert list(px) == list(GRID[nz_b[::-1][:5]])
        assert list(q) == list(bids[nz_b[::-1][:5]])
        px, q = book.top_asks(5)
        assert list(px) == list(GRID[nz_a[:5]])


def test_depth_within_bps_sums_levels_inside_the_band():
    bids = np.array([[100.00, 1.0], [99.95, 2.0], [99.80, 4.0]])
    asks = np.array([[100.02, 1.5], [100.10, 3.0], [100.30, 5.0]])
    book = GridBook.from_levels(bids, asks)
    # mid 100.01; 10 bps band = [99.91, 100.11]
    assert book.depth_within(10.0) == (3.0, 4.5)
    assert book.crossed is False
    book.apply(np.array([np.searchsorted(book.prices, 100.10)]), np.array([1.0]), np.array([], dtype=np.int64), np.array([]))
    assert book.crossed
