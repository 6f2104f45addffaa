"""Paper venue: simulated post-only execution against a replayed or live L2 book.

Its clock is the exchange's, expressed on ours (see :mod:`ccxt_mm.market.latency`): market
events come stamped with the exchange's time of them, and an action sent at ``t`` (our clock)
reaches the exchange at ``t`` + its latency. Model (documented in ``config.yaml`` under
``paper`` and in ``docs/fill_model.md``):

* **Latency.** A place, amend or take reaches the exchange ``entry_latency_ms`` after it was
  sent, a cancel ``cancel_latency_ms`` after; until a cancel arrives the order can still fill.
  An order rests from its arrival: a trade the exchange executed before then never fills it.
* **Post-only.** At arrival a buy at or above the best ask (a sell at or below the best bid)
  is rejected, as Binance's LIMIT_MAKER is.
* **Queue position.** An order joins behind the whole displayed quantity at its price. The
  quantity ahead shrinks by every trade at that price and, when a book update shows the level
  shrank by more than was traded there up to the update's time, by a share of that cancelled
  quantity (:class:`QueueModel`). The quantity ahead never exceeds what the level displays.
* **Fills from trades.** A trade at the order's price fills what is left of it after the
  quantity ahead; a trade through the price (a sell below a bid, a buy above an ask) fills it
  without queue. One trade's quantity is shared by our orders, best price first.
* **Fills from the book.** When the other side rests at or through an order's price (asks at
  or below our bid), those orders would have traded with ours: the order fills at its price
  for that quantity, once, and a trade the exchange executed up to that book update is taken
  as part of the same execution and fills it no more.
* **Lots.** Fills and remainders are whole lots; what an execution gives an order short of a
  lot is carried to its next one, never rounded away.
* **Taker orders** (reduce-only) walk the book from the best opposite level at arrival and
  pay the taker fee; the recorded book is not depleted by them.
* **Amends** set the order's total size, as okx's and bybit's do: what rests afterwards is
  the amended size less everything the order had filled (an amend to no more than that is
  refused), so a fill racing an amend never adds to the exposure the amend asked for.
* **Balances.** Base and quote balances; a resting buy locks ``price × qty`` quote, a sell
  ``qty`` base; an order the free balance cannot cover is rejected. An exchange holds
  balances as exact decimals; here they are float sums of fills, so the check forgives the
  float error those sums may carry (a bound kept as they are made) and nothing more. That
  error is relative to the amounts summed, not to the result: fills that bring 0.02 BTC down
  to 2 lots leave it whole, and the exchange would still accept a sell of those 2 lots.
* **Margin** (a swap). The base is the position in contracts, of either sign, and the quote
  the collateral in the settle currency; a fill moves the collateral by its cash flow
  (:meth:`~ccxt_mm.quoting.contract.Contract.cost`) and its fee, a share of its notional. An
  order is accepted when the equity (collateral + the position at the book's mid) covers
  notional / leverage of the larger of the long and the short the position would reach if
  every resting order and this one filled; one that does not enlarge that worst case (it
  reduces) always is.
* **Reduce-only** (a swap). An order flagged reduce-only (sent in the risk layer's reduce-only
  mode) is rejected at arrival unless it is against the position; it then fills no more than
  the position left to reduce and is cancelled once none is left, as Binance, OKX and Bybit do.
* **Funding** (a swap). At every funding time (``funding_interval_hours`` from 00:00 UTC), on
  the first book update at or after it, the position pays or receives ``funding_rate`` of its
  notional at the mid (the recording has no mark price; the rate is the configured one, or on
  live books the exchange's as last read): the collateral moves and a
  :class:`~ccxt_mm.execution.types.FundingPaid` event says by how much.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Final

import numpy as np
from annotated_types import Ge, Le

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.types import (
    Action,
    AmendAccepted,
    AmendOrder,
    CancelOrder,
    CancelRejected,
    Fill,
    FundingPaid,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    PlaceOrder,
    TakeOrder,
    VenueEvent,
)
from ccxt_mm.quoting.constraints import NonNegative
from ccxt_mm.quoting.contract import Contract
from ccxt_mm.quoting.types import BUY

_ROUNDING: Final = 2.0**-50
_MARGIN_SLACK: Final = 1e-12
"""Relative float error forgiven when the equity is compared with a margin."""
_HOUR_NS: Final = 3_600_000_000_000
"""Float error per unit of a balance's noise (see ``PaperVenue._base_noise``): each float
operation rounds by at most 2**-53 of its result; a margin of 8 for the few operations (a
product, a fee, a sum) behind each magnitude counted."""


class QueueModel(StrEnum):
    """Where the quantity cancelled at our price level was in its queue."""

    RISK_AVERSE = "risk_averse"
    """All of it behind us: only trades move us up (the conservative model)."""
    PROPORTIONAL = "proportional"
    """Spread evenly: the share ahead of us is ``ahead / level quantity``."""
    OPTIMISTIC = "optimistic"
    """All of it ahead of us (an upper bound on fills, for comparison)."""


def _best_first(o: PaperOrder) -> float:
    """Sort key: the highest bid and the lowest ask first."""
    return -o.price * o.side


def _cancelled_ahead(model: QueueModel, ahead: float, level: float) -> float:
    """The fraction of a cancelled quantity ``model`` puts ahead of us (``ahead`` of
    ``level`` base displayed at our price)."""
    if model is QueueModel.PROPORTIONAL:
        return ahead / level
    return 1.0 if model is QueueModel.OPTIMISTIC else 0.0


_LOT_SLACK: Final = 1e-9
"""Lots of float error forgiven when a quantity is counted in whole lots."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperParams:
    """The ``paper`` section of the config: the simulated exchange of :class:`PaperVenue`."""

    entry_latency_ms: NonNegative = 20.0
    """Place, amend and take reach the exchange this long after they are sent."""
    cancel_latency_ms: NonNegative = 20.0
    """Cancels reach the exchange this long after they are sent."""
    maker_fee_bps: Annotated[float, Ge(-10), Le(100)] = 1.0
    """Fee of a resting order's fill (negative: a rebate)."""
    taker_fee_bps: Annotated[float, Ge(0), Le(100)] = 5.0
    """Fee of a taker order's fill."""
    queue_model: QueueModel = QueueModel.PROPORTIONAL
    """Where the cancels at our price level were in its queue: behind us (risk_averse),
    spread evenly (proportional) or ahead of us (optimistic); see :class:`QueueModel`."""
    amend_supported: bool = False
    """The venue amends in place (okx, bybit); else the order manager cancels and places
    (Binance spot)."""
    initial_quote: NonNegative = 10_000.0
    """Starting quote balance."""
    initial_base: NonNegative | None = None
    """Starting base balance (None: the risk section's ``max_position_base``); an inverse
    swap's collateral, base currency (None: ``initial_quote`` at the first price)."""
    funding_rate: Annotated[float, Ge(-0.05), Le(0.05)] = 0.0
    """A swap's funding rate at every funding time (positive: longs pay shorts): a recording
    holds none, so the replay pays this one."""
    funding_interval_hours: Annotated[int, Ge(1), Le(24)] = 8
    """A swap's funding times are every this many hours from 00:00 UTC (Binance, OKX and Bybit: 8)."""


def starting_balances(params: PaperParams, market: MarketParams, max_position: float) -> tuple[float, float]:
    """The paper venue's (base, quote) at start: spot, the base (``initial_base``, else
    ``max_position``, base units) and the quote; a swap, no position and its collateral in the
    settle currency (``initial_quote`` for a linear one, ``initial_base`` for an inverse one)."""
    contract = market.contract
    if not contract.margined:
        return (max_position if params.initial_base is None else params.initial_base), params.initial_quote
    if contract.inverse:
        if params.initial_base is None:
            raise ValueError(f"{market.symbol} is inverse: its collateral is paper.initial_base, base currency")
        return 0.0, params.initial_base
    return 0.0, params.initial_quote


@dataclass(slots=True)
class PaperOrder:
    client_id: str
    side: int
    price: float
    remaining: float
    level: int
    """Index of ``price`` in the book's grid, or -1 if the grid has no such price."""
    ahead: float
    """Displayed base quantity ahead of us at our price."""
    level_seen: float
    """Displayed quantity at our level when we last looked."""
    live_ns: int
    """When it began to rest at the exchange at this price (exchange time, ns, our clock)."""
    traded: list[tuple[int, float]] = field(default_factory=list)
    """(exchange time ns, base) of each trade at our price the book has not shown yet."""
    filled: float = 0.0
    """Base quantity filled so far (whole lots)."""
    carry: float = 0.0
    """Base the executions gave us short of a whole lot, kept for the next one."""
    crossed: float = 0.0
    """Base of the other side at or through our price already taken (0: not crossed)."""
    crossed_ns: int = -1
    """Exchange time of the last book update that filled us by crossing: a trade at or before
    it is part of that execution."""
    reduce_only: bool = False
    """It may only reduce the position: it fills no more than the position left to reduce,
    and is cancelled when none is left."""


@dataclass
class PaperStats:
    post_only_rejects: int = 0
    balance_rejects: int = 0
    reduce_only_rejects: int = 0
    """Reduce-only orders that arrived with nothing to reduce (the position had moved)."""
    late_cancels: int = 0
    book_fills: int = 0
    """Fills from the other side resting at or through an order's price (no trade print)."""


@dataclass
class PaperVenue:
    """Implements :class:`ccxt_mm.execution.venue.OrderFlow` over a :class:`GridBook` (a live run
    reaches it through :class:`ccxt_mm.exchange.paper.LivePaperVenue`)."""

    params: PaperParams
    book: GridBook
    base: float
    quote: float
    lot_size: float
    """Quantity increment, the market's amount unit: every fill and every remainder is a whole
    number of them (the live paper venue sets it when it has read the market)."""
    contract: Contract = field(default_factory=Contract)
    """What one unit of amount is worth; a margined one makes :attr:`base` the position
    (contracts, either sign) and :attr:`quote` the collateral (settle currency)."""
    leverage: float = 1.0
    """A margined market's: orders and the position take notional / leverage of the equity."""
    supports_amend: bool = field(init=False)
    """``params.amend_supported``."""
    orders: dict[str, PaperOrder] = field(default_factory=dict)
    stats: PaperStats = field(default_factory=PaperStats)
    _pending: list[tuple[int, int, Action]] = field(default_factory=list)
    _seq: int = 0
    events: list[VenueEvent] = field(default_factory=list)
    """Events not drained yet, oldest first."""
    _base_noise: float = 0.0
    """Base units: the sum, over every fill, of :attr:`base` before it, the base it moved and,
    for a sell, what the order had left after it. :attr:`base` and the base the sells lock are
    within ``_ROUNDING`` × (this + their own magnitudes) of their exact decimal values."""
    _quote_noise: float = 0.0
    """The same for :attr:`quote` (the quote a fill moved: its value and fee) and the quote the
    buys lock, quote currency."""
    funding_due_ns: int = -1
    """The next funding time (ns, exchange clock; -1: not margined, or no book yet)."""
    funding_paid: float = 0.0
    """Funding received so far (paid: negative), settle currency."""
    funding_rate: float = 0.0
    """The rate the next funding time pays (positive: longs pay shorts): ``params.funding_rate``
    until the owner sets the exchange's (paper on live books reads it as it goes)."""

    def __post_init__(self) -> None:
        self.supports_amend = self.params.amend_supported
        self.funding_rate = self.params.funding_rate

    def submit(self, action: Action, now_ns: int) -> None:
        latency_ms = self.params.cancel_latency_ms if isinstance(action, CancelOrder) else self.params.entry_latency_ms
        self._seq += 1
        heapq.heappush(self._pending, (now_ns + int(latency_ms * 1e6), self._seq, action))

    def drain_events(self) -> list[VenueEvent]:
        events, self.events = self.events, []
        return events

    @property
    def next_due_ns(self) -> int | None:
        return self._pending[0][0] if self._pending else None

    def advance(self, now_ns: int) -> None:
        """Deliver every action due at or before ``now_ns`` against the current book."""
        while self._pending and self._pending[0][0] <= now_ns:
            due, _, action = heapq.heappop(self._pending)
            if isinstance(action, PlaceOrder):
                self._arrive_place(action, due)
            elif isinstance(action, CancelOrder):
                self._arrive_cancel(action, due)
            elif isinstance(action, AmendOrder):
                self._arrive_amend(action, due)
            elif isinstance(action, TakeOrder):
                self._arrive_take(action, due)

    # --- balances ---------------------------------------------------------------------
    def locked(self, side: int, exclude: str = "") -> float:
        """What the resting orders of ``side`` other than ``exclude`` lock: quote (price × size)
        for buys, base (size) for sells."""
        total = 0.0
        for k, o in self.orders.items():
            if k != exclude and o.side == side:
                total += o.remaining * o.price if side == BUY else o.remaining
        return total

    def _affordable(self, side: int, price: float, qty: float, exclude: str = "") -> bool:
        """True if the free balance of ``side``'s currency (all but what the resting orders
        other than ``exclude`` lock) covers ``qty`` base at ``price`` quote, as an exchange's
        exact decimal balance would: the float error of the balance, of the locked sum and of
        the cost is forgiven (it is relative to every amount the balance went through, not to
        the balance now: fills can cancel it down to a few lots and leave their error)."""
        if self.contract.margined:
            return self._margin_covers(side, price, qty, exclude)
        locked = self.locked(side, exclude)
        if side == BUY:
            balance, need, noise = self.quote, price * qty, self._quote_noise
        else:
            balance, need, noise = self.base, qty, self._base_noise
        # the locked sum rounds at most twice per order added (product, sum), each within the sum
        error = (noise + abs(balance) + (len(self.orders) + 1) * locked + need) * _ROUNDING
        return balance - locked + error >= need

    def _margin_covers(self, side: int, price: float, qty: float, exclude: str) -> bool:
        """A margined market: the equity (collateral + the position valued at the mid) covers
        the margin, notional / leverage, of the larger of the long and the short the position
        would reach if the resting orders other than ``exclude`` and this one filled; an order
        that does not enlarge that worst case is always accepted (it reduces)."""
        bids = asks = 0.0
        for k, o in self.orders.items():
            if k != exclude:
                if o.side == BUY:
                    bids += o.remaining
                else:
                    asks += o.remaining
        pos = self.base
        before = max(abs(pos + bids), abs(pos - asks))
        after = max(abs(pos + bids + (qty if side == BUY else 0.0)), abs(pos - asks - (qty if side != BUY else 0.0)))
        if after <= before:
            return True
        mark = self._mid(price)
        equity = self.quote + self.contract.position_value(pos, mark)
        return self.contract.notional(after, mark) / self.leverage <= equity * (1.0 + _MARGIN_SLACK)

    def _mid(self, fallback: float) -> float:
        """The book's mid (quote), else ``fallback``."""
        book = self.book
        if book.best_bid >= 0 and book.best_ask < book.prices.size:
            return (book.price(book.best_bid) + book.price(book.best_ask)) / 2.0
        return fallback

    def _pay_funding(self, ts: int) -> None:
        """Settle every funding time up to ``ts`` (exchange clock, ns) on the position valued
        at the mid, at :attr:`funding_rate`."""
        interval = self.params.funding_interval_hours * _HOUR_NS
        while self.funding_due_ns <= ts:
            mark, rate = self._mid(0.0), self.funding_rate
            amount = self.contract.funding(self.base, rate, mark) if mark > 0.0 else 0.0
            self.quote += amount
            self.funding_paid += amount
            self.events.append(FundingPaid(self.funding_due_ns, rate, mark, amount))
            self.funding_due_ns += interval

    # --- arrivals ---------------------------------------------------------------------
    def _crosses(self, side: int, price: float) -> bool:
        book = self.book
        if side == BUY:
            return book.best_ask < book.prices.size and price >= book.price(book.best_ask)
        return book.best_bid >= 0 and price <= book.price(book.best_bid)

    def _queue_entry(self, side: int, price: float) -> tuple[int, float]:
        prices = self.book.prices
        i = int(np.searchsorted(prices, price))
        if i < prices.size and prices[i] == price:
            qty = float((self.book.bid_qty if side == BUY else self.book.ask_qty)[i])
            return i, qty
        return -1, 0.0

    def _arrive_place(self, a: PlaceOrder, ts: int) -> None:
        if self._crosses(a.side, a.price):
            self.stats.post_only_rejects += 1
            self.events.append(OrderRejected(a.client_id, ts, "post-only order would take liquidity", post_only=True))
            return
        if a.reduce_only and self.base * a.side >= 0.0:
            self.stats.reduce_only_rejects += 1
            self.events.append(OrderRejected(a.client_id, ts, "reduce-only order would not reduce the position"))
            return
        if not self._affordable(a.side, a.price, a.qty):
            self.stats.balance_rejects += 1
            self.events.append(OrderRejected(a.client_id, ts, "insufficient balance"))
            return
        level, displayed = self._queue_entry(a.side, a.price)
        order = PaperOrder(a.client_id, a.side, a.price, a.qty, level, displayed, displayed, ts)
        order.reduce_only = a.reduce_only
        self.orders[a.client_id] = order
        self.events.append(OrderAccepted(a.client_id, ts))

    def _arrive_cancel(self, a: CancelOrder, ts: int) -> None:
        if self.orders.pop(a.client_id, None) is None:
            self.stats.late_cancels += 1
            self.events.append(CancelRejected(a.client_id, ts, "order not found (filled or never accepted)"))
        else:
            self.events.append(OrderCancelled(a.client_id, ts))

    def _arrive_amend(self, a: AmendOrder, ts: int) -> None:
        order = self.orders.get(a.client_id)
        if order is None:
            self.events.append(OrderRejected(a.client_id, ts, "amend of an order that is no longer open"))
            return
        if self._crosses(order.side, a.price):
            self.stats.post_only_rejects += 1
            self.events.append(OrderRejected(a.client_id, ts, "post-only amend would take liquidity", post_only=True))
            return
        remaining = round((a.qty - order.filled) / self.lot_size) * self.lot_size
        if remaining <= 0.0:
            self.events.append(OrderRejected(a.client_id, ts, f"amend to {a.qty} is not above the filled {order.filled}"))
            return
        if not self._affordable(order.side, a.price, remaining, exclude=a.client_id):
            self.stats.balance_rejects += 1
            self.events.append(OrderRejected(a.client_id, ts, "insufficient balance for amend"))
            return
        level, displayed = self._queue_entry(order.side, a.price)
        if a.price != order.price:
            order.carry = 0.0  # a fraction of a lot given at the old price is not the new one's
        order.price, order.remaining, order.level = a.price, remaining, level
        order.ahead = order.level_seen = displayed
        order.live_ns, order.crossed, order.crossed_ns = ts, 0.0, -1
        order.traded.clear()
        self.events.append(AmendAccepted(a.client_id, ts, a.price, remaining))

    def _arrive_take(self, a: TakeOrder, ts: int) -> None:
        book = self.book
        if a.side == BUY:
            prices, qtys = book.top_asks(64)
        else:
            prices, qtys = book.top_bids(64)
        left = a.qty
        if a.reduce_only:
            left = min(left, max(0.0, -self.base if a.side == BUY else self.base))
            if left <= 0.0:
                self.stats.reduce_only_rejects += 1
                self.events.append(OrderRejected(a.client_id, ts, "reduce-only order would not reduce the position"))
                return
        for i in range(len(prices)):
            price, avail = prices[i], qtys[i]
            take = min(left, avail)
            if a.side != BUY and not self._affordable(a.side, price, take):
                break
            self._fill(a.client_id, a.side, price, take, ts, taker=True, remaining=0.0)
            left -= take
            if left <= 0.0:
                break

    # --- market data ------------------------------------------------------------------
    def rebind(self, book: GridBook) -> None:
        """Follow a book rebuilt on a new price grid (live feeds): re-locate every order's
        level; the quantity ahead is kept, capped by what the new level displays."""
        self.book = book
        for o in self.orders.values():
            o.level, displayed = self._queue_entry(o.side, o.price)
            o.ahead = min(o.ahead, displayed)
            o.level_seen = displayed
            o.traded.clear()

    def on_book_update(self, ts: int) -> None:
        """Call after each book change, ``ts`` the exchange time of the update (ns, on our
        clock): moves queue positions for cancellations, then fills the orders the other side
        now trades through."""
        if self.funding_due_ns <= ts and self.contract.margined:
            if self.funding_due_ns < 0:
                interval = self.params.funding_interval_hours * _HOUR_NS
                self.funding_due_ns = (ts // interval + 1) * interval
            else:
                self._pay_funding(ts)
        model = self.params.queue_model
        taken_bid = taken_ask = 0.0
        for o in sorted(self.orders.values(), key=_best_first):
            if o.level >= 0:
                self._requeue(o, ts, model)
            if o.side == BUY:
                taken_bid = self._cross(o, ts, taken_bid)
            else:
                taken_ask = self._cross(o, ts, taken_ask)

    def _requeue(self, o: PaperOrder, ts: int, model: QueueModel) -> None:
        """Move ``o`` up its queue by the share ``model`` gives it of the quantity its level
        lost beyond the trades at its price up to ``ts``."""
        now = float((self.book.bid_qty if o.side == BUY else self.book.ask_qty)[o.level])
        traded = 0.0
        while o.traded and o.traded[0][0] <= ts:
            traded += o.traded.pop(0)[1]
        cancelled = o.level_seen - now - traded
        if cancelled > 0.0 and o.level_seen > 0.0:
            o.ahead -= cancelled * _cancelled_ahead(model, o.ahead, o.level_seen)
        o.ahead = max(0.0, min(o.ahead, now))
        o.level_seen = now

    def _cross(self, o: PaperOrder, ts: int, taken: float) -> float:
        """Fill ``o`` at its price from the other side's quantity at or through its price that
        this update brought (at the exchange it would have traded with us), less ``taken``: what
        our better-priced orders of the side took of it (base). Each quantity fills once, and
        one order only. Returns ``taken`` with what ``o`` took."""
        if not self._crosses(o.side, o.price):
            o.crossed = 0.0
            return taken
        qty = self.book.qty_through(-o.side, o.price)
        share = qty - min(o.crossed, qty) - taken
        o.crossed = qty
        o.ahead = 0.0
        if share <= 0.0:
            return taken
        o.crossed_ns = ts
        share = min(share, o.remaining - o.carry)
        if self._credit(o, share, ts):
            self.stats.book_fills += 1
        return taken + share

    def on_trade(self, ts: int, aggressor: int, price: float, qty: float) -> None:
        """A trade of ``qty`` at ``price`` at exchange time ``ts`` (ns, on our clock);
        ``aggressor`` +1 buy / -1 sell. Only orders resting before ``ts`` take part, and not
        one the book already showed this execution filling (a depth update at or after ``ts``)."""
        side = -aggressor
        hit = [
            o
            for o in self.orders.values()
            if o.side == side and o.live_ns < ts and o.crossed_ns < ts and (price <= o.price if side == BUY else price >= o.price)
        ]
        if not hit:
            return
        hit.sort(key=_best_first)
        left = qty
        for o in hit:
            if o.price == price:
                o.traded.append((ts, qty))
                used = min(o.ahead, left)
                o.ahead -= used
                left -= used
            take = min(o.remaining - o.carry, left)
            if take <= 0.0:
                continue
            left -= take
            self._credit(o, take, ts)

    def _credit(self, o: PaperOrder, qty: float, ts: int) -> bool:
        """Give ``o`` ``qty`` base of an execution: it fills in whole lots, the rest is carried
        to its next execution (never rounded away). True if it filled. A reduce-only order
        takes no more than the position left to reduce, and is cancelled when none is left."""
        lot = self.lot_size
        if o.reduce_only:
            left = -self.base if o.side == BUY else self.base
            if left < lot * (1.0 - _LOT_SLACK):
                del self.orders[o.client_id]
                self.events.append(OrderCancelled(o.client_id, ts))
                return False
            qty = min(qty, left - o.carry)
        total = o.carry + min(qty, o.remaining - o.carry)
        lots = math.floor(total / lot + _LOT_SLACK)
        o.carry = max(0.0, total - lots * lot)
        if lots <= 0:
            return False
        fill = lots * lot
        o.remaining = round(o.remaining / lot - lots) * lot
        o.filled += fill
        if o.remaining <= 0.0:
            o.remaining = 0.0
            del self.orders[o.client_id]
        self._fill(o.client_id, o.side, o.price, fill, ts, taker=False, remaining=o.remaining)
        return True

    def _fill(self, client_id: str, side: int, price: float, qty: float, ts: int, taker: bool, remaining: float) -> None:
        fee_bps = self.params.taker_fee_bps if taker else self.params.maker_fee_bps
        fee = self.contract.notional(qty, price) * fee_bps * 1e-4
        self._base_noise += abs(self.base) + qty + (0.0 if side == BUY else remaining)
        self._quote_noise += abs(self.quote) + price * qty + abs(fee) + (remaining * price if side == BUY else 0.0)
        self.base += side * qty
        self.quote -= self.contract.cost(side, qty, price) + fee
        self.events.append(Fill(client_id, ts, side, price, qty, fee, taker, remaining))
