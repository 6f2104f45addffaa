"""A store's recording of one symbol read a segment at a time: a replay's memory stays flat in the
recording's length.

A first pass over the store's files (a batch at a time) learns what a replay needs before it
starts: the price grid (every distinct price), the exchange clock (one ``receive − exchange``
difference per stamped message, 8 bytes each), the counts and the distinct sizes. The replay
then walks :meth:`StoreRecording.segments`: consecutive :class:`~ccxt_mm.market.events.EventLog`
segments of about :data:`SEGMENT_ROWS` rows, whole messages each, on that grid. A replay of the
segments is the replay of the whole log (tested), since the grid and the clock are the whole
recording's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa

from ccxt_mm.errors import DataError
from ccxt_mm.market.events import EventLog, MsgKind
from ccxt_mm.market.latency import RecordedClock, clock_of
from ccxt_mm.market.store import event_log, read_batches, store_files

SEGMENT_ROWS: Final = 1 << 18
"""Rows per segment (at least; a segment ends at a message's end): ~9 minutes of Binance
BTCUSDT depth diffs and trades, ~10 MB of arrays."""
_DISTINCT_PENDING: Final = 1 << 20
"""Distinct values collected before they are merged into one sorted array."""

Piece = tuple[int, pa.RecordBatch]
"""Rows of one store file: (the file's index, whole messages of it)."""


class _Distinct:
    """The distinct values of a stream of arrays, in memory bounded by their number."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._pending = 0

    def add(self, values: np.ndarray) -> None:
        part = np.unique(values)
        self._parts.append(part)
        self._pending += part.size
        if self._pending > _DISTINCT_PENDING:
            self._parts = [self.values()]
            self._pending = self._parts[0].size

    def values(self) -> np.ndarray:
        """Every distinct value added, ascending."""
        return np.unique(np.concatenate(self._parts)) if self._parts else np.zeros(0)


class StoreRecording:
    """:class:`~ccxt_mm.market.events.Recording` of ``symbol`` (on ``exchange``, needed only if
    several exchanges have it) in the store at ``root``."""

    def __init__(self, root: str, symbol: str, exchange: str | None = None, segment_rows: int = SEGMENT_ROWS) -> None:
        self.symbol = symbol
        self.paths, self.skipped = store_files(root, symbol, exchange)
        self.sources = tuple(self.paths)
        self.segment_rows = segment_rows
        prices, sizes = _Distinct(), _Distinct()
        differences: list[np.ndarray] = []
        self.messages = self.book_rows = snapshots = 0
        for piece in self._pieces():
            batch = piece[1]
            side, kind = batch.column("side").to_numpy(), batch.column("kind").to_numpy()
            real = side != 0
            prices.add(batch.column("price").to_numpy()[real])
            sizes.add(batch.column("qty").to_numpy()[real])
            first = _message_starts(batch.column("msg").to_numpy())
            recv, exch = batch.column("recv_ns").to_numpy()[first], batch.column("exch_ns").to_numpy()[first]
            differences.append((recv - exch)[exch > 0])
            self.messages += int(first.size)
            self.book_rows += int((real & (kind != MsgKind.TICKER)).sum())
            snapshots += int((kind[first] == MsgKind.SNAPSHOT).sum())
        if snapshots == 0:
            raise DataError(self.paths[0], 1, f"no order-book snapshot for {symbol} in this store")
        self.prices = prices.values()
        """Every price of the recording, ascending (quote)."""
        self.sizes = sizes.values()
        """Every distinct size of the recording, ascending (base)."""
        self._clock = clock_of(np.concatenate(differences))
        pa.default_memory_pool().release_unused()

    @property
    def messages_read(self) -> int:
        return self.messages + sum(self.skipped.values())

    def clock(self) -> RecordedClock:
        return self._clock

    def segments(self) -> Iterator[EventLog]:
        """The recording in consecutive segments of whole messages, each of at least
        ``segment_rows`` rows but the last, every level on the recording's grid."""
        pending: list[Piece] = []
        rows = 0
        for piece in self._pieces():
            pending.append(piece)
            rows += piece[1].num_rows
            while rows >= self.segment_rows:
                head, pending = _cut(pending, self.segment_rows)
                rows -= sum(b.num_rows for _, b in head)
                yield self._log(head)
                pa.default_memory_pool().release_unused()  # the segment's batches, decompressed
        if pending:
            yield self._log(pending)

    def _pieces(self) -> Iterator[Piece]:
        for i, path in enumerate(self.paths):
            for batch in read_batches(Path(path), numeric=True):
                if batch.num_rows:
                    yield i, batch

    def _log(self, pieces: list[Piece]) -> EventLog:
        return event_log(self.symbol, self.paths, pieces, self.skipped, self.prices)


def _message_starts(msg: np.ndarray) -> np.ndarray:
    """Indices of the rows that start a message (a batch holds whole messages)."""
    return np.flatnonzero(np.r_[True, msg[1:] != msg[:-1]])


def _cut(pieces: list[Piece], rows: int) -> tuple[list[Piece], list[Piece]]:
    """``pieces`` split at the first message end at or after ``rows`` rows: (before, after)."""
    seen = 0
    for k, (i, batch) in enumerate(pieces):
        if seen + batch.num_rows < rows:
            seen += batch.num_rows
            continue
        msg = batch.column("msg").to_numpy()
        j = rows - seen  # >= 1: the row after the one that reaches ``rows``
        ends = np.flatnonzero(msg[j:] != msg[j - 1])
        at = j + int(ends[0]) if ends.size else batch.num_rows
        before = [*pieces[:k], (i, batch.slice(0, at))] if at else pieces[:k]
        after = ([(i, batch.slice(at))] if at < batch.num_rows else []) + pieces[k + 1 :]
        return before, after
    return pieces, []
