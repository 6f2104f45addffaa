"""Live engine: one quoting core per (exchange, symbol), all in one event loop.

Each market runs owned tasks: the book loop (feed → venue → core), the public-trade loop
(→ venue → core), a watchdog (stale book → pull quotes; strategy timer; the venue's
housekeeping and reconciliation), and the venue's own workers (a live venue's order worker
and fills watcher). A failure in one market is logged, its quotes are pulled and it retries
with exponential backoff; the other markets keep quoting. Every retry path sleeps, so a
cached failed future can never spin the loop.

The engine sees its venues only through :class:`~ccxt_mm.execution.venue.Venue`: paper (the
default: live public books, simulated orders) or live (post-only orders through ccxt) is
chosen once, where the venue is built (:func:`~ccxt_mm.exchange.clients.make_venue`), and
both share the quoting core.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

import numpy as np

from ccxt_mm.amounts import in_amount_units
from ccxt_mm.book.levels import BookLevels, book_levels
from ccxt_mm.config import AppConfig
from ccxt_mm.config_checks import KnownMarket, unfit
from ccxt_mm.engine import state
from ccxt_mm.engine.core import QuotingCore
from ccxt_mm.engine.predictions import LivePredictions
from ccxt_mm.engine.replay import ReplayResult, core_result
from ccxt_mm.engine.samples import Samples, StateTimes
from ccxt_mm.exchange.clients import make_venue
from ccxt_mm.exchange.feed import BookFeed, TradeFeed, WebsocketFallback
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.orders import OrderStatus
from ccxt_mm.execution.venue import Holdings, MarketFacts, Venue
from ccxt_mm.market.latency import FeedClock
from ccxt_mm.quoting.portfolio import Portfolio
from ccxt_mm.schema import parse_section
from ccxt_mm.shared.redis_book import RedisBook
from ccxt_mm.strategies import load_strategy

log = logging.getLogger("ccxt_mm.live")

SHUTDOWN: Final = "shutdown"
"""Why the last quotes are pulled (the order log's reason)."""
Loop = tuple[str, Callable[[], Awaitable[None]], bool]
"""A market's task: its name, the coroutine it runs, and whether a failure pulls the quotes."""


@dataclass
class LiveMarket:
    key: str
    """``exchange symbol``, as in logs and reports."""
    venue: Venue
    core: QuotingCore
    book_feed: BookFeed
    trade_feed: TradeFeed
    order_prefix: str
    states: StateTimes
    """Time in each risk mode, and without a book to quote on (``book_invalid``: before the
    first, stale, a feed failing or a book with an empty side), since the market opened."""
    last_book_ns: int = 0
    stale: bool = True
    levels: BookLevels | None = None
    """The last book read from the exchange, as levels (None before the first)."""
    errors: dict[str, int] = field(default_factory=dict)
    latency_ns: deque[int] = field(default_factory=lambda: deque(maxlen=4096))
    """Tick -> order intent of the latest book updates (bounded): from ccxt handing over a
    parsed book to the order manager's actions (levels read, venue events applied,
    features, risk, strategy, order manager); the venue's own work on the book (the paper
    venue's book on a grid, queues, fills) is left out."""
    leftovers_cancelled: list[str] = field(default_factory=list)
    """Orders of earlier runs (client-id prefix) cancelled before this run quoted."""
    shutdown_cancelled: list[str] = field(default_factory=list)
    """Orders found still open at shutdown, after the regular cancels, and cancelled."""
    drift: dict[str, float] = field(default_factory=dict)
    """Exchange balance minus our ledger per asset at the last reconciliation."""
    reconciled: dict[str, int] = field(default_factory=lambda: {"orphans_cancelled": 0, "vanished": 0})
    book_clock: FeedClock = field(default_factory=FeedClock)
    """The exchange's clock seen from the book feed: the clock offset, and the feed latency of
    every book that carries an exchange time (received: when ccxt hands it over)."""
    trade_clock: FeedClock = field(default_factory=FeedClock)
    """The same from the public-trade feed, every trade but those of the first batch (which
    may be history)."""
    samples: Samples = field(default_factory=Samples)
    """Every book update quoted on, as the replay samples them (for the run report; 64 bytes
    an update)."""

    def pull(self, now_ns: int, reason: str) -> None:
        """No book to quote on (stale, its feed failing): pull the quotes, for ``reason``."""
        self.stale = True
        self.core.pull(now_ns, reason)
        self.states.set("book_invalid", now_ns)

    def result(self, now_ns: int) -> ReplayResult:
        """The market's figures from its opening to ``now_ns`` (the span its time per state and
        time quoted share) as the report takes them: copies, so a thread may write them while
        the market goes on quoting."""
        core = self.core
        if core.contract.margined:  # the base is the position, reported as such
            balances = {core.cfg.market.settle: core.quote_balance}
        else:
            balances = {core.base_asset: core.base_balance, core.quote_asset: core.quote_balance}
        return core_result(core, self.samples, True, self.states.secs(now_ns), balances, self.states.start_ns, now_ns)


async def open_market(
    config: AppConfig,
    exchange,
    symbol: str,
    live: bool,
    run_id: str,
    clock_ns: Callable[[], int] = time.time_ns,
) -> LiveMarket:
    """Build the market's venue (``live``: real orders, else paper; see :func:`make_venue`), load
    the market, cancel what earlier runs left, read the balances, build the core."""
    key = f"{exchange.id} {symbol}"
    venue = make_venue(config, exchange, symbol, live, clock_ns)
    facts = await venue.start()
    mcfg = market_config(config, symbol, facts, key)
    for warning in unfit(mcfg, KnownMarket(exchange.id, facts, facts.mark_price or None, f"{exchange.id}'s mark price", in_amounts=True)):
        log.warning("%s: %s", key, warning)
    leftovers = await venue.cancel_leftovers(config.orders.client_id_prefix)
    held = await venue.holdings()
    (_, base), (_, quote) = ledger_of(held, mcfg.market)
    core = QuotingCore(mcfg, load_strategy(mcfg), venue, run_id, base, quote)
    core.funding_rate = facts.funding_rate
    # a swap's position held at start is the inventory's (its limit and risk count it), valued
    # at the mark then, as the cash is: this run's PnL starts at 0
    core.inventory.position, core.inventory.avg_price = held.position, held.mark
    lc = config.live

    def feed_mode(what: str) -> WebsocketFallback:
        return WebsocketFallback(f"{key} {what}", lc.websocket, lc.ws_fallback_after, lc.ws_retry_secs)

    return LiveMarket(
        key=key,
        venue=venue,
        core=core,
        book_feed=BookFeed(exchange, symbol, lc.book_depth, lc.poll_secs, feed_mode("book")),
        trade_feed=TradeFeed(exchange, symbol, lc.poll_secs, feed_mode("trades")),
        order_prefix=core.orders.id_prefix,
        states=StateTimes("book_invalid", clock_ns()),
        leftovers_cancelled=leftovers,
    )


def ledger_of(held: Holdings, market: MarketParams) -> tuple[tuple[str, float], tuple[str, float]]:
    """(name, amount) on the exchange of what the core's base and quote balances count: spot's
    base and quote; a swap's position (contracts) and its settle currency's cash."""

    def total(asset: str) -> float:
        return held.balances.get(asset, (0.0, 0.0))[1]

    if market.contract.margined:
        return ("position", held.position), (market.settle, total(market.settle))
    return (market.base, total(market.base)), (market.quote, total(market.quote))


def market_config(config: AppConfig, symbol: str, facts: MarketFacts, source: str) -> AppConfig:
    """``config`` for one market: its grid and minimums the exchange's; a swap's contract size
    and leverage too, and the config's sizes (``market.size_unit``) in the market's amount unit
    (at a swap's mark price now where a price is needed: :func:`~ccxt_mm.amounts.in_amount_units`;
    a spot market's quote sizes have no price at start and are refused); the exchange's minimum
    order is in that unit already."""
    fields: dict[str, object] = {"symbol": symbol, "tick_size": facts.tick_size, "lot_size": facts.lot_size, "data": ()}
    fields["size_unit"] = config.market.size_unit
    fields["min_notional_quote"] = facts.min_notional_quote
    if facts.swap:
        fields |= {"contract_size": facts.contract_size, "leverage": config.market.leverage}
    mcfg = config.model_copy(update={"market": parse_section(MarketParams, fields)})
    mcfg, _ = in_amount_units(mcfg, facts.mark_price, source)  # spot quote sizes: no price at start, refused
    market = dataclasses.replace(mcfg.market, min_order_base=facts.min_order_base)
    return mcfg.model_copy(update={"market": market})


class LiveEngine:
    def __init__(
        self,
        config: AppConfig,
        markets: list[LiveMarket],
        clock_ns: Callable[[], int] = time.time_ns,
        predictions: LivePredictions | None = None,
        state_path: Path | None = None,
        shared_url: str | None = None,
    ) -> None:
        """``predictions``: a predictor run as one background task; quotes read its board.
        ``state_path``: where the markets' carried-over state is restored from and kept (see
        :mod:`ccxt_mm.engine.state`; None, as for paper runs: nothing is carried over).
        ``shared_url``: the Redis server of ``portfolio.store: redis`` (None: the book is this
        process's alone)."""
        self.cfg = config
        self.markets = markets
        self.clock_ns = clock_ns
        self.predictions = predictions
        self.state_path = state_path
        self.restored: dict[str, dict] = {}
        """Market key → the state restored at start."""
        self._saved: dict[str, dict] = {}
        """The state file as read at start (markets of other runs are written back as they were)."""
        self.portfolio = Portfolio(config.portfolio)
        """The book of risk every market shares (``portfolio`` section): a fill on one moves
        the others' rooms, risk mode and inventory term."""
        for m in markets:
            m.core.join(self.portfolio, m.key)
        self.shared = None if shared_url is None else RedisBook(self.portfolio, shared_url, {m.key: m.core.fills for m in markets})
        """The book shared with other processes through Redis (None: none)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Quote every market until ``stop`` is set, then shut down cleanly."""
        self._restore_state()
        tasks: list[asyncio.Task] = []
        for m in self.markets:
            for what, loop, pull in self._loops(m):
                tasks.append(asyncio.create_task(self._retrying(m, what, loop, pull), name=f"{m.key} {what}"))
        if self.predictions is not None:
            tasks.append(asyncio.create_task(self._predictor(self.predictions), name="predictor"))
        if self.state_path is not None:
            tasks.append(asyncio.create_task(self._keep_state(), name="state"))
        if self.shared is not None:
            tasks.append(asyncio.create_task(self.shared.run(), name="shared book"))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.shutdown()
            if self.shared is not None:
                await self.shared.close()
            await self._save_state()
            if self.predictions is not None:
                await self.predictions.close()

    def _loops(self, m: LiveMarket) -> list[Loop]:
        """The market's tasks. Public trades feed quoting only where the venue fills from them
        (paper): elsewhere a failing trade feed leaves the quotes up."""
        return [
            ("book", partial(self._book_loop, m), True),
            ("trades", partial(self._trade_loop, m), m.venue.fills_from_public_trades),
            ("watchdog", partial(self._watchdog, m), True),
            *((w.name, w.run, w.pulls_quotes) for w in m.venue.workers()),
        ]

    def _restore_state(self) -> None:
        if self.state_path is None:
            return
        self._saved, portfolio = state.load(self.state_path)
        now = self.clock_ns()
        if portfolio is not None:
            state.restore_portfolio(self.portfolio, portfolio, now)
        for m in self.markets:
            if m.key in self._saved:
                state.restore(m.core, self._saved[m.key], now)
                m.venue.remember_seen(self._saved[m.key]["seen_trades"])
                self.restored[m.key] = self._saved[m.key]

    def _state_now(self) -> dict[str, dict]:
        """The file's content now: this run's markets over what the file held for others."""
        now = self.clock_ns()
        ours = {m.key: state.snapshot(m.core, m.venue.seen_trades(), now) for m in self.markets}
        return {**self._saved, **ours}

    async def _save_state(self) -> None:
        """Snapshot on the loop, write in a worker thread (file I/O never blocks quoting)."""
        if self.state_path is not None:
            now = self.clock_ns()
            await asyncio.to_thread(state.save, self.state_path, self._state_now(), state.portfolio_snapshot(self.portfolio, now))

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

    async def _retrying(self, m: LiveMarket, what: str, loop: Callable[[], Awaitable[None]], pull: bool) -> None:
        """Run ``loop`` of ``m`` forever; on failure log, pull quotes if ``pull`` (the loop
        feeds quoting or orders), back off."""
        backoff = 0.25
        while True:
            started = time.monotonic()
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                m.errors[what] = m.errors.get(what, 0) + 1
                log.warning("%s: %s loop failed (%s: %s); retry in %.2f s", m.key, what, type(exc).__name__, exc, backoff)
                if pull:
                    m.pull(self.clock_ns(), f"{what} loop failed: {type(exc).__name__}")
                await asyncio.sleep(backoff)
                healthy = time.monotonic() - started > 10 * backoff
                backoff = 0.25 if healthy else min(backoff * 2, self.cfg.live.backoff_max_secs)

    async def _book_loop(self, m: LiveMarket) -> None:
        core, venue, feed = m.core, m.venue, m.book_feed
        while True:
            bids, asks = await feed.next()
            t0 = time.perf_counter_ns()  # tick: ccxt has parsed the book; from here the time is ours
            now = self.clock_ns()
            m.levels = levels = book_levels(bids, asks)
            m.last_book_ns, m.stale = now, False
            offered = time.perf_counter_ns()  # the venue's work on the book (paper: matching) is not ours
            venue.on_book(now, levels)
            t0 += time.perf_counter_ns() - offered
            core.drain(now)
            if levels.quotable:
                if self.predictions is not None:
                    core.prediction = self.predictions.board.get(m.key, now)
                core.on_levels(now, levels)
                elapsed = time.perf_counter_ns() - t0
                m.latency_ns.append(elapsed)
                bid, ask = core.quotes
                feats = core.features
                assert feats is not None  # set by on_levels
                m.samples.add(now, feats.best_bid, feats.best_ask, core.mid, bid, ask, core.inventory.position, elapsed)
                m.states.set(core.risk_state.mode.value, now)
            else:
                core.pull(now, "book not quotable (a side empty or crossed)")
                m.states.set("book_invalid", now)
            m.book_clock.observe(now, feed.exchange_ns)  # after the quotes: none of it on tick -> intent

    async def _trade_loop(self, m: LiveMarket) -> None:
        feed = m.trade_feed
        while True:
            trades = await feed.next()
            now = self.clock_ns()
            for ts, side, price, qty, _ in trades:
                m.venue.on_trade(ts, side, price, qty)
                m.core.on_trade(ts, side, price, qty)
            m.core.drain(self.clock_ns())
            if not feed.backlog:
                for ts, *_ in trades:
                    m.trade_clock.observe(now, ts)

    async def _watchdog(self, m: LiveMarket) -> None:
        lc = self.cfg.live
        next_timer = 0.0
        next_reconcile = time.monotonic() + lc.reconcile_secs
        while True:
            await asyncio.sleep(0.2)
            now = self.clock_ns()
            if not m.stale and now - m.last_book_ns > lc.stale_secs * 1e9:
                log.warning("%s: no book for %.1f s: quotes pulled", m.key, lc.stale_secs)
                m.pull(now, f"no book for {lc.stale_secs} s")
            mono = time.monotonic()
            if mono >= next_timer:
                m.core.on_timer(now)
                next_timer = mono + self.cfg.strategy.timer_secs
            await m.venue.housekeeping(now)
            if mono >= next_reconcile:
                await self.reconcile(m)
                next_reconcile = mono + lc.reconcile_secs
            m.core.drain(self.clock_ns())

    async def reconcile(self, m: LiveMarket) -> None:
        """Resync open orders and fills with the venue and measure balance drift (nothing to do
        where the venue is its own record)."""
        core = m.core
        core.drain(self.clock_ns())
        tracked = {cid for cid, o in core.orders.by_id.items() if o.status is OrderStatus.OPEN}
        found = await m.venue.reconcile(tracked, m.order_prefix)
        core.drain(self.clock_ns())  # the fills the balances were read after are in the ledger now
        if found is None:
            return
        orphans, vanished = found.orphans_cancelled, found.vanished
        if found.funding_rate is not None:  # the strategy's funding skew reads the rate now
            core.funding_rate = found.funding_rate
        m.reconciled["orphans_cancelled"] += len(orphans)
        m.reconciled["vanished"] += len(vanished)
        (base, on_base), (quote, on_quote) = ledger_of(found.held, core.cfg.market)
        m.drift = {base: on_base - core.base_balance, quote: on_quote - core.quote_balance}
        if orphans or vanished or any(abs(d) > 1e-8 for d in m.drift.values()):
            log.warning("%s: reconciled: orphans cancelled %s, vanished %s, balance drift %s", m.key, orphans, vanished, m.drift)

    async def shutdown(self) -> None:
        """Cancel every order of every market, all markets at once, and make sure none is
        left on the exchanges."""
        now = self.clock_ns()
        await asyncio.gather(*(self._shutdown_market(m, now) for m in self.markets))

    async def _shutdown_market(self, m: LiveMarket, now: int) -> None:
        m.core.pull(now, SHUTDOWN)
        await m.venue.settle_in_flight()
        m.core.drain(self.clock_ns())
        m.core.pull(now, SHUTDOWN)  # orders created by actions in flight are cancelled too
        m.shutdown_cancelled += await m.venue.close(m.order_prefix)
        m.core.drain(self.clock_ns())

    def portfolio_summary(self) -> dict[str, object]:
        """The book every market shares (and, shared through Redis, how that went)."""
        out = self.portfolio.summary()
        if self.shared is not None:
            out["shared"] = self.shared.summary()
        return out

    def summary(self) -> dict[str, dict]:
        out = {}
        for m in self.markets:
            inv, stats = m.core.inventory, m.core.orders.stats
            lat = np.array(m.latency_ns, dtype=np.float64)
            out[m.key] = {
                "mode": m.venue.mode,
                "book_updates": m.book_feed.updates,
                "book_fallbacks_to_rest": m.book_feed.mode.fallbacks,
                "orders_created": stats.placed,
                "orders_amended": stats.amended,
                "orders_cancelled": stats.cancelled,
                "post_only_rejects": stats.post_only_rejects,
                "envelope": m.core.envelope_counts(),
                "fills": inv.fills,
                "position": inv.position,
                "pnl": m.core.pnl,
                "errors": dict(m.errors),
                "leftovers_cancelled": list(m.leftovers_cancelled),
                "shutdown_cancelled": list(m.shutdown_cancelled),
                "dead_man_switch": m.venue.dead_man_armed,
                "reconciled": dict(m.reconciled),
                "balance_drift": dict(m.drift),
                "loss_today": m.core.risk.loss_today(self.clock_ns(), m.core.pnl),
                "restored": m.key in self.restored,
                "tick_to_intent_us_p50": float(np.percentile(lat, 50) / 1e3) if lat.size else math.nan,
                "tick_to_intent_us_p99": float(np.percentile(lat, 99) / 1e3) if lat.size else math.nan,
                "feed_latency_ms": _feed_latency(m),
                "order_ack_latency_ms": {action: h.summary() for action, h in m.venue.ack_latency.items()},
                "predictor": "none" if self.predictions is None else self.predictions.name,
            }
        return out


def _feed_latency(m: LiveMarket) -> dict[str, dict]:
    """The book and trade feeds' latency (count, quantiles, mean: ms, above the fastest
    message) and each feed's clock offset (ms: the exchange's clock to ours plus the fastest
    message's latency; NaN before a message with an exchange time)."""
    clocks = {"book": m.book_clock, "trades": m.trade_clock}
    offsets = {feed: math.nan if c.offset_ns is None else c.offset_ns / 1e6 for feed, c in clocks.items()}
    return {**{feed: c.latency.summary() for feed, c in clocks.items()}, "clock_offset_ms": offsets}
