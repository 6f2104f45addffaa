"""The Binance raw capture reader on the real bundled BTCUSDT recording."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.errors import DataError, SequenceGapError
from ccxt_mm.market.binance_capture import read_binance_capture
from ccxt_mm.market.events import EventLog, MsgKind
from tests.conftest import BINANCE_FILES


def tops_by_update_id(log: EventLog, precomputed: bool = False) -> tuple[dict[int, tuple], dict[int, tuple]]:
    """(rebuilt top of book after each diff, recorded bookTicker) keyed by update id;
    ``precomputed`` applies the replay engine's :meth:`EventLog.book_updates` instead."""
    book = GridBook(log.prices)
    updates = log.book_updates() if precomputed else None
    rebuilt: dict[int, tuple] = {}
    tickers: dict[int, tuple] = {}
    valid = False
    for m in range(log.messages):
        kind, a = log.msg_kind[m], log.msg_start[m]
        if kind == MsgKind.SNAPSHOT:
            book.clear()
            valid = True
        if kind == MsgKind.INVALID:
            valid = False
        if kind in (MsgKind.SNAPSHOT, MsgKind.DIFF) and valid:
            if updates is None:
                log.apply_message(book, m)
            else:
                book.apply(*updates[m])
            assert not book.crossed, log.where(m)
            if kind == MsgKind.DIFF:
                bb, ba = book.best_bid, book.best_ask
                rebuilt[int(log.msg_seq[m])] = (book.prices[bb], book.bid_qty[bb], book.prices[ba], book.ask_qty[ba])
        elif kind == MsgKind.TICKER:
            tickers[int(log.msg_seq[m])] = (log.row_price[a], log.row_qty[a], log.row_price[a + 1], log.row_qty[a + 1])
    return rebuilt, tickers


@pytest.mark.parametrize("precomputed", [False, True], ids=["apply_message", "book_updates"])
def test_rebuilt_top_of_book_equals_every_shared_book_ticker(btc_log, precomputed):
    rebuilt, tickers = tops_by_update_id(btc_log, precomputed)
    shared = sorted(set(rebuilt) & set(tickers))
    assert len(shared) == 1072
    mismatched = [u for u in shared if rebuilt[u] != tickers[u]]
    assert mismatched == []


def test_two_files_read_as_one_gap_free_stream(btc_log):
    kinds = btc_log.msg_kind
    assert (kinds == MsgKind.SNAPSHOT).sum() == 1
    assert (kinds == MsgKind.INVALID).sum() == 0
    diffs = btc_log.msg_seq[kinds == MsgKind.DIFF]
    assert diffs.size == 6493
    assert (btc_log.msg_src[kinds == MsgKind.DIFF] == 1).any()
    # the one diff received before the snapshot and connecting to it is kept, the stale ones dropped
    assert btc_log.skipped == {"diff already in snapshot": 2}
    assert (kinds == MsgKind.TRADE).sum() == 9757 + (btc_log.msg_src[kinds == MsgKind.TRADE] == 1).sum()


def _lines(path: str) -> list[bytes]:
    with gzip.open(path, "rb") as fh:
        return fh.readlines()


def _write(path: Path, lines: list[bytes]) -> str:
    with gzip.open(path, "wb") as fh:
        fh.writelines(lines)
    return str(path)


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path):
    raw = Path(BINANCE_FILES[0]).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip") as err:
        read_binance_capture([str(cut)], "BTC/USDT")
    assert err.value.path == str(cut)
    assert err.value.line > 1000


def test_malformed_line_names_file_and_line(tmp_path):
    lines = _lines(BINANCE_FILES[0])[:40]
    lines[11] = lines[11][:60] + b"\n"
    path = _write(tmp_path / "bad.gz", lines)
    with pytest.raises(DataError) as err:
        read_binance_capture([path], "BTC/USDT")
    assert (err.value.path, err.value.line) == (path, 12)
    assert "malformed line" in str(err.value)


def test_missing_field_names_file_and_line(tmp_path):
    lines = _lines(BINANCE_FILES[0])[:40]
    ts, _, body = lines[9].partition(b" ")
    msg = orjson.loads(body)
    del msg["data"]["u"]
    lines[9] = ts + b" " + orjson.dumps(msg) + b"\n"
    path = _write(tmp_path / "field.gz", lines)
    with pytest.raises(DataError, match=r"field\.gz:10: message lacks or mistypes field 'u'"):
        read_binance_capture([path], "BTC/USDT")


def _depth_line_numbers(lines: list[bytes]) -> list[int]:
    return [i for i, line in enumerate(lines) if b"@depth" in line]


def test_sequence_gap_without_a_later_snapshot_is_an_error_at_the_gap(tmp_path):
    lines = _lines(BINANCE_FILES[0])[:2000]
    depth = _depth_line_numbers(lines)
    removed = depth[50]
    del lines[removed]
    path = _write(tmp_path / "gap.gz", lines)
    with pytest.raises(SequenceGapError) as err:
        read_binance_capture([path], "BTC/USDT")
    # the first diff after the removed one is where the gap shows (1-based line numbers)
    assert err.value.line == removed + 1
    assert "sequence gap" in str(err.value) and "no later snapshot" in str(err.value)


def snapshot_line(log: EventLog, last_id: int, ts: bytes, price_decimals: int, qty_decimals: int) -> bytes:
    """A REST depth snapshot line (received at ``ts``) of the real book ``log`` rebuilds up to
    the diff with final update id ``last_id``."""
    book = GridBook(log.prices)
    for m in range(log.messages):
        if log.msg_kind[m] in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            log.apply_message(book, m)
            if log.msg_seq[m] == last_id:
                break
    levels = range(book.prices.size)
    bids = [[f"{book.prices[i]:.{price_decimals}f}", f"{book.bid_qty[i]:.{qty_decimals}f}"] for i in levels[::-1] if book.bid_qty[i] > 0]
    asks = [[f"{book.prices[i]:.{price_decimals}f}", f"{book.ask_qty[i]:.{qty_decimals}f}"] for i in levels if book.ask_qty[i] > 0]
    return ts + b" " + orjson.dumps({"lastUpdateId": last_id, "bids": bids, "asks": asks}) + b"\n"


def test_sequence_gap_resyncs_from_a_later_snapshot(tmp_path):
    """A real snapshot of the book state (rebuilt from the unmodified recording) placed after
    a gap resyncs the book: the reader marks the book invalid at the gap, and the rebuilt top
    of book agrees with every recorded bookTicker again after the snapshot."""
    lines = _lines(BINANCE_FILES[0])[:8000]
    depth = _depth_line_numbers(lines)
    clean = read_binance_capture([_write(tmp_path / "clean.gz", lines)], "BTC/USDT")
    resume = depth[400]
    prev_u = orjson.loads(lines[depth[399]].partition(b" ")[2])["data"]["u"]
    snapshot = snapshot_line(clean, prev_u, lines[resume].partition(b" ")[0], 8, 8)
    gapped = [*lines[: depth[200]], *lines[depth[200] + 1 : resume], snapshot, *lines[resume:]]
    log = read_binance_capture([_write(tmp_path / "resync.gz", gapped)], "BTC/USDT")
    assert (log.msg_kind == MsgKind.INVALID).sum() == 1
    assert (log.msg_kind == MsgKind.SNAPSHOT).sum() == 2
    rebuilt, tickers = tops_by_update_id(log)
    after = [u for u in set(rebuilt) & set(tickers) if u > prev_u]
    assert len(after) >= 40
    assert all(rebuilt[u] == tickers[u] for u in after)


def test_other_symbol_is_counted_not_silently_dropped(tmp_path):
    lines = _lines(BINANCE_FILES[0])[:40]
    lines[3] = lines[3].replace(b"btcusdt@trade", b"ethusdt@trade")
    log = read_binance_capture([_write(tmp_path / "mixed.gz", lines)], "BTC/USDT")
    assert log.skipped["other symbol ethusdt"] == 1
