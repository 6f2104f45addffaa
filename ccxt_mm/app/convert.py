"""``ccxt-mm convert``: a recording of a known raw format into the event store, so every
recording the project reads becomes one format (:mod:`ccxt_mm.market.store`)."""

from __future__ import annotations

from pathlib import Path

from ccxt_mm.errors import DataError


def convert(data: list[str], symbol: str, out: str, exchange: str | None) -> int:
    """Read ``data`` (the files of one recording) for ``symbol`` and append it to the store at
    ``out`` (made if missing) as ``exchange`` (default: the capture's format: binance, okx,
    bybit); print what was written."""
    from ccxt_mm.market.capture import detect_format, load_capture
    from ccxt_mm.market.store import StoreWriter, log_batch

    fmt = detect_format(data[0])
    if fmt == "store":
        raise DataError(data[0], 0, "already an event store: nothing to convert")
    log = load_capture(data, symbol)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    writer = StoreWriter(root, exchange or fmt, symbol)
    writer.skipped = dict(log.skipped)
    writer.write(log_batch(log))
    writer.close()
    for entry in writer.written:
        size = (root / entry.path).stat().st_size
        print(f"{entry.path}: {entry.messages} messages, {entry.rows} rows, {entry.gaps} gaps, {size / 1e6:.2f} MB")
    return 0
