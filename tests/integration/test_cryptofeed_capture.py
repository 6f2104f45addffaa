"""OKX and Bybit books rebuilt from the real cryptofeed captures."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import orjson

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.market.capture import detect_format, load_capture
from ccxt_mm.market.cryptofeed_capture import ChecksumStats, bybit_symbol, okx_checksum, okx_inst_id, read_bybit_capture, read_okx_capture
from ccxt_mm.market.events import MsgKind
from tests.conftest import BYBIT_FILE, OKX_FILE


def test_okx_every_checksum_of_three_instruments_verifies():
    stats = ChecksumStats()
    log = read_okx_capture(OKX_FILE, "BTC/USDT", stats)
    assert stats.total_verified == 290
    assert stats.total_mismatched == 0
    assert set(stats.verified) == {"BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"}
    assert (log.msg_kind == MsgKind.SNAPSHOT).sum() == 1
    assert (log.msg_kind == MsgKind.DIFF).sum() == stats.verified["BTC-USDT"] - 1
    assert (log.msg_kind == MsgKind.TRADE).sum() > 0


def test_okx_checksum_matches_the_documented_example_layout():
    # OKX's doc example: bids 3366.1:7, 3366:6; asks 3366.8:9, 3368:8 → "3366.1:7:3366.8:9:3366:6:3368:8"
    bids = {3366.1: ("3366.1", "7"), 3366.0: ("3366", "6")}
    asks = {3366.8: ("3366.8", "9"), 3368.0: ("3368", "8")}
    crc = zlib.crc32(b"3366.1:7:3366.8:9:3366:6:3368:8")
    assert okx_checksum(bids, asks) == (crc - (1 << 32) if crc >= 1 << 31 else crc)


def test_okx_corrupted_level_is_a_mismatch_and_invalidates_the_book(tmp_path):
    with gzip.open(OKX_FILE, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    target = next(
        i for i, raw in enumerate(lines) if b'"books"' in raw and b'"update"' in raw and b'"BTC-USDT"' in raw and b'"bids":[[' in raw
    )
    rec = orjson.loads(lines[target])
    level = rec["msg"]["data"][0]["bids"][0]
    level[1] = str(float(level[1]) + 1.0)
    lines[target] = orjson.dumps(rec) + b"\n"
    path = tmp_path / "okx.ndjson.gz"
    with gzip.open(path, "wb") as fh:
        fh.writelines(lines)
    stats = ChecksumStats()
    log = read_okx_capture(str(path), "BTC/USDT", stats)
    assert stats.mismatched == {"BTC-USDT": 1}
    invalid = log.msg_kind == MsgKind.INVALID
    assert invalid.sum() == 1
    assert log.msg_line[invalid][0] == target + 1
    # nothing after the mismatch is applied until a snapshot (this capture has none later)
    after = log.msg_line > target + 1
    assert not ((log.msg_kind == MsgKind.DIFF) & after).any()
    assert log.skipped["OKX update while resyncing"] > 0


def test_bybit_l2_book_stays_consistent_through_every_delta():
    assert detect_format(BYBIT_FILE) == "bybit"
    for symbol in ("LTC/USDT", "BCH/USDT", "ETH/USDT"):
        log = load_capture([BYBIT_FILE], symbol)
        book = GridBook(log.prices)
        updates = 0
        for m in range(log.messages):
            if log.msg_kind[m] in (MsgKind.SNAPSHOT, MsgKind.DIFF):
                if log.msg_kind[m] == MsgKind.SNAPSHOT:
                    book.clear()
                log.apply_message(book, m)
                assert book.ready and not book.crossed, log.where(m)
                # orderBookL2_25: never more than 25 levels a side
                assert (book.bid_qty > 0).sum() <= 25 and (book.ask_qty > 0).sum() <= 25
                updates += 1
        assert updates > 200


def test_okx_swaps_and_futures_read_by_their_unified_symbols():
    """The bundled OKX capture holds an inverse perpetual (UNI-USD-SWAP) and a dated inverse
    future (BTC-USD-220527) beside the spot pair: ccxt's symbols name them, and every one of their
    book checksums (CRC32 over the top 25 levels) holds."""
    assert [okx_inst_id(s) for s in ("BTC/USDT", "UNI/USD:UNI", "BTC/USD:BTC-220527", "ETH/USDT:USDT", "UNI-USD-SWAP")] == [
        "BTC-USDT",
        "UNI-USD-SWAP",
        "BTC-USD-220527",
        "ETH-USDT-SWAP",
        "UNI-USD-SWAP",
    ]
    for symbol, diffs in (("UNI/USD:UNI", 92), ("BTC/USD:BTC-220527", 98)):
        stats = ChecksumStats()
        log = read_okx_capture(OKX_FILE, symbol, stats)
        assert (log.msg_kind == MsgKind.SNAPSHOT).sum() == 1 and (log.msg_kind == MsgKind.DIFF).sum() == diffs
        assert stats.verified[okx_inst_id(symbol)] == diffs + 1 and not stats.mismatched


def test_bybit_linear_perpetual_is_the_captured_stream():
    """The bundled Bybit capture is of its USDT perpetuals (``wss://stream.bybit.com/realtime_public``):
    ``LTC/USDT:USDT`` reads the very stream ``LTC/USDT`` does."""
    assert (bybit_symbol("LTC/USDT:USDT"), bybit_symbol("BTC/USD:BTC")) == ("LTCUSDT", "BTCUSD")
    spot, perp = read_bybit_capture(BYBIT_FILE, "LTC/USDT"), read_bybit_capture(BYBIT_FILE, "LTC/USDT:USDT")
    assert perp.messages == spot.messages > 600
    assert np.array_equal(perp.row_price, spot.row_price) and np.array_equal(perp.row_qty, spot.row_qty)
