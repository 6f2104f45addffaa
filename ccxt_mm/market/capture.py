"""Open any supported recording by sniffing its first line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import orjson

from ccxt_mm.errors import DataError
from ccxt_mm.market.binance_capture import read_binance_capture
from ccxt_mm.market.cryptofeed_capture import read_bybit_capture, read_okx_capture
from ccxt_mm.market.events import EventLog, Recording
from ccxt_mm.market.gzip_lines import read_lines

KNOWN_FORMATS = (
    "known formats: an event store (a directory with manifest.json, written by ccxt-mm convert), "
    "Binance raw captures (gzip text of '<ts_ns> <json>' lines) and "
    "cryptofeed NDJSON captures (gzip) of OKX v5 books and Bybit orderBookL2_25"
)
"""What a capture of unknown format is told it could have been."""

_BINANCE_LINE = re.compile(rb"^\d+ ")
"""The start of a Binance raw capture line: ``<ts_ns> ``."""


def detect_format(path: str) -> str:
    """``store`` (an event-store directory), ``binance`` (``<ts_ns> <json>`` lines), ``okx`` or
    ``bybit`` (cryptofeed NDJSON), from the first line; any other file is a DataError naming the
    formats that are read."""
    if Path(path).is_dir():  # pyarrow is imported only for a store
        from ccxt_mm.market.store import MANIFEST, is_store

        if is_store(path):
            return "store"
        raise DataError(path, 0, f"a directory without {MANIFEST}; {KNOWN_FORMATS}")
    try:
        line_no, raw = next(read_lines(path), (1, b""))
    except DataError as exc:
        raise DataError(path, exc.line, f"{exc.reason}; {KNOWN_FORMATS}") from exc
    if not raw:
        raise DataError(path, 1, "empty capture")
    if _BINANCE_LINE.match(raw):
        return "binance"
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        start = raw[:40].decode(errors="replace").rstrip()
        raise DataError(path, line_no, f"unrecognised capture format (the line starts {start!r}); {KNOWN_FORMATS}") from exc
    url = str(rec.get("url", "")) if isinstance(rec, dict) else ""
    for venue in ("okx", "bybit"):
        if venue in url:
            return venue
    what = f"a cryptofeed capture of url {url!r}" if url else "JSON lines without a cryptofeed url"
    raise DataError(path, line_no, f"unsupported capture: {what}; {KNOWN_FORMATS}")


def open_recording(paths: Sequence[str], symbol: str) -> Recording:
    """The recording of ``symbol`` in ``paths``: an event store read a segment at a time
    (:class:`~ccxt_mm.market.store_reader.StoreRecording`), any other capture in memory
    (:func:`load_capture`)."""
    if detect_format(paths[0]) != "store":
        return load_capture(paths, symbol)
    if len(paths) != 1:
        raise DataError(paths[1], 0, "an event store is read alone (it holds every file of a recording)")
    from ccxt_mm.market.store_reader import StoreRecording

    return StoreRecording(paths[0], symbol)


def load_capture(paths: Sequence[str], symbol: str, tickers: bool = False) -> EventLog:
    """Read one recording for ``symbol`` (unified ``BASE/QUOTE``) into an :class:`EventLog`;
    recorded top-of-book tickers are kept only if ``tickers`` (they validate, not replay)."""
    fmt = detect_format(paths[0])
    if fmt == "store":
        if len(paths) != 1:
            raise DataError(paths[1], 0, "an event store is read alone (it holds every file of a recording)")
        from ccxt_mm.market.store import read_store

        log = read_store(paths[0], symbol)
    elif fmt == "binance":
        log = read_binance_capture(paths, symbol, tickers)
    elif len(paths) != 1:
        raise DataError(paths[1], 1, f"{fmt} captures are read one file at a time")
    elif fmt == "okx":
        log = read_okx_capture(paths[0], symbol)
    else:
        log = read_bybit_capture(paths[0], symbol)
    if log.messages == 0 or not (log.msg_kind == 1).any():
        raise DataError(paths[0], 1, f"no order-book snapshot for {symbol} in this capture")
    return log
