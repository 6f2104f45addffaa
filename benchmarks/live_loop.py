"""The live engine against emulated exchanges: 3 exchanges × N symbols in one process.

Run: ``.venv/bin/python benchmarks/live_loop.py [--symbols 10] [--seconds 30] [--rate 5] [--websocket]
[--report-every SECS] [--swaps]``.

The emulators run in a child process (so the engine's memory is measured alone). Each
emulated market's book is moved ``--rate`` times a second by replaying the bundled real
BTCUSDT recording (top 20 levels; symbol k at prices × (1 + k/100)), and a taker trades
through the touch now and then. The engine polls books over REST (with ``--websocket``: books
and fills over the emulators' websockets, ccxt.pro), sends post-only orders through ccxt and
cancels everything at the end. Printed: tick → order intent p50/p99 (from ccxt handing over a
parsed book to the order actions: its levels read and the quoting core; ccxt's parsing
excluded), order requests per minute per symbol against a cancel-and-replace-on-every-update
baseline, the feed and order-ack latency p50s the run summary reports, orders left, peak RSS,
and the event loop's lag (how late a 10 ms sleep wakes: what a blocked loop shows). With
``--report-every`` the run report (:mod:`ccxt_mm.app.run_report`, plots included) is written
that often beside quoting, into a temporary folder: compare tick → intent and the lag without.
With ``--swaps`` every market is a linear perpetual swap (``BASE/USDT:USDT``: binance USDⓈ-M,
okx SWAP, bybit linear; REST only): leverage set at start, positions and cash reconciled.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccxt_mm.app.run_report import RunReporter  # noqa: E402
from ccxt_mm.compiled import build  # noqa: E402
from ccxt_mm.config import AppConfig  # noqa: E402
from ccxt_mm.engine.live import LiveEngine, open_market  # noqa: E402
from ccxt_mm.engine.predictions import LivePredictions  # noqa: E402
from ccxt_mm.exchange.clients import client_class, point_at  # noqa: E402

KEY, SECRET, PASSPHRASE = "bench-key", "bench-secret", "bench-pass"
BASES = ["BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "LTC", "DOT", "LINK", "AVAX", "TRX", "BCH"]


def market_id(exchange: str, base: str, swaps: bool = False) -> str:
    if exchange == "okx":
        return f"{base}-USDT-SWAP" if swaps else f"{base}-USDT"
    return f"{base}USDT"


def serve(n_symbols: int, rate: float, seconds: float, urls: mp.Queue, swaps: bool = False) -> None:
    """Child process: three emulators whose books replay the recording at ``rate`` Hz (the
    emulator is imported here, so the engine process holds only what ``ccxt-mm run`` does)."""
    from ccxt_mm_testkit.emulator.binance import BinanceDialect
    from ccxt_mm_testkit.emulator.binance_futures import BinanceFuturesDialect
    from ccxt_mm_testkit.emulator.bybit import BybitDialect
    from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
    from ccxt_mm_testkit.emulator.frames import book_frames
    from ccxt_mm_testkit.emulator.okx import OkxDialect
    from ccxt_mm_testkit.emulator.server import EmulatorServer
    from ccxt_mm_testkit.emulator.websockets import websockets

    from ccxt_mm.market.capture import load_capture

    async def main() -> None:
        config = AppConfig()
        log = load_capture([str(ROOT / "ccxt_mm" / p) for p in config.market.data], config.market.symbol)
        frames = book_frames(log, 20, int(rate * seconds) + 50)
        emus, servers = [], []
        for name in ("binance", "okx", "bybit"):
            markets = {}
            for base in BASES[:n_symbols]:
                mid, swap = market_id(name, base, swaps), (Decimal(1), "USDT") if swaps else ()
                markets[mid] = EmuMarket(
                    f"{base}/USDT{':USDT' if swaps else ''}",
                    mid,
                    base,
                    "USDT",
                    Decimal("0.01"),
                    Decimal("0.00001"),
                    Decimal("0.00001"),
                    Decimal(0),
                    *swap,
                )
            ex = EmulatedExchange(markets, {base: Decimal(1000) for base in BASES[:n_symbols]} | {"USDT": Decimal(10**9)})
            routes = {
                "binance": [*BinanceDialect(ex, KEY, SECRET).routes(), *BinanceFuturesDialect(ex, KEY, SECRET).routes()],
                "okx": OkxDialect(ex, KEY, SECRET, PASSPHRASE).routes(),
                "bybit": BybitDialect(ex, KEY, SECRET).routes(),
            }[name]
            # websockets (books and fills) are served too; only a --websocket engine uses them
            book, user = websockets(name, ex, KEY, SECRET, PASSPHRASE)
            server = EmulatorServer([*routes, *book.routes(), *user.routes()], ex)
            await server.start()
            emus.append((name, ex))
            servers.append(server)
        urls.put({name: s.url for (name, _), s in zip(emus, servers, strict=True)})
        for i, (bids, asks) in enumerate(frames):
            for name, ex in emus:
                for k, base in enumerate(BASES[:n_symbols]):
                    scale = 1 + k / 100
                    ex.set_book(
                        market_id(name, base, swaps),
                        [(f"{p * scale:.2f}", f"{q}") for p, q in bids],
                        [(f"{p * scale:.2f}", f"{q}") for p, q in asks],
                    )
                    if i % 10 == 5:  # a taker trades through our best quotes now and then
                        for o in ex.open_orders(market_id(name, base, swaps))[:2]:
                            ex.trade(o.market.id, "sell" if o.side == "buy" else "buy", o.price, o.remaining / 2)
            await asyncio.sleep(1 / rate)
        urls.put({name: len(ex.open_orders()) for name, ex in emus})
        await asyncio.sleep(3600)

    asyncio.run(main())


async def run_engine(
    urls: dict[str, str],
    n_symbols: int,
    seconds: float,
    poll_secs: float,
    predictions: LivePredictions | None = None,
    websocket: bool = False,
    report_every: float | None = None,
    swaps: bool = False,
) -> tuple[LiveEngine, dict, np.ndarray, int]:
    """The engine after ``seconds`` of quoting, the orders left per market, the loop's lag
    samples (ms) and the run reports written (``report_every``: seconds between them)."""
    config = AppConfig.model_validate(
        {
            "live": {"websocket": websocket, "poll_secs": poll_secs, "fill_poll_secs": 1.0, "order_budget_per_min": 10_000},
            "strategy": {"params": {"order_qty": 0.01}},
            # the emulated accounts hold 1,000 of each base asset: over any exposure limit, every
            # market would only ever reduce its holdings; this measures quoting
            "risk": {"max_position_base": 0.05, "max_exposure_quote": 1e12},
            # every swap: contracts of 1 base unit, leverage 1 set on the account at start
            "market": {"symbol": "BTC/USDT:USDT", "contract_size": 1.0} if swaps else {},
        }
    )
    clients, markets = [], []
    for name, url in urls.items():
        params = {"apiKey": KEY, "secret": SECRET, "password": PASSPHRASE, "enableRateLimit": False}
        client = client_class(name)(params)  # as ccxt-mm run makes them, whichever feed it uses
        point_at(client, url, url.replace("http", "ws"), kinds=("linear",) if swaps else ("spot",))
        clients.append(client)
        for base in BASES[:n_symbols]:
            symbol = f"{base}/USDT:USDT" if swaps else f"{base}/USDT"
            markets.append(await open_market(config, client, symbol, live=True, run_id="bench"))
    engine = LiveEngine(config, markets, predictions=predictions)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    lag: list[float] = []
    probe = asyncio.create_task(loop_lag(lag))
    with tempfile.TemporaryDirectory() as out:
        reporter = RunReporter(engine, Path(out), report_every, [])
        reports = asyncio.create_task(reporter.run()) if report_every is not None else None
        await engine.run(stop)
        if reports is not None:
            await reporter.close(reports)
        reporter.shutdown()
    probe.cancel()
    left = {m.key: len(await m.venue.open_orders()) for m in markets}
    for c in clients:
        await c.close()
    return engine, left, np.array(lag), reporter.written


async def loop_lag(out: list[float]) -> None:
    """Append how late each 10 ms sleep wakes (ms) to ``out``, until cancelled."""
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        out.append((time.perf_counter() - t0 - 0.01) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5.0, help="book updates per second per market")
    parser.add_argument("--websocket", action="store_true", help="books and fills over websockets instead of REST polling")
    parser.add_argument("--report-every", type=float, help="write the run report this often (s) while quoting")
    parser.add_argument("--swaps", action="store_true", help="linear perpetual swaps instead of spot (REST only)")
    args = parser.parse_args()
    if args.swaps and args.websocket:
        parser.error("--swaps polls REST: the emulator streams spot books only")
    queue: mp.Queue = mp.Queue()
    child = mp.Process(target=serve, args=(args.symbols, args.rate, args.seconds + 5, queue, args.swaps), daemon=True)
    child.start()
    urls = queue.get(timeout=120)
    started = time.monotonic()
    engine, left, lag, reports = asyncio.run(
        run_engine(
            urls, args.symbols, args.seconds, 1 / args.rate, websocket=args.websocket, report_every=args.report_every, swaps=args.swaps
        )
    )
    elapsed_min = (time.monotonic() - started) / 60
    child.terminate()

    lat = np.concatenate([np.array(m.latency_ns, dtype=np.float64) for m in engine.markets if m.latency_ns]) / 1e3
    requests = [sum(1 for r in m.core.order_rows if r[1] in ("place", "amend", "cancel")) / elapsed_min for m in engine.markets]
    updates = [m.book_feed.updates / elapsed_min for m in engine.markets]
    levels = engine.cfg.strategy.params.get("levels", 2)
    # baseline: cancel and re-place every quote (2 sides × levels) on every book update
    baseline = [u * 2 * 2 * levels for u in updates]
    ratio = statistics.median(r / b for r, b in zip(requests, baseline, strict=True) if b)
    print(f"build               {build()} (ccxt_mm.compiled: the quoting path compiled with mypyc, or pure Python)")
    print(
        f"markets             {len(engine.markets)} ({args.symbols} {'swaps' if args.swaps else 'symbols'} × 3 exchanges),"
        f" {args.seconds:.0f} s, books at {args.rate:g} Hz"
        f" by {'websocket' if args.websocket else 'REST polling'}"
    )
    print(f"book updates        median {statistics.median(updates):.0f} per minute per market")
    print(f"tick->intent        p50 {np.percentile(lat, 50):.1f} us, p99 {np.percentile(lat, 99):.1f} us over {lat.size} updates")
    print(f"loop lag            p50 {np.percentile(lag, 50):.2f} ms, p99 {np.percentile(lag, 99):.2f} ms, max {lag.max():.2f} ms")
    if args.report_every is not None:
        print(f"run reports         {reports} written, every {args.report_every:g} s")
    print(
        f"order requests      median {statistics.median(requests):.1f} per minute per symbol; "
        f"cancel-replace baseline {statistics.median(baseline):.0f}"
    )
    print(f"                    ratio to baseline {ratio:.3f}")
    summary = engine.summary()

    def p50s(path: tuple[str, str]) -> str:
        """Median and range over the markets of the p50 of histogram ``path`` of the summary."""
        got = [p for s in summary.values() if (p := s[path[0]][path[1]]["p50_ms"]) == p]  # NaN: none counted
        return f"{statistics.median(got):.2f} ms ({min(got):.2f}-{max(got):.2f})" if got else "none counted"

    print(f"feed latency p50    book {p50s(('feed_latency_ms', 'book'))}, trades {p50s(('feed_latency_ms', 'trades'))} (above the fastest)")
    print(f"order ack p50       place {p50s(('order_ack_latency_ms', 'place'))}, cancel {p50s(('order_ack_latency_ms', 'cancel'))}")
    print(f"fills               {sum(m.core.inventory.fills for m in engine.markets)}")
    print(f"orders left         {sum(left.values())} on the exchanges after shutdown")
    print(f"peak RSS            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (engine process)")


if __name__ == "__main__":
    main()
