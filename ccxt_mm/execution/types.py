"""Order actions sent to a venue and the events a venue sends back.

Prices are quote currency, quantities base units, fees quote currency, times ns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A post-only limit order."""

    client_id: str
    side: int
    price: float
    qty: float


@dataclass(frozen=True, slots=True)
class AmendOrder:
    """Change a resting order's price and quantity (loses queue priority)."""

    client_id: str
    price: float
    qty: float


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_id: str


@dataclass(frozen=True, slots=True)
class TakeOrder:
    """A taker (market) order, used only to reduce inventory."""

    client_id: str
    side: int
    qty: float


Action = PlaceOrder | AmendOrder | CancelOrder | TakeOrder


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    client_id: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """A place or amend refused by the venue; ``post_only`` when it would have taken."""

    client_id: str
    ts_ns: int
    reason: str
    post_only: bool = False


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    client_id: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class CancelRejected:
    """The order was no longer live when the cancel arrived (filled or unknown)."""

    client_id: str
    ts_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class AmendAccepted:
    client_id: str
    ts_ns: int
    price: float
    qty: float


@dataclass(frozen=True, slots=True)
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


VenueEvent = OrderAccepted | OrderRejected | OrderCancelled | CancelRejected | AmendAccepted | Fill
