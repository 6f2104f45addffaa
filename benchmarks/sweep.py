"""Sweep throughput: trials per minute against workers, on a local pool and a loopback Dask cluster.

Run: ``.venv/bin/python benchmarks/sweep.py [--trials 64] [--workers 1,2] [--repeat 3]``.

Each run is the first ``--trials`` points of ``examples/sweep_tight.yaml`` (the tight example's
config, one replay of the bundled 11-minute Binance BTCUSDT recording per trial, two walk-forward
windows). Two figures per number of workers:

* **local, cold**: ``LocalPool(n)`` made for the sweep, so its processes' start and their
  reading of the recording are in the time, as they are for ``ccxt-mm sweep``;
* **local, warm** and **cluster, warm**: a pool (or a cluster of n ``dask worker`` processes
  on 127.0.0.1, one thread each) that has run a first pass, so each worker holds the recording:
  the steady state of a long sweep.

Scaling efficiency = (trials/min with n workers) / (n × trials/min with one). Medians over
``--repeat`` runs; the machine's cores bound the workers worth asking for.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccxt_mm.config import load_config  # noqa: E402
from ccxt_mm.sweep.pools import DaskPool, LocalPool, Pool  # noqa: E402
from ccxt_mm.sweep.search import Sweep, grid_points, run_points  # noqa: E402
from ccxt_mm.sweep.space import base_tree, load_sweep  # noqa: E402

FILES = [str(ROOT / "ccxt_mm/recordings/binance_spot" / name) for name in ("spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz")]


def plan(trials: int) -> tuple[Sweep, list[dict]]:
    spec = load_sweep(ROOT / "examples/sweep_tight.yaml")
    full = base_tree(load_config(ROOT / "examples/binance_btcusdt_tight.yaml"))
    full["market"]["data"] = FILES
    points = grid_points(spec)
    return Sweep(spec, full, [FILES]), (points * (trials // len(points) + 1))[:trials]


def timed(pool: Pool, sweep: Sweep, points: list[dict]) -> float:
    """Trials per minute of one pass of ``points`` on ``pool``."""
    started = time.perf_counter()
    trials = run_points(sweep, points, pool, lambda _: None)
    assert all(t.state == "complete" for t in trials), [t.error for t in trials if t.error]
    return len(points) * 60.0 / (time.perf_counter() - started)


def cold(n: int, sweep: Sweep, points: list[dict]) -> float:
    started = time.perf_counter()
    pool = LocalPool(n)
    try:
        run_points(sweep, points, pool, lambda _: None)
    finally:
        pool.close()
    return len(points) * 60.0 / (time.perf_counter() - started)


def warm(make: Callable[[], Pool], sweep: Sweep, points: list[dict], repeat: int) -> list[float]:
    pool = make()
    try:
        run_points(sweep, points[: 2 * pool.workers], pool, lambda _: None)  # every worker reads the recording
        return [timed(pool, sweep, points) for _ in range(repeat)]
    finally:
        pool.close()


def on_cluster(n: int, sweep: Sweep, points: list[dict], repeat: int) -> list[float]:
    from ccxt_mm_testkit.cluster import LoopbackCluster

    with LoopbackCluster(workers=n) as cluster:
        return warm(lambda: DaskPool(cluster.address, FILES), sweep, points, repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sweep, points = plan(args.trials)
    counts = [int(w) for w in args.workers.split(",")]
    print(f"{args.trials} trials, one replay each; {os.cpu_count()} cores; medians of {args.repeat} runs (trials/min)")
    figures: dict[str, dict[int, float]] = {"local, cold": {}, "local, warm": {}, "cluster, warm": {}}
    for n in counts:
        figures["local, cold"][n] = statistics.median(cold(n, sweep, points) for _ in range(args.repeat))
        figures["local, warm"][n] = statistics.median(warm(lambda n=n: LocalPool(n), sweep, points, args.repeat))
        figures["cluster, warm"][n] = statistics.median(on_cluster(n, sweep, points, args.repeat))
    for name, by_workers in figures.items():
        one = by_workers.get(1)
        for n, rate in by_workers.items():
            efficiency = f", efficiency {rate / (n * one):.2f}" if one else ""
            print(f"{name:14s} {n} worker(s): {rate:7.1f} trials/min{efficiency}")


if __name__ == "__main__":
    main()
