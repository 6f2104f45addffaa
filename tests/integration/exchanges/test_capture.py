"""`ccxt-mm capture` against three emulated exchanges: the captured store replays to the books
the exchanges showed, trades come with their aggressor, an unknown symbol fails at start."""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import yaml
from ccxt_mm_testkit.emulator.core import BookLog

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.cli import main
from ccxt_mm.market.events import MsgKind
from ccxt_mm.market.store import Manifest, read_batches, read_store
from tests.integration.exchanges.conftest import MARKETS, market_frames, recorded_frames, step_books
from tests.integration.exchanges.test_run_cli import emulators, market_activity, write_config  # noqa: F401 (a fixture)


def capture_args(config: str, env, store, *more: str) -> list[str]:
    """``ccxt-mm capture`` of ``env``'s symbol on its emulated exchange into ``store``."""
    return ["capture", "--config", config, "--exchange", env.name, "--symbols", env.symbol, "--out", str(store), *more]


def replayed_books(log) -> list[tuple[int, int, tuple[tuple, tuple]]]:
    """(run, sequence id, top 20 levels a side as (price, qty) tuples) after each snapshot or
    delta of ``log``; a gap marker starts the next run (its books start from a snapshot)."""
    book, out, valid, run = GridBook(log.prices), [], False, 0
    for m in range(log.messages):
        kind = log.msg_kind[m]
        if kind == MsgKind.INVALID:
            valid, run = False, run + 1
        elif kind in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            if kind == MsgKind.SNAPSHOT:
                book.clear()
                valid = True
            if valid:
                log.apply_message(book, m)
                bp, bq = book.top_bids(20)
                ap, aq = book.top_asks(20)
                out.append((run, int(log.msg_seq[m]), (tuple(zip(bp, bq, strict=True)), tuple(zip(ap, aq, strict=True)))))
    return out


def rebuilt_books(log) -> list[tuple[tuple, tuple]]:
    """The top 20 levels a side after each snapshot or delta of ``log``."""
    return [book for _, _, book in replayed_books(log)]


def unequal_update_ids(replayed: list[tuple[int, int, tuple]], published: dict[int, tuple]) -> tuple[list[int], int]:
    """The update ids the exchange published within a run of the capture (between the first
    and the last the run stored) at which the replayed book (the one after the last message
    stored with that id or an earlier one: a message is written only when the top levels
    change) differs from the exchange's; and how many were checked."""
    wrong, checked = [], 0
    for run in sorted({r for r, _, _ in replayed}):
        books = [(seq, book) for r, seq, book in replayed if r == run]
        seqs = [seq for seq, _ in books]
        assert seqs == sorted(seqs), f"run {run}: update ids out of order"
        for update_id in (u for u in sorted(published) if seqs[0] <= u <= seqs[-1]):
            at = bisect.bisect_right(seqs, update_id) - 1
            checked += 1
            if books[at][1] != published[update_id]:
                wrong.append(update_id)
    return wrong, checked


@pytest.mark.parametrize("websocket", [False, True], ids=["rest", "websocket"])
def test_a_capture_replays_to_the_books_each_exchange_showed(tmp_path, capsys, emulators, websocket):  # noqa: F811
    started, loop = emulators
    frames = {env.name: recorded_frames(env.name, env.symbol) for env, _, _ in started}
    mover = asyncio.run_coroutine_threadsafe(step_books([(ex, env.market_id, frames[env.name]) for env, ex, _ in started], 0.05), loop)
    config, store = write_config(tmp_path, emulators, websocket=websocket), tmp_path / "store"
    try:
        for env, _, _ in started:
            assert main(capture_args(config, env, store, "--duration", "1.5")) == 0
    finally:
        mover.cancel()
    out = capsys.readouterr().out
    for env, _, _ in started:
        shown = {(tuple(map(tuple, bids)), tuple(map(tuple, asks))) for bids, asks in frames[env.name]}
        books = rebuilt_books(read_store(str(store), env.symbol, env.name))
        assert len(books) > 5, env.name
        assert all(book in shown for book in books), f"{env.name}: a rebuilt book the exchange never showed"
        assert f"{env.name} {env.symbol}: rows " in out
    assert {(f.exchange, f.symbol) for f in Manifest.load(store).files} == {(env.name, env.symbol) for env, _, _ in started}


def test_trades_are_captured_with_their_aggressor(tmp_path, capsys, emulators):  # noqa: F811
    started, loop = emulators
    activity = asyncio.run_coroutine_threadsafe(market_activity(started, 3.0), loop)
    config, store = write_config(tmp_path, emulators), tmp_path / "store"
    env = started[1][0]
    try:
        assert main(capture_args(config, env, store, "--duration", "1.5")) == 0
    finally:
        activity.cancel()
    log = read_store(str(store), env.symbol, env.name)
    trades = [m for m in range(log.messages) if log.msg_kind[m] == MsgKind.TRADE]
    assert trades, "the market traded while it was captured"
    for m in trades:
        i = int(log.msg_start[m])
        mid_side = 1 if i < log.msg_split[m] else -1
        assert int(log.row_side[i]) == mid_side and log.row_qty[i] == 100.0 and log.msg_exch_ns[m] > 0


def stored_trade_ids(store: Path, exchange: str, symbol: str) -> list[str]:
    """The ``trade_id`` of every trade row of ``symbol`` in the store's complete files, in order."""
    files = sorted((f for f in Manifest.load(store).files if (f.exchange, f.symbol) == (exchange, symbol)), key=lambda f: f.first_recv_ns)
    ids: list[str] = []
    for f in files:
        for batch in read_batches(store / f.path):
            trades = batch.filter(pc.equal(batch.column("kind"), int(MsgKind.TRADE)))
            ids += trades.column("trade_id").to_pylist()
    return ids


def test_captured_trades_carry_the_exchanges_trade_ids_in_order(tmp_path, emulators):  # noqa: F811
    """Each exchange's trade ids reach the store as it wrote them (text: not every exchange's
    are numbers), in the order it traded, none lost between the first and the last captured."""
    started, loop = emulators
    activity = asyncio.run_coroutine_threadsafe(market_activity(started, 5.0), loop)
    config, store = write_config(tmp_path, emulators, websocket=True), tmp_path / "store"
    try:
        for env, _, _ in started:
            assert main(capture_args(config, env, store, "--duration", "1.2")) == 0
    finally:
        activity.cancel()
    for env, ex, _ in started:
        ids = stored_trade_ids(store, env.name, env.symbol)
        made = [str(t[0]) for t in ex.public_trades if t[2] == env.market_id]
        assert len(ids) >= 4, env.name
        first = made.index(ids[0])
        assert ids == made[first : first + len(ids)], env.name
        log = read_store(str(store), env.symbol, env.name)
        trade_seqs = log.msg_seq[log.msg_kind == MsgKind.TRADE]
        assert [str(s) for s in trade_seqs] == ids, env.name  # numeric ids also as the sequence id


async def trade_bursts(ex, market_id: str, seconds: float, size: int = 40) -> None:
    """Bursts of ``size`` public trades at the touch, every 0.2 s: more at once than a small
    trade cache holds."""
    for _ in range(int(seconds / 0.2)):
        await asyncio.sleep(0.2)
        bid, ask = ex.best(market_id)
        for i in range(size):
            ex.trade(market_id, "buy" if i % 2 else "sell", ask if i % 2 else bid, Decimal(1))


def stored_messages(store: Path, exchange: str, symbol: str) -> list[tuple[int, str | None]]:
    """(kind, trade id) of every row of ``symbol`` in the store's complete files, in order."""
    files = sorted((f for f in Manifest.load(store).files if (f.exchange, f.symbol) == (exchange, symbol)), key=lambda f: f.first_recv_ns)
    rows: list[tuple[int, str | None]] = []
    for f in files:
        for batch in read_batches(store / f.path):
            rows += zip(batch.column("kind").to_pylist(), batch.column("trade_id").to_pylist(), strict=True)
    return rows


def test_trades_ccxt_dropped_from_a_full_cache_are_never_lost_silently(tmp_path, emulators):  # noqa: F811
    """A trade cache of 5 against bursts of 40 trades (binance's websocket): ccxt.pro keeps the
    last 5 of a burst. Every trade the exchange made that is missing between two stored trades
    has a gap marker between them, and some were missing (the check is not vacuous)."""
    started, loop = emulators
    env, ex, _ = next(s for s in started if s[0].name == "binance")
    config = Path(write_config(tmp_path, emulators, websocket=True))
    config.write_text(config.read_text() + "\ncapture:\n  trades_cache: 5\n")
    store = tmp_path / "store"
    bursts = asyncio.run_coroutine_threadsafe(trade_bursts(ex, env.market_id, 3.0), loop)
    try:
        assert main(capture_args(str(config), env, store, "--duration", "2")) == 0
    finally:
        bursts.cancel()
    made = {str(t[0]): i for i, t in enumerate(ex.public_trades) if t[2] == env.market_id}
    previous, gap, skipped = None, False, 0
    for kind, trade_id in stored_messages(store, env.name, env.symbol):
        if kind == MsgKind.INVALID:
            gap = True
        elif kind == MsgKind.TRADE:
            at = made[trade_id]
            if previous is not None and at != previous + 1:
                skipped += at - previous - 1
                assert gap, f"trades {previous + 1}..{at - 1} of the exchange lost with no gap marker"
            previous, gap = at, False
    assert skipped > 0 and previous is not None


def test_an_unknown_symbol_fails_at_start_naming_it(tmp_path, capsys, emulators):  # noqa: F811
    config = write_config(tmp_path, emulators)
    code = main(["capture", "--config", config, "--exchange", "okx", "--symbols", "BTC/USDT,NOPE/USDT", "--out", str(tmp_path / "s")])
    assert code != 0
    assert "okx has no market NOPE/USDT" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_a_killed_capture_loses_no_completed_file_and_a_restart_recovers_and_marks_the_gap(tmp_path, capsys, emulators):  # noqa: F811
    started, loop = emulators
    env, ex, _ = started[2]
    frames = recorded_frames(env.name, env.symbol)
    mover = asyncio.run_coroutine_threadsafe(step_books([(ex, env.market_id, frames)], 0.05), loop)
    config, store = write_config(tmp_path, emulators), tmp_path / "store"
    args = capture_args(config, env, store)
    exe = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))
    try:
        proc = subprocess.Popen([exe, *args, "--rotate-secs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(4.0)  # files of earlier seconds completed, the current one open
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        completed = {f.path for f in Manifest.load(store).files}
        assert completed and list(store.glob("*/*/*.arrows.partial")), "killed with files complete and one open"
        assert main([*args, "--duration", "1.0"]) == 0
    finally:
        mover.cancel()
    out = capsys.readouterr().out
    assert "recovered " in out
    entries = Manifest.load(store).files
    assert completed < {f.path for f in entries} and not list(store.glob("*/*/*.arrows.partial"))
    assert sum(f.gaps for f in entries) >= 1  # the restart is marked
    shown = {(tuple(map(tuple, bids)), tuple(map(tuple, asks))) for bids, asks in frames}
    books = rebuilt_books(read_store(str(store), env.symbol, env.name))
    assert len(books) > 10 and all(book in shown for book in books)


@pytest.mark.parametrize("exchange", ["binance", "okx", "bybit"])
def test_three_symbols_killed_and_restarted_replay_to_the_exchanges_book_at_every_update_id(tmp_path, emulators, exchange):  # noqa: F811
    """The issue's "done when": a capture of three symbols over the exchange's websocket, killed
    (SIGKILL) with files complete and one open per symbol, then restarted; the store replays,
    at every update id the exchange published in each run, to the exchange's own top 20 levels
    a side (the emulator's log of what it published); the kill is a gap, no completed file is
    lost."""
    started, loop = emulators
    ex = next(ex for env, ex, _ in started if env.name == exchange)
    published = BookLog(ex)
    markets = [m for m, _, _ in MARKETS[exchange]]
    mover = asyncio.run_coroutine_threadsafe(step_books([(ex, m.id, market_frames(exchange, m.id)) for m in markets], 0.05), loop)
    config, store = write_config(tmp_path, emulators, websocket=True), tmp_path / "store"
    args = ["capture", "--config", config, "--exchange", exchange, "--symbols", ",".join(m.symbol for m in markets), "--out", str(store)]
    exe = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))
    try:
        proc = subprocess.Popen([exe, *args, "--rotate-secs", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len({f.symbol for f in Manifest.load(store).files}) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the next files open, a batch or so in them
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        completed = {f.path for f in Manifest.load(store).files}
        assert len({f.symbol for f in Manifest.load(store).files}) == 3, err.decode()[-2000:]
        assert main([*args, "--duration", "1.5"]) == 0
    finally:
        mover.cancel()
    assert completed < {f.path for f in Manifest.load(store).files} and not list(store.glob("*/*/*.arrows.partial"))
    for m in markets:
        replayed = replayed_books(read_store(str(store), m.symbol, exchange))
        assert {run for run, _, _ in replayed} == {0, 1}, m.symbol  # before the kill, after the restart
        wrong, checked = unequal_update_ids(replayed, published.books[m.id])
        assert not wrong and checked > 20, (m.symbol, wrong[:10], checked)


def limit_file_size() -> None:
    """In the child: files may not grow past 30 kB, and a write past it fails (EFBIG) instead
    of killing the process, as a full disk's writes fail."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))


def test_a_write_error_stops_the_capture_loudly(tmp_path, emulators):  # noqa: F811
    started, loop = emulators
    env, ex, _ = started[0]
    mover = asyncio.run_coroutine_threadsafe(step_books([(ex, env.market_id, recorded_frames(env.name, env.symbol))], 0.05), loop)
    config, store = write_config(tmp_path, emulators), tmp_path / "store"
    exe = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))
    args = [exe, *capture_args(config, env, store, "--duration", "60")]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=90, preexec_fn=limit_file_size)
    finally:
        mover.cancel()
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "error: writing " in proc.stderr and "File too large" in proc.stderr and "capture stopped" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_capture_then_replay_needs_no_market_facts(tmp_path, capsys, emulators):  # noqa: F811
    """The walk-through of the README: capture, replay the store (its manifest holds the
    market's tick and lot), read the report."""
    started, loop = emulators
    env, ex, _ = started[0]
    mover = asyncio.run_coroutine_threadsafe(step_books([(ex, env.market_id, recorded_frames(env.name, env.symbol))], 0.05), loop)
    config, store = write_config(tmp_path, emulators), tmp_path / "store"
    try:
        assert main(capture_args(config, env, store, "--duration", "2")) == 0
    finally:
        mover.cancel()
    capsys.readouterr()
    report = tmp_path / "report"
    assert main(["replay", "--data", str(store), "--symbol", env.symbol, "--json", "--no-progress", "--report-dir", str(report)]) == 0
    out, err = capsys.readouterr()
    tick, lot = ex.markets[env.market_id].tick, ex.markets[env.market_id].lot
    assert f"{env.symbol}: tick {float(tick)}, lot {float(lot)} from the store's manifest" in err
    summary = json.loads(out)
    assert summary["book_updates"] > 10 and (report / "summary.json").is_file()


def with_capture_section(config: str, **keys: object) -> str:
    """The config file ``config`` with a ``capture`` section of ``keys``."""
    path = Path(config)
    raw = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**raw, "capture": keys}))
    return config


def test_a_config_files_capture_section_runs_with_no_flag_and_the_progress_shows_each_files_size(tmp_path, capsys, emulators):  # noqa: F811
    """``ccxt-mm capture --config F`` alone records what the file's ``capture`` section names;
    the progress line and the summary give each symbol's bytes on disk (the files' own size)."""
    started, loop = emulators
    env, ex, _ = started[0]
    mover = asyncio.run_coroutine_threadsafe(step_books([(ex, env.market_id, recorded_frames(env.name, env.symbol))], 0.05), loop)
    store = tmp_path / "from_file"
    keys = {"exchange": env.name, "symbols": [env.symbol], "book_depth": 5, "out_dir": str(store), "duration_secs": 2.2}
    config = with_capture_section(write_config(tmp_path, emulators), **keys, progress_secs=1.0)
    try:
        assert main(["capture", "--config", config]) == 0
    finally:
        mover.cancel()
    out = capsys.readouterr().out
    log = read_store(str(store), env.symbol, env.name)
    first = int(np.flatnonzero(log.msg_kind == MsgKind.SNAPSHOT)[0])
    assert log.msg_split[first] - log.msg_start[first] == 5  # book_depth from the file
    on_disk = sum((store / f.path).stat().st_size for f in Manifest.load(store).files)
    progress = [float(m) for m in re.findall(rf"^{re.escape(env.symbol)}: [\d.]+ messages/s, rows \d+, .*, ([\d.]+) MB$", out, re.M)]
    assert len(progress) >= 2 and 0 < progress[0] < progress[-1], out  # the open file, growing batch by batch
    where = re.escape(f" MB in {store} (files: 1)")
    (summary,) = re.findall(rf"^{env.name} {re.escape(env.symbol)}: rows (\d+), .*, ([\d.]+){where}$", out, re.M)
    assert float(summary[1]) == round(on_disk / 1e6, 3) and int(summary[0]) == len(log.row_side) + (log.msg_start == log.msg_stop).sum()


def test_flags_override_the_config_file_and_bad_values_name_their_key_or_flag(tmp_path, capsys, emulators):  # noqa: F811
    started, _ = emulators
    env = started[1][0]
    config = with_capture_section(write_config(tmp_path, emulators), exchange=env.name, symbols=["NOPE/USDT"], out_dir=str(tmp_path / "x"))
    assert main(["capture", "--config", config, "--symbols", env.symbol, "--out", str(tmp_path / "y"), "--duration", "0.5"]) == 0
    assert {f.symbol for f in Manifest.load(tmp_path / "y").files} == {env.symbol} and not (tmp_path / "x").exists()
    capsys.readouterr()
    assert main(["capture", "--config", config, "--rotate-secs", "0", "--symbols", "BTC/USDT,eth"]) == 2
    err = capsys.readouterr().err
    assert "config error in the command line:" in err and "--rotate-secs: must be greater than 0 and at most 31536000 (got 0.0)" in err
    assert "--symbols: must match the pattern" in err and "(got 'eth')" in err
    bad = with_capture_section(write_config(tmp_path, emulators), symbols=["BTC/USDT"], rotate_secs=-1, book_depth=0)
    assert main(["capture", "--config", bad]) == 2
    err = capsys.readouterr().err
    assert "capture.rotate_secs: must be greater than 0 and at most 31536000 (got -1)" in err
    assert "capture.book_depth: must be at least 1 and at most 1000 (got 0)" in err
    alone = with_capture_section(write_config(tmp_path, emulators), symbols=["BTC/USDT"])
    assert main(["capture", "--config", alone]) == 2
    assert "capture.exchange: required (in the config, or --exchange)" in capsys.readouterr().err


def test_an_exchange_ccxt_does_not_know_is_named(capsys):
    assert main(["capture", "--exchange", "nope", "--symbols", "BTC/USDT", "--duration", "1"]) == 2
    assert "ccxt.pro has no exchange 'nope'" in capsys.readouterr().err
