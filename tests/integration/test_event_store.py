"""The event store: the bundled recordings converted replay to the same summaries, a killed
writer loses no completed file and its open one comes back to its last whole batch, a round
trip keeps every message, and bad stores are named."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.cli import main
from ccxt_mm.errors import DataError
from ccxt_mm.market.capture import load_capture
from ccxt_mm.market.events import EventLogBuilder, MsgKind
from ccxt_mm.market.store import PARTIAL, Manifest, MessageBatch, StoreWriter, log_batch, read_batches, read_store, recover_partials
from tests.conftest import BINANCE_FILES, BYBIT_FILE, OKX_FILE, ROOT

CASES = {
    "binance": (BINANCE_FILES, "BTC/USDT", []),
    "bybit": ([BYBIT_FILE], "LTC/USDT", ["--config", str(ROOT / "tests/data/bybit_ltcusdt.yaml")]),
    "okx": ([OKX_FILE], "BTC/USDT", ["--tick-size", "0.1", "--lot-size", "0.00000001"]),
}


def replay_json(capsys, *args: str) -> dict:
    assert main(["replay", "--json", "--no-progress", *args]) == 0
    summary = json.loads(capsys.readouterr().out)
    summary.pop("wall_s")
    summary.pop("data")
    return summary


@pytest.mark.parametrize("exchange", list(CASES))
def test_a_converted_recording_replays_to_the_same_summary(exchange, capsys, tmp_path):
    files, symbol, flags = CASES[exchange]
    store = tmp_path / "store"
    assert main(["convert", "--data", *files, "--symbol", symbol, "--out", str(store)]) == 0
    capsys.readouterr()
    raw = replay_json(capsys, *flags, "--data", *files, "--symbol", symbol, "--report-dir", str(tmp_path / "a"))
    stored = replay_json(capsys, *flags, "--data", str(store), "--symbol", symbol, "--report-dir", str(tmp_path / "b"))
    assert stored == raw and raw["book_updates"] > 0
    entries = Manifest.load(store).files
    assert {(e.exchange, e.symbol) for e in entries} == {(exchange, symbol)}
    assert sum(e.messages for e in entries) + sum(sum(e.skipped.values()) for e in entries) == raw["messages"]
    table = pa.Table.from_batches([b for e in entries for b in read_batches(store / e.path)])
    trades = table.filter(pc.equal(table.column("kind"), int(MsgKind.TRADE)))
    ids, seqs = trades.column("trade_id").to_pylist(), trades.column("seq").to_pylist()
    assert trades.num_rows > 0 and ids == [str(s) if s else None for s in seqs]  # bybit's capture has no ids
    assert table.column("trade_id").null_count == table.num_rows - sum(s != 0 for s in seqs)


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ccxt_mm.market.capture import load_capture
    from ccxt_mm.market.store import StoreWriter, log_batch
    log = load_capture(sys.argv[2:], "BTC/USDT")
    batch = log_batch(log)
    hour = 3600 * 10**9
    recv = batch.column(1).to_numpy()
    first_hour = int((recv < (recv[0] // hour + 1) * hour).sum())
    writer = StoreWriter(Path(sys.argv[1]), "binance", "BTC/USDT")
    writer.write(batch.slice(0, first_hour))  # the hour of 23:00 ends: that file is complete
    for i in range(3):  # three flushed batches of the next hour
        writer.write(batch.slice(first_hour + 1000 * i, 1000))
    print("ready", first_hour, flush=True)
    time.sleep(60)
    """
)


def test_a_killed_writer_loses_no_completed_file_and_its_open_one_recovers(tmp_path):
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store), *BINANCE_FILES], stdout=subprocess.PIPE, text=True)
    try:
        ready, first_hour = proc.stdout.readline().split()
        assert ready == "ready"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    (partial,) = store.glob(f"*/*/*{PARTIAL}")
    assert len(Manifest.load(store).files) == 1  # only the completed hour is in the manifest
    # the last batch torn in half on disk, as a write cut short would leave it
    size = partial.stat().st_size
    with partial.open("r+b") as fh:
        fh.truncate(size - 2000)
    (recovered,) = recover_partials(store)
    assert recovered.rows == 2000 and not list(store.glob(f"*/*/*{PARTIAL}"))
    log = read_store(str(store), "BTC/USDT")
    whole = load_capture(BINANCE_FILES, "BTC/USDT")
    rows = int(first_hour) + 2000
    assert log.row_price.size <= rows
    kept = np.flatnonzero(whole.msg_kind != MsgKind.TICKER)
    n = log.messages
    assert np.array_equal(log.msg_ts_ns, whole.msg_ts_ns[kept][:n]) and np.array_equal(log.msg_seq, whole.msg_seq[kept][:n])
    assert np.array_equal(log.row_price, whole.row_price[: log.row_price.size])


messages = st.lists(
    st.tuples(
        st.sampled_from([MsgKind.SNAPSHOT, MsgKind.DIFF, MsgKind.TRADE, MsgKind.INVALID]),
        st.integers(0, 10**6),
        st.lists(st.tuples(st.integers(1, 50), st.integers(0, 9)), max_size=4),
        st.lists(st.tuples(st.integers(51, 99), st.integers(0, 9)), max_size=4),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=50, deadline=None)
@given(messages)
def test_every_message_survives_the_round_trip(tmp_path_factory, msgs):
    """Any messages (gap markers without rows, empty and one-sided ones among them), written
    in batches across an hour boundary, read back equal field by field."""
    builder = EventLogBuilder("X/Y")
    src = builder.add_source("hand")
    t0 = 3600 * 10**9 * 500_000 - 5 * 10**9
    for i, (kind, exch, bids, asks) in enumerate(msgs):
        rows = (bids, asks) if kind != MsgKind.INVALID else ([], [])
        builder.add(kind, t0 + i * 10**9, src, i + 1, i, [(p, q) for p, q in rows[0]], [(p, q) for p, q in rows[1]], exch)
    log = builder.build()
    store = tmp_path_factory.mktemp("rt")
    writer = StoreWriter(store, "x", "X/Y")
    batch = log_batch(log)
    half = batch.num_rows // 2
    cut = half + int(np.argmax(batch.column(0).to_numpy()[half:] != batch.column(0).to_numpy()[half])) if half else 0
    writer.write(batch.slice(0, cut))  # whole messages per write
    writer.write(batch.slice(cut))
    writer.close()
    back = read_store(str(store), "X/Y")
    for name in (
        "msg_ts_ns",
        "msg_exch_ns",
        "msg_kind",
        "msg_seq",
        "msg_start",
        "msg_split",
        "msg_stop",
        "row_side",
        "row_price",
        "row_qty",
    ):
        assert np.array_equal(getattr(back, name), getattr(log, name)), name


def test_a_store_without_the_symbol_or_a_directory_without_manifest_is_named(tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["convert", "--data", BYBIT_FILE, "--symbol", "LTC/USDT", "--out", str(store)]) == 0
    with pytest.raises(DataError, match=r"no files of ETH/USDT in this store; it holds: bybit LTC/USDT"):
        load_capture([str(store)], "ETH/USDT")
    with pytest.raises(DataError, match=r"a directory without manifest\.json"):
        load_capture([str(tmp_path)], "LTC/USDT")
    assert main(["convert", "--data", str(store), "--symbol", "LTC/USDT", "--out", str(tmp_path / "x")]) != 0
    assert f"{store}: already an event store: nothing to convert" in capsys.readouterr().err


def test_a_raw_replay_does_not_import_pyarrow():
    """pyarrow (~80 MiB resident) is loaded only when a store is read or written."""
    code = (
        "import sys; from ccxt_mm.market.capture import load_capture; from ccxt_mm.cli import build_parser; "
        "build_parser(); print('pyarrow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_messages_added_as_they_arrive_read_back_as_the_event_log_of_the_same_messages(tmp_path):
    """What a capture writes: a snapshot, deltas, a trade, a gap marker and the resync, in two
    takes; read back equal to the event log built from the same messages."""
    messages = [
        (MsgKind.SNAPSHOT, 10, 5, 100, [(99.0, 1.0), (98.5, 2.0)], [(99.5, 1.0)]),
        (MsgKind.DIFF, 20, 15, 101, [(99.0, 0.0)], []),
        (MsgKind.TRADE, 25, 16, 0, [], [(99.0, 1.0)]),
        (MsgKind.INVALID, 30, 0, 0, [], []),
        (MsgKind.SNAPSHOT, 40, 35, 200, [(98.5, 2.0)], [(99.5, 3.0), (100.0, 1.0)]),
    ]
    batch, builder = MessageBatch(), EventLogBuilder("BTC/USDT")
    src = builder.add_source("hand")
    writer = StoreWriter(tmp_path, "okx", "BTC/USDT")
    trade_id = "9c2e1f4a-0b7d-4e55-8a31-2f6c1d0e9b47"  # as Bybit's
    for i, (kind, recv, exch, seq, bids, asks) in enumerate(messages):
        batch.add(kind, recv * 10**9, exch * 10**9, seq, bids, asks, trade_id if kind == MsgKind.TRADE else None)
        builder.add(kind, recv * 10**9, src, i + 1, seq, bids, asks, exch * 10**9)
        if i == 2:
            writer.write(batch.take())
    writer.write(batch.take())
    writer.close()
    back, log = read_store(str(tmp_path), "BTC/USDT"), builder.build()
    for name in ("msg_ts_ns", "msg_exch_ns", "msg_kind", "msg_seq", "msg_start", "msg_split", "msg_stop", "row_side", "row_price"):
        assert np.array_equal(getattr(back, name), getattr(log, name)), name
    assert Manifest.load(tmp_path).files[0].gaps == 1
    (entry,) = Manifest.load(tmp_path).files
    ids = pa.Table.from_batches(list(read_batches(tmp_path / entry.path))).column("trade_id").to_pylist()
    assert ids == [None] * 4 + [trade_id] + [None] * 4  # the snapshot's 3 rows and the delta's; the gap's and the resync's 3
