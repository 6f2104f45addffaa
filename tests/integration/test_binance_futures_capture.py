"""Binance USD-M and COIN-M futures raw captures (real, hftbacktest's collector): diffs chained by
``pu`` read gap-free, the rebuilt book agrees with the recorded bookTicker, and a lost diff is a
gap named at its line that a later snapshot repairs."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from ccxt_mm.errors import SequenceGapError
from ccxt_mm.market.binance_capture import read_binance_capture, stream_name
from ccxt_mm.market.events import MsgKind
from tests.conftest import RECORDINGS
from tests.integration.test_binance_capture import snapshot_line, tops_by_update_id

FUTURES = RECORDINGS / "binance_futures"
USDM = [str(FUTURES / "usdm_ethusdt_20240808.gz")]
COINM = [str(FUTURES / "cm_ethusd_perp_20240808.gz"), str(FUTURES / "cm_ethusd_perp_20240809.gz")]


def test_a_futures_symbol_names_its_stream():
    assert stream_name("BTC/USDT") == "btcusdt"
    assert stream_name("ETH/USDT:USDT") == "ethusdt"  # linear: settled in the quote
    assert stream_name("ETH/USD:ETH") == "ethusd_perp"  # inverse: settled in the base


@pytest.mark.parametrize(
    ("files", "symbol", "matched"), [(USDM, "ETH/USDT:USDT", 551), (COINM, "ETH/USD:ETH", 2278)], ids=["usdm", "coinm"]
)
def test_the_rebuilt_book_agrees_with_every_book_ticker_of_the_same_update(files, symbol, matched):
    log = read_binance_capture(files, symbol)
    assert (log.msg_kind == MsgKind.INVALID).sum() == 0 and (log.msg_kind == MsgKind.SNAPSHOT).sum() == 1
    rebuilt, tickers = tops_by_update_id(log)
    shared = sorted(set(rebuilt) & set(tickers))
    assert len(shared) == matched  # updates with both a diff and a ticker: the book at each one checked
    assert [u for u in shared if rebuilt[u] != tickers[u]] == []


def lines_of(path: str, count: int) -> list[bytes]:
    with gzip.open(path, "rb") as fh:
        return [line for _, line in zip(range(count), fh, strict=False)]


def write(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(gzip.compress(b"".join(lines)))
    return str(path)


def depth_lines(lines: list[bytes]) -> list[int]:
    return [i for i, line in enumerate(lines) if b"@depth" in line]


def test_a_lost_diff_is_a_gap_named_at_the_next_diffs_line(tmp_path):
    lines = lines_of(USDM[0], 6000)
    depth = depth_lines(lines)
    before, lost = (orjson.loads(lines[depth[k]].partition(b" ")[2])["data"]["u"] for k in (299, 300))
    del lines[depth[300]]
    with pytest.raises(SequenceGapError) as err:
        read_binance_capture([write(tmp_path / "gap.gz", lines)], "ETH/USDT:USDT")
    assert err.value.line == depth[301]  # 1-based: the line after the removed one moved up by one
    assert f"expected pu={before}, got pu={lost}" in str(err.value) and "no later snapshot" in str(err.value)


def test_a_later_snapshot_resyncs_the_book_after_a_gap(tmp_path):
    """A snapshot of the real book (rebuilt from the unmodified capture) at the diff before
    ``resume``, placed after a gap: the book is invalid from the gap to the snapshot, and the
    rebuilt top of book agrees with every recorded bookTicker of the same update after it."""
    lines = lines_of(USDM[0], 30000)
    depth = depth_lines(lines)
    clean = read_binance_capture([write(tmp_path / "clean.gz", lines)], "ETH/USDT:USDT")
    resume = depth[1500]
    prev_u = orjson.loads(lines[depth[1499]].partition(b" ")[2])["data"]["u"]
    snapshot = snapshot_line(clean, prev_u, lines[resume].partition(b" ")[0], 2, 3)
    gapped = [*lines[: depth[700]], *lines[depth[700] + 1 : resume], snapshot, *lines[resume:]]
    log = read_binance_capture([write(tmp_path / "resync.gz", gapped)], "ETH/USDT:USDT")
    assert (log.msg_kind == MsgKind.INVALID).sum() == 1 and (log.msg_kind == MsgKind.SNAPSHOT).sum() == 2
    rebuilt, tickers = tops_by_update_id(log)
    after = [u for u in set(rebuilt) & set(tickers) if u > prev_u]
    assert len(after) >= 20 and all(rebuilt[u] == tickers[u] for u in after)
