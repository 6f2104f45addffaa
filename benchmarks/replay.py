"""Replay throughput, whole-process time, peak memory and tick→intent latency.

Run: ``python benchmarks/replay.py [--repeat N]`` from the repository root. Prints medians
over N runs (these machines are noisy; compare ratios, not single numbers).

* load: reading and sequencing the gzip capture into an event log (messages/s);
* store: the same recording read back whole from the event store, opened for a replay in
  segments (the first pass), and opened and replayed segment by segment (``replay --data``);
* replay: the engine loop over the event log — book, features, strategy, order manager,
  paper venue — in book rows/s (depth levels + trades) and messages/s;
* book only: the same recording through the book rebuild alone (every snapshot and diff
  applied, best levels tracked), no quoting: what the data path costs without a strategy;
* tick→intent: per book update, from applying the diff to the order manager's actions;
* whole process: ``ccxt-mm replay --json`` as a user runs it (import, load, replay, report
  with plot), wall time and peak RSS of the child process (bytecode caching on, as for a user);
* reference: gunzip + ``orjson.loads`` of every line and nothing else, measured in the same
  run, so the other figures can also be read as ratios that survive a noisy machine.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccxt_mm.book.grid_book import GridBook  # noqa: E402
from ccxt_mm.compiled import build  # noqa: E402
from ccxt_mm.config import AppConfig  # noqa: E402
from ccxt_mm.engine import ReplayEngine  # noqa: E402
from ccxt_mm.engine.gc_policy import quiet_gc  # noqa: E402
from ccxt_mm.market.capture import load_capture  # noqa: E402
from ccxt_mm.market.events import MsgKind  # noqa: E402
from ccxt_mm.market.store import StoreWriter, log_batch, read_store  # noqa: E402
from ccxt_mm.market.store_reader import StoreRecording  # noqa: E402
from ccxt_mm.strategies import load_strategy  # noqa: E402


def reference(paths: list[str]) -> float:
    """Seconds to decompress and parse every line of the recording, doing nothing else."""
    t0 = time.perf_counter()
    for path in paths:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                orjson.loads(line[line.index(b" ") + 1 :])
    return time.perf_counter() - t0


def book_only(log) -> float:
    """Seconds to apply every book message of ``log`` to a fresh GridBook."""
    book = GridBook(log.prices)
    updates = np.flatnonzero(np.isin(log.msg_kind, (MsgKind.SNAPSHOT, MsgKind.DIFF))).tolist()
    kinds = log.msg_kind.tolist()
    t0 = time.perf_counter()
    for m in updates:
        if kinds[m] == MsgKind.SNAPSHOT:
            book.clear()
        log.apply_message(book, m)
    return time.perf_counter() - t0


def store_replay(log, config: AppConfig, repeat: int) -> tuple[list[float], list[float], list[float]]:
    """Seconds per run to read the recording back whole from an event store (``ccxt-mm
    convert``'s), to open it for a replay in segments (the first pass: grid, clock, counts),
    and to open it and replay it segment by segment, as ``ccxt-mm replay --data STORE`` does."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = StoreWriter(Path(tmp), "binance", log.symbol)
        writer.write(log_batch(log))
        writer.close()
        reads, opens, replays = [], [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            read_store(tmp, log.symbol)
            t1 = time.perf_counter()
            recording = StoreRecording(tmp, log.symbol)
            t2 = time.perf_counter()
            engine = ReplayEngine(config, recording, load_strategy(config), run_id="bench")
            with quiet_gc():
                engine.run()
            reads.append(t1 - t0)
            opens.append(t2 - t1)
            replays.append(time.perf_counter() - t1)
    return reads, opens, replays


def whole_process(repeat: int) -> tuple[float, float]:
    """Median wall seconds and max peak RSS (MiB) of ``ccxt-mm replay``."""
    exe = Path(sys.executable).parent / "ccxt-mm"
    walls = []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([str(exe), "replay", "--json", "--report-dir", out], cwd=ROOT, check=True, capture_output=True, env=env)
            walls.append(time.perf_counter() - t0)
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return statistics.median(walls), rss_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = AppConfig()
    data = [str(ROOT / "ccxt_mm" / p) for p in config.market.data]

    refs = [reference(data) for _ in range(args.repeat)]
    loads = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        log = load_capture(data, config.market.symbol)
        loads.append(time.perf_counter() - t0)
    runs, p50s, p99s = [], [], []
    for _ in range(args.repeat):
        engine = ReplayEngine(config, log, load_strategy(config), run_id="bench")
        with quiet_gc():  # as ccxt-mm replay does around its loop
            t0 = time.perf_counter()
            result = engine.run()
            runs.append(time.perf_counter() - t0)
        p50s.append(np.percentile(result.latency_ns, 50) / 1e3)
        p99s.append(np.percentile(result.latency_ns, 99) / 1e3)
    reads, opens, store_runs = store_replay(log, config, args.repeat)
    store_s, open_s, store_run_s = statistics.median(reads), statistics.median(opens), statistics.median(store_runs)
    book_s = statistics.median(book_only(log) for _ in range(args.repeat))
    book_rows = int((log.msg_stop - log.msg_start)[np.isin(log.msg_kind, (MsgKind.SNAPSHOT, MsgKind.DIFF))].sum())
    wall, rss = whole_process(args.repeat)

    ref_s, load_s, run_s = statistics.median(refs), statistics.median(loads), statistics.median(runs)
    print(f"build               {build()} (ccxt_mm.compiled: the quoting path compiled with mypyc, or pure Python)")
    print(f"recording           {log.messages_read} messages, {log.book_rows} book rows, {result.latency_ns.size} book updates")
    print(f"reference           {ref_s:.3f} s  gunzip + orjson.loads of every line")
    print(f"load                {load_s:.3f} s  ({log.messages_read / load_s:,.0f} messages/s, {load_s / ref_s:.2f}x reference)")
    print(
        f"replay              {run_s:.3f} s  ({log.book_rows / run_s:,.0f} book rows/s, "
        f"{log.messages_read / run_s:,.0f} messages/s, {run_s / ref_s:.2f}x reference)"
    )
    print(f"store load          {store_s:.3f} s  ({log.book_rows / store_s:,.0f} rows/s: the event store, {load_s / store_s:.1f}x faster)")
    print(f"store open          {open_s:.3f} s  (first pass for a replay in segments: grid, clock, counts)")
    print(f"store open + replay {store_run_s:.3f} s  ({log.book_rows / store_run_s:,.0f} book rows/s, segment by segment)")
    print(f"book only           {book_s:.3f} s  ({book_rows / book_s:,.0f} depth rows/s: {book_rows} snapshot and diff rows, no quoting)")
    print(f"tick->intent        p50 {statistics.median(p50s):.1f} us, p99 {statistics.median(p99s):.1f} us")
    print(f"whole process       {wall:.2f} s wall (median of {args.repeat}), peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
