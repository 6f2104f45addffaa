"""``ccxt-mm demo``: paper trading offline in one command.

A loopback Binance emulator replays the bundled BTCUSDT recording: its book (the top levels
after every recorded update) and its trades move the emulated exchange at the recorded pace, or
``--speed`` times faster; ``ccxt-mm run`` (paper: nothing is sent as an order) quotes it through
ccxt, REST and websockets, as it would the real exchange, and writes its report at the end (the
recording's length at that speed, ``--duration``, or Ctrl-C). No keys, no internet.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccxt_mm.market.events import EventLog
    from ccxt_mm_testkit.emulator.core import EmulatedExchange

MARKET_ID = "BTCUSDT"
DEPTH = 50
"""Levels a side the emulated book shows (ccxt asks binance for 20 or 100 on the websocket)."""
KEY, SECRET = "demo" + "k" * 60, "demo" + "s" * 60
"""The emulator's own account (a paper run sends no order and needs no key)."""


def add_demo(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the CLI's subcommands."""
    p = sub.add_parser("demo", help="paper-trade offline: a loopback exchange replays the bundled recording, `run` quotes it through ccxt")
    p.add_argument("--speed", type=float, default=1.0, help="times the recorded pace (default 1: the 11 minutes take 11 minutes)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: the recording's end at --speed)")
    p.add_argument("--config", help="a config whose strategy, risk and paper sections are used (its live markets are replaced)")
    p.add_argument("--report-dir", default="report-demo", help="where the run's report goes (default: report-demo)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    import ccxt_mm
    from ccxt_mm.app.run import run
    from ccxt_mm.config import AppConfig
    from ccxt_mm.errors import ConfigError
    from ccxt_mm.market.capture import load_capture

    if not args.speed > 0:
        raise ConfigError("command line", [f"--speed: must be greater than 0 (got {args.speed})"])
    recording = [str(Path(ccxt_mm.__file__).parent / p) for p in AppConfig().market.data]
    log = load_capture(recording, "BTC/USDT")
    span_secs = (int(log.msg_ts_ns[-1]) - int(log.msg_ts_ns[0])) / 1e9 / args.speed
    with emulated_binance(log, args.speed) as url, tempfile.TemporaryDirectory() as tmp:
        config = demo_config(args.config, url, Path(tmp))
        print(f"demo: binance BTC/USDT replayed at {args.speed:g}x on {url} ({span_secs:.0f} s)")
        return run(str(config), live=False, duration=args.duration or span_secs, report_dir=args.report_dir)


def demo_config(base: str | None, url: str, tmp: Path) -> Path:
    """``base`` (or the defaults) with its live markets replaced by the emulated binance's
    BTC/USDT, reached at ``url`` (REST and websocket), written into ``tmp``."""
    import yaml

    raw = yaml.safe_load(Path(base).read_text()) if base else {}
    live = dict(raw.get("live") or {})
    live.update(
        markets=[{"exchange": "binance", "symbol": "BTC/USDT"}],
        websocket=True,
        rest_urls={"binance": url},
        ws_urls={"binance": url.replace("http", "ws", 1)},
        state_file=str(tmp / "live_state.json"),
    )
    raw["live"] = live
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@contextmanager
def emulated_binance(log: EventLog, speed: float) -> Iterator[str]:
    """A Binance emulator on 127.0.0.1 in a thread of its own, its BTCUSDT moved by ``log`` at
    ``speed``; yields its base URL."""
    from ccxt_mm_testkit.emulator.binance import BinanceDialect
    from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
    from ccxt_mm_testkit.emulator.server import EmulatorServer
    from ccxt_mm_testkit.emulator.websockets import websockets

    market = EmuMarket("BTC/USDT", MARKET_ID, "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"))
    ex = EmulatedExchange({MARKET_ID: market}, {"BTC": Decimal("1"), "USDT": Decimal("100000")})
    public, private = websockets("binance", ex, KEY, SECRET, "")
    server = EmulatorServer([*BinanceDialect(ex, KEY, SECRET).routes(), *public.routes(), *private.routes()], ex)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="demo-emulator", daemon=True)
    thread.start()
    pump = None
    try:
        url = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        first = asyncio.run_coroutine_threadsafe(_first_book(ex, log), loop)
        first.result(10)
        pump = asyncio.run_coroutine_threadsafe(replay_market(ex, log, speed), loop)
        yield url
    finally:
        if pump is not None:
            pump.cancel()
        for stream in (public, private):
            asyncio.run_coroutine_threadsafe(stream.close(), loop).result(10)
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


async def _first_book(ex: EmulatedExchange, log: EventLog) -> None:
    """The emulated book at the recording's first whole book, before anyone connects."""
    async for _ in _book_states(ex, log, stop_at_first=True):
        return


async def replay_market(ex: EmulatedExchange, log: EventLog, speed: float) -> None:
    """Move ``ex``'s book and trades as the recording did, ``speed`` times its pace."""
    async for _ in _book_states(ex, log, speed=speed):
        pass


async def _book_states(ex: EmulatedExchange, log: EventLog, speed: float = 0.0, stop_at_first: bool = False):
    """Walk ``log``: each book update sets the emulated book's top :data:`DEPTH` levels, each
    trade is made on the emulated exchange (aggressor side as recorded), each at its recorded
    time over ``speed`` (0: at once); yields after each book set."""
    from ccxt_mm.book.grid_book import GridBook
    from ccxt_mm.market.events import MsgKind

    book, updates = GridBook(log.prices), log.book_updates()
    ts, kinds = log.msg_ts_ns.tolist(), log.msg_kind.tolist()
    loop = asyncio.get_running_loop()
    started, valid = loop.time(), False
    for m, kind in enumerate(kinds):
        if speed > 0:
            delay = started + (ts[m] - ts[0]) / 1e9 / speed - loop.time()
            await asyncio.sleep(max(0.0, delay))
        if kind == MsgKind.TRADE:
            for i in range(int(log.msg_start[m]), int(log.msg_stop[m])):
                side = "buy" if log.row_side[i] > 0 else "sell"
                ex.trade(MARKET_ID, side, Decimal(repr(float(log.row_price[i]))), Decimal(repr(float(log.row_qty[i]))))
            continue
        if kind == MsgKind.INVALID:  # a gap: no book until the next snapshot
            valid = False
            continue
        if kind == MsgKind.SNAPSHOT:
            book.clear()
            valid = True
        update = updates[m]
        if not valid or update is None:
            continue
        book.apply(*update)
        if not book.ready or book.best_bid >= book.best_ask:
            continue
        bp, bq = book.top_bids(DEPTH)
        ap, aq = book.top_asks(DEPTH)
        bids = [(repr(p), repr(q)) for p, q in zip(bp, bq, strict=True)]
        ex.set_book(MARKET_ID, bids, [(repr(p), repr(q)) for p, q in zip(ap, aq, strict=True)])
        yield
        if stop_at_first:
            return
