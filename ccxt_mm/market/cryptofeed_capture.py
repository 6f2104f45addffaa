"""Reader for cryptofeed raw websocket captures converted to NDJSON (OKX v5, Bybit legacy).

Each line is ``{"recv_ts": <s>, "dir": "connect"|"sent"|"recv", "url": ..., "msg": {...}}``.

* OKX ``books`` (v5, 400 levels): ``action`` snapshot/update, price levels as strings, and a
  CRC32 ``checksum`` of the top 25 levels of the book *after* the message. Every checksum is
  verified; a mismatch invalidates that instrument's book until its next snapshot.
* Bybit ``orderBookL2_25`` (legacy realtime_public): snapshot and delete/update/insert
  deltas keyed by level id, one id per price.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn

import orjson

from ccxt_mm.errors import DataError
from ccxt_mm.market.events import NS_PER_MS, EventLog, EventLogBuilder, MsgKind
from ccxt_mm.market.gzip_lines import read_lines

OKX_CHECKSUM_DEPTH = 25


@dataclass
class ChecksumStats:
    """Per-instrument OKX checksum results."""

    verified: dict[str, int] = field(default_factory=dict)
    mismatched: dict[str, int] = field(default_factory=dict)

    @property
    def total_verified(self) -> int:
        return sum(self.verified.values())

    @property
    def total_mismatched(self) -> int:
        return sum(self.mismatched.values())


def okx_checksum(bids: dict[float, tuple[str, str]], asks: dict[float, tuple[str, str]]) -> int:
    """OKX's signed CRC32 over ``bidPx:bidSz:askPx:askSz:...`` of the top 25 levels."""
    top_bids = [bids[p] for p in sorted(bids, reverse=True)[:OKX_CHECKSUM_DEPTH]]
    top_asks = [asks[p] for p in sorted(asks)[:OKX_CHECKSUM_DEPTH]]
    parts: list[str] = []
    for i in range(max(len(top_bids), len(top_asks))):
        if i < len(top_bids):
            parts.extend(top_bids[i])
        if i < len(top_asks):
            parts.extend(top_asks[i])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def _cryptofeed_lines(path: str) -> Iterable[tuple[int, int, dict]]:
    """Yield ``(line, recv ts ns, msg)`` for every received message."""
    for line_no, raw in read_lines(path):
        try:
            rec = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DataError(path, line_no, f"malformed line: {exc}") from exc
        if not isinstance(rec, dict) or "dir" not in rec or "recv_ts" not in rec:
            raise DataError(path, line_no, "malformed line: expected an object with recv_ts and dir")
        if rec["dir"] != "recv":
            continue
        msg = rec.get("msg")
        if not isinstance(msg, dict):
            raise DataError(path, line_no, "received message is not a JSON object")
        yield line_no, round(float(rec["recv_ts"]) * 1e9), msg


class _OkxBook:
    def __init__(self) -> None:
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.valid = False

    def apply(self, levels: list, side: dict[float, tuple[str, str]]) -> None:
        for level in levels:
            px, sz = level[0], level[1]
            if float(sz) == 0.0:
                side.pop(float(px), None)
            else:
                side[float(px)] = (px, sz)


def okx_inst_id(symbol: str) -> str:
    """OKX's instId of a ccxt unified symbol: ``BTC/USDT`` → ``BTC-USDT``, a perpetual swap
    ``UNI/USD:UNI`` → ``UNI-USD-SWAP``, a dated future ``BTC/USD:BTC-220527`` →
    ``BTC-USD-220527``; an instId is kept as it is."""
    if "/" not in symbol:
        return symbol
    pair, _, contract = symbol.partition(":")
    inst = pair.replace("/", "-")
    if not contract:
        return inst
    _, _, expiry = contract.partition("-")
    return f"{inst}-{expiry}" if expiry else f"{inst}-SWAP"


def bybit_symbol(symbol: str) -> str:
    """Bybit's symbol of a ccxt unified one: ``LTC/USDT`` and the linear perpetual
    ``LTC/USDT:USDT`` → ``LTCUSDT``, the inverse ``BTC/USD:BTC`` → ``BTCUSD``."""
    return symbol.partition(":")[0].replace("/", "")


def read_okx_capture(path: str, symbol: str | None, stats: ChecksumStats | None = None) -> EventLog:
    """Rebuild OKX books from a capture, verifying every checksum.

    ``symbol`` is a unified symbol (``BTC/USDT``, ``UNI/USD:UNI``: see :func:`okx_inst_id`) or
    an OKX instId; only its events are
    emitted, but the books of every instrument are rebuilt and verified into ``stats``.
    """
    inst = okx_inst_id(symbol) if symbol else None
    out = EventLogBuilder(symbol or "")
    src = out.add_source(path)
    stats = stats if stats is not None else ChecksumStats()
    books: dict[str, _OkxBook] = {}
    for line_no, ts_ns, msg in _cryptofeed_lines(path):
        arg = msg.get("arg")
        if "event" in msg or not isinstance(arg, dict) or "data" not in msg:
            out.skip("control message")
            continue
        try:
            channel, inst_id = arg["channel"], arg["instId"]
            if channel == "books":
                _okx_book_message(msg, inst_id, books, stats, out, src, line_no, ts_ns, emit=inst_id == inst)
            elif channel == "trades" and inst_id == inst:
                for t in msg["data"]:
                    level, exch_ns = ((t["px"], t["sz"]),), int(t["ts"]) * NS_PER_MS
                    if t["side"] == "buy":
                        out.add(MsgKind.TRADE, ts_ns, src, line_no, int(t["tradeId"]), bids=level, exch_ns=exch_ns)
                    else:
                        out.add(MsgKind.TRADE, ts_ns, src, line_no, int(t["tradeId"]), asks=level, exch_ns=exch_ns)
            else:
                out.skip(f"{channel} {inst_id}")
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DataError(path, line_no, f"invalid OKX message: {exc!s}") from exc
    if inst is not None and inst not in books:
        _not_in_capture(path, f"no OKX books for {symbol} (instId {inst})", books)
    return out.build()


def _not_in_capture(path: str, what: str, held: Iterable[str]) -> NoReturn:
    """Raise the DataError of a symbol the capture has no book for, naming the ones it has."""
    raise DataError(path, 0, f"{what} in this capture; it has books for: {', '.join(sorted(held)) or 'none'}")


def _okx_book_message(
    msg: dict,
    inst_id: str,
    books: dict[str, _OkxBook],
    stats: ChecksumStats,
    out: EventLogBuilder,
    src: int,
    line_no: int,
    ts_ns: int,
    emit: bool,
) -> None:
    book = books.setdefault(inst_id, _OkxBook())
    action = msg["action"]
    for data in msg["data"]:
        if action == "snapshot":
            book.bids.clear()
            book.asks.clear()
            book.valid = True
            kind = MsgKind.SNAPSHOT
        elif not book.valid:
            out.skip("OKX update while resyncing")
            continue
        else:
            kind = MsgKind.DIFF
        book.apply(data["bids"], book.bids)
        book.apply(data["asks"], book.asks)
        if okx_checksum(book.bids, book.asks) == int(data["checksum"]):
            stats.verified[inst_id] = stats.verified.get(inst_id, 0) + 1
            if emit:
                bids = [level[:2] for level in data["bids"]]
                asks = [level[:2] for level in data["asks"]]
                out.add(kind, ts_ns, src, line_no, int(data.get("seqId", 0)), bids, asks, int(data["ts"]) * NS_PER_MS)
        else:
            stats.mismatched[inst_id] = stats.mismatched.get(inst_id, 0) + 1
            book.valid = False
            if emit:
                out.add(MsgKind.INVALID, ts_ns, src, line_no, exch_ns=int(data["ts"]) * NS_PER_MS)


def read_bybit_capture(path: str, symbol: str) -> EventLog:
    """Rebuild a Bybit ``orderBookL2_25`` book and trades for ``symbol`` (``LTC/USDT``, or the
    linear perpetual ``LTC/USDT:USDT``: the same stream)."""
    sym = bybit_symbol(symbol)
    out = EventLogBuilder(symbol)
    src = out.add_source(path)
    book_topic, trade_topic = f"orderBookL2_25.{sym}", f"trade.{sym}"
    levels: dict[str, tuple[str, float]] = {}
    books: set[str] = set()
    for line_no, ts_ns, msg in _cryptofeed_lines(path):
        topic = msg.get("topic")
        if isinstance(topic, str) and topic.startswith("orderBookL2_25."):
            books.add(topic.removeprefix("orderBookL2_25."))
        try:
            if topic == book_topic:
                _bybit_book_message(msg, levels, out, src, line_no, ts_ns)
            elif topic == trade_topic:
                for t in msg["data"]:
                    level, exch_ns = ((t["price"], t["size"]),), int(t["trade_time_ms"]) * NS_PER_MS
                    if t["side"] == "Buy":
                        out.add(MsgKind.TRADE, ts_ns, src, line_no, bids=level, exch_ns=exch_ns)
                    else:
                        out.add(MsgKind.TRADE, ts_ns, src, line_no, asks=level, exch_ns=exch_ns)
            else:
                out.skip("other topic" if topic else "control message")
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DataError(path, line_no, f"invalid Bybit message: {exc!s}") from exc
    if sym not in books:
        _not_in_capture(path, f"no Bybit orderBookL2_25 book for {symbol} ({sym})", books)
    return out.build()


def _bybit_book_message(msg: dict, levels: dict[str, tuple[str, float]], out: EventLogBuilder, src: int, line_no: int, ts_ns: int) -> None:
    data = msg["data"]
    exch_ns = int(msg["timestamp_e6"]) * 1000
    bids: list[tuple[str, float]] = []
    asks: list[tuple[str, float]] = []

    def put(entry: dict, size: float) -> None:
        (bids if entry["side"] == "Buy" else asks).append((entry["price"], size))

    if msg["type"] == "snapshot":
        rows = data["order_book"] if isinstance(data, dict) else data
        levels.clear()
        for entry in rows:
            levels[entry["id"]] = (entry["side"], float(entry["size"]))
            put(entry, float(entry["size"]))
        out.add(MsgKind.SNAPSHOT, ts_ns, src, line_no, 0, bids, asks, exch_ns)
        return
    for entry in data["delete"]:
        if levels.pop(entry["id"], None) is None:
            raise ValueError(f"delete of unknown level id {entry['id']}")
        put(entry, 0.0)
    for entry in data["update"] + data["insert"]:
        levels[entry["id"]] = (entry["side"], float(entry["size"]))
        put(entry, float(entry["size"]))
    out.add(MsgKind.DIFF, ts_ns, src, line_no, 0, bids, asks, exch_ns)
