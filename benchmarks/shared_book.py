"""The shared risk book's cost (``portfolio.store: redis``) against a real redis-server on
loopback: the round trip of one sync (every local part published with its claims renewed, the
other processes' parts read) by markets per process and processes sharing the book, and how
long a fill published by one process takes to reach another's portfolio. Quoting never waits
on these: they bound how stale a process's view of the others is.

    .venv/bin/python benchmarks/shared_book.py [--syncs 400] [--fills 200]

Needs Debian's redis-server (``apt-get install redis-server``) and the testkit.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from ccxt_mm_testkit.redis_server import RedisServer

from ccxt_mm.quoting.portfolio import Part, Portfolio, PortfolioParams
from ccxt_mm.shared.redis_book import RedisBook

PARAMS = PortfolioParams(max_asset_base={"BTC": 1.0, "ETH": 10.0}, store="redis", redis_sync_secs=0.05)


def books(url: str, processes: int, markets: int) -> list[tuple[Portfolio, list, RedisBook]]:
    out = []
    for p in range(processes):
        pf, fills = Portfolio(PARAMS), {}
        for m in range(markets):
            key = f"ex{p}_{m} {'BTC' if m % 2 == 0 else 'ETH'}/USDT"
            pf.update(key, Part(key.split()[1].split("/")[0], position=0.001 * m, resting_buy=0.01, mid=100.0))
            fills[key] = []
        out.append((pf, fills, RedisBook(pf, url, fills)))
    return out


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def sync_round_trip(url: str, processes: int, markets: int, syncs: int) -> tuple[float, float]:
    """(p50, p99) ms of one process's sync while the others have published their parts."""
    group = books(url, processes, markets)
    for _, _, book in group:
        await book.sync()
    book = group[0][2]
    times = []
    for _ in range(syncs):
        started = time.perf_counter()
        await book.sync()
        times.append((time.perf_counter() - started) * 1e3)
    for _, _, b in group:
        await b.close()
    return statistics.median(times), quantile(times, 0.99)


async def fill_to_view(url: str, fills: int) -> tuple[float, float]:
    """(p50, p99) ms from a fill recorded by process A to process B's portfolio counting it,
    both running their sync loop (A publishes at its next sync, B is woken by the channel)."""
    (pf_a, fills_a, a), (pf_b, _, b) = books(url, 2, 1)
    key_a = a.local[0]
    tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
    await asyncio.sleep(0.3)
    times = []
    for i in range(fills):
        part = pf_a.parts[key_a]
        started = time.perf_counter()
        part.position += 0.0001
        fills_a[key_a].append(type("Fill", (), {"ts_ns": time.time_ns(), "side": 1, "price": 100.0, "qty": 0.0001})())
        want = part.position
        while pf_b.parts[key_a].position < want - 1e-12:
            await asyncio.sleep(0.0002)
        times.append((time.perf_counter() - started) * 1e3)
        await asyncio.sleep(0.01 + (i % 7) * 0.005)  # fills at times unrelated to the sync phase
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await a.close()
    await b.close()
    return statistics.median(times), quantile(times, 0.99)


async def main(syncs: int, fills: int) -> None:
    server = RedisServer(Path(tempfile.mkdtemp()) / "redis")
    server.start()
    try:
        print("sync round trip (ms): processes x markets per process -> p50, p99")
        for processes, markets in ((1, 1), (2, 1), (2, 10), (4, 10), (8, 10)):
            p50, p99 = await sync_round_trip(server.url, processes, markets, syncs)
            print(f"  {processes} x {markets:2d}: p50 {p50:.3f}  p99 {p99:.3f}")
        p50, p99 = await fill_to_view(server.url, fills)
        print(f"fill in process A -> in B's portfolio (ms, sync every {PARAMS.redis_sync_secs * 1e3:g} ms): p50 {p50:.1f}  p99 {p99:.1f}")
    finally:
        server.kill()


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--syncs", type=int, default=400)
    args.add_argument("--fills", type=int, default=200)
    ns = args.parse_args()
    asyncio.run(main(ns.syncs, ns.fills))
