"""Reader for Binance spot, USD-M and COIN-M futures raw captures (hftbacktest's collector format).

Each line of the gzip text is ``<local receive ts ns> <raw JSON>``: combined-stream
messages (``<sym>@depth@100ms`` or ``@depth@0ms`` diffs, ``<sym>@bookTicker``, ``<sym>@trade``)
and REST ``/api/v3/depth`` (``/fapi/v1/depth``, ``/dapi/v1/depth``) snapshots (objects with
``lastUpdateId``). A diff's exchange time is its event
time ``E`` (it holds the book's changes up to then), a trade's its trade time ``T``; a REST
snapshot has none. Several files of one recording
are read in order as one stream.

Binance's rules for a local book are enforced. Spot: diffs with ``u <= lastUpdateId`` are
dropped, the first applied diff has ``U <= lastUpdateId + 1 <= u`` and each later one has
``U == previous u + 1``. Futures (diffs carrying ``pu``, USD-M and COIN-M alike): diffs with
``u < lastUpdateId`` are dropped, the first applied diff has ``U <= lastUpdateId <= u`` and each
later one has ``pu == previous u`` (Binance's "How to manage a local order book correctly" for
each market). A futures symbol is ccxt's ``BASE/QUOTE:SETTLE``: a linear perpetual's stream is
``<base><quote>`` (``ETH/USDT:USDT``: ``ethusdt``), an inverse one's ``<base><quote>_perp``
(``ETH/USD:ETH``: ``ethusd_perp``). Diffs received before the snapshot are buffered and applied after
it. A gap invalidates the book until a later snapshot resyncs it; a gap that no snapshot
repairs is a :class:`SequenceGapError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from ccxt_mm.errors import DataError, SequenceGapError
from ccxt_mm.market.events import NS_PER_MS, EventLog, EventLogBuilder, MsgKind
from ccxt_mm.market.gzip_lines import read_lines


@dataclass
class _Diff:
    ts_ns: int
    src: int
    line: int
    first_id: int
    last_id: int
    exch_ns: int
    bids: list
    asks: list
    prev_id: int = -1
    """A futures diff's ``pu``, the ``u`` of the diff before it (-1: a spot diff, chained by ``U``)."""


class _BinanceSequencer:
    """Applies Binance's diff-sequencing rules and emits messages into a builder."""

    def __init__(self, out: EventLogBuilder) -> None:
        self.out = out
        self.synced = False
        self.first_after_snapshot = False
        self.last_id = 0
        self.buffer: list[_Diff] = []
        self.gap: tuple[str, int, str] | None = None
        self.snapshots = 0
        self.depth_streams: set[str] = set()
        """Lower-case stream symbols of every depth stream seen (any symbol)."""

    def diff(self, d: _Diff) -> None:
        if not self.synced:
            self.buffer.append(d)
            return
        futures = d.prev_id >= 0
        if self.first_after_snapshot:
            if d.last_id < self.last_id or (d.last_id == self.last_id and not futures):
                self.out.skip("diff already in snapshot")
                return
            connected = d.first_id <= self.last_id + (0 if futures else 1) <= d.last_id
        else:
            connected = d.prev_id == self.last_id if futures else d.first_id == self.last_id + 1
        if not connected:
            reason = _gap(self.last_id, d, self.first_after_snapshot)
            self.gap = (self.out.sources[d.src], d.line, reason)
            self.out.add(MsgKind.INVALID, d.ts_ns, d.src, d.line, d.last_id, exch_ns=d.exch_ns)
            self.synced = False
            self.buffer = [d]
            return
        self.out.add(MsgKind.DIFF, d.ts_ns, d.src, d.line, d.last_id, d.bids, d.asks, d.exch_ns)
        self.first_after_snapshot = False
        self.last_id = d.last_id

    def snapshot(self, ts_ns: int, src: int, line: int, last_id: int, bids: list, asks: list) -> None:
        """Reset the book; buffered diffs are replayed at the snapshot's receive time."""
        self.snapshots += 1
        self.out.add(MsgKind.SNAPSHOT, ts_ns, src, line, last_id, bids, asks)
        pending, self.buffer = self.buffer, []
        self.synced = True
        self.first_after_snapshot = True
        self.gap = None
        self.last_id = last_id
        for d in pending:
            d.ts_ns = ts_ns
            self.diff(d)

    def finish(self, paths: list[str], symbol: str, stream_symbol: str) -> None:
        """Raise what makes the recording unusable for ``symbol``: a gap no snapshot repairs,
        no depth stream of that symbol (REST snapshots carry no symbol, so a snapshot alone
        proves nothing), or no snapshot."""
        if self.gap is not None:
            path, line, reason = self.gap
            raise SequenceGapError(path, line, reason + "; no later snapshot to resync from")
        if stream_symbol not in self.depth_streams:
            held = ", ".join(sorted(self.depth_streams)) or "none"
            raise DataError(
                ", ".join(paths),
                0,
                f"no depth stream for {symbol} ({stream_symbol}@depth) in this recording; it has depth streams for: {held}",
            )
        if self.snapshots == 0:
            raise DataError(paths[0], 1, "no depth snapshot (object with lastUpdateId) in the recording")


def _gap(last_id: int, d: _Diff, first: bool) -> str:
    """Why ``d`` does not follow the book at update id ``last_id`` (``first``: the first diff
    after a snapshot)."""
    if first:
        return f"sequence gap: no diff spans the snapshot's lastUpdateId={last_id} (the next has U={d.first_id}, u={d.last_id})"
    if d.prev_id >= 0:
        return f"sequence gap: expected pu={last_id}, got pu={d.prev_id}"
    return f"sequence gap: expected U={last_id + 1}, got U={d.first_id}"


def stream_name(symbol: str) -> str:
    """The lower-case stream name of a ccxt unified symbol: ``BTC/USDT`` → ``btcusdt``; a
    linear perpetual ``ETH/USDT:USDT`` → ``ethusdt``, an inverse one ``ETH/USD:ETH`` →
    ``ethusd_perp``."""
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    name = f"{base}{quote}".lower()
    return f"{name}_perp" if settle and settle == base else name


def read_binance_capture(paths: Iterable[str], symbol: str, tickers: bool = True) -> EventLog:
    """Read one recording (possibly several files, in order) for ``symbol`` (``BTC/USDT``).

    ``tickers=False`` counts bookTicker lines as skipped without parsing them (they only
    serve to validate the rebuilt book; a replay does not read them)."""
    stream_symbol = stream_name(symbol)
    ticker_tag = f'"{stream_symbol}@bookTicker"'.encode()
    out = EventLogBuilder(symbol)
    seq = _BinanceSequencer(out)
    paths = list(paths)
    for path in paths:
        src = out.add_source(path)
        for line_no, raw in read_lines(path):
            if not tickers and raw.find(ticker_tag, 0, 64) > 0:
                out.skip("bookTicker (validation only, not replayed)")
                continue
            _parse_line(raw, path, line_no, src, stream_symbol, out, seq)
    seq.finish(paths, symbol, stream_symbol)
    return out.build()


def _parse_line(
    raw: bytes,
    path: str,
    line_no: int,
    src: int,
    stream_symbol: str,
    out: EventLogBuilder,
    seq: _BinanceSequencer,
) -> None:
    space = raw.find(b" ")
    if space <= 0:
        raise DataError(path, line_no, "malformed line: expected '<ts_ns> <json>'")
    try:
        ts_ns = int(raw[:space])
        msg = orjson.loads(raw[space + 1 :])
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise DataError(path, line_no, f"malformed line: {exc}") from exc
    if not isinstance(msg, dict):
        raise DataError(path, line_no, "malformed line: JSON is not an object")
    try:
        if "lastUpdateId" in msg:
            seq.snapshot(ts_ns, src, line_no, int(msg["lastUpdateId"]), msg["bids"], msg["asks"])
            return
        stream = msg["stream"]
        data = msg["data"]
        name, _, channel = stream.partition("@")
        if channel.startswith("depth"):
            seq.depth_streams.add(name)
        if name != stream_symbol:
            out.skip(f"other symbol {name}")
        elif channel.startswith("depth"):
            prev = int(data["pu"]) if "pu" in data else -1
            seq.diff(_Diff(ts_ns, src, line_no, int(data["U"]), int(data["u"]), int(data["E"]) * NS_PER_MS, data["b"], data["a"], prev))
        elif channel == "bookTicker":
            bid, ask = ((data["b"], data["B"]),), ((data["a"], data["A"]),)
            out.add(MsgKind.TICKER, ts_ns, src, line_no, int(data["u"]), bid, ask, int(data.get("E", 0)) * NS_PER_MS)
        elif channel in ("trade", "aggTrade"):
            level = ((data["p"], data["q"]),)
            trade_id, exch_ns = int(data.get("t", data.get("a", 0))), int(data["T"]) * NS_PER_MS
            # m: the buyer is the maker, so the aggressor sold.
            if data["m"]:
                out.add(MsgKind.TRADE, ts_ns, src, line_no, trade_id, asks=level, exch_ns=exch_ns)
            else:
                out.add(MsgKind.TRADE, ts_ns, src, line_no, trade_id, bids=level, exch_ns=exch_ns)
        else:
            out.skip(f"stream {channel}")
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(path, line_no, f"message lacks or mistypes field {exc!s}") from exc
