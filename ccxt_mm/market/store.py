"""The event store: every recording as one columnar format (Apache Arrow IPC streams).

Layout under a store directory::

    manifest.json                       files, row and message counts, time spans, gaps, markets
    <exchange>/<BASE-QUOTE>/<YYYYmmddTHH>-<n>.arrows           a complete file
    <exchange>/<BASE-QUOTE>/<YYYYmmddTHH>-<n>.arrows.partial   the one being written

One row per price level or trade; the message it belongs to is given by ``msg`` (its number in
the file) and repeated message fields (receive and exchange time, kind, sequence id); a message
without rows (a gap marker) has one row of side 0. Bids come before asks within a message, as
in :class:`~ccxt_mm.market.events.EventLog`, which a store reads into.

Why Arrow IPC streams: a stream is a run of self-contained record batches, so a file cut short by
a crash reads back whole up to its last complete batch (a Parquet file is unreadable without its
footer), and a batch maps into numpy columns without a parse. Files are written as
``.partial`` and renamed when complete (an atomic rename); a ``.partial`` left by a killed writer
is recovered up to its last flushed batch by the next writer (:func:`recover_partials`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa

from ccxt_mm.errors import DataError, StoreWriteError
from ccxt_mm.market.deltas import Level
from ccxt_mm.market.events import EventLog, MsgKind

SCHEMA: Final = pa.schema(
    [
        ("msg", pa.int64()),
        ("recv_ns", pa.int64()),
        ("exch_ns", pa.int64()),
        ("kind", pa.uint8()),
        ("seq", pa.int64()),
        ("side", pa.int8()),
        ("price", pa.float64()),
        ("qty", pa.float64()),
        ("trade_id", pa.string()),
    ]
)
"""One row per level or trade (see the module); ``exch_ns`` 0 where the exchange sent no time,
``seq`` the exchange's update id, or a trade's id where it is a number (0: none), ``side`` +1
bid / buy aggressor, -1 ask / sell aggressor, 0 the placeholder row of a message without
levels. ``trade_id`` is a trade's id as the exchange writes it (not always a number: Bybit's
are UUIDs), null on every other row and where the source has none: a converted recording's
trades carry their numeric id (``seq``) as text, the bundled Bybit capture's none."""
_NUMERIC: Final = SCHEMA.names[: SCHEMA.get_field_index("trade_id")]
"""The columns an :class:`EventLog` is made of (a replay does not read trade ids)."""
_NUMERIC_ONLY: Final = pa.ipc.IpcReadOptions(included_fields=list(range(len(_NUMERIC))))
_NUMERIC_SCHEMA: Final = pa.schema([SCHEMA.field(name) for name in _NUMERIC])

MANIFEST: Final = "manifest.json"
MARKET: Final = "market.json"
"""In each symbol's directory: its exchange and unified symbol (what a recovery enters)."""
_OPTIONS: Final = pa.ipc.IpcWriteOptions(compression="zstd")
"""Batches are zstd-compressed: the bundled 11 minutes take 2.0 MB (16 MB uncompressed; the raw
gzip 3.0 MB with its tickers) and read into an event log in 0.05 s (the raw JSON: 0.5 s)."""
COMPLETE: Final = ".arrows"
PARTIAL: Final = ".arrows.partial"


def symbol_dir(symbol: str) -> str:
    """The directory name of a unified symbol: ``BTC/USDT`` → ``BTC-USDT`` (``:`` → ``_``)."""
    return symbol.replace("/", "-").replace(":", "_")


def is_store(path: str) -> bool:
    """True if ``path`` is a store directory (it holds a manifest)."""
    return (Path(path) / MANIFEST).is_file()


@dataclass
class FileEntry:
    """One complete file of the manifest."""

    path: str
    """Relative to the store."""
    exchange: str
    symbol: str
    rows: int
    messages: int
    first_recv_ns: int
    last_recv_ns: int
    gaps: int
    """Gap (resync) markers in it."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Messages of the source deliberately not stored (as :attr:`EventLog.skipped`)."""


@dataclass
class Manifest:
    files: list[FileEntry] = field(default_factory=list)
    markets: dict[str, dict[str, object]] = field(default_factory=dict)
    """``exchange symbol`` → the market's facts (tick, lot, contract size, ...)."""

    @classmethod
    def load(cls, root: Path) -> Manifest:
        """The manifest of the store at ``root`` (an empty one if it has none yet)."""
        path = root / MANIFEST
        if not path.is_file():
            return cls()
        try:
            raw = json.loads(path.read_text())
            return cls([FileEntry(**f) for f in raw["files"]], dict(raw["markets"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(str(path), 1, f"unreadable store manifest: {exc}") from exc

    def save(self, root: Path) -> None:
        """Write atomically: to a temporary file, then renamed over the old one."""
        tmp = root / (MANIFEST + ".tmp")
        files = [vars(f) for f in sorted(self.files, key=lambda f: (f.exchange, f.symbol, f.first_recv_ns))]
        tmp.write_text(json.dumps({"files": files, "markets": self.markets}, indent=1) + "\n")
        os.replace(tmp, root / MANIFEST)


def record_market(root: Path, exchange: str, symbol: str, facts: dict[str, object]) -> None:
    """Enter ``symbol``'s market facts on ``exchange`` (tick and lot size, minimums, contract
    size, type, as the exchange gave them when the capture started) in the manifest."""
    manifest = Manifest.load(root)
    manifest.markets[f"{exchange} {symbol}"] = facts
    manifest.save(root)


def market_of(root: str, symbol: str) -> dict[str, object] | None:
    """The facts the manifest of the store at ``root`` holds for ``symbol`` (None: none, or
    several exchanges' that disagree)."""
    found = [facts for key, facts in Manifest.load(Path(root)).markets.items() if key.split(" ", 1)[1] == symbol]
    return found[0] if found and all(f == found[0] for f in found) else None


def log_batch(log: EventLog) -> pa.RecordBatch:
    """An event log's messages as one record batch of :data:`SCHEMA` (tickers left out, as a
    replay does not read them); messages are numbered from 0."""
    keep = np.flatnonzero(log.msg_kind != MsgKind.TICKER)
    counts = (log.msg_stop - log.msg_start)[keep]
    placeholder = counts == 0
    per_msg = np.where(placeholder, 1, counts)
    msg = np.repeat(np.arange(keep.size), per_msg)
    starts = log.msg_start[keep]
    offsets = np.arange(int(per_msg.sum())) - np.repeat(np.cumsum(per_msg) - per_msg, per_msg)
    rows = np.repeat(starts, per_msg) + offsets
    empty = np.repeat(placeholder, per_msg)
    rows = np.where(empty, log.row_price.size, rows)  # the placeholder row: one past the last
    return pa.RecordBatch.from_arrays(
        [
            pa.array(msg),
            pa.array(np.repeat(log.msg_ts_ns[keep], per_msg)),
            pa.array(np.repeat(log.msg_exch_ns[keep], per_msg)),
            pa.array(np.repeat(log.msg_kind[keep], per_msg)),
            pa.array(np.repeat(log.msg_seq[keep], per_msg)),
            pa.array(np.append(log.row_side, 0).astype(np.int8)[rows]),
            pa.array(np.append(log.row_price, np.nan)[rows]),
            pa.array(np.append(log.row_qty, np.nan)[rows]),
            _trade_ids(log, keep, per_msg),
        ],
        schema=SCHEMA,
    )


def _trade_ids(log: EventLog, keep: np.ndarray, per_msg: np.ndarray) -> pa.Array:
    """The ``trade_id`` column of :func:`log_batch`: a trade's ``seq`` as text on its rows
    (an event log keeps trade ids only as numbers), null elsewhere and where it is 0."""
    seq = np.repeat(log.msg_seq[keep], per_msg)
    is_id = (np.repeat(log.msg_kind[keep], per_msg) == MsgKind.TRADE) & (seq != 0)
    ids = np.full(seq.size, None, dtype=object)
    ids[is_id] = seq[is_id].astype(str)  # only the trades' rows: a few % of a recording's
    return pa.array(ids, type=pa.string())


_Columns = tuple[list[int], list[int], list[int], list[int], list[int], list[int], list[float], list[float], list[str | None]]
"""A :class:`MessageBatch`'s rows so far, one list per column of :data:`SCHEMA`."""


class MessageBatch:
    """Messages collected as they arrive (a capture's), taken as one record batch of
    :data:`SCHEMA` at a time; message numbers run on across batches."""

    def __init__(self) -> None:
        self._columns: _Columns = ([], [], [], [], [], [], [], [], [])
        self._msg = 0
        self.messages = 0
        """Messages added since the last :meth:`take`."""

    def add(
        self,
        kind: MsgKind,
        recv_ns: int,
        exch_ns: int,
        seq: int,
        bids: Sequence[Level],
        asks: Sequence[Level],
        trade_id: str | None = None,
    ) -> None:
        """One message: received at ``recv_ns`` (our clock), stamped ``exch_ns`` by the exchange
        (0: none), its sequence id ``seq`` (0: none); ``bids`` before ``asks`` (for a trade: the
        buyer-aggressor side), each ``(price, qty)``; a trade's id ``trade_id`` as the exchange
        writes it."""
        msg, recv, exch, kinds, seqs, sides, prices, qtys, ids = self._columns
        rows = [(1, p, q) for p, q in bids] + [(-1, p, q) for p, q in asks] or [(0, math.nan, math.nan)]
        for side, price, qty in rows:
            msg.append(self._msg)
            recv.append(recv_ns)
            exch.append(exch_ns)
            kinds.append(kind)
            seqs.append(seq)
            sides.append(side)
            prices.append(price)
            qtys.append(qty)
            ids.append(trade_id)
        self._msg += 1
        self.messages += 1

    @property
    def rows(self) -> int:
        return len(self._columns[0])

    def take(self) -> pa.RecordBatch:
        """The messages added since the last take, as a record batch (then forgotten)."""
        columns = [pa.array(values, type=f.type) for values, f in zip(self._columns, SCHEMA, strict=True)]
        self._columns = ([], [], [], [], [], [], [], [], [])
        self.messages = 0
        return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def read_batches(path: Path, numeric: bool = False) -> Iterator[pa.RecordBatch]:
    """The record batches of a store file, in order; a file cut short ends at its last whole
    batch (only a ``.partial`` may be cut short). ``numeric``: the columns of an event log only
    (a replay's: the trade ids are not decompressed)."""
    with pa.OSFile(str(path), "rb") as fh:
        try:
            reader = pa.ipc.open_stream(fh)
            if reader.schema != SCHEMA:
                raise DataError(str(path), 0, f"unexpected columns {reader.schema.names}; expected {SCHEMA.names}")
            if numeric:
                fh.seek(0)
                reader = pa.ipc.open_stream(fh, options=_NUMERIC_ONLY)
        except pa.ArrowInvalid as exc:
            if path.name.endswith(PARTIAL):
                return
            raise DataError(str(path), 0, f"not an event-store file: {exc}") from exc
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError) as exc:
                if path.name.endswith(PARTIAL):
                    return
                raise DataError(str(path), 0, f"damaged event-store file: {exc}") from exc


_HOUR_NS: Final = 3600 * 10**9


class StoreWriter:
    """Appends one (exchange, symbol)'s messages to the store at ``root``, one file per hour of
    receive time (``rotate_ns``). Each :meth:`write` is flushed to the open ``.partial`` file
    as one batch and synced to disk; :meth:`close` completes the file (renamed) and enters it in
    the manifest. An error writing (disk full) propagates: the capture stops loudly."""

    def __init__(self, root: Path, exchange: str, symbol: str, rotate_ns: int = _HOUR_NS) -> None:
        self.root, self.exchange, self.symbol, self.rotate_ns = root, exchange, symbol, rotate_ns
        self.dir = root / exchange / symbol_dir(symbol)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / MARKET).write_text(json.dumps({"exchange": exchange, "symbol": symbol}) + "\n")
        self._path: Path | None = None
        self._sink: pa.OSFile | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._period = -1
        self.skipped: dict[str, int] = {}
        """Source messages deliberately not stored, entered with the next file completed."""
        self.written: list[FileEntry] = []
        """The files completed, in order."""
        self._failed = False
        """A write failed: nothing more is written."""

    @property
    def bytes_written(self) -> int:
        """Bytes on disk of the files this writer completed and of the one open (up to its last
        flushed batch)."""
        done = sum((self.root / f.path).stat().st_size for f in self.written)
        return done + (self._path.stat().st_size if self._path is not None else 0)

    def write(self, batch: pa.RecordBatch) -> None:
        """Append ``batch`` (:data:`SCHEMA`, whole messages, in receive order), starting a new
        file at each period boundary of receive time (an empty batch writes nothing)."""
        if batch.num_rows == 0:
            return
        try:
            self._write(batch)
        except OSError as exc:
            self._failed = True
            raise StoreWriteError(f"writing {self._path or self.dir}: {exc}; capture stopped (completed files are whole)") from exc

    def _write(self, batch: pa.RecordBatch) -> None:
        recv = batch.column(1).to_numpy()
        period = recv // self.rotate_ns
        cuts = np.flatnonzero(np.diff(period)) + 1
        for start, stop in zip(np.r_[0, cuts].tolist(), np.r_[cuts, recv.size].tolist(), strict=True):
            if int(period[start]) != self._period:
                self._finish()
                self._open(int(period[start]))
            assert self._writer is not None and self._sink is not None
            self._writer.write_batch(batch.slice(start, stop - start))
            self._sink.flush()
            os.fsync(self._sink.fileno())

    def close(self) -> None:
        """Complete the open file, if any; after a failed write, leave it as it is on disk, for
        :func:`recover_partials` on the next start."""
        if self._failed:
            if self._sink is not None:
                with contextlib.suppress(OSError):
                    self._sink.close()
            self._writer = self._sink = self._path = None
            return
        try:
            self._finish()
        except OSError as exc:
            self._failed = True
            raise StoreWriteError(f"completing {self._path}: {exc}; it is recovered on the next start") from exc

    def _open(self, period: int) -> None:
        stamp = np.datetime64(period * self.rotate_ns, "ns").astype("datetime64[h]").item().strftime("%Y%m%dT%H")
        n = 0
        while (self.dir / f"{stamp}-{n}{COMPLETE}").exists() or (self.dir / f"{stamp}-{n}{PARTIAL}").exists():
            n += 1
        self._path = self.dir / f"{stamp}-{n}{PARTIAL}"
        self._sink = pa.OSFile(str(self._path), "wb")
        self._writer = pa.ipc.new_stream(self._sink, SCHEMA, options=_OPTIONS)
        self._period = period

    def _finish(self) -> None:
        if self._writer is None or self._sink is None or self._path is None:
            return
        self._writer.close()
        self._sink.flush()
        os.fsync(self._sink.fileno())
        self._sink.close()
        entry = complete(self.root, self._path, self.exchange, self.symbol, self.skipped)
        if entry is not None:
            self.written.append(entry)
        self._writer = self._sink = self._path = None
        self.skipped = {}


def complete(root: Path, partial: Path, exchange: str, symbol: str, skipped: dict[str, int]) -> FileEntry | None:
    """Rename a ``.partial`` file to complete (what it holds up to its last whole batch, rewritten
    if it was cut short) and enter it in the manifest; an empty one is removed (None)."""
    batches = list(read_batches(partial))
    final = partial.with_name(partial.name.removesuffix(PARTIAL) + COMPLETE)
    table = pa.Table.from_batches(batches, schema=SCHEMA)
    if table.num_rows == 0:
        partial.unlink()
        return None
    tmp = partial.with_name(partial.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, SCHEMA, options=_OPTIONS) as writer:
        writer.write_table(table)
    os.replace(tmp, final)
    partial.unlink()
    msg, recv, kind = (table.column(i).to_numpy() for i in (0, 1, 3))
    starts = np.r_[0, np.flatnonzero(np.diff(msg)) + 1]
    entry = FileEntry(
        str(final.relative_to(root)),
        exchange,
        symbol,
        table.num_rows,
        int(starts.size),
        int(recv[0]),
        int(recv[-1]),
        int((kind[starts] == MsgKind.INVALID).sum()),
        skipped,
    )
    manifest = Manifest.load(root)
    manifest.files = [f for f in manifest.files if f.path != entry.path] + [entry]
    manifest.save(root)
    return entry


def recover_partials(root: Path) -> list[FileEntry]:
    """Complete every ``.partial`` file a killed writer left under ``root``, up to its last
    whole batch; the exchange and symbol are those of its directory."""
    recovered = []
    for partial in sorted(root.glob(f"*/*/*{PARTIAL}")):
        market = json.loads((partial.parent / MARKET).read_text())
        entry = complete(root, partial, market["exchange"], market["symbol"], {})
        if entry is not None:
            recovered.append(entry)
    return recovered


def store_files(root: str, symbol: str, exchange: str | None = None) -> tuple[list[str], dict[str, int]]:
    """The complete files of ``symbol`` (on ``exchange``, needed only if several exchanges have
    it) in the store at ``root``, in time order, and the messages their sources skipped."""
    base = Path(root)
    manifest = Manifest.load(base)
    entries = [f for f in manifest.files if f.symbol == symbol and exchange in (None, f.exchange)]
    if not entries:
        held = ", ".join(sorted({f"{f.exchange} {f.symbol}" for f in manifest.files})) or "none"
        raise DataError(str(base / MANIFEST), 0, f"no files of {symbol} in this store; it holds: {held}")
    exchanges = sorted({f.exchange for f in entries})
    if len(exchanges) > 1:
        raise DataError(str(base / MANIFEST), 0, f"{symbol} is in this store for {', '.join(exchanges)}: name the exchange")
    entries.sort(key=lambda f: f.first_recv_ns)
    skipped: dict[str, int] = {}
    for f in entries:
        for reason, n in f.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + n
    return [str(base / f.path) for f in entries], skipped


def read_store(root: str, symbol: str, exchange: str | None = None) -> EventLog:
    """Every complete file of ``symbol`` (see :func:`store_files`) as one :class:`EventLog`, in
    memory (:class:`~ccxt_mm.market.store_reader.StoreRecording` reads it a segment at a time)."""
    paths, skipped = store_files(root, symbol, exchange)
    pieces = [(i, pa.Table.from_batches(list(read_batches(Path(p), numeric=True)), schema=_NUMERIC_SCHEMA)) for i, p in enumerate(paths)]
    return event_log(symbol, paths, pieces, skipped)


def event_log(
    symbol: str,
    sources: list[str],
    pieces: Sequence[tuple[int, pa.Table | pa.RecordBatch]],
    skipped: dict[str, int],
    prices: np.ndarray | None = None,
) -> EventLog:
    """The :class:`EventLog` of consecutive store rows, each piece ``(its file's index in
    sources, whole messages of it)`` (vectorized: no loop per row), its levels on the grid
    ``prices`` (None: its own prices)."""
    cols = {name: np.concatenate([t.column(name).to_numpy() for _, t in pieces]) for name in _NUMERIC}
    src = np.concatenate([np.full(t.num_rows, i, dtype=np.int16) for i, t in pieces])
    new_msg = np.r_[True, (np.diff(cols["msg"]) != 0) | (np.diff(src) != 0)]
    first = np.flatnonzero(new_msg)
    real = cols["side"] != 0
    kept_before = np.r_[0, np.cumsum(real)]
    msg_start = kept_before[first]
    msg_stop = np.r_[msg_start[1:], int(real.sum())]
    bids_in = np.add.reduceat((cols["side"] == 1).astype(np.int64), first)
    price, qty = cols["price"][real], cols["qty"][real]
    grid = np.unique(price) if prices is None else prices
    return EventLog(
        symbol=symbol,
        sources=tuple(sources),
        msg_ts_ns=cols["recv_ns"][first],
        msg_exch_ns=cols["exch_ns"][first],
        msg_kind=cols["kind"][first],
        msg_start=msg_start,
        msg_split=msg_start + bids_in,
        msg_stop=msg_stop,
        msg_seq=cols["seq"][first],
        msg_src=src[first],
        msg_line=(cols["msg"][first] + 1).astype(np.int32),
        row_side=cols["side"][real],
        row_price=price,
        row_qty=qty,
        row_level=np.searchsorted(grid, price),
        prices=grid,
        skipped=skipped,
    )
