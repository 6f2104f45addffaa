"""Replay throughput and tick→intent latency of the perpetual-swap examples against spot.

Run: ``python benchmarks/swap_replay.py [--repeat N]`` from the repository root. For each
example (Binance spot BTCUSDT tight, USDⓈ-M ETHUSDT, COIN-M ETHUSD_PERP) it loads the
recording once, then replays it N times and prints the medians: book rows/s, book updates/s
and the p50 and p99 of tick→intent (book update to the order manager's actions). A swap's path
adds the margin room, the margin ratio and the contract's cash flows; tick→intent says what
they cost per update. Rows/s also depends on the recording's rows per update: the COIN-M
capture's diffs are small (11 rows an update against 67 for USDⓈ-M), so it is update-bound.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccxt_mm.amounts import for_recording  # noqa: E402
from ccxt_mm.compiled import build  # noqa: E402
from ccxt_mm.config import load_config  # noqa: E402
from ccxt_mm.engine import ReplayEngine  # noqa: E402
from ccxt_mm.engine.gc_policy import quiet_gc  # noqa: E402
from ccxt_mm.market.capture import open_recording  # noqa: E402
from ccxt_mm.strategies import load_strategy  # noqa: E402

EXAMPLES = ("binance_btcusdt_tight.yaml", "binance_usdm_ethusdt.yaml", "binance_coinm_ethusd.yaml")


def measure(example: str, repeat: int) -> tuple[int, float, float, float, float]:
    """(book rows, median rows/s, median updates/s, median p50 µs, median p99 µs) of
    ``example`` replayed ``repeat`` times."""
    config = load_config(ROOT / "examples" / example)
    files = [str(ROOT / "ccxt_mm" / p) for p in config.market.data]
    recording = open_recording(files, config.market.symbol)
    config, _ = for_recording(config, recording)
    rates, updates, p50s, p99s = [], [], [], []
    for _ in range(repeat):
        engine = ReplayEngine(config, recording, load_strategy(config), run_id="bench")
        t0 = time.perf_counter()
        with quiet_gc():
            result = engine.run()
        wall = time.perf_counter() - t0
        rates.append(recording.book_rows / wall)
        updates.append(result.latency_ns.size / wall)
        p50s.append(float(np.percentile(result.latency_ns, 50)) / 1e3)
        p99s.append(float(np.percentile(result.latency_ns, 99)) / 1e3)
    return recording.book_rows, *(statistics.median(x) for x in (rates, updates, p50s, p99s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    print(f"build: {build()}, {repeat} replays each, medians")
    spot_rate = 0.0
    for example in EXAMPLES:
        rows, rate, per_sec, p50, p99 = measure(example, repeat)
        spot_rate = spot_rate or rate
        print(
            f"{example:<28} {rows:>8,} book rows  {rate / 1e6:5.2f} M rows/s ({rate / spot_rate:4.2f}x spot), "
            f"{per_sec / 1e3:5.1f} k updates/s  tick->intent p50 {p50:5.1f} us, p99 {p99:5.1f} us"
        )


if __name__ == "__main__":
    main()
