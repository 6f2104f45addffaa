"""Live engine: one quoting core per (exchange, symbol), all in one event loop.

Each market runs four owned tasks: the book loop (feed → book → core), the public-trade
loop, the venue's order worker (live) or its clock (paper), and a watchdog (stale book →
pull quotes; strategy timer; fill polling). A failure in one market is logged, its quotes
are pulled and it retries with exponential backoff; the other markets keep quoting. Every
retry path sleeps, so a cached failed future can never spin the loop.

Paper mode (the default) quotes on live public books against the paper venue; live mode
sends post-only orders through :class:`CcxtVenue`. Both share the quoting core.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.book.levels import BookLevels, book_levels
from ccxt_mm.config import AppConfig
from ccxt_mm.engine import state
from ccxt_mm.engine.core import QuotingCore
from ccxt_mm.engine.predictions import LivePredictions
from ccxt_mm.exchange.feed import BookFeed, LiveBook, TradeFeed, WebsocketFallback
from ccxt_mm.exchange.venue import CcxtVenue
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.orders import OrderStatus
from ccxt_mm.execution.paper import PaperVenue
from ccxt_mm.schema import parse_section
from ccxt_mm.strategies import load_strategy

log = logging.getLogger("ccxt_mm.live")
_BALANCE_READS = 3
"""Balance reads a reconciliation makes at most while fills keep racing them."""


@dataclass
class LiveMarket:
    key: str
    """``exchange symbol``, as in logs and reports."""
    exchange: object
    venue: CcxtVenue | PaperVenue
    core: QuotingCore
    book_feed: BookFeed
    trade_feed: TradeFeed
    book: LiveBook
    """The paper venue's book on its price grid (paper mode only: live quoting reads the levels)."""
    order_prefix: str
    last_book_ns: int = 0
    stale: bool = True
    levels: BookLevels | None = None
    """The last book read from the exchange, as levels (None before the first)."""
    errors: dict[str, int] = field(default_factory=dict)
    latency_ns: deque[int] = field(default_factory=lambda: deque(maxlen=4096))
    """Tick -> order intent of the latest book updates (bounded): from ccxt handing over a
    parsed book to the order manager's actions (levels read, venue events applied,
    features, risk, strategy, order manager); in paper mode the simulated exchange's work
    (its book on a grid, queues, fills) is left out."""
    leftovers_cancelled: list[str] = field(default_factory=list)
    """Orders of earlier runs (client-id prefix) cancelled before this run quoted."""
    shutdown_cancelled: list[str] = field(default_factory=list)
    """Orders found still open at shutdown, after the regular cancels, and cancelled."""
    drift: dict[str, float] = field(default_factory=dict)
    """Exchange balance minus our ledger per asset at the last reconciliation."""
    reconciled: dict[str, int] = field(default_factory=lambda: {"orphans_cancelled": 0, "vanished": 0})
    dead_man: bool = False
    """The exchange's cancel-all-after switch is armed and refreshed (live venues only)."""

    @property
    def paper(self) -> bool:
        return isinstance(self.venue, PaperVenue)


async def open_market(
    config: AppConfig,
    exchange,
    symbol: str,
    live: bool,
    run_id: str,
    clock_ns: Callable[[], int] = time.time_ns,
) -> LiveMarket:
    """Load the market, cancel what earlier runs left (live), read balances, build the core."""
    key = f"{exchange.id} {symbol}"
    prefix = config.orders.client_id_prefix
    venue = CcxtVenue(exchange, symbol, clock_ns, config.live.order_budget_per_min)
    await venue.start()  # markets, precision and limits
    market = exchange.market(symbol)
    limits = market.get("limits") or {}
    market_cfg = parse_section(
        MarketParams,
        {
            "symbol": symbol,
            "tick_size": market["precision"]["price"],
            "lot_size": market["precision"]["amount"],
            "min_order_base": (limits.get("amount") or {}).get("min") or 0.0,
            "min_notional_quote": (limits.get("cost") or {}).get("min") or 0.0,
            "data": (),
        },
    )
    mcfg = config.model_copy(update={"market": market_cfg})
    leftovers: list[str] = []
    if live:
        leftovers = await venue.cancel_leftovers(prefix)
        balances = await venue.balances()
        base = balances.get(market["base"], (0.0, 0.0))[1]
        quote = balances.get(market["quote"], (0.0, 0.0))[1]
        chosen: CcxtVenue | PaperVenue = venue
    else:
        p = config.paper
        base = config.risk.max_position_base if p.initial_base is None else p.initial_base
        quote = p.initial_quote
        chosen = PaperVenue(p, GridBook(np.empty(0)), base=base, quote=quote)
    core = QuotingCore(mcfg, load_strategy(mcfg), chosen, run_id, base, quote)
    lc = config.live

    def feed_mode(what: str) -> WebsocketFallback:
        return WebsocketFallback(f"{key} {what}", lc.websocket, lc.ws_fallback_after, lc.ws_retry_secs)

    return LiveMarket(
        key=key,
        exchange=exchange,
        venue=chosen,
        core=core,
        book_feed=BookFeed(exchange, symbol, lc.book_depth, lc.poll_secs, feed_mode("book")),
        trade_feed=TradeFeed(exchange, symbol, lc.poll_secs, feed_mode("trades")),
        book=LiveBook(market_cfg.tick_size, lc.grid_span),
        order_prefix=core.orders.id_prefix,
        leftovers_cancelled=leftovers,
    )


class LiveEngine:
    def __init__(
        self,
        config: AppConfig,
        markets: list[LiveMarket],
        clock_ns: Callable[[], int] = time.time_ns,
        predictions: LivePredictions | None = None,
        state_path: Path | None = None,
    ) -> None:
        """``predictions``: a predictor run as one background task; quotes read its board.
        ``state_path``: where the live markets' carried-over state is restored from and kept
        (see :mod:`ccxt_mm.engine.state`)."""
        self.cfg = config
        self.markets = markets
        self.clock_ns = clock_ns
        self.predictions = predictions
        self.state_path = state_path
        self.restored: dict[str, dict] = {}
        """Market key → the state restored at start."""
        self._saved: dict[str, dict] = {}
        """The state file as read at start (markets of other runs are written back as they were)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Quote every market until ``stop`` is set, then shut down cleanly."""
        self._restore_state()
        tasks: list[asyncio.Task] = []
        for m in self.markets:
            loops = [("book", self._book_loop, True), ("trades", self._trade_loop, m.paper), ("watchdog", self._watchdog, True)]
            if not m.paper:
                loops.append(("orders", lambda m: m.venue.run(), True))
                if self.cfg.live.websocket and m.exchange.has.get("watchMyTrades"):
                    # pushed fills; the watchdog's polling stays on as the fallback
                    loops.append(("fills", lambda m: m.venue.watch_fills(), False))
            for what, loop, pull in loops:
                tasks.append(asyncio.create_task(self._retrying(m, what, loop, pull), name=f"{m.key} {what}"))
        if self.predictions is not None:
            tasks.append(asyncio.create_task(self._predictor(self.predictions), name="predictor"))
        if self.state_path is not None:
            tasks.append(asyncio.create_task(self._keep_state(), name="state"))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.shutdown()
            await self._save_state()
            if self.predictions is not None:
                await self.predictions.close()

    def _restore_state(self) -> None:
        if self.state_path is None:
            return
        self._saved = state.load(self.state_path)
        now = self.clock_ns()
        for m in self.markets:
            if m.key in self._saved and not m.paper:
                state.restore(m.core, self._saved[m.key], now)
                m.venue.remember_seen(self._saved[m.key]["seen_trades"])
                self.restored[m.key] = self._saved[m.key]

    def _state_now(self) -> dict[str, dict]:
        """The file's content now: this run's live markets over what the file held for others."""
        now = self.clock_ns()
        live = {m.key: state.snapshot(m.core, m.venue.seen_trades(), now) for m in self.markets if not m.paper}
        return {**self._saved, **live}

    async def _save_state(self) -> None:
        """Snapshot on the loop, write in a worker thread (file I/O never blocks quoting)."""
        if self.state_path is not None and any(not m.paper for m in self.markets):
            await asyncio.to_thread(state.save, self.state_path, self._state_now())

    async def _keep_state(self) -> None:
        """Write the carried-over state now and then: a SIGKILL loses at most this much."""
        while True:
            await asyncio.sleep(self.cfg.live.state_secs)
            try:
                await self._save_state()
            except OSError as exc:
                log.error("cannot write the live state file %s: %s", self.state_path, exc)

    async def _predictor(self, predictions: LivePredictions) -> None:
        """The predictor's loop, restarted after any failure: it may die, quoting may not."""

        def snapshots() -> list:
            return [s for m in self.markets if (s := m.core.snapshot(m.key)) is not None]

        while True:
            try:
                await predictions.run(snapshots, self.clock_ns)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                predictions.errors += 1
                log.warning("predictor failed (%s: %s); restarting in %.0f s", type(exc).__name__, exc, predictions.cfg.interval_secs)
                await asyncio.sleep(predictions.cfg.interval_secs)

    async def _retrying(self, m: LiveMarket, what: str, loop: Callable[[LiveMarket], Awaitable[None]], pull: bool) -> None:
        """Run ``loop`` for ``m`` forever; on failure log, pull quotes if ``pull`` (the loop
        feeds quoting or orders; public trades of a live venue only calibrate), back off."""
        backoff = 0.25
        while True:
            started = time.monotonic()
            try:
                await loop(m)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                m.errors[what] = m.errors.get(what, 0) + 1
                log.warning("%s: %s loop failed (%s: %s); retry in %.2f s", m.key, what, type(exc).__name__, exc, backoff)
                if pull:
                    m.stale = True
                    m.core.pull(self.clock_ns())
                await asyncio.sleep(backoff)
                healthy = time.monotonic() - started > 10 * backoff
                backoff = 0.25 if healthy else min(backoff * 2, self.cfg.live.backoff_max_secs)

    async def _book_loop(self, m: LiveMarket) -> None:
        core, paper, feed = m.core, m.paper, m.book_feed
        while True:
            bids, asks = await feed.next()
            t0 = time.perf_counter_ns()  # tick: ccxt has parsed the book; from here the time is ours
            now = self.clock_ns()
            m.levels = levels = book_levels(bids, asks)
            m.last_book_ns, m.stale = now, False
            if paper:  # the paper venue matches against the book on its grid (its work is not ours)
                simulated = time.perf_counter_ns()
                rebuilds = m.book.rebuilds
                book = m.book.update(levels)
                if m.book.rebuilds != rebuilds:
                    m.venue.rebind(book)
                m.venue.advance(now)
                m.venue.on_book_update()
                t0 += time.perf_counter_ns() - simulated
            core.drain()
            if not levels.quotable:
                core.pull(now)
                continue
            if self.predictions is not None:
                core.prediction = self.predictions.board.get(m.key, now)
            core.on_levels(now, levels)
            m.latency_ns.append(time.perf_counter_ns() - t0)

    async def _trade_loop(self, m: LiveMarket) -> None:
        while True:
            trades = await m.trade_feed.next()
            for ts, side, price, qty in trades:
                if m.paper:
                    m.venue.on_trade(ts, side, price, qty)
                m.core.on_trade(ts, side, price, qty)
            m.core.drain()

    async def _watchdog(self, m: LiveMarket) -> None:
        lc = self.cfg.live
        next_timer = next_fills = next_dead_man = 0.0
        next_reconcile = time.monotonic() + lc.reconcile_secs
        while True:
            await asyncio.sleep(0.2)
            now = self.clock_ns()
            if not m.stale and now - m.last_book_ns > lc.stale_secs * 1e9:
                log.warning("%s: no book for %.1f s: quotes pulled", m.key, lc.stale_secs)
                m.stale = True
                m.core.pull(now)
            mono = time.monotonic()
            if mono >= next_timer:
                m.core.on_timer(now)
                next_timer = mono + self.cfg.strategy.timer_secs
            if m.paper:
                m.venue.advance(now)
            else:
                if mono >= next_fills:
                    await m.venue.poll_fills()
                    next_fills = mono + lc.fill_poll_secs
                if mono >= next_dead_man:
                    m.dead_man = await m.venue.arm_dead_man(lc.dead_man_secs)
                    next_dead_man = mono + lc.dead_man_secs / 3
                if mono >= next_reconcile:
                    await self.reconcile(m)
                    next_reconcile = mono + lc.reconcile_secs
            m.core.drain()

    async def reconcile(self, m: LiveMarket) -> None:
        """Resync open orders and fills with the exchange and measure balance drift."""
        m.core.drain()
        tracked = {cid for cid, o in m.core.orders.by_id.items() if o.status is OrderStatus.OPEN}
        orphans, vanished = await m.venue.reconcile(tracked, m.order_prefix)
        m.reconciled["orphans_cancelled"] += len(orphans)
        m.reconciled["vanished"] += len(vanished)
        core = m.core
        core.drain()
        for _ in range(_BALANCE_READS):
            # a fill landing between our last fill poll and the balance read is in the
            # balance but not yet in the ledger: poll after the read; if it found anything,
            # read again, so the two describe the same fills
            fills = len(core.fills)
            balances = await m.venue.balances()
            await m.venue.poll_fills()
            core.drain()
            if len(core.fills) == fills:
                break
        m.drift = {
            core.base_asset: balances.get(core.base_asset, (0.0, 0.0))[1] - core.base_balance,
            core.quote_asset: balances.get(core.quote_asset, (0.0, 0.0))[1] - core.quote_balance,
        }
        if orphans or vanished or any(abs(d) > 1e-8 for d in m.drift.values()):
            log.warning("%s: reconciled: orphans cancelled %s, vanished %s, balance drift %s", m.key, orphans, vanished, m.drift)

    async def shutdown(self) -> None:
        """Cancel every order of every market, all markets at once, and make sure none is
        left on the exchanges."""
        now = self.clock_ns()
        await asyncio.gather(*(self._shutdown_market(m, now) for m in self.markets))

    async def _shutdown_market(self, m: LiveMarket, now: int) -> None:
        m.core.pull(now)
        if m.paper:
            m.venue.advance(now + 10**12)
            m.core.drain()
            return
        try:  # creates cut off by the shutdown: found by client id, so they are cancelled and their fills count
            await m.venue.resolve_in_doubt()
        except Exception as exc:
            log.warning("%s: shutdown could not look up in-flight creates: %s", m.key, exc)
        m.core.drain()
        m.core.pull(now)
        for step in (lambda: m.venue.flush(cancels_only=True), m.venue.poll_fills):
            try:
                await step()
            except Exception as exc:  # what is left is found by client id just below
                log.warning("%s: shutdown step failed: %s", m.key, exc)
        for attempt in range(3):
            try:
                m.shutdown_cancelled += await m.venue.cancel_leftovers(m.order_prefix)
                break
            except Exception as exc:
                log.error("%s: shutdown could not confirm every cancel (attempt %d): %s", m.key, attempt + 1, exc)
                await asyncio.sleep(0.5 * (attempt + 1))
        m.core.drain()

    def summary(self) -> dict[str, dict]:
        out = {}
        for m in self.markets:
            inv, stats = m.core.inventory, m.core.orders.stats
            lat = np.array(m.latency_ns, dtype=np.float64)
            out[m.key] = {
                "mode": "paper" if m.paper else "live",
                "book_updates": m.book_feed.updates,
                "book_fallbacks_to_rest": m.book_feed.mode.fallbacks,
                "orders_created": stats.placed,
                "orders_cancelled": stats.cancelled,
                "post_only_rejects": stats.post_only_rejects,
                "envelope": m.core.envelope_counts(),
                "fills": inv.fills,
                "position": inv.position,
                "pnl": m.core.pnl,
                "errors": dict(m.errors),
                "leftovers_cancelled": list(m.leftovers_cancelled),
                "shutdown_cancelled": list(m.shutdown_cancelled),
                "dead_man_switch": m.dead_man,
                "reconciled": dict(m.reconciled),
                "balance_drift": dict(m.drift),
                "loss_today": m.core.risk.loss_today(self.clock_ns(), m.core.pnl),
                "restored": m.key in self.restored,
                "tick_to_intent_us_p50": float(np.percentile(lat, 50) / 1e3) if lat.size else math.nan,
                "tick_to_intent_us_p99": float(np.percentile(lat, 99) / 1e3) if lat.size else math.nan,
            }
        return out
