"""Order actions sent to a venue and the events a venue sends back.

Prices are quote currency, quantities base units, fees quote currency, times ns. Dataclasses
with their own ``__init__`` so the compiled build makes them natively (see :mod:`ccxt_mm.compiled`);
nothing changes an action or an event once made. Every action says why it is sent (its
``reason``: one of the constants below, or the cause of a pull: a risk stop, a broken book,
shutdown), and the order log keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias


@dataclass(init=False, slots=True)
class PlaceOrder:
    """A post-only limit order."""

    client_id: str
    side: int
    price: float
    qty: float
    reason: str
    """Why it is sent, for the order log (each action's the same)."""
    reduce_only: bool
    """A swap's order that may only reduce the position (the exchange's ``reduceOnly``)."""

    def __init__(self, client_id: str, side: int, price: float, qty: float, reason: str, reduce_only: bool = False) -> None:
        self.client_id = client_id
        self.side = side
        self.price = price
        self.qty = qty
        self.reason = reason
        self.reduce_only = reduce_only


@dataclass(init=False, slots=True)
class AmendOrder:
    """Change a resting order's price and quantity (loses queue priority)."""

    client_id: str
    price: float
    qty: float
    reason: str

    def __init__(self, client_id: str, price: float, qty: float, reason: str) -> None:
        self.client_id = client_id
        self.price = price
        self.qty = qty
        self.reason = reason


@dataclass(init=False, slots=True)
class CancelOrder:
    client_id: str
    reason: str

    def __init__(self, client_id: str, reason: str) -> None:
        self.client_id = client_id
        self.reason = reason


@dataclass(init=False, slots=True)
class TakeOrder:
    """A taker (market) order, used only to reduce inventory."""

    client_id: str
    side: int
    qty: float
    reason: str
    reduce_only: bool
    """A swap's order that may only reduce the position (the exchange's ``reduceOnly``)."""

    def __init__(self, client_id: str, side: int, qty: float, reason: str, reduce_only: bool = False) -> None:
        self.client_id = client_id
        self.side = side
        self.qty = qty
        self.reason = reason
        self.reduce_only = reduce_only


Action: TypeAlias = PlaceOrder | AmendOrder | CancelOrder | TakeOrder

QUOTE: Final = "quote"
"""A slot the strategy quotes has no order: a new one."""
UNQUOTED: Final = "unquoted"
"""The strategy (or the envelope) no longer quotes the slot."""
REQUOTE_PRICE: Final = "requote: price moved"
REQUOTE_SIZE: Final = "requote: size changed"
REQUOTE_AGE: Final = "requote: order aged"
"""An order amended, or cancelled to be replaced: its quote moved beyond the tolerance, or it
reached ``orders.max_age_secs``."""
REDUCE_SLICE: Final = "reduce-only slice"
"""A taker slice of active reduce-only."""


@dataclass(init=False, slots=True)
class OrderAccepted:
    client_id: str
    ts_ns: int

    def __init__(self, client_id: str, ts_ns: int) -> None:
        self.client_id = client_id
        self.ts_ns = ts_ns


@dataclass(init=False, slots=True)
class OrderRejected:
    """A place or amend refused by the venue; ``post_only`` when it would have taken."""

    client_id: str
    ts_ns: int
    reason: str
    post_only: bool = False

    def __init__(self, client_id: str, ts_ns: int, reason: str, post_only: bool = False) -> None:
        self.client_id = client_id
        self.ts_ns = ts_ns
        self.reason = reason
        self.post_only = post_only


@dataclass(init=False, slots=True)
class OrderCancelled:
    client_id: str
    ts_ns: int

    def __init__(self, client_id: str, ts_ns: int) -> None:
        self.client_id = client_id
        self.ts_ns = ts_ns


@dataclass(init=False, slots=True)
class CancelRejected:
    """The order was no longer live when the cancel arrived (filled or unknown)."""

    client_id: str
    ts_ns: int
    reason: str

    def __init__(self, client_id: str, ts_ns: int, reason: str) -> None:
        self.client_id = client_id
        self.ts_ns = ts_ns
        self.reason = reason


@dataclass(init=False, slots=True)
class AmendAccepted:
    client_id: str
    ts_ns: int
    price: float
    qty: float

    def __init__(self, client_id: str, ts_ns: int, price: float, qty: float) -> None:
        self.client_id = client_id
        self.ts_ns = ts_ns
        self.price = price
        self.qty = qty


@dataclass(init=False, slots=True)
class Fill:
    client_id: str
    ts_ns: int
    side: int
    price: float
    qty: float
    fee: float
    taker: bool
    remaining: float
    """Base quantity still resting after this fill (0 for taker orders)."""
    fee_base: float = 0.0
    """The part of the fee charged in the base asset (base units; ``fee`` is its quote value
    plus any quote-charged fee), so balances can be kept per asset."""

    def __init__(
        self,
        client_id: str,
        ts_ns: int,
        side: int,
        price: float,
        qty: float,
        fee: float,
        taker: bool,
        remaining: float,
        fee_base: float = 0.0,
    ) -> None:
        self.client_id = client_id
        self.ts_ns = ts_ns
        self.side = side
        self.price = price
        self.qty = qty
        self.fee = fee
        self.taker = taker
        self.remaining = remaining
        self.fee_base = fee_base


@dataclass(init=False, slots=True)
class FundingPaid:
    """A funding payment on the position of a margined market, at a funding time."""

    ts_ns: int
    """The funding time (ns, our clock)."""
    rate: float
    """Funding rate of the interval (positive: longs pay shorts)."""
    mark: float
    """Mark price the position was valued at, quote currency."""
    amount: float
    """Received, settle currency (negative: paid)."""

    def __init__(self, ts_ns: int, rate: float, mark: float, amount: float) -> None:
        self.ts_ns = ts_ns
        self.rate = rate
        self.mark = mark
        self.amount = amount


OrderEvent: TypeAlias = OrderAccepted | OrderRejected | OrderCancelled | CancelRejected | AmendAccepted | Fill
"""An event of one of our orders (its ``client_id``)."""
VenueEvent: TypeAlias = OrderEvent | FundingPaid
