"""An L2 order book over a fixed, sorted price grid (numpy arrays, no I/O).

A recording knows every price it will ever show, so the book is two dense quantity arrays
indexed by grid level: a diff is one fancy assignment per side and the best levels are
tracked incrementally. Live feeds, whose prices are not known up front, build a fresh
grid from each ccxt snapshot instead.
"""

from __future__ import annotations

import numpy as np


class GridBook:
    """Bid and ask base quantities on the price grid ``prices`` (ascending, quote currency)."""

    __slots__ = ("_width", "ask_qty", "best_ask", "best_bid", "bid_qty", "prices")

    def __init__(self, prices: np.ndarray) -> None:
        self.prices = prices
        self.bid_qty = np.zeros(prices.size, dtype=np.float64)
        self.ask_qty = np.zeros(prices.size, dtype=np.float64)
        self.best_bid = -1
        self.best_ask = prices.size
        self._width = 64

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

    def clear(self, bid_levels: np.ndarray | None = None, ask_levels: np.ndarray | None = None) -> None:
        """Empty the book; when the occupied levels are known, only those are zeroed."""
        if bid_levels is None or ask_levels is None:
            self.bid_qty.fill(0.0)
            self.ask_qty.fill(0.0)
        else:
            self.bid_qty[bid_levels] = 0.0
            self.ask_qty[ask_levels] = 0.0
        self.best_bid = -1
        self.best_ask = self.prices.size

    def apply(self, bid_levels: np.ndarray, bid_qty: np.ndarray, ask_levels: np.ndarray, ask_qty: np.ndarray) -> None:
        """Set each grid level to its new base quantity (0 removes it)."""
        if bid_levels.size:
            self.bid_qty[bid_levels] = bid_qty
            added = bid_levels[bid_qty > 0]
            if added.size and (top := int(added.max())) > self.best_bid:
                self.best_bid = top
            if self.best_bid >= 0 and self.bid_qty[self.best_bid] == 0.0:
                self.best_bid = self._next_bid(self.best_bid)
        if ask_levels.size:
            self.ask_qty[ask_levels] = ask_qty
            added = ask_levels[ask_qty > 0]
            if added.size and (low := int(added.min())) < self.best_ask:
                self.best_ask = low
            if self.best_ask < self.prices.size and self.ask_qty[self.best_ask] == 0.0:
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
            found = np.flatnonzero(self.bid_qty[lo:hi])
            if found.size:
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
            found = np.flatnonzero(self.ask_qty[lo:hi])
            if found.size:
                return lo + int(found[0])
            lo, width = hi, width * 4
        return n

    def top_bids(self, n: int) -> tuple[list[float], list[float]]:
        """The best ``n`` bid levels, best first: (prices, base quantities) as lists, which
        are cheaper than small arrays for the per-tick arithmetic that follows."""
        idx = self._collect(self.bid_qty, self.best_bid, n, downward=True)
        return self.prices[idx].tolist(), self.bid_qty[idx].tolist()

    def top_asks(self, n: int) -> tuple[list[float], list[float]]:
        """The best ``n`` ask levels, best first: (prices, base quantities) as lists."""
        idx = self._collect(self.ask_qty, self.best_ask, n, downward=False)
        return self.prices[idx].tolist(), self.ask_qty[idx].tolist()

    def _collect(self, qty: np.ndarray, best: int, n: int, downward: bool) -> np.ndarray:
        size = qty.size
        if best < 0 or best >= size:
            return np.empty(0, dtype=np.int64)
        width = self._width
        while True:
            if downward:
                lo = max(0, best + 1 - width)
                found = qty[lo : best + 1].nonzero()[0][::-1][:n] + lo
                exhausted = lo == 0
            else:
                hi = min(size, best + width)
                found = qty[best:hi].nonzero()[0][:n] + best
                exhausted = hi == size
            if found.size == n or exhausted:
                if found.size == n:
                    # remember a window that fits n levels with some slack for the next call
                    self._width = max(16, int(abs(int(found[-1]) - best) * 1.5) + 1)
                return found
            width *= 2

    def depth_within(self, bps: float) -> tuple[float, float]:
        """Base quantity resting within ``bps`` of mid on each side: (bid, ask)."""
        prices = self.prices
        mid = 0.5 * (float(prices[self.best_bid]) + float(prices[self.best_ask]))
        lo = int(prices.searchsorted(mid * (1.0 - bps * 1e-4), "left"))
        hi = int(prices.searchsorted(mid * (1.0 + bps * 1e-4), "right"))
        return float(self.bid_qty[lo : self.best_bid + 1].sum()), float(self.ask_qty[self.best_ask : hi].sum())
