"""``ccxt-mm capture``: the books and trades of symbols on any ccxt.pro exchange into the event
store (:mod:`ccxt_mm.market.store`), until stopped.

Each symbol's books come from ccxt (``watch_order_book``, or ``fetch_order_book`` polling: the
``live`` section's feeds) as whole books; the first after a start or a gap is written as a
snapshot, each later one as the levels that changed (:mod:`ccxt_mm.market.deltas`). A feed
failure (a dropped connection, a sequence gap ccxt raises), of the book or the trade feed, is
written as a gap marker and the next book resyncs. Trades are written as they come (not the first batch a feed returns: a REST
poll's is history from before the capture); a websocket read that finds ccxt.pro's trade cache
full (``capture.trades_cache``) may have lost older trades and is written after a gap marker.
Messages are flushed to the store every second, each write
synced to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError

from ccxt_mm.config import AppConfig, CaptureConfig, validation_problems
from ccxt_mm.errors import ConfigError
from ccxt_mm.market.deltas import side_delta
from ccxt_mm.market.events import MsgKind

if TYPE_CHECKING:
    from ccxt_mm.exchange.feed import BookFeed, TradeFeed
    from ccxt_mm.market.store import MessageBatch, StoreWriter

log = logging.getLogger("ccxt_mm.capture")

FLUSH_SECS = 1.0
"""How often the messages collected are written (and synced)."""
FLAGS: Final = {
    "exchange": "--exchange",
    "symbols": "--symbols",
    "book_depth": "--depth",
    "out_dir": "--out",
    "rotate_secs": "--rotate-secs",
    "duration_secs": "--duration",
}
"""Each key of the config's ``capture`` section → the command-line flag that overrides it."""


@dataclass
class SymbolCapture:
    """One symbol's feeds, messages waiting to be written, and counts."""

    symbol: str
    writer: StoreWriter
    batch: MessageBatch
    book_feed: BookFeed
    trade_feed: TradeFeed
    bids: list | None = None
    """The last book written (None: the next one is a snapshot)."""
    asks: list | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"books": 0, "trades": 0, "gaps": 0, "trade_feed_errors": 0, "rows": 0})
    reported: int = 0
    """Messages (books and trades) counted at the last progress line."""


async def _book_loop(c: SymbolCapture, clock_ns: Callable[[], int]) -> None:
    """Write every book as a snapshot or a delta; a feed failure as a gap marker."""
    while True:
        try:
            bids, asks = await c.book_feed.next()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any feed failure is a gap in the record
            log.warning("%s: book feed failed (%s: %s): gap written, resync", c.symbol, type(exc).__name__, exc)
            _gap(c, clock_ns())
            await asyncio.sleep(0.5)
            continue
        now, feed = clock_ns(), c.book_feed
        seq, exch = int(feed.last_nonce or 0), feed.exchange_ns
        if c.bids is None or c.asks is None:
            c.batch.add(MsgKind.SNAPSHOT, now, exch, seq, _levels(bids), _levels(asks))
        else:
            bid_delta, ask_delta = side_delta(c.bids, bids), side_delta(c.asks, asks)
            if bid_delta or ask_delta:
                c.batch.add(MsgKind.DIFF, now, exch, seq, bid_delta, ask_delta)
        c.bids, c.asks = [row[:2] for row in bids], [row[:2] for row in asks]
        c.counts["books"] += 1


async def _trade_loop(c: SymbolCapture, clock_ns: Callable[[], int]) -> None:
    """Write every trade (aggressor buy on the bid side, with the exchange's trade id) but a REST
    poll's first, historic batch."""
    while True:
        try:
            trades = await c.trade_feed.next()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # trades missed in an outage are not in the record: a gap marker says so
            log.warning("%s: trade feed failed (%s: %s): gap written, retry", c.symbol, type(exc).__name__, exc)
            c.counts["trade_feed_errors"] += 1
            _gap(c, clock_ns())
            await asyncio.sleep(0.5)
            continue
        if c.trade_feed.backlog:
            continue
        now = clock_ns()
        if c.trade_feed.overflowed:
            log.warning("%s: %d trades at once filled ccxt's trade cache: earlier ones may be lost; gap written", c.symbol, len(trades))
            _gap(c, now)
        for ts, side, price, qty, trade_id in trades:
            level = [(price, qty)]
            seq = int(trade_id) if trade_id.isdigit() and len(trade_id) < 19 else 0  # as a converted recording's
            c.batch.add(MsgKind.TRADE, now, ts, seq, level if side > 0 else [], [] if side > 0 else level, trade_id)
            c.counts["trades"] += 1


def _gap(c: SymbolCapture, now_ns: int) -> None:
    """Write a gap marker: what came before it is not all in the record; the next book is
    written whole (a snapshot), as a replay resyncs on it."""
    c.batch.add(MsgKind.INVALID, now_ns, 0, 0, [], [])
    c.counts["gaps"] += 1
    c.bids = c.asks = None


def _levels(rows: list) -> list[tuple[float, float]]:
    """ccxt's ``[price, amount, ...]`` rows as ``(price, qty)``."""
    return [(float(row[0]), float(row[1])) for row in rows]


def _flush(captures: list[SymbolCapture]) -> None:
    """Write what each symbol collected (an error writing stops the capture: disk full is loud)."""
    for c in captures:
        if c.batch.rows:
            c.counts["rows"] += c.batch.rows
            c.writer.write(c.batch.take())


async def _flusher(captures: list[SymbolCapture], progress_secs: float) -> None:
    """Write every :data:`FLUSH_SECS`; print each symbol's progress line every ``progress_secs``."""
    last_progress = time.monotonic()
    while True:
        await asyncio.sleep(FLUSH_SECS)
        _flush(captures)
        now = time.monotonic()
        if now - last_progress >= progress_secs:
            for c in captures:
                print(_progress_line(c, now - last_progress), flush=True)
            last_progress = now


def _progress_line(c: SymbolCapture, secs: float) -> str:
    """``c``'s messages per second over the last ``secs`` seconds, its counts so far and the
    bytes its files take on disk."""
    n = c.counts
    messages = n["books"] + n["trades"]
    rate, c.reported = (messages - c.reported) / secs, messages
    counted = f"rows {n['rows']}, books {n['books']}, trades {n['trades']}, gaps {n['gaps']}"
    return f"{c.symbol}: {rate:.1f} messages/s, {counted}, {c.writer.bytes_written / 1e6:.3f} MB"


def capture(config_path: str | None, flags: dict[str, object]) -> int:
    """Capture what the config's ``capture`` section names (:class:`CaptureConfig`), each key
    overridden by its command-line flag in ``flags`` (a key of :data:`FLAGS` → the value given,
    None: not given) until stopped (SIGINT / SIGTERM, or after ``duration_secs``); the ``live``
    section sets the feeds (websocket or polling, poll interval, URLs)."""
    from ccxt_mm.app.config_file import app_config

    config, _, source = app_config(config_path)
    return asyncio.run(_run(config, capture_settings(config.capture, flags, source)))


def capture_settings(section: CaptureConfig, flags: dict[str, object], source: str) -> CaptureConfig:
    """The ``capture`` section with the flags given in place of its keys, checked as the file's
    keys are (a bad flag's error names the flag); the exchange and symbols must be given in one
    or the other."""
    given = {key: value for key, value in flags.items() if value is not None}
    try:
        settings = CaptureConfig.model_validate({**section.model_dump(exclude_unset=True), **given})
    except ValidationError as exc:
        locs = [".".join(map(str, err["loc"])) for err in exc.errors()]
        names = {loc: FLAGS.get(loc.split(".")[0], loc) for loc in locs}  # symbols.1 → --symbols
        raise ConfigError("the command line", validation_problems(exc, names=names)) from exc
    missing = [key for key in ("exchange", "symbols") if not getattr(settings, key)]
    if missing:
        raise ConfigError(source, [f"capture.{key}: required (in the config, or {FLAGS[key]})" for key in missing])
    return settings


async def _run(config: AppConfig, settings: CaptureConfig) -> int:
    from ccxt_mm.exchange.clients import make_exchange
    from ccxt_mm.exchange.feed import BookFeed, TradeFeed, WebsocketFallback
    from ccxt_mm.market.store import MessageBatch, StoreWriter, record_market, recover_partials

    assert settings.exchange is not None
    name, symbols, root = settings.exchange, list(settings.symbols), Path(settings.out_dir)
    rotate_ns = int(settings.rotate_secs * 1e9)
    exchange = make_exchange(name, config, with_credentials=False)
    exchange.options["tradesLimit"] = settings.trades_cache
    try:
        markets = await _markets(exchange, name)
        unknown = [s for s in symbols if s not in markets]
        if unknown:
            some = ", ".join(sorted(markets)[:5])
            raise ConfigError("--symbols", [f"{name} has no market {', '.join(unknown)} (it has {len(markets)}, e.g. {some})"])
        root.mkdir(parents=True, exist_ok=True)
        for s in symbols:
            record_market(root, name, s, _facts(exchange.market(s)))
        for entry in recover_partials(root):
            print(f"recovered {entry.path}: {entry.messages} messages up to its last whole batch")
        lc = config.live

        def mode(what: str) -> WebsocketFallback:
            return WebsocketFallback(what, lc.websocket, lc.ws_fallback_after, lc.ws_retry_secs)

        captures = _captures(
            [
                SymbolCapture(
                    s,
                    StoreWriter(root, name, s, rotate_ns),
                    MessageBatch(),
                    BookFeed(exchange, s, settings.book_depth, lc.poll_secs, mode(f"{name} {s} book")),
                    TradeFeed(exchange, s, lc.poll_secs, mode(f"{name} {s} trades")),
                )
                for s in symbols
            ],
            root,
        )
        await _until_stopped(captures, settings.duration_secs, settings.progress_secs)
    finally:
        await exchange.close()
    _print_summary(captures, root)
    return 0


async def _markets(exchange, name: str) -> dict:
    """The exchange's markets; failing to read them stops the capture at start with our error
    (the exchange unreachable, an unknown exchange answer), not ccxt's traceback."""
    from ccxt_mm.exchange.errors import translate

    try:
        return await exchange.load_markets()
    except Exception as exc:
        error = translate(exc)
        raise type(error)(f"{name}: cannot read its markets ({type(error).__name__}): {error}") from exc


def _facts(market: dict) -> dict[str, object]:
    """What a replay needs to know of a ccxt market: tick and lot (quote, base or contracts),
    minimums, contract size and type."""
    from ccxt_mm.exchange.venue import market_facts

    facts = market_facts(market)
    return {
        "tick_size": facts.tick_size,
        "lot_size": facts.lot_size,
        "min_order_base": facts.min_order_base,
        "min_notional_quote": facts.min_notional_quote,
        "contract_size": market.get("contractSize"),
        "type": market.get("type"),
    }


def _captures(captures: list[SymbolCapture], root: Path) -> list[SymbolCapture]:
    """``captures``, each starting with a gap marker if the store already holds its symbol: the
    time between that record's end and this one's start is not in it."""
    from ccxt_mm.market.store import Manifest

    held = {(f.exchange, f.symbol) for f in Manifest.load(root).files}
    for c in captures:
        if (c.writer.exchange, c.symbol) in held:
            c.batch.add(MsgKind.INVALID, time.time_ns(), 0, 0, [], [])
            c.counts["gaps"] += 1
    return captures


async def _until_stopped(captures: list[SymbolCapture], duration: float | None, progress_secs: float) -> None:
    """Run every feed and the flusher until a signal or ``duration`` seconds; then cancel them,
    write what is left and complete every file."""
    clock_ns = time.time_ns
    tasks = [asyncio.create_task(_book_loop(c, clock_ns)) for c in captures]
    tasks += [asyncio.create_task(_trade_loop(c, clock_ns)) for c in captures]
    tasks.append(asyncio.create_task(_flusher(captures, progress_secs)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    failure: BaseException | None = None
    try:
        done, _ = await asyncio.wait([*tasks, waiter], timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        failure = next((t.exception() for t in done if t is not waiter and t.exception() is not None), None)
    finally:
        for task in [*tasks, waiter]:
            task.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if failure is None:
        _flush(captures)
    for c in captures:
        c.writer.close()
    if failure is not None:
        raise failure


def _print_summary(captures: list[SymbolCapture], root: Path) -> None:
    """Each symbol's counts and the bytes this capture's files of it take, complete."""
    for c in captures:
        n = c.counts
        errors = f", trade feed errors {n['trade_feed_errors']}" if n["trade_feed_errors"] else ""
        counted = f"rows {n['rows']}, books {n['books']}, trades {n['trades']}, gaps {n['gaps']}{errors}"
        size = f"{c.writer.bytes_written / 1e6:.3f} MB in {root} (files: {len(c.writer.written)})"
        print(f"{c.writer.exchange} {c.symbol}: {counted}, {size}")
