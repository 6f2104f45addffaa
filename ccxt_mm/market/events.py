"""Normalised market events: the columnar form every recorded capture is converted to.

One *message* is one thing the exchange sent (a depth diff, a snapshot, a trade batch, a
top-of-book ticker); it owns a contiguous run of *rows*, one per price level or trade.
Arrays rather than objects, so a replay walks ~1e6 rows per second in plain Python + numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class MsgKind(IntEnum):
    """What a message does to the replayed market."""

    SNAPSHOT = 1  # replaces the whole book with its rows
    DIFF = 2  # sets each row's price level to its quantity (0 removes it)
    TRADE = 3  # rows are trades; side is the aggressor's side
    TICKER = 4  # recorded best bid (side +1) and best ask (side -1); for validation only
    INVALID = 5  # the book is broken from here until the next SNAPSHOT (gap, checksum)


BID = 1
ASK = -1


@dataclass(frozen=True)
class EventLog:
    """A recording in columnar form.

    Message arrays (length M): ``msg_ts_ns`` local receive time in ns, ``msg_kind``
    (:class:`MsgKind`), ``msg_start``/``msg_stop`` row range, ``msg_seq`` exchange update id
    (0 where the venue has none), ``msg_src`` index into ``sources``, ``msg_line`` 1-based
    line in that source.
    Row arrays (length N): ``row_side`` (+1 bid / buy aggressor, -1 ask / sell aggressor),
    ``row_price`` (quote currency), ``row_qty`` (base quantity), ``row_level`` index of the
    row's price in ``prices`` (the sorted grid of every price in the recording).
    """

    symbol: str
    sources: tuple[str, ...]
    msg_ts_ns: np.ndarray
    msg_kind: np.ndarray
    msg_start: np.ndarray
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
    def book_rows(self) -> int:
        """Rows that change the book or report a trade (tickers excluded)."""
        kinds = self.msg_kind
        counts = self.msg_stop - self.msg_start
        return int(counts[kinds != MsgKind.TICKER].sum())

    def where(self, msg: int) -> str:
        """``path:line`` of message ``msg``, for error messages."""
        return f"{self.sources[self.msg_src[msg]]}:{self.msg_line[msg]}"


class EventLogBuilder:
    """Collects messages as Python lists while a capture is parsed, then packs them."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.sources: list[str] = []
        self.skipped: dict[str, int] = {}
        self._ts: list[int] = []
        self._kind: list[int] = []
        self._start: list[int] = []
        self._seq: list[int] = []
        self._src: list[int] = []
        self._line: list[int] = []
        self._side: list[int] = []
        self._levels: list[str | float] = []  # price, qty, price, qty, ...

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
    ) -> None:
        """Append one message; ``bids``/``asks`` are ``[price, qty, ...]`` pairs (str or float)."""
        self._ts.append(ts_ns)
        self._kind.append(kind)
        self._start.append(len(self._side))
        self._seq.append(seq)
        self._src.append(src)
        self._line.append(line)
        levels = self._levels
        for level in bids:
            levels += level[:2]
        for level in asks:
            levels += level[:2]
        self._side += [BID] * len(bids) + [ASK] * len(asks)

    def build(self) -> EventLog:
        pairs = np.array(self._levels, dtype=np.float64).reshape(-1, 2)
        row_price = np.ascontiguousarray(pairs[:, 0])
        row_qty = np.ascontiguousarray(pairs[:, 1])
        prices = np.unique(row_price)
        row_level = np.searchsorted(prices, row_price).astype(np.int32)
        msg_start = np.array(self._start, dtype=np.int64)
        msg_stop = np.append(msg_start[1:], len(self._side)).astype(np.int64)
        return EventLog(
            symbol=self.symbol,
            sources=tuple(self.sources),
            msg_ts_ns=np.array(self._ts, dtype=np.int64),
            msg_kind=np.array(self._kind, dtype=np.uint8),
            msg_start=msg_start,
            msg_stop=msg_stop,
            msg_seq=np.array(self._seq, dtype=np.int64),
            msg_src=np.array(self._src, dtype=np.int16),
            msg_line=np.array(self._line, dtype=np.int32),
            row_side=np.array(self._side, dtype=np.int8),
            row_price=row_price,
            row_qty=row_qty,
            row_level=row_level,
            prices=prices,
            skipped=dict(self.skipped),
        )
