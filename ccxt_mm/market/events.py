"""Normalised market events: the columnar form every recorded capture is converted to.

One *message* is one thing the exchange sent (a depth diff, a snapshot, a trade batch, a
top-of-book ticker); it owns a contiguous run of *rows*, one per price level or trade.
Arrays rather than objects, so a replay walks ~1e6 rows per second in plain Python + numpy.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import chain
from typing import NamedTuple, Protocol

import numpy as np

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.errors import DataError
from ccxt_mm.market.latency import RecordedClock, recorded_clock


class MsgKind(IntEnum):
    """What a message does to the replayed market."""

    SNAPSHOT = 1  # replaces the whole book with its rows
    DIFF = 2  # sets each row's price level to its quantity (0 removes it)
    TRADE = 3  # rows are trades; side is the aggressor's side
    TICKER = 4  # recorded best bid (side +1) and best ask (side -1); for validation only
    INVALID = 5  # the book is broken from here until the next SNAPSHOT (gap, checksum)


BID = 1
ASK = -1
NS_PER_MS = 1_000_000
"""Exchanges stamp their events in ms; the event log keeps ns."""


class BookUpdate(NamedTuple):
    """The arguments of :meth:`GridBook.apply` for one recorded SNAPSHOT or DIFF."""

    bid_levels: np.ndarray
    bid_qty: np.ndarray
    ask_levels: np.ndarray
    ask_qty: np.ndarray
    bid_top: int
    ask_top: int


@dataclass(frozen=True)
class EventLog:
    """A recording in columnar form.

    Message arrays (length M): ``msg_ts_ns`` local receive time in ns, ``msg_exch_ns`` the
    exchange's time of the event in ns on the exchange's clock (0 where the message carries
    none: a REST snapshot, Binance spot's bookTicker), ``msg_kind``
    (:class:`MsgKind`), ``msg_start``/``msg_stop`` row range, bid rows before ``msg_split``
    and ask rows from it, ``msg_seq`` exchange update id
    (0 where the venue has none), ``msg_src`` index into ``sources``, ``msg_line`` 1-based
    line in that source.
    Row arrays (length N): ``row_side`` (+1 bid / buy aggressor, -1 ask / sell aggressor),
    ``row_price`` (quote currency), ``row_qty`` (base quantity), ``row_level`` index of the
    row's price in ``prices`` (the sorted grid of every price in the recording).
    """

    symbol: str
    sources: tuple[str, ...]
    msg_ts_ns: np.ndarray
    msg_exch_ns: np.ndarray
    msg_kind: np.ndarray
    msg_start: np.ndarray
    msg_split: np.ndarray
    msg_stop: np.ndarray
    msg_seq: np.ndarray
    msg_src: np.ndarray
    msg_line: np.ndarray
    row_side: np.ndarray
    row_price: np.ndarray
    row_qty: np.ndarray
    row_level: np.ndarray
    prices: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return int(self.msg_ts_ns.size)

    @property
    def messages_read(self) -> int:
        """Every message of the recording: the replayed ones and the counted skips."""
        return self.messages + sum(self.skipped.values())

    @property
    def book_rows(self) -> int:
        """Rows that change the book or report a trade (tickers excluded)."""
        kinds = self.msg_kind
        counts = self.msg_stop - self.msg_start
        return int(counts[kinds != MsgKind.TICKER].sum())

    def apply_message(self, book: GridBook, msg: int) -> None:
        """Apply a SNAPSHOT's or DIFF's rows to ``book`` (a snapshot's caller clears first)."""
        a, s, b = int(self.msg_start[msg]), int(self.msg_split[msg]), int(self.msg_stop[msg])
        book.apply(self.row_level[a:s], self.row_qty[a:s], self.row_level[s:b], self.row_qty[s:b])

    def book_updates(self) -> list[BookUpdate | None]:
        """Per message, the arguments of :meth:`GridBook.apply` for a SNAPSHOT or DIFF (None
        for other kinds), with each update's best new levels found for all messages at once:
        a replay then applies a diff with two numpy assignments and no other numpy call."""
        counts = self.msg_stop - self.msg_start
        msg_of_row = np.repeat(np.arange(self.messages), counts)
        book_msg = (self.msg_kind == MsgKind.SNAPSHOT) | (self.msg_kind == MsgKind.DIFF)
        added = book_msg[msg_of_row] & (self.row_qty > 0)
        bid_top = np.full(self.messages, -1, dtype=np.int64)
        ask_top = np.full(self.messages, self.prices.size, dtype=np.int64)
        bids = added & (self.row_side == BID)
        asks = added & (self.row_side == ASK)
        np.maximum.at(bid_top, msg_of_row[bids], self.row_level[bids])
        np.minimum.at(ask_top, msg_of_row[asks], self.row_level[asks])
        level, qty = self.row_level, self.row_qty
        updates: list[BookUpdate | None] = [None] * self.messages
        for m, a, s, b, bt, at in zip(
            np.flatnonzero(book_msg).tolist(),
            self.msg_start[book_msg].tolist(),
            self.msg_split[book_msg].tolist(),
            self.msg_stop[book_msg].tolist(),
            bid_top[book_msg].tolist(),
            ask_top[book_msg].tolist(),
            strict=True,
        ):
            updates[m] = BookUpdate(level[a:s], qty[a:s], level[s:b], qty[s:b], bt, at)
        return updates

    @property
    def sizes(self) -> np.ndarray:
        """Every row's size (base): :attr:`row_qty`."""
        return self.row_qty

    def clock(self) -> RecordedClock:
        """The recording's exchange clock (:func:`~ccxt_mm.market.latency.recorded_clock`)."""
        return recorded_clock(self.msg_ts_ns, self.msg_exch_ns)

    def segments(self) -> Iterator[EventLog]:
        """The log in one segment: it is all in memory already."""
        yield self

    def where(self, msg: int) -> str:
        """``path:line`` of message ``msg``, for error messages."""
        return f"{self.sources[self.msg_src[msg]]}:{self.msg_line[msg]}"


class Recording(Protocol):
    """What a replay walks: facts of the whole recording, known before it starts, then its
    messages as consecutive :class:`EventLog` segments on the whole recording's price grid (an
    :class:`EventLog` is one segment; a store is read a segment at a time, so a replay's memory
    does not grow with the recording's length)."""

    @property
    def symbol(self) -> str: ...

    @property
    def prices(self) -> np.ndarray:
        """Every price of the recording, ascending (quote): the grid of every segment's
        ``row_level``."""
        ...

    @property
    def messages(self) -> int: ...

    @property
    def messages_read(self) -> int: ...

    @property
    def book_rows(self) -> int: ...

    @property
    def skipped(self) -> dict[str, int]: ...

    @property
    def sizes(self) -> np.ndarray:
        """The recording's sizes (base): every row's, or every distinct one."""
        ...

    def clock(self) -> RecordedClock: ...

    def segments(self) -> Iterator[EventLog]: ...


class EventLogBuilder:
    """Collects messages while a capture is parsed (compact typed arrays), then packs them."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.sources: list[str] = []
        self.skipped: dict[str, int] = {}
        self._ts = array("q")
        self._exch = array("q")
        self._kind = array("B")
        self._start = array("q")
        self._split = array("q")
        self._seq = array("q")
        self._src = array("h")
        self._line = array("l")
        self._levels = array("d")  # price, qty, price, qty, ...

    def add_source(self, path: str) -> int:
        self.sources.append(path)
        return len(self.sources) - 1

    def skip(self, reason: str) -> None:
        """Count a message that is deliberately not replayed (other symbol, other stream)."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def add(
        self,
        kind: MsgKind,
        ts_ns: int,
        src: int,
        line: int,
        seq: int = 0,
        bids: list | tuple = (),
        asks: list | tuple = (),
        exch_ns: int = 0,
    ) -> None:
        """Append one message; ``bids``/``asks`` are ``(price, qty)`` pairs (str or float);
        ``exch_ns`` the exchange's time of it (ns, its clock; 0: none).

        A value that is not a number raises ValueError for the reader to locate."""
        levels = self._levels
        start = len(levels) // 2
        levels.extend(map(float, chain.from_iterable(bids)))
        split = len(levels) // 2
        levels.extend(map(float, chain.from_iterable(asks)))
        if len(levels) != 2 * (start + len(bids) + len(asks)):
            del levels[2 * start :]
            raise ValueError("a price level is not a [price, quantity] pair")
        self._ts.append(ts_ns)
        self._exch.append(exch_ns)
        self._kind.append(kind)
        self._start.append(start)
        self._split.append(split)
        self._seq.append(seq)
        self._src.append(src)
        self._line.append(line)

    def build(self) -> EventLog:
        pairs = np.frombuffer(self._levels, dtype=np.float64).reshape(-1, 2)
        row_price = np.ascontiguousarray(pairs[:, 0])
        row_qty = np.ascontiguousarray(pairs[:, 1])
        msg_start = np.frombuffer(self._start, dtype=np.int64)
        msg_split = np.frombuffer(self._split, dtype=np.int64)
        n_rows = row_price.size
        msg_stop = np.append(msg_start[1:], n_rows)
        row_side = np.full(n_rows, ASK, dtype=np.int8)
        rows = np.arange(n_rows)
        msg_of_row = np.searchsorted(msg_start, rows, side="right") - 1
        row_side[rows < msg_split[msg_of_row]] = BID
        msg_src = np.frombuffer(self._src, dtype=np.int16)
        msg_line = np.array(self._line, dtype=np.int32)
        bad = np.flatnonzero(~np.isfinite(row_price) | (row_price <= 0) | ~np.isfinite(row_qty) | (row_qty < 0))
        if bad.size:
            m = int(msg_of_row[bad[0]])
            raise DataError(
                self.sources[msg_src[m]], int(msg_line[m]), f"invalid level: price {row_price[bad[0]]!r}, quantity {row_qty[bad[0]]!r}"
            )
        prices = np.unique(row_price)
        return EventLog(
            symbol=self.symbol,
            sources=tuple(self.sources),
            msg_ts_ns=np.frombuffer(self._ts, dtype=np.int64),
            msg_exch_ns=np.frombuffer(self._exch, dtype=np.int64),
            msg_kind=np.frombuffer(self._kind, dtype=np.uint8),
            msg_start=msg_start,
            msg_split=msg_split,
            msg_stop=msg_stop,
            msg_seq=np.frombuffer(self._seq, dtype=np.int64),
            msg_src=msg_src,
            msg_line=msg_line,
            row_side=row_side,
            row_price=row_price,
            row_qty=row_qty,
            row_level=np.searchsorted(prices, row_price),
            prices=prices,
            skipped=dict(self.skipped),
        )
