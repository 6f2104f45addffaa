"""The interfaces every venue (paper, ccxt) implements.

The quoting core never waits on a venue: actions are submitted and events drained
(:class:`OrderFlow`), so the same strategy and order manager run against a simulator or an
exchange connection. A live run drives the rest of a venue's life through :class:`Venue`, in
this order: :meth:`~Venue.start`, :meth:`~Venue.cancel_leftovers`, :meth:`~Venue.holdings`,
:meth:`~Venue.arm_dead_man`; while quoting, its :meth:`~Venue.workers` run, market data is
offered to it (:meth:`~Venue.on_book`, :meth:`~Venue.on_trade`), :meth:`~Venue.housekeeping`
runs every 0.2 s and :meth:`~Venue.reconcile` now and then; at the stop
:meth:`~Venue.settle_in_flight`, then :meth:`~Venue.close`, then :meth:`~Venue.open_orders`
says what is left. The engine never asks which venue it holds: paper or live is chosen once,
where the venue is built (:func:`ccxt_mm.exchange.clients.make_venue`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from ccxt_mm.book.levels import BookLevels
from ccxt_mm.execution.types import Action, VenueEvent


@dataclass(frozen=True, slots=True)
class MarketFacts:
    """What the engine needs to know of a market, read from the exchange at start."""

    tick_size: float
    """Price increment, quote currency."""
    lot_size: float
    """Quantity increment, base units."""
    min_order_base: float
    """Smallest order, base units (0: one lot)."""
    min_notional_quote: float
    """Smallest order value, quote currency (0: none)."""
    base: str
    """Base asset (``BTC`` of ``BTC/USDT``)."""
    quote: str
    """Quote asset (``USDT`` of ``BTC/USDT``)."""
    contract_size: float = 1.0
    """A swap's contract: base units (linear) or quote currency (inverse); 1 for spot."""
    settle: str = ""
    """A swap's settle currency, its collateral and PnL (empty: spot)."""
    inverse: bool = False
    """A swap settled in its base (contract sizes in the quote)."""
    mark_price: float = 0.0
    """A swap's mark price at start, quote (0: spot): an inverse swap's sizes become contracts at it."""
    funding_rate: float = 0.0
    """A swap's funding rate at start, a fraction (a long pays it)."""

    @property
    def swap(self) -> bool:
        return bool(self.settle)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order the venue reports as open."""

    order_id: str
    client_id: str
    side: int
    price: float
    """Quote currency."""
    remaining: float
    """Base units not filled yet."""


@dataclass(frozen=True, slots=True)
class Worker:
    """A coroutine a venue needs running while it quotes; the engine owns its task, restarts it
    after a failure (with backoff) and cancels it at the stop."""

    name: str
    """As in logs, error counts and task names (``orders``, ``fills``)."""
    run: Callable[[], Awaitable[None]]
    """Runs until cancelled."""
    pulls_quotes: bool
    """A failure pulls the market's quotes (orders cannot reach the exchange); else it is
    only logged and counted (a fallback covers the gap)."""


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the account holds, read together."""

    balances: dict[str, tuple[float, float]]
    """(free, total) per asset with a non-zero total (a swap's: its settle currency's cash, see
    :meth:`Venue.balances`)."""
    position: float = 0.0
    """A swap's position, contracts (> 0 long); 0 for spot."""
    mark: float = 0.0
    """The mark price the position was valued at, quote (0 without a position)."""


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What a reconciliation found and did."""

    orphans_cancelled: list[str]
    """Client ids of this run's orders the venue held but we did not track, cancelled."""
    vanished: list[str]
    """Client ids of orders we tracked as open that the venue no longer had (reported cancelled)."""
    held: Holdings
    """The balances (and a swap's position), read after every fill before it was reported as
    an event."""
    funding_rate: float | None = None
    """A swap's funding rate now, a fraction (None: spot, or the venue's own simulation)."""


ACK_ACTIONS: Final = ("place", "amend", "cancel")
"""The order actions whose request round trip a venue measures (:attr:`Venue.ack_latency`)."""


class LatencyRecord(Protocol):
    """A latency histogram as the run report and the metrics read it: the venues hold a
    :class:`ccxt_mm.market.latency.LatencyHistogram` (a layer up, so not named here)."""

    total: int
    """Latencies counted."""
    sum_ms: float
    """Their sum, ms."""

    def summary(self) -> dict[str, float]:
        """Count, quantiles and mean, ms."""

    def buckets(self) -> list[tuple[float, int]]:
        """``(upper bound ms, cumulative count)``, ending ``(inf, total)``."""


class OrderFlow(Protocol):
    """What the quoting core uses of a venue, on every book update: never awaits."""

    supports_amend: bool
    events: list[VenueEvent]
    """Events not drained yet, oldest first (read on every book update: empty means there
    is nothing to drain)."""

    def submit(self, action: Action, now_ns: int) -> None:
        """Queue an action; it reaches the exchange after the venue's latency."""

    def drain_events(self) -> list[VenueEvent]:
        """Every event since the last call, in the order they happened."""


class Venue(OrderFlow, Protocol):
    """A venue's whole life in a live run, in the order of the module docstring."""

    mode: str
    """``paper`` or ``live``, as the run summary reports it."""
    fills_from_public_trades: bool
    """Our fills come from the public trades offered to :meth:`on_trade` (paper): a failing
    trade feed then pulls the quotes. Else public trades only calibrate the strategy."""
    dead_man_armed: bool
    """The exchange's cancel-all-after switch is armed (and kept so by :meth:`housekeeping`)."""
    ack_latency: dict[str, LatencyRecord]
    """Per action of :data:`ACK_ACTIONS`, the round trip of its requests: from the request
    sent to the exchange's answer (empty where no request is sent: paper)."""

    async def start(self) -> MarketFacts:
        """Connect and load the market (an unknown symbol is an error naming it)."""

    async def cancel_leftovers(self, prefix: str) -> list[str]:
        """Cancel the open orders whose client id starts with ``prefix`` (left by earlier runs,
        or by this one at the stop); returns their client ids."""

    async def balances(self) -> dict[str, tuple[float, float]]:
        """(free, total) per asset with a non-zero total, in the asset's units; a swap's settle
        currency's total is its cash as the engine counts it: the equity less the position's
        value at the mark (flat: the wallet), so cash + the position's value is the equity."""

    async def holdings(self) -> Holdings:
        """The balances and a swap's position with the mark it was valued at, from one read (the
        ledger starts from it)."""

    async def arm_dead_man(self, timeout_secs: float) -> bool | None:
        """Ask the exchange to cancel all our orders unless re-armed within ``timeout_secs``
        (s): True armed, False the exchange has no such switch, None no order of ours rests
        on an exchange (paper)."""

    def workers(self) -> list[Worker]:
        """The coroutines to run while quoting (the order worker, pushed fills): the engine
        starts a task for each after :meth:`start` and cancels them before the stop."""

    def on_book(self, now_ns: int, levels: BookLevels) -> None:
        """A book update as the exchange showed it (``now_ns``: wall clock, ns); the paper
        venue matches against it, an exchange ignores it."""

    def on_trade(self, ts_ns: int, aggressor: int, price: float, qty: float) -> None:
        """A public trade of ``qty`` (base) at ``price`` (quote), ``aggressor`` +1 buy / -1
        sell; the paper venue fills from it, an exchange ignores it."""

    async def housekeeping(self, now_ns: int) -> None:
        """Periodic upkeep, called every 0.2 s (``now_ns``: wall clock, ns): the paper venue
        delivers the actions due; an exchange venue polls fills and re-arms its dead-man
        switch when they are due. Events it produces are drained by the caller."""

    async def reconcile(self, tracked_open: set[str], prefix: str) -> Reconciliation | None:
        """Make the venue's open orders (client ids starting with ``prefix``) and
        ``tracked_open`` (ours, open) agree and read the balances; None where the venue is
        its own record (paper: nothing to reconcile)."""

    async def settle_in_flight(self) -> None:
        """At the stop, with the workers cancelled: account for actions cut off in flight, so
        that orders they created are tracked (and can be cancelled) and their fills count."""

    async def close(self, prefix: str) -> list[str]:
        """The last call: send the queued cancels (nothing new reaches the book), collect the
        last fills, and cancel whatever order of ours (client id starting with ``prefix``)
        is still open; returns the client ids cancelled that way. Failures are logged."""

    async def open_orders(self) -> list[OpenOrder]:
        """Every open order on this market (after :meth:`close`: what was left behind)."""

    def seen_trades(self) -> list[str]:
        """Ids of the fills already reported, oldest first (kept over restarts)."""

    def remember_seen(self, trade_ids: list[str]) -> None:
        """Fills an earlier run already reported (restored after a restart): never again."""

    def order_headroom(self) -> float | None:
        """Order requests the venue may send now without waiting: what is left of its order
        budget per minute (0 while the exchange has us blocked); None where it keeps none
        (paper)."""
