"""The safety envelope: what any strategy asks for → the quotes the core lets the order
manager act on (pure, synchronous, on every book update).

Every strategy, the built-in one included, only *asks*; :meth:`Envelope.admit` decides, in
this order, per quote:

1. **sanity**: a :class:`Quote` with side ``BUY``/``SELL``, level in ``[0, max_levels)``, a
   positive price and size under 2**53 ticks (lots), one quote per (side, level) slot; else
   dropped;
2. **risk mode**: nothing while paused or stopped; in reduce-only only the side that reduces
   (:attr:`RiskState.reduce_side`: against the position at a position limit, against the
   holdings at the exposure limit), and never past zero position at a position limit;
3. **price**: farther than ``max_distance_bps`` from mid → dropped (a fat finger); bids
   rounded down to the tick grid, asks up (away from the touch); a post-only price at or
   through the opposite best is moved one tick behind it (``passive``) or dropped (``drop``);
4. **lot grid and room**: sizes rounded down to the lot, then clipped, level 0 first, to the
   side's room: position limit, exposure and balances with every resting and in-flight order
   counted as filled (cancels are asynchronous). A quote the order manager would leave alone
   (its slot's order is kept, busy, or being replaced) uses no room; a new order and an amend
   use their size (while an amend is in flight the old and the new size both count: binance's
   is a cancel-replace). Under the exchange's minimum size or notional → dropped (a swap's
   reduce-only quote: under the minimum size only).

Each clip and drop is counted by reason in :attr:`Envelope.clipped` / :attr:`Envelope.dropped`.
Units: prices quote currency, sizes base units, distances bps of mid, times ns.
"""

from __future__ import annotations

from typing import Final

from ccxt_mm.book.steps import ceil_to, floor_to
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.orders import OrderManager, OrdersParams
from ccxt_mm.quoting.risk import RiskMode, RiskState
from ccxt_mm.quoting.types import BUY, SELL, Quote

# drop reasons
NOT_A_QUOTE: Final = "not_a_quote"
BAD_SIDE: Final = "bad_side"
BAD_LEVEL: Final = "bad_level"
BAD_PRICE: Final = "bad_price"
BAD_SIZE: Final = "bad_size"
DUPLICATE: Final = "duplicate_slot"
RISK_MODE: Final = "risk_mode"
REDUCE_ONLY: Final = "reduce_only"
CROSSING: Final = "crossing"
FAR_FROM_MID: Final = "far_from_mid"
NO_ROOM: Final = "no_room"
BELOW_MINIMUM: Final = "below_minimum"
# clip reasons (CROSSING too, when moved to the passive side)
TICK: Final = "tick"
LOT: Final = "lot"
ROOM: Final = "room"

_MAX_STEPS: Final = float(2**53)
"""Ticks (lots) past which a price (size) is not a number of steps a float holds exactly."""
_ROOM_SLACK: Final = 1e-9
"""Fraction of a lot by which a size may exceed the room (float noise of sums of lots)."""


def _slot_key(q: Quote) -> int:
    """Bids before asks, each side by level (levels are under 100: see the config)."""
    return q.level if q.side == BUY else 100 + q.level


class Envelope:
    """Turns desired quotes into allowed ones for one market and counts what it changed."""

    def __init__(self, market: MarketParams, orders: OrdersParams) -> None:
        """``market``: the grids and the exchange's minimums; ``orders``: the levels allowed, the
        crossing rule and the fat-finger band."""
        self.market, self.orders = market, orders
        self.tick, self.lot, self.max_levels = market.tick_size, market.lot_size, orders.max_levels
        self.max_price, self.max_qty = market.tick_size * _MAX_STEPS, market.lot_size * _MAX_STEPS
        self.contract = market.contract
        """What one unit of amount is worth (the minimum notional is the quote value)."""
        self.cross_passive = orders.post_only_cross == "passive"
        """Derived: a crossing post-only price is moved one tick behind the opposite best (else dropped)."""
        self.clipped: dict[str, int] = {}
        """Reason → quotes changed (price moved or size cut) and let through."""
        self.dropped: dict[str, int] = {}
        """Reason → quotes refused."""

    def admit(
        self,
        desired: list,
        risk: RiskState,
        best_bid: float,
        best_ask: float,
        room_buy: float,
        room_sell: float,
        orders: OrderManager,
        now_ns: int,
    ) -> list[Quote]:
        """The quotes of ``desired`` (whatever a strategy returned in a list) that may be acted
        on, level 0 of each side first. ``room_buy`` / ``room_sell``: base quantity each side
        may still add with every resting order counted as filled."""
        mode = risk.mode
        quoting = mode is RiskMode.QUOTING or mode is RiskMode.REDUCE_ONLY
        valid: list[Quote] = []  # bids then asks, each by level: a few quotes, kept in order by insertion
        for item in desired:
            if not isinstance(item, Quote):
                self._drop(NOT_A_QUOTE)
                continue
            reason = self._malformed(item)
            if reason:
                self._drop(reason)
            elif not quoting:
                self._drop(RISK_MODE)
            elif mode is RiskMode.REDUCE_ONLY and item.side != risk.reduce_side:
                self._drop(REDUCE_ONLY)
            else:
                key = _slot_key(item)
                i = len(valid)
                while i > 0 and _slot_key(valid[i - 1]) > key:
                    i -= 1
                if i > 0 and _slot_key(valid[i - 1]) == key:
                    self._drop(DUPLICATE)
                else:
                    valid.insert(i, item)
        if mode is RiskMode.REDUCE_ONLY:  # never past what the limit allows to reduce
            resting_buy, resting_sell = orders.resting()
            room_buy = min(room_buy, max(0.0, risk.reduce_max_base - resting_buy))
            room_sell = min(room_sell, max(0.0, risk.reduce_max_base - resting_sell))
        out: list[Quote] = []
        mid = 0.5 * (best_bid + best_ask)
        reducing = mode is RiskMode.REDUCE_ONLY
        for q in valid:
            if q.side == BUY:
                room_buy -= self._admit_one(q, room_buy, best_bid, best_ask, mid, orders, now_ns, out, reducing)
            else:
                room_sell -= self._admit_one(q, room_sell, best_bid, best_ask, mid, orders, now_ns, out, reducing)
        return out

    def taker_qty(self, qty: float, room: float, price: float, reduce_only: bool = True) -> float:
        """Size of a taker order the core itself wants (active reduce-only, a portfolio hedge:
        not ``reduce_only``) within ``room``, rounded down to the lot; 0 when it falls under
        the exchange's minimums (counted)."""
        allowed = floor_to(min(qty, room), self.lot)
        if allowed < floor_to(qty, self.lot):
            self._clip(ROOM)
        if self._below_minimum(allowed, price, reduce_only):
            self._drop(BELOW_MINIMUM)
            return 0.0
        return allowed

    def _below_minimum(self, qty: float, price: float, reduce_only: bool) -> bool:
        """``qty`` at ``price`` is under the exchange's lot, minimum size or minimum notional;
        a swap's reduce-only order is held to no minimum notional (Binance USDⓈ-M exempts it,
        OKX has none, and the venue sends it so), else a position under it could not be closed."""
        m = self.market
        if qty < self.lot or qty < m.min_order_base:
            return True
        return not (reduce_only and self.contract.margined) and self.contract.quote_notional(qty, price) < m.min_notional_quote

    def _malformed(self, q: Quote) -> str:
        """Why ``q`` cannot be a quote at all ("" if it can). A plugin's Quote may hold values
        of any type where the package runs as pure Python: those are refused here too."""
        try:
            if type(q.side) is not int or (q.side != BUY and q.side != SELL):
                return BAD_SIDE
            if type(q.level) is not int or not 0 <= q.level < self.max_levels:
                return BAD_LEVEL
            if not 0.0 < q.price < self.max_price:  # NaN compares false
                return BAD_PRICE
            if not 0.0 < q.qty < self.max_qty:
                return BAD_SIZE
        except TypeError:  # a price or size that is not a number
            return NOT_A_QUOTE
        return ""

    def _admit_one(
        self,
        q: Quote,
        room: float,
        best_bid: float,
        best_ask: float,
        mid: float,
        orders: OrderManager,
        now_ns: int,
        out: list[Quote],
        reduce_only: bool,
    ) -> float:
        """Put ``q`` (well-formed, of an allowed side) on the grid and within ``room``, and
        append it to ``out`` unless it is dropped; returns the room it uses (base units).
        ``reduce_only``: the risk layer's mode (the order goes out reduce-only)."""
        lot = self.lot
        if abs(q.price - mid) > mid * self.orders.max_distance_bps * 1e-4:  # what was asked: a fat finger
            self._drop(FAR_FROM_MID)
            return 0.0
        price = self._on_grid(q.price, q.side, best_bid, best_ask)
        if price <= 0.0:
            return 0.0
        qty = floor_to(q.qty, lot)
        if qty != q.qty:
            self._clip(LOT)
        extra = orders.added_exposure(q.side, q.level, price, qty, now_ns)
        if extra > room + lot * _ROOM_SLACK:
            qty = floor_to(qty - (extra - room), lot)
            extra = orders.added_exposure(q.side, q.level, price, qty, now_ns) if qty > 0.0 else 0.0
            if qty <= 0.0 or extra > room + lot * _ROOM_SLACK:
                self._drop(NO_ROOM)
                return 0.0
            self._clip(ROOM)
        if self._below_minimum(qty, price, reduce_only):
            self._drop(BELOW_MINIMUM)
            return 0.0
        out.append(q if price == q.price and qty == q.qty else Quote(q.side, q.level, price, qty))
        return extra

    def _on_grid(self, price: float, side: int, best_bid: float, best_ask: float) -> float:
        """``price`` on the tick grid away from the touch and behind the opposite best
        (post-only); 0 when the quote is dropped (counted)."""
        tick = self.tick
        on_grid = floor_to(price, tick) if side == BUY else ceil_to(price, tick)
        if on_grid != price:
            self._clip(TICK)
        crossing = on_grid >= best_ask if side == BUY else on_grid <= best_bid
        if crossing:
            if not self.cross_passive:
                self._drop(CROSSING)
                return 0.0
            on_grid = floor_to(best_ask - tick, tick) if side == BUY else ceil_to(best_bid + tick, tick)
            self._clip(CROSSING)
        if on_grid <= 0.0:
            self._drop(BAD_PRICE)
            return 0.0
        return on_grid

    def _clip(self, reason: str) -> None:
        self.clipped[reason] = self.clipped.get(reason, 0) + 1

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
