"""Order manager: desired quotes vs resting orders → place / amend / cancel actions.

One *slot* per (side, level). A slot holds at most one order at any time, including
orders in flight: while a place, amend or cancel is unanswered the slot is left alone, so
two orders can never race for one slot. Orders are refreshed only when their price is more
than ``tolerance_bps`` off the desired price, their size is off by more than
``size_tolerance``, or they are older than ``max_age_secs``: no churn on every tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final, Literal

from annotated_types import Ge, Le

from ccxt_mm.execution.types import (
    QUOTE,
    REQUOTE_AGE,
    REQUOTE_PRICE,
    REQUOTE_SIZE,
    UNQUOTED,
    Action,
    AmendAccepted,
    AmendOrder,
    CancelOrder,
    CancelRejected,
    Fill,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderRejected,
    PlaceOrder,
)
from ccxt_mm.quoting.constraints import Fraction, NonNegative, Off, Pattern, Positive
from ccxt_mm.quoting.risk import limit_or_inf
from ccxt_mm.quoting.types import BUY, Quote


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    OPEN = "open"
    PENDING_AMEND = "pending_amend"
    PENDING_CANCEL = "pending_cancel"


TAKE_SETTLE_NS: Final = 5_000_000_000
"""A taker order unheard of this long after it was sent has settled (ns): its fills came, or
what it did not fill expired."""


@dataclass(init=False, slots=True)
class ManagedOrder:
    client_id: str
    side: int
    level: int
    price: float
    qty: float
    """Remaining base quantity."""
    created_ns: int
    status: OrderStatus
    amend_qty: float = 0.0
    """While an amend is in flight, the quantity it asks for (the worst case counts both)."""

    def __init__(
        self, client_id: str, side: int, level: int, price: float, qty: float, created_ns: int, status: OrderStatus, amend_qty: float = 0.0
    ) -> None:
        self.client_id = client_id
        self.side = side
        self.level = level
        self.price = price
        self.qty = qty
        self.created_ns = created_ns
        self.status = status
        self.amend_qty = amend_qty


@dataclass(frozen=True, slots=True, kw_only=True)
class OrdersParams:
    """The ``orders`` section of the config: when :class:`OrderManager` refreshes an order, and
    the envelope's limits on the quotes (:mod:`ccxt_mm.engine.envelope`)."""

    tolerance_bps: NonNegative = 2.0
    """Keep a resting order while its price is within this of the desired price ..."""
    size_tolerance: Fraction = 0.5
    """... and |remaining − desired| within this fraction of the desired size ..."""
    max_age_secs: Annotated[Positive | None, Off("resting orders are never replaced for their age")] = 60.0
    """... and it is younger than this (null or off: any age)."""
    client_id_prefix: Annotated[str, Pattern(r"^[A-Za-z0-9]{1,8}$")] = "mm"
    """Start of every client order id, before the run id and the symbol's letters (OKX allows
    nothing but letters and digits)."""
    max_levels: Annotated[int, Ge(1), Le(50)] = 10
    """Quote levels a strategy may have on each side; quotes of deeper levels are dropped."""
    post_only_cross: Literal["passive", "drop"] = "passive"
    """A quote at or through the opposite best: moved one tick behind it, or dropped."""
    max_distance_bps: Positive = 1000.0
    """A quote farther than this from mid is dropped (fat-finger guard)."""


@dataclass
class OrderStats:
    placed: int = 0
    amended: int = 0
    cancelled: int = 0
    post_only_rejects: int = 0
    other_rejects: int = 0
    late_cancels: int = 0
    """Cancels that arrived after the order had filled."""


class OrderManager:
    def __init__(self, params: OrdersParams, supports_amend: bool, id_prefix: str) -> None:
        """``id_prefix``: what every client order id of this run and market starts with
        (alphanumeric; ``params.client_id_prefix`` and more, see ``engine.core.client_id_prefix``)."""
        self.p = params
        self.max_age_ns = limit_or_inf(params.max_age_secs) * 1e9
        """``max_age_secs`` in nanoseconds (inf: off)."""
        self.supports_amend = supports_amend
        self.id_prefix = id_prefix
        self.slots: dict[tuple[int, int], ManagedOrder] = {}
        self.by_id: dict[str, ManagedOrder] = {}
        self.takes: dict[str, ManagedOrder] = {}
        """Taker orders sent and not settled yet (level -1): what they may still fill counts in
        :meth:`resting` until they fill, are refused, or ``TAKE_SETTLE_SECS`` pass (a market
        order's unfilled rest expires at the exchange without a word)."""
        self.stats = OrderStats()
        self._seq = 0

    def next_client_id(self) -> str:
        self._seq += 1
        return f"{self.id_prefix}{self._seq:x}"

    def resting(self) -> tuple[float, float]:
        """Worst-case base quantity that may still fill, (bids, asks), in-flight included. An
        order being amended counts with both sizes: binance's amend is a cancel-replace, where
        the old order may fill up to its size before the new one rests with all of its own."""
        buy = sell = 0.0
        for o in self.by_id.values():
            if o.side == BUY:
                buy += o.qty + o.amend_qty
            else:
                sell += o.qty + o.amend_qty
        if self.takes:
            for o in self.takes.values():
                if o.side == BUY:
                    buy += o.qty
                else:
                    sell += o.qty
        return buy, sell

    def take_sent(self, client_id: str, side: int, qty: float, now_ns: int) -> None:
        """A taker order of ``qty`` base units sent: it counts as resting until it settles."""
        self.takes[client_id] = ManagedOrder(client_id, side, -1, 0.0, qty, now_ns, OrderStatus.PENDING_NEW)

    def _settle_takes(self, now_ns: int) -> None:
        """Forget the taker orders sent more than ``TAKE_SETTLE_SECS`` ago."""
        for cid in [cid for cid, o in self.takes.items() if now_ns - o.created_ns > TAKE_SETTLE_NS]:
            del self.takes[cid]

    def reconcile(self, desired: list[Quote], now_ns: int, reduce_only: bool = False) -> list[Action]:
        """Actions that move resting orders toward ``desired``; new orders flagged
        ``reduce_only`` (a swap in the risk layer's reduce-only mode)."""
        if self.takes:
            self._settle_takes(now_ns)
        want = {(q.side, q.level): q for q in desired}
        actions: list[Action] = []
        for slot in list(self.slots):
            order = self.slots[slot]
            if order.status is not OrderStatus.OPEN:
                continue
            quote = want.get(slot)
            if quote is None:
                actions.append(self._cancel(order, UNQUOTED))
                continue
            why = self._stale(order, quote.price, quote.qty, now_ns)
            if why:
                if self._amends(order, now_ns):
                    order.status, order.amend_qty = OrderStatus.PENDING_AMEND, quote.qty
                    self.stats.amended += 1
                    actions.append(AmendOrder(order.client_id, quote.price, quote.qty, why))
                else:
                    actions.append(self._cancel(order, why))
        for slot, quote in want.items():
            if slot not in self.slots and quote.qty > 0.0:
                order = ManagedOrder(
                    self.next_client_id(), quote.side, quote.level, quote.price, quote.qty, now_ns, OrderStatus.PENDING_NEW
                )
                self.slots[slot] = order
                self.by_id[order.client_id] = order
                self.stats.placed += 1
                actions.append(PlaceOrder(order.client_id, quote.side, quote.price, quote.qty, QUOTE, reduce_only))
        return actions

    def cancel_all(self, reason: str) -> list[Action]:
        """Cancel every open order for ``reason`` (in-flight ones are cancelled once they are
        answered)."""
        return [self._cancel(o, reason) for o in list(self.by_id.values()) if o.status is OrderStatus.OPEN]

    def _cancel(self, order: ManagedOrder, reason: str) -> CancelOrder:
        order.status = OrderStatus.PENDING_CANCEL
        self.stats.cancelled += 1
        return CancelOrder(order.client_id, reason)

    def added_exposure(self, side: int, level: int, price: float, qty: float, now_ns: int) -> float:
        """Base quantity :meth:`reconcile` would add to the worst case of ``side``
        (:meth:`resting`) if a quote of ``qty`` at ``price`` were desired in this slot: all of
        it in an empty slot or for an amend (see :meth:`resting`), nothing where the slot's
        order is kept or busy (in flight), or replaced (cancelled now, placed once the cancel
        is confirmed)."""
        order = self.slots.get((side, level))
        if order is None:
            return qty
        if order.status is not OrderStatus.OPEN or not self._stale(order, price, qty, now_ns):
            return 0.0
        return qty if self._amends(order, now_ns) else 0.0

    def _amends(self, order: ManagedOrder, now_ns: int) -> bool:
        """A stale order is amended in place (else cancelled, and replaced once gone)."""
        return self.supports_amend and now_ns - order.created_ns < self.max_age_ns

    def _stale(self, order: ManagedOrder, price: float, qty: float, now_ns: int) -> str:
        """Why ``order`` no longer stands for a quote of ``qty`` at ``price`` ("": it does)."""
        p = self.p
        if abs(order.price - price) > price * p.tolerance_bps * 1e-4:
            return REQUOTE_PRICE
        if abs(order.qty - qty) > qty * p.size_tolerance:
            return REQUOTE_SIZE
        return REQUOTE_AGE if now_ns - order.created_ns > self.max_age_ns else ""

    def on_event(self, event: OrderEvent) -> None:
        """Apply a venue event; events for orders no longer tracked are ignored."""
        order = self.by_id.get(event.client_id)
        if order is None:
            take = self.takes.get(event.client_id)
            if take is not None:
                self._on_take_event(take, event)
            return
        # isinstance, not match/case: see ccxt_mm.compiled
        if isinstance(event, OrderAccepted):
            if order.status is OrderStatus.PENDING_NEW:
                order.status = OrderStatus.OPEN
        elif isinstance(event, OrderRejected):
            if order.status is OrderStatus.PENDING_AMEND:
                order.status, order.amend_qty = OrderStatus.OPEN, 0.0
            else:
                self._forget(order)
            if event.post_only:
                self.stats.post_only_rejects += 1
            else:
                self.stats.other_rejects += 1
        elif isinstance(event, AmendAccepted):
            order.price, order.qty, order.amend_qty = event.price, event.qty, 0.0
            order.created_ns, order.status = event.ts_ns, OrderStatus.OPEN
        elif isinstance(event, (OrderCancelled, CancelRejected)):
            self._forget(order)
        elif isinstance(event, Fill):
            order.qty = event.remaining
            if event.remaining <= 0.0:
                if order.status is OrderStatus.PENDING_CANCEL:
                    self.stats.late_cancels += 1
                self._forget(order)

    def _on_take_event(self, take: ManagedOrder, event: OrderEvent) -> None:
        """A taker order's fill takes its size off what it may still fill; a refusal or a
        cancel settles it."""
        if isinstance(event, Fill):
            take.qty -= event.qty
            if take.qty <= 1e-12:
                del self.takes[take.client_id]
        elif isinstance(event, (OrderRejected, OrderCancelled)):
            del self.takes[take.client_id]

    def _forget(self, order: ManagedOrder) -> None:
        if order.client_id in self.by_id:
            del self.by_id[order.client_id]
        slot = (order.side, order.level)
        if self.slots.get(slot) is order:
            del self.slots[slot]
