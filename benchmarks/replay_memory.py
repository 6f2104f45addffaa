"""Peak memory of a replay from the event store against the recording's length.

Run: ``python benchmarks/replay_memory.py [--lengths 1 8 64]`` from the repository root.

The bundled 11 minutes of BTCUSDT are laid end to end N times into a store (copy k shifted by
k times the recording's span plus a second, and its prices by a random walk of steps of the
recording's net move, seeded: the price wanders as a longer market's would, and the grid of
distinct prices grows with it), then
``ccxt-mm replay --data STORE --json`` runs in a child process; its peak RSS (``ru_maxrss``),
wall time and book rows/s are printed per length. The same store read whole into memory
(:func:`ccxt_mm.market.store.read_store`, what a replay did before it read segments) is measured
beside it for the lengths in ``--whole`` (its memory grows with the length).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccxt_mm.market.capture import load_capture  # noqa: E402
from ccxt_mm.market.events import EventLog, MsgKind  # noqa: E402
from ccxt_mm.market.store import StoreWriter, log_batch  # noqa: E402

BUNDLED = [str(ROOT / "ccxt_mm/recordings/binance_spot" / f"spot_btcusdt_2024080{d}.gz") for d in (8, 9)]
TICK = 0.01
SEED = 17

CHILD = """
import json, resource, sys, time
from ccxt_mm.cli import main
{load}
t0 = time.perf_counter()
rc = main(sys.argv[1:])
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"rc": rc, "wall_s": time.perf_counter() - t0, "peak_mib": peak_mib}}), file=sys.stderr)
"""
WHOLE = """
import ccxt_mm.market.capture as capture
from ccxt_mm.market.store import read_store
capture.open_recording = lambda paths, symbol: read_store(paths[0], symbol)
"""
"""The replay as it was before segments: the store read whole into one event log."""


def tiled_store(log: EventLog, copies: int, root: Path) -> None:
    """``copies`` of ``log`` end to end in a store at ``root`` (see the module)."""
    span = int(log.msg_ts_ns[-1] - log.msg_ts_ns[0]) + 10**9
    trades = log.msg_start[log.msg_kind == MsgKind.TRADE]
    drift = round(float(log.row_price[trades[-1]] - log.row_price[trades[0]]) / TICK) * TICK
    walk = np.r_[0, np.cumsum(np.random.default_rng(SEED).choice([-drift, drift], copies - 1))]
    writer = StoreWriter(root, "binance", log.symbol)
    for k in range(copies):
        exch = np.where(log.msg_exch_ns > 0, log.msg_exch_ns + k * span, 0)
        copy = dataclasses.replace(
            log, msg_ts_ns=log.msg_ts_ns + k * span, msg_exch_ns=exch, row_price=np.round(log.row_price + walk[k], 2)
        )
        writer.write(log_batch(copy))
    writer.close()


def replay_child(store: Path, whole: bool) -> dict[str, float]:
    """Wall time, peak RSS (MiB) and book rows of ``ccxt-mm replay --data store`` in a child."""
    with tempfile.TemporaryDirectory() as out:
        code = CHILD.format(load=WHOLE if whole else "")
        args = ["replay", "--data", str(store), "--json", "--report-dir", out]
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    figures = json.loads(done.stderr.strip().splitlines()[-1])
    figures["book_rows"] = json.loads(done.stdout)["book_rows"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 8, 64], help="multiples of the bundled 11 minutes")
    parser.add_argument("--whole", type=int, nargs="*", default=[1, 8], help="lengths also replayed read whole into memory")
    args = parser.parse_args()
    log = load_capture(BUNDLED, "BTC/USDT")
    print(f"bundled: {log.book_rows:,} book rows, {(log.msg_ts_ns[-1] - log.msg_ts_ns[0]) / 60e9:.1f} min")
    print(f"{'length':>7} {'hours':>6} {'book rows':>12} {'store MB':>9} {'read':>9} {'peak MiB':>9} {'wall s':>7} {'rows/s':>10}")
    for n in args.lengths:
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "store"
            t0 = time.perf_counter()
            tiled_store(log, n, store)
            size_mb = sum(p.stat().st_size for p in store.rglob("*.arrows")) / 1e6
            print(f"  ({n}x store written in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
            for whole in (False, True) if n in args.whole else (False,):
                f = replay_child(store, whole)
                hours = n * float(log.msg_ts_ns[-1] - log.msg_ts_ns[0]) / 3600e9
                print(
                    f"{n:>6}x {hours:>6.2f} {f['book_rows']:>12,} {size_mb:>9.1f} {'whole' if whole else 'segments':>9} "
                    f"{f['peak_mib']:>9.0f} {f['wall_s']:>7.1f} {f['book_rows'] / f['wall_s']:>10,.0f}"
                )


if __name__ == "__main__":
    main()
