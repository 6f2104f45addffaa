"""Paper trading on live public books: the paper venue behind the whole :class:`Venue` lifecycle.

:class:`~ccxt_mm.execution.paper.PaperVenue` (compiled, synchronous, shared with replay)
simulates the exchange. :class:`LivePaperVenue` owns it with the price grid it matches on (a
:class:`LiveBook` rebuilt around the mid as the market moves), reads the market's facts from
the exchange's public API, and answers the rest of the lifecycle for orders that rest nowhere
but in this process: nothing left by earlier runs, no dead-man switch, nothing to reconcile
(a swap's funding rate is read as the run goes), no fills carried over restarts.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable

import ccxt.async_support as ccxt_async

from ccxt_mm.book.levels import BookLevels
from ccxt_mm.exchange.dialects import public_dialect
from ccxt_mm.exchange.feed import LiveBook
from ccxt_mm.exchange.swaps import SwapAccount
from ccxt_mm.exchange.venue import load_market, market_facts
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.paper import PaperVenue
from ccxt_mm.execution.types import Action, VenueEvent
from ccxt_mm.execution.venue import ACK_ACTIONS, Holdings, MarketFacts, OpenOrder, Worker
from ccxt_mm.market.latency import FeedClock, LatencyHistogram
from ccxt_mm.quoting.contract import Contract
from ccxt_mm.quoting.types import BUY, SELL

log = logging.getLogger("ccxt_mm.venue")


async def _untranslated(call):
    """Run one public call as it is (a failure at start stops the market, named by ccxt)."""
    return await call()


class LivePaperVenue:
    """Implements :class:`ccxt_mm.execution.venue.Venue` with ``paper`` on ``symbol``'s live
    books; ``grid_span``: the fraction of the mid the price grid covers either side."""

    mode = "paper"
    fills_from_public_trades = True
    dead_man_armed = False
    grid: LiveBook
    """The book on the price grid ``paper`` matches against (built by :meth:`start`)."""
    facts: MarketFacts
    """Set by :meth:`start`."""

    def __init__(
        self,
        exchange: ccxt_async.Exchange,
        symbol: str,
        paper: PaperVenue,
        grid_span: float,
        clock_ns: Callable[[], int] = time.time_ns,
        leverage: float = 1.0,
    ) -> None:
        self.exchange = exchange
        self.leverage = leverage
        """A swap's: the paper venue margins orders and positions at it."""
        self.symbol = symbol
        self.paper = paper
        self.supports_amend = paper.supports_amend
        self.grid_span = grid_span
        self.clock_ns = clock_ns
        self.trade_clock = FeedClock()
        """The exchange's clock, learnt from the trades' exchange times against their receipt."""
        self._swap: SwapAccount | None = None
        """A swap's public calls (its mark and funding rate); set by :meth:`start`."""
        self.ack_latency = {action: LatencyHistogram() for action in ACK_ACTIONS}
        """Empty, and kept so: no request is sent, so no round trip is measured (the
        simulated one is ``paper.entry_latency_ms`` / ``cancel_latency_ms``, as configured)."""

    # --- order flow (the quoting core's side) -----------------------------------------
    @property
    def events(self) -> list[VenueEvent]:
        return self.paper.events

    def submit(self, action: Action, now_ns: int) -> None:
        self.paper.submit(action, now_ns)

    def drain_events(self) -> list[VenueEvent]:
        return self.paper.drain_events()

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> MarketFacts:
        """Load the market from the exchange's public API (no key is used). A swap starts flat
        with its collateral in the settle currency (``paper.initial_quote``, linear;
        ``paper.initial_base``, else the initial quote at the mark price now, inverse). The
        exchange's funding rate now is the strategy's (for its skew) and the simulated
        payments', read again at each :meth:`reconcile` (a payment is at the rate last read
        before its funding time, as the exchange fixes it then)."""
        market = await load_market(self.exchange, self.symbol)
        facts = self.facts = market_facts(market)
        self.grid = LiveBook(facts.tick_size, self.grid_span)
        paper = self.paper
        paper.lot_size = facts.lot_size
        if facts.swap:
            self._swap = SwapAccount(self.exchange, market, public_dialect(self.exchange.id), _untranslated)
            mark, rate = await self._swap.funding_now()
            paper.funding_rate = rate
            facts = self.facts = dataclasses.replace(facts, mark_price=mark, funding_rate=rate)
            paper.contract = Contract(facts.contract_size, facts.inverse, True, MarketParams().maintenance_margin_rate)
            paper.leverage = self.leverage
            initial_base = paper.params.initial_base
            paper.base = 0.0
            paper.quote = paper.params.initial_quote if not facts.inverse else initial_base or paper.params.initial_quote / mark
        return facts

    @property
    def name(self) -> str:
        return f"{self.exchange.id} {self.symbol}"

    async def cancel_leftovers(self, prefix: str) -> list[str]:
        """Nothing: paper orders of earlier runs ended with their process."""
        return []

    async def balances(self) -> dict[str, tuple[float, float]]:
        """The simulated balances; resting orders lock theirs (a buy its price × size in quote,
        a sell its size in base); a swap's: its collateral (settle currency)."""
        base, quote = self.paper.base, self.paper.quote
        if self.facts.swap:
            return {self.facts.settle: (quote, quote)}
        held = {self.facts.base: (base - self.paper.locked(SELL), base), self.facts.quote: (quote - self.paper.locked(BUY), quote)}
        return {asset: free_total for asset, free_total in held.items() if free_total[1]}

    async def holdings(self) -> Holdings:
        """The simulated balances; no position (the simulated account starts flat)."""
        return Holdings(await self.balances())

    async def arm_dead_man(self, timeout_secs: float) -> None:
        """None: no order of ours rests on an exchange."""
        return None

    def workers(self) -> list[Worker]:
        """None: the simulated clock advances on book updates and in :meth:`housekeeping`."""
        return []

    def on_book(self, now_ns: int, levels: BookLevels) -> None:
        """Put the book on the grid (following it onto a new grid when rebuilt), deliver the
        actions that reached the exchange by the book's time, move queue positions for the
        cancellations the update shows and fill the orders it trades through. The book is
        taken to be as old as the median trade's feed latency (ccxt's books carry no exchange
        time on every exchange)."""
        grid, paper = self.grid, self.paper
        rebuilds = grid.rebuilds
        book = grid.update(levels)
        if grid.rebuilds != rebuilds:
            paper.rebind(book)
        at = self._exchange_now(now_ns)
        paper.advance(at)
        paper.on_book_update(at)

    def on_trade(self, ts_ns: int, aggressor: int, price: float, qty: float) -> None:
        """A public trade of exchange time ``ts_ns``, matched at that time on our clock after
        the actions that reached the exchange by then: an order that arrived after it is not
        filled by it, one whose cancel landed before it is gone."""
        clock = self.trade_clock
        clock.observe(self.clock_ns(), ts_ns)
        at = clock.to_local(ts_ns)
        self.paper.advance(at)
        self.paper.on_trade(at, aggressor, price, qty)

    async def housekeeping(self, now_ns: int) -> None:
        """Deliver the actions that reached the exchange by now, as far as the feeds can tell
        (between book updates too)."""
        self.paper.advance(self._exchange_now(now_ns))

    def _exchange_now(self, now_ns: int) -> int:
        """The exchange's time of what reaches us at ``now_ns`` (ns, our clock): now less the
        trades' median feed latency."""
        latency_ms = self.trade_clock.latency.quantile_ms(0.5)
        return now_ns - (int(latency_ms * 1e6) if latency_ms < math.inf else 0)

    async def reconcile(self, tracked_open: set[str], prefix: str) -> None:
        """None: the simulator is the only record of its orders and balances. A swap's funding
        rate is read from the exchange's public API for the next simulated payment (a failed
        read keeps the last rate, logged: quotes are not pulled for it)."""
        if self._swap is not None:
            try:
                _, self.paper.funding_rate = await self._swap.funding_now()
            except ccxt_async.BaseError as exc:
                log.warning("%s: funding rate not read (%s: %s); paying %g", self.name, type(exc).__name__, exc, self.paper.funding_rate)
        return None

    async def settle_in_flight(self) -> None:
        """Deliver every action still in flight."""
        self._deliver_pending()

    async def close(self, prefix: str) -> list[str]:
        """Deliver the cancels sent since :meth:`settle_in_flight`; nothing is left to find."""
        self._deliver_pending()
        return []

    async def open_orders(self) -> list[OpenOrder]:
        """The simulated orders resting (their client id is their order id)."""
        return [OpenOrder(o.client_id, o.client_id, o.side, o.price, o.remaining) for o in self.paper.orders.values()]

    def seen_trades(self) -> list[str]:
        """None: simulated fills have no exchange trade ids."""
        return []

    def order_headroom(self) -> None:
        return None

    def remember_seen(self, trade_ids: list[str]) -> None:
        """Nothing to remember: simulated fills are never reported twice."""

    def _deliver_pending(self) -> None:
        """Every pending action arrives, each at its own due time (ns)."""
        while (due := self.paper.next_due_ns) is not None:
            self.paper.advance(due)
