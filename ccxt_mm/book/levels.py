"""A book as its levels, read once from ccxt's rows (pure, synchronous).

Prices are in quote currency, quantities in base units, best level first on each side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(init=False, slots=True)
class BookLevels:
    """A book as its levels, best first on each side (prices quote currency, base quantities)."""

    bid_px: list[float]
    bid_q: list[float]
    ask_px: list[float]
    ask_q: list[float]

    def __init__(self, bid_px: list[float], bid_q: list[float], ask_px: list[float], ask_q: list[float]) -> None:
        self.bid_px = bid_px
        self.bid_q = bid_q
        self.ask_px = ask_px
        self.ask_q = ask_q

    @property
    def quotable(self) -> bool:
        """Both sides non-empty and the best bid below the best ask."""
        return bool(self.bid_px) and bool(self.ask_px) and self.bid_px[0] < self.ask_px[0]


def _side(rows: list[list]) -> tuple[list, list]:
    """Each ``[price, amount, ...]`` row's price and amount, as two lists (one pass, no
    copy of a row, each list allocated once at its size)."""
    n = len(rows)
    prices: list = [0.0] * n
    qtys: list = [0.0] * n
    for i in range(n):
        row = rows[i]
        price, qty = row[0], row[1]
        if price is None or qty is None:
            raise ValueError("order book level without a price or an amount")
        prices[i] = price
        qtys[i] = qty
    return prices, qtys


def book_levels(bids: list[list], asks: list[list]) -> BookLevels:
    """A ccxt book's sides (``[price, amount, ...]`` rows, best first: ccxt sorts them) as
    :class:`BookLevels`; a row without a price or an amount is a clear error."""
    try:
        bid_px, bid_q = _side(bids)
        ask_px, ask_q = _side(asks)
    except (IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"order book levels must be [price, amount, ...] rows ({type(exc).__name__}: {exc})") from exc
    return BookLevels(bid_px, bid_q, ask_px, ask_q)
