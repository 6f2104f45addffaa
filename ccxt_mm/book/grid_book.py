"""An L2 order book over a fixed, sorted price grid (numpy arrays, no I/O).

A recording knows every price it will ever show, so the book is two dense quantity arrays
indexed by grid level: a diff is one fancy assignment per side and the best levels are
tracked incrementally. Live feeds, whose prices are not known up front, build a fresh
grid from each ccxt snapshot instead.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from typing import Final

import numpy as np

_sum: Final = np.add.reduce


class GridBook:
    """Bid and ask base quantities on the price grid ``prices`` (ascending, quote currency)."""

    __slots__ = (
        "_ask_width",
        "_bid_width",
        "_price_list",
        "ask_ceiling",
        "ask_qty",
        "best_ask",
        "best_bid",
        "bid_floor",
        "bid_qty",
        "prices",
    )

    def __init__(self, prices: np.ndarray) -> None:
        self._price_list = array("d", prices.astype(np.float64, copy=False).tobytes())
        """The grid for scalar lookups and bisection without numpy call overhead (an array:
        8 bytes a price, where a list of floats costs 32; live books hold 10^4-price grids)."""
        self.prices = np.frombuffer(self._price_list, dtype=np.float64)
        """The same grid as a numpy view of that array (no second copy)."""
        self.bid_qty = np.zeros(prices.size, dtype=np.float64)
        self.ask_qty = np.zeros(prices.size, dtype=np.float64)
        self.best_bid = -1
        self.best_ask = prices.size
        self.bid_floor = 0
        """No bid rests below this level: set by an owner that knows (a live book holds only
        its snapshot's levels), so searches and depth sums stop there; 0 when unknown."""
        self.ask_ceiling = prices.size
        """No ask rests at or above this level (grid size when unknown)."""
        self._bid_width = self._ask_width = 64
        """Grid span last needed to find the requested number of levels, with slack."""

    @classmethod
    def from_levels(cls, bids: np.ndarray, asks: np.ndarray) -> GridBook:
        """Build from ``[[price, qty], ...]`` arrays (e.g. a ccxt order book)."""
        prices = np.unique(np.concatenate([bids[:, 0], asks[:, 0]]))
        book = cls(prices)
        book.bid_qty[np.searchsorted(prices, bids[:, 0])] = bids[:, 1]
        book.ask_qty[np.searchsorted(prices, asks[:, 0])] = asks[:, 1]
        book._rescan()
        return book

    @property
    def ready(self) -> bool:
        """Both sides have at least one level."""
        return self.best_bid >= 0 and self.best_ask < self.prices.size

    @property
    def crossed(self) -> bool:
        return self.ready and self.best_bid >= self.best_ask

    def price(self, level: int) -> float:
        """Price of grid ``level`` as a Python float."""
        return self._price_list[level]

    def qty_through(self, side: int, price: float) -> float:
        """Base quantity resting on ``side`` (+1 bids, -1 asks) at ``price`` or better for
        the other side: bids at or above it, asks at or below it."""
        if side > 0:
            top = self.best_bid
            return float(_sum(self.bid_qty[bisect_left(self._price_list, price) : top + 1])) if top >= 0 else 0.0
        top = self.best_ask
        return float(_sum(self.ask_qty[top : bisect_right(self._price_list, price)])) if top < self.prices.size else 0.0

    def clear(self, bid_levels: np.ndarray | None = None, ask_levels: np.ndarray | None = None) -> None:
        """Empty the book; when the occupied levels are known, only those are zeroed."""
        if bid_levels is None or ask_levels is None:
            self.bid_qty.fill(0.0)
            self.ask_qty.fill(0.0)
        else:
            self.bid_qty[bid_levels] = 0.0
            self.ask_qty[ask_levels] = 0.0
        self.best_bid = -1
        self.best_ask = self.ask_ceiling = self.prices.size
        self.bid_floor = 0

    def apply(
        self,
        bid_levels: np.ndarray,
        bid_qty: np.ndarray,
        ask_levels: np.ndarray,
        ask_qty: np.ndarray,
        bid_top: int | None = None,
        ask_top: int | None = None,
    ) -> None:
        """Set each grid level to its new base quantity (0 removes it).

        ``bid_top`` / ``ask_top``: the highest bid and lowest ask level this update sets to a
        positive quantity (-1 / grid size when none), if the caller knows them already (a
        recording computes them for every message at once); found here otherwise."""
        if len(bid_levels):
            qty = self.bid_qty
            qty[bid_levels] = bid_qty
            if bid_top is None:
                added = bid_levels[bid_qty > 0]
                bid_top = int(added.max()) if added.size else -1
            if bid_top > self.best_bid:
                self.best_bid = bid_top
            elif self.best_bid >= 0 and qty[self.best_bid] == 0.0:
                self.best_bid = self._next_bid(self.best_bid)
        if len(ask_levels):
            qty = self.ask_qty
            qty[ask_levels] = ask_qty
            if ask_top is None:
                added = ask_levels[ask_qty > 0]
                ask_top = int(added.min()) if added.size else qty.size
            if ask_top < self.best_ask:
                self.best_ask = ask_top
            elif self.best_ask < qty.size and qty[self.best_ask] == 0.0:
                self.best_ask = self._next_ask(self.best_ask)

    def _rescan(self) -> None:
        bids = np.flatnonzero(self.bid_qty)
        asks = np.flatnonzero(self.ask_qty)
        self.best_bid = int(bids[-1]) if bids.size else -1
        self.best_ask = int(asks[0]) if asks.size else self.prices.size

    def _next_bid(self, start: int) -> int:
        """Highest non-empty bid level at or below ``start`` (-1 if none)."""
        width = 64
        hi = start + 1
        while hi > 0:
            lo = max(0, hi - width)
            found = self.bid_qty[lo:hi].astype(bool).nonzero()[0]
            if len(found):
                return lo + int(found[-1])
            hi, width = lo, width * 4
        return -1

    def _next_ask(self, start: int) -> int:
        """Lowest non-empty ask level at or above ``start`` (grid size if none)."""
        width = 64
        lo = start
        n = self.prices.size
        while lo < n:
            hi = min(n, lo + width)
            found = self.ask_qty[lo:hi].astype(bool).nonzero()[0]
            if len(found):
                return lo + int(found[0])
            lo, width = hi, width * 4
        return n

    def top_bids(self, n: int) -> tuple[list[float], list[float]]:
        """The best ``n`` bid levels, best first: (prices, base quantities) as lists, which
        are cheaper than small arrays for the per-tick arithmetic that follows."""
        best = self.best_bid
        if best < 0:
            return [], []
        width, floor = self._bid_width, self.bid_floor
        while True:
            lo = max(floor, best + 1 - width)
            window = self.bid_qty[lo : best + 1]
            found = window.astype(bool).nonzero()[0][-n:]
            if len(found) == n or lo == floor:
                break
            width *= 2
        if len(found) == n:
            self._bid_width = max(16, (best - lo - int(found[0])) * 3 // 2 + 1)
        prices, qtys = self.prices[lo : best + 1][found].tolist(), window[found].tolist()
        prices.reverse()
        qtys.reverse()
        return prices, qtys

    def top_asks(self, n: int) -> tuple[list[float], list[float]]:
        """The best ``n`` ask levels, best first: (prices, base quantities) as lists."""
        best, ceiling = self.best_ask, self.ask_ceiling
        if best >= self.prices.size:
            return [], []
        width = self._ask_width
        while True:
            hi = min(ceiling, best + width)
            window = self.ask_qty[best:hi]
            found = window.astype(bool).nonzero()[0][:n]
            if len(found) == n or hi == ceiling:
                break
            width *= 2
        if len(found) == n:
            self._ask_width = max(16, int(found[-1]) * 3 // 2 + 1)
        return self.prices[best:hi][found].tolist(), window[found].tolist()

    def depth_within(self, bps: float) -> tuple[float, float]:
        """Base quantity resting within ``bps`` of mid on each side: (bid, ask)."""
        prices = self._price_list
        mid = 0.5 * (prices[self.best_bid] + prices[self.best_ask])
        lo = max(self.bid_floor, bisect_left(prices, mid * (1.0 - bps * 1e-4)))
        hi = min(self.ask_ceiling, bisect_right(prices, mid * (1.0 + bps * 1e-4)))
        return float(_sum(self.bid_qty[lo : self.best_bid + 1])), float(_sum(self.ask_qty[self.best_ask : hi]))
