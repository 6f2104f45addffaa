"""Book and trade features (pure, synchronous).

Prices are in quote currency, quantities in base units, spreads and distances in basis
points of mid, volatility in log-return per square-root second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.book.levels import BookLevels


@dataclass(init=False, slots=True)
class BookFeatures:
    """A snapshot of what the strategy needs from the book at one instant."""

    best_bid: float
    best_ask: float
    bid_qty: float
    ask_qty: float
    mid: float
    microprice: float
    spread_bps: float
    imbalance: float
    """(bid - ask) / (bid + ask) base quantity over the top ``levels`` of each side, in [-1, 1]."""
    imbalance_near: float
    """The same over the levels within ``near_bps`` of mid."""
    depth_bid: float
    """Base quantity on the bid side within ``near_bps`` of mid."""
    depth_ask: float
    impact_bps: float
    """Worse of the two sides: distance from mid of the average fill of a taker order of
    the reference size, in bps (``inf`` if the book is too thin to fill it)."""

    def __init__(
        self,
        best_bid: float,
        best_ask: float,
        bid_qty: float,
        ask_qty: float,
        mid: float,
        microprice: float,
        spread_bps: float,
        imbalance: float,
        imbalance_near: float,
        depth_bid: float,
        depth_ask: float,
        impact_bps: float,
    ) -> None:
        self.best_bid = best_bid
        self.best_ask = best_ask
        self.bid_qty = bid_qty
        self.ask_qty = ask_qty
        self.mid = mid
        self.microprice = microprice
        self.spread_bps = spread_bps
        self.imbalance = imbalance
        self.imbalance_near = imbalance_near
        self.depth_bid = depth_bid
        self.depth_ask = depth_ask
        self.impact_bps = impact_bps


def microprice(bid: float, ask: float, bid_qty: float, ask_qty: float) -> float:
    """Volume-weighted mid: leans toward the side with less resting quantity."""
    total = bid_qty + ask_qty
    if total <= 0.0:
        return 0.5 * (bid + ask)
    return (bid * ask_qty + ask * bid_qty) / total


def imbalance(bid_qty: float, ask_qty: float) -> float:
    """(bid - ask) / (bid + ask), 0 when both are empty."""
    total = bid_qty + ask_qty
    return 0.0 if total <= 0.0 else (bid_qty - ask_qty) / total


def walk_impact_bps(prices: list[float], qtys: list[float], qty: float, mid: float, levels: int = -1) -> float:
    """Distance from ``mid`` of the average price of taking ``qty`` through the first
    ``levels`` levels given (all when negative; best first), in bps; ``inf`` when they hold
    less than ``qty``."""
    left, cost = qty, 0.0
    for i in range(_count(prices, levels)):
        price, avail = prices[i], qtys[i]
        take = avail if avail < left else left
        cost += take * price
        left -= take
        if left <= 0.0:
            return abs(cost / qty - mid) / mid * 1e4
    return math.inf


def _count(prices: list[float], levels: int) -> int:
    """The number of levels to read: the first ``levels`` of those given, all of them when
    ``levels`` is negative."""
    n = len(prices)
    return n if levels < 0 or levels > n else levels


def _total(qtys: list[float], levels: int) -> float:
    """Quantity of the first ``levels`` levels."""
    total = 0.0
    for i in range(_count(qtys, levels)):
        total += qtys[i]
    return total


def _depth(prices: list[float], qtys: list[float], inside: float, bid: bool) -> float:
    """Quantity of the levels (best first) on the mid side of ``inside``."""
    total = 0.0
    for i in range(len(prices)):
        price = prices[i]
        if (price < inside) if bid else (price > inside):
            break
        total += qtys[i]
    return total


def _band(mid: float, bps: float) -> tuple[float, float]:
    """The prices ``bps`` below and above ``mid``."""
    return mid * (1.0 - bps * 1e-4), mid * (1.0 + bps * 1e-4)


def level_features(
    book: BookLevels,
    levels: int,
    near_bps: float,
    impact_qty: float,
    band_depth: tuple[float, float] | None = None,
) -> BookFeatures:
    """Compute :class:`BookFeatures` from a book's levels, both sides non-empty.

    Imbalance and impact use the first ``levels`` levels a side; the depth band sums every
    level given that lies within ``near_bps`` of mid, unless ``band_depth`` (bid, ask) is
    passed: the caller's own sums, for a band that reaches past the levels given.
    """
    bid_px, bid_q, ask_px, ask_q = book.bid_px, book.bid_q, book.ask_px, book.ask_q
    best_bid, best_ask = bid_px[0], ask_px[0]
    top_bid_q, top_ask_q = bid_q[0], ask_q[0]
    mid = 0.5 * (best_bid + best_ask)
    if band_depth is None:
        low, high = _band(mid, near_bps)
        depth_bid, depth_ask = _depth(bid_px, bid_q, low, bid=True), _depth(ask_px, ask_q, high, bid=False)
    else:
        depth_bid, depth_ask = band_depth
    impact_bid = walk_impact_bps(bid_px, bid_q, impact_qty, mid, levels)
    impact_ask = walk_impact_bps(ask_px, ask_q, impact_qty, mid, levels)
    return BookFeatures(
        best_bid,
        best_ask,
        top_bid_q,
        top_ask_q,
        mid,
        microprice(best_bid, best_ask, top_bid_q, top_ask_q),
        (best_ask - best_bid) / mid * 1e4,
        imbalance(_total(bid_q, levels), _total(ask_q, levels)),
        imbalance(depth_bid, depth_ask),
        depth_bid,
        depth_ask,
        impact_bid if impact_bid > impact_ask else impact_ask,
    )


def book_features(book: GridBook, levels: int, near_bps: float, impact_qty: float) -> BookFeatures:
    """:func:`level_features` of the book's best ``levels`` levels a side; ``book`` must be
    ready (both sides non-empty). A depth band reaching past them is summed on the grid."""
    bid_px, bid_q = book.top_bids(levels)
    ask_px, ask_q = book.top_asks(levels)
    low, high = _band(0.5 * (bid_px[0] + ask_px[0]), near_bps)
    band_depth = None if bid_px[-1] < low and ask_px[-1] > high else book.depth_within(near_bps)
    return level_features(BookLevels(bid_px, bid_q, ask_px, ask_q), levels, near_bps, impact_qty, band_depth)


class EwmaVolatility:
    """Realized volatility of mid log returns, EWMA in time, per square-root second.

    Each return ``r`` over ``dt`` seconds contributes ``r**2 / dt`` (a variance rate) with
    weight ``1 - exp(-dt / half_life * ln 2)``, so irregular sampling is handled.
    """

    __slots__ = ("_last_mid", "_last_ns", "half_life_secs", "variance_rate")

    def __init__(self, half_life_secs: float, prior_sigma: float) -> None:
        self.half_life_secs = half_life_secs
        self.variance_rate = prior_sigma * prior_sigma
        self._last_mid = 0.0
        self._last_ns = 0

    def update(self, ts_ns: int, mid: float) -> None:
        if self._last_ns and ts_ns > self._last_ns:
            dt = (ts_ns - self._last_ns) * 1e-9
            r = math.log(mid / self._last_mid)
            w = 1.0 - math.exp(-dt / self.half_life_secs * math.log(2.0))
            self.variance_rate += w * (r * r / dt - self.variance_rate)
        if ts_ns >= self._last_ns:
            self._last_mid, self._last_ns = mid, ts_ns

    @property
    def sigma(self) -> float:
        """Volatility of log mid, per square-root second (starts at the prior)."""
        return math.sqrt(self.variance_rate)


class TradeFlow:
    """Exponentially decayed buy and sell aggressor volume (base units)."""

    __slots__ = ("_last_ns", "buy", "half_life_secs", "sell")

    def __init__(self, half_life_secs: float) -> None:
        self.half_life_secs = half_life_secs
        self.buy = 0.0
        self.sell = 0.0
        self._last_ns = 0

    def update(self, ts_ns: int, side: int, qty: float) -> None:
        """``side`` is the aggressor: +1 buy, -1 sell."""
        if self._last_ns and ts_ns > self._last_ns:
            decay = math.exp(-(ts_ns - self._last_ns) * 1e-9 / self.half_life_secs * math.log(2.0))
            self.buy *= decay
            self.sell *= decay
        self._last_ns = max(self._last_ns, ts_ns)
        if side > 0:
            self.buy += qty
        else:
            self.sell += qty

    @property
    def imbalance(self) -> float:
        """(buy - sell) / (buy + sell) of the decayed volumes, in [-1, 1]."""
        return imbalance(self.buy, self.sell)
