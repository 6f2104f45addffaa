"""A store replayed a segment at a time: the segments are the whole recording cut at message ends
on the whole recording's grid and clock, and a replay of them is the replay of the whole log."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.app.config_file import app_config
from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.engine import ReplayEngine
from ccxt_mm.engine.exchange_side import ExchangeSide
from ccxt_mm.errors import DataError
from ccxt_mm.execution.paper import PaperParams, PaperVenue
from ccxt_mm.market.capture import load_capture
from ccxt_mm.market.events import EventLogBuilder, MsgKind
from ccxt_mm.market.store import StoreWriter, log_batch, read_store
from ccxt_mm.market.store_reader import StoreRecording
from ccxt_mm.strategies import load_strategy
from tests.conftest import BINANCE_FILES, ROOT

HOUR_NS = 3600 * 10**9


@pytest.fixture(scope="module")
def btc_store(tmp_path_factory):
    """The bundled BTCUSDT recording as a store (two hourly files)."""
    store = tmp_path_factory.mktemp("btc")
    log = load_capture(BINANCE_FILES, "BTC/USDT")
    writer = StoreWriter(store, "binance", "BTC/USDT")
    writer.write(log_batch(log))
    writer.close()
    return store


def replay(recording):
    config, _, source = app_config(str(ROOT / "examples/binance_btcusdt_tight.yaml"))
    return ReplayEngine(config, recording, load_strategy(config, source), run_id="seg").run()


@pytest.mark.parametrize("segment_rows", [3_000, 40_000])
def test_a_store_replayed_in_segments_is_the_replay_of_the_whole_log(btc_store, segment_rows):
    """The tight example on BTCUSDT (hundreds of fills, thousands of orders): the same fills at
    the same times, the same order log and the same curves, segment after segment."""
    whole = replay(read_store(str(btc_store), "BTC/USDT"))
    recording = StoreRecording(str(btc_store), "BTC/USDT", segment_rows=segment_rows)
    assert 2 <= sum(1 for _ in recording.segments()) <= 320_000 // segment_rows
    cut = replay(recording)
    assert len(whole.fills) > 300
    assert [(f.ts_ns, f.seen_ns, f.order_id, f.price, f.qty) for f in cut.fills] == [
        (f.ts_ns, f.seen_ns, f.order_id, f.price, f.qty) for f in whole.fills
    ]
    assert cut.orders == whole.orders
    for name in ("book_ts_ns", "mid", "bid_quote", "ask_quote", "position"):
        assert np.array_equal(getattr(cut, name), getattr(whole, name), equal_nan=True), name
    assert cut.balances == whole.balances and cut.mode_secs == whole.mode_secs


messages = st.lists(
    st.tuples(
        st.sampled_from([MsgKind.SNAPSHOT, MsgKind.DIFF, MsgKind.TRADE, MsgKind.INVALID]),
        st.integers(0, 3 * 10**9),
        st.lists(st.tuples(st.integers(1, 50), st.integers(0, 9)), max_size=4),
        st.lists(st.tuples(st.integers(51, 99), st.integers(0, 9)), max_size=4),
    ),
    min_size=1,
    max_size=60,
).filter(lambda ms: any(m[0] == MsgKind.SNAPSHOT for m in ms))


@settings(max_examples=60, deadline=None)
@given(messages, st.integers(1, 80), st.integers(1, 30))
def test_segments_are_the_whole_recording_cut_at_message_ends(tmp_path_factory, msgs, segment_rows, per_write):
    """Any messages (gap markers, empty and one-sided ones), written a few at a time across an
    hour boundary (two files): the segments hold whole messages, each but the last at least
    ``segment_rows`` store rows, and together they are the whole log on its grid, with its
    counts and clock."""
    builder = EventLogBuilder("X/Y")
    src = builder.add_source("hand")
    t0 = HOUR_NS * 500_000 - 10 * 10**9
    for i, (kind, lag, bids, asks) in enumerate(msgs):
        rows = (bids, asks) if kind != MsgKind.INVALID else ([], [])
        recv = t0 + i * 10**9
        builder.add(kind, recv, src, i + 1, i, rows[0], rows[1], recv - lag if lag else 0)
    log = builder.build()
    store = tmp_path_factory.mktemp("seg")
    writer = StoreWriter(store, "x", "X/Y")
    batch = log_batch(log)
    starts = np.r_[0, np.flatnonzero(np.diff(batch.column("msg").to_numpy())) + 1, batch.num_rows]
    for a, b in zip(starts[:-1:per_write].tolist(), [*starts[per_write:-1:per_write].tolist(), batch.num_rows], strict=True):
        writer.write(batch.slice(a, b - a))
    writer.close()
    whole = read_store(str(store), "X/Y")
    recording = StoreRecording(str(store), "X/Y", segment_rows=segment_rows)
    segments = list(recording.segments())
    for seg in segments[:-1]:
        empty = int(((seg.msg_stop - seg.msg_start) == 0).sum())
        assert seg.row_price.size + empty >= segment_rows
    assert np.array_equal(recording.prices, whole.prices)
    assert (recording.messages, recording.book_rows) == (whole.messages, whole.book_rows)
    assert (recording.clock().offset_ns, recording.clock().median_latency_ns) == (whole.clock().offset_ns, whole.clock().median_latency_ns)
    for name in ("msg_ts_ns", "msg_exch_ns", "msg_kind", "msg_seq", "msg_src", "msg_line", "row_side", "row_price", "row_qty", "row_level"):
        assert np.array_equal(np.concatenate([getattr(s, name) for s in segments]), getattr(whole, name)), name
    counts = np.concatenate([s.msg_stop - s.msg_start for s in segments])
    bids = np.concatenate([s.msg_split - s.msg_start for s in segments])
    assert np.array_equal(counts, whole.msg_stop - whole.msg_start) and np.array_equal(bids, whole.msg_split - whole.msg_start)


def test_a_message_stamped_before_a_time_already_lived_is_an_error_naming_it():
    """The exchange's side has lived to 10 s; a later segment brings a trade the exchange
    stamped at 2 s (received 18 s late): it cannot be put back in the past, so the replay stops
    naming that message (not the ticker stamped earlier still, which the exchange side never
    lives) rather than replay it out of the exchange's order."""
    builder = EventLogBuilder("X/Y")
    src = builder.add_source("late.arrows")
    for i in range(10):
        t = (i + 1) * 10**9
        builder.add(MsgKind.SNAPSHOT if i == 0 else MsgKind.TRADE, t, src, i + 1, i, [(1.0, 1.0)], [(2.0, 1.0)], t)
    builder.add(MsgKind.TICKER, 20 * 10**9, src, 11, 10, [(1.0, 1.0)], [(2.0, 1.0)], 10**9)  # validation only: never lived
    builder.add(MsgKind.TRADE, 20 * 10**9, src, 12, 11, [(1.5, 1.0)], [], 2 * 10**9)
    log = builder.build()
    head = _messages(log, 0, 10)
    tail = _messages(log, 10, 12)
    venue = PaperVenue(PaperParams(), GridBook(log.prices), base=1.0, quote=1e6, lot_size=0.001)
    exchange = ExchangeSide(venue, log.clock())
    exchange.add(head, head.book_updates())
    exchange.live_until(10 * 10**9)
    with pytest.raises(DataError) as err:
        exchange.add(tail, tail.book_updates())
    assert "late.arrows:12" in str(err.value) and "long before it was received" in str(err.value)


def _messages(log, a: int, b: int):
    """Messages ``a`` to ``b`` of ``log`` as a log of their own on the same grid."""
    ra, rb = int(log.msg_start[a]), int(log.msg_stop[b - 1])
    rows = slice(ra, rb)
    return dataclasses.replace(
        log,
        msg_ts_ns=log.msg_ts_ns[a:b],
        msg_exch_ns=log.msg_exch_ns[a:b],
        msg_kind=log.msg_kind[a:b],
        msg_start=log.msg_start[a:b] - ra,
        msg_split=log.msg_split[a:b] - ra,
        msg_stop=log.msg_stop[a:b] - ra,
        msg_seq=log.msg_seq[a:b],
        msg_src=log.msg_src[a:b],
        msg_line=log.msg_line[a:b],
        row_side=log.row_side[rows],
        row_price=log.row_price[rows],
        row_qty=log.row_qty[rows],
        row_level=log.row_level[rows],
    )
