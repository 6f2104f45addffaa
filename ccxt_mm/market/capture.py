"""Open any supported recording by sniffing its first line."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ccxt_mm.errors import DataError
from ccxt_mm.market.binance_capture import read_binance_capture
from ccxt_mm.market.cryptofeed_capture import read_bybit_capture, read_okx_capture
from ccxt_mm.market.events import EventLog
from ccxt_mm.market.gzip_lines import read_lines


def detect_format(path: str) -> str:
    """``binance`` (``<ts_ns> <json>`` lines), ``okx`` or ``bybit`` (cryptofeed NDJSON)."""
    for line_no, raw in read_lines(path):
        if raw[:1].isdigit():
            return "binance"
        try:
            url = str(orjson.loads(raw).get("url", ""))
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise DataError(path, line_no, "unrecognised capture format") from exc
        for venue in ("okx", "bybit"):
            if venue in url:
                return venue
        raise DataError(path, line_no, f"unsupported cryptofeed venue in url {url!r}")
    raise DataError(path, 1, "empty capture")


def load_capture(paths: Sequence[str], symbol: str, tickers: bool = False) -> EventLog:
    """Read one recording for ``symbol`` (unified ``BASE/QUOTE``) into an :class:`EventLog`;
    recorded top-of-book tickers are kept only if ``tickers`` (they validate, not replay)."""
    fmt = detect_format(paths[0])
    if fmt == "binance":
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
