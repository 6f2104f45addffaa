"""Live order books from ccxt: ``watch_order_book`` (ccxt.pro) or REST polling as fallback.

Books arrive as full snapshots (sorted ``[price, qty]`` lists). The quoting core reads them as
:class:`BookLevels` (no grid to build); the paper venue, which keeps queue positions between
updates, lays them on a fixed tick grid around the first mid (:class:`LiveBook`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.book.levels import BookLevels
from ccxt_mm.book.steps import multiples
from ccxt_mm.exchange.dialects import public_dialect
from ccxt_mm.exchange.errors import CcxtError, translate

T = TypeVar("T")
TRADES_LIMIT = 1000
"""ccxt.pro's trade cache per symbol when the exchange's ``tradesLimit`` option is not set."""

log = logging.getLogger(__name__)


class LiveBook:
    """A :class:`GridBook` on ``tick`` steps covering ``span`` (fraction) either side of the
    first mid; rebuilt around the new mid if the book leaves it (queue positions reset)."""

    def __init__(self, tick: float, span: float) -> None:
        self.tick = tick
        self.span = span
        self.book: GridBook | None = None
        self.rebuilds = 0
        self._first_tick = 0
        self._levels = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))

    def update(self, levels: BookLevels) -> GridBook:
        """Replace the book with a full snapshot, as :func:`book_levels` read it."""
        n_bids = len(levels.bid_px)
        prices = levels.bid_px + levels.ask_px
        if not prices:  # an empty book (a halted market): nothing to quote on
            if self.book is not None:
                self.book.clear(*self._levels)
            return self.book if self.book is not None else GridBook(np.empty(0))
        ticks = np.rint(np.array(prices, dtype=np.float64) / self.tick).astype(np.int64)
        qtys = np.array(levels.bid_q + levels.ask_q, dtype=np.float64)
        ticks_b, ticks_a = ticks[:n_bids], ticks[n_bids:]
        lo, hi = int(ticks.min()), int(ticks.max())
        book = self.book
        if book is None or lo < self._first_tick or hi >= self._first_tick + book.prices.size:
            book = self._rebuild(ticks_b, ticks_a)
        else:
            book.clear(*self._levels)
        grid_levels = ticks - self._first_tick
        levels_b, levels_a = grid_levels[:n_bids], grid_levels[n_bids:]
        book.apply(levels_b, qtys[:n_bids], levels_a, qtys[n_bids:])
        # the book holds these levels and no others: searches and depth sums stop at them
        book.bid_floor = int(ticks_b.min()) - self._first_tick if n_bids else 0
        book.ask_ceiling = int(ticks_a.max()) - self._first_tick + 1 if ticks_a.size else book.prices.size
        self._levels = (levels_b, levels_a)
        return book

    def _rebuild(self, ticks_b: np.ndarray, ticks_a: np.ndarray) -> GridBook:
        top = ticks_b.max() if ticks_b.size else ticks_a.min()
        half = max(int(top * self.span), 1)
        lo = min(top - half, ticks_b.min(initial=top), ticks_a.min(initial=top))
        hi = max(top + half, ticks_b.max(initial=top), ticks_a.max(initial=top))
        self._first_tick = int(lo)
        self.book = GridBook(multiples(np.arange(lo, hi + 1, dtype=np.int64), self.tick))
        self.rebuilds += 1
        return self.book


class WebsocketFallback:
    """Whether a feed uses its websocket or REST polling now: after ``after`` websocket
    failures in a row it polls REST for ``retry_secs``, then tries the websocket again (one
    more failure falls back at once); ``after`` = 0 never falls back. Without ``websocket``
    it always polls."""

    def __init__(self, what: str, websocket: bool, after: int, retry_secs: float) -> None:
        self.what = what
        self.websocket = websocket
        self.after = after
        self.retry_secs = retry_secs
        self.failures = 0
        """Websocket failures in a row."""
        self.fallbacks = 0
        """Times the feed fell back to REST polling."""
        self._retry_at = 0.0

    @property
    def use_websocket(self) -> bool:
        return self.websocket and time.monotonic() >= self._retry_at

    def failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.after and self.failures >= self.after:
            self._retry_at = time.monotonic() + self.retry_secs
            self.fallbacks += 1
            log.warning(
                "%s: websocket failed %d times in a row (%s): REST polling for %.0f s",
                self.what,
                self.failures,
                type(exc).__name__,
                self.retry_secs,
            )

    def succeeded(self) -> None:
        self.failures = 0


class _Feed:
    """One symbol's stream of one kind: its websocket while :class:`WebsocketFallback` says
    so, else REST polls no more often than every ``poll_secs``. ccxt's errors leave as ours."""

    def __init__(self, exchange, symbol: str, poll_secs: float, mode: WebsocketFallback) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.poll_secs = poll_secs
        self.mode = mode
        self._next_poll = 0.0

    async def _receive(self, watch: Callable[[], Awaitable[T]], poll: Callable[[], Awaitable[T]]) -> T:
        """The next message: ``watch()`` on the websocket, else ``poll()`` when its time comes."""
        if self.mode.use_websocket:
            try:
                got = await watch()
            except Exception as exc:  # ccxt's, or the socket's own: counted the same
                self.mode.failed(exc)
                if isinstance(exc, CcxtError):
                    raise translate(exc) from exc
                raise
            self.mode.succeeded()
            return got
        delay = self._next_poll - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._next_poll = time.monotonic() + self.poll_secs
        try:
            return await poll()
        except CcxtError as exc:
            raise translate(exc) from exc


class BookFeed(_Feed):
    """Successive order books of one symbol, ``depth`` levels a side.

    On the websocket it awaits ccxt.pro's ``watch_order_book`` at a depth the exchange
    streams (fixed by the first subscription), and slices the result; otherwise, or while
    :class:`WebsocketFallback` says so, it polls ``fetch_order_book`` every ``poll_secs``.
    Errors propagate: the engine pulls the market's quotes and backs off.
    """

    def __init__(self, exchange, symbol: str, depth: int, poll_secs: float, mode: WebsocketFallback) -> None:
        super().__init__(exchange, symbol, poll_secs, mode)
        self.depth = depth
        self._stream_depth = public_dialect(exchange.id).book_depth(depth)
        self.updates = 0
        self.last_nonce: int | None = None
        """The exchange's update id of the last book, where it sends one."""
        self.exchange_ns = 0
        """The exchange's time of the last book (ns, its clock; 0: the book carried none, as
        binance's REST depth)."""

    async def next(self) -> tuple[list, list]:
        """The next book's bids and asks, ``[price, qty]`` best first (its exchange time in
        :attr:`exchange_ns`)."""
        ex, symbol = self.exchange, self.symbol
        ob = await self._receive(lambda: ex.watch_order_book(symbol, self._stream_depth), lambda: ex.fetch_order_book(symbol, self.depth))
        self.updates += 1
        self.last_nonce = ob.get("nonce")
        ts_ms = ob.get("timestamp")
        self.exchange_ns = int(ts_ms) * 1_000_000 if ts_ms else 0
        return ob["bids"][: self.depth], ob["asks"][: self.depth]


class TradeFeed(_Feed):
    """Public trades of one symbol: ``watch_trades`` (ccxt.pro) or ``fetch_trades`` polling
    (always, or while :class:`WebsocketFallback` says so). Yields each trade once, as
    ``(ts_ns, aggressor side +1/-1, price, qty, trade id)`` (the id as the exchange writes
    it: not always a number, Bybit's are UUIDs)."""

    def __init__(self, exchange, symbol: str, poll_secs: float, mode: WebsocketFallback) -> None:
        super().__init__(exchange, symbol, poll_secs, mode)
        self._since: int | None = None
        """Newest trade time seen (ms) and the ids seen at exactly that time."""
        self._ids_at_since: set[str] = set()
        self.backlog = True
        """No trade had been seen before the last batch: it may hold trades from before we
        listened (a REST poll returns the latest ones), whose receive time says nothing of
        the feed's latency."""
        self.overflowed = False
        """The last batch came from the websocket and filled ccxt.pro's trade cache (its
        ``tradesLimit``): trades that arrived before them may have been dropped."""

    async def next(self) -> list[tuple[int, int, float, float, str]]:
        """The trades not yielded before (``ts_ns``: the exchange's time, ns)."""
        ex, symbol = self.exchange, self.symbol
        websocket = self.mode.use_websocket
        trades = await self._receive(lambda: ex.watch_trades(symbol), lambda: ex.fetch_trades(symbol, self._since))
        self.backlog = self._since is None
        self.overflowed = websocket and len(trades) >= int(ex.options.get("tradesLimit", TRADES_LIMIT))
        fresh = []
        for t in trades:
            trade_id, ts_ms = str(t["id"]), int(t["timestamp"])
            since = self._since if self._since is not None else -1
            if ts_ms < since or (ts_ms == since and trade_id in self._ids_at_since):
                continue
            if ts_ms > since:
                self._since, self._ids_at_since = ts_ms, set()
            self._ids_at_since.add(trade_id)
            fresh.append((ts_ms * 1_000_000, 1 if t["side"] == "buy" else -1, float(t["price"]), float(t["amount"]), trade_id))
        return fresh
