"""Exchange scenarios recorded as cassettes (``ccxt-mm record``) and replayed in tests.

Each scenario drives :class:`CcxtVenue` through one thing a market maker does and returns
what it observed; prices come from the order book fetched inside the scenario, so a replay
sends exactly the recorded requests. Orders rest far from the touch and every scenario
cancels what it placed: recording against a sandbox leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ccxt_mm.exchange.venue import CcxtVenue
from ccxt_mm.execution.types import AmendOrder, CancelOrder, PlaceOrder, VenueEvent
from ccxt_mm.quoting.types import BUY

Scenario = Callable[[CcxtVenue, float], Awaitable[dict]]


async def _touch(venue: CcxtVenue) -> tuple[float, float]:
    book = await venue.exchange.fetch_order_book(venue.symbol, 5)
    return float(book["bids"][0][0]), float(book["asks"][0][0])


def _price(venue: CcxtVenue, price: float) -> float:
    return float(venue.exchange.price_to_precision(venue.symbol, price))


async def _send(venue: CcxtVenue, *actions) -> list[VenueEvent]:
    for a in actions:
        venue.submit(a, 0)
    await venue.flush()
    return venue.drain_events()


async def create_post_only(venue: CcxtVenue, qty: float) -> dict:
    bid, _ = await _touch(venue)
    placed = await _send(venue, PlaceOrder("mmrecx1", BUY, _price(venue, bid * 0.99), qty, "recorded scenario"))
    cancelled = await _send(venue, CancelOrder("mmrecx1", "recorded scenario"))
    return {"events": [type(e).__name__ for e in placed + cancelled]}


async def amend(venue: CcxtVenue, qty: float) -> dict:
    bid, _ = await _touch(venue)
    placed = await _send(venue, PlaceOrder("mmrecx4", BUY, _price(venue, bid * 0.99), qty, "recorded scenario"))
    amended = await _send(venue, AmendOrder("mmrecx4", _price(venue, bid * 0.985), qty, "recorded scenario"))
    cancelled = await _send(venue, CancelOrder("mmrecx4", "recorded scenario"))
    return {"events": [type(e).__name__ for e in placed + amended + cancelled]}


async def post_only_reject(venue: CcxtVenue, qty: float) -> dict:
    _, ask = await _touch(venue)
    events = await _send(venue, PlaceOrder("mmrecx2", BUY, ask, qty, "recorded scenario"))
    return {"events": [type(e).__name__ for e in events], "post_only": [getattr(e, "post_only", None) for e in events]}


async def open_orders_and_balance(venue: CcxtVenue, qty: float) -> dict:
    bid, _ = await _touch(venue)
    await _send(venue, PlaceOrder("mmrecx3", BUY, _price(venue, bid * 0.98), qty, "recorded scenario"))
    open_ids = [o.client_id for o in await venue.open_orders()]
    balances = await venue.balances()
    cancelled = await _send(venue, CancelOrder("mmrecx3", "recorded scenario"))
    return {"open": open_ids, "assets": sorted(balances), "events": [type(e).__name__ for e in cancelled]}


async def reconcile_at_start(venue: CcxtVenue, qty: float) -> dict:
    bid, _ = await _touch(venue)
    await _send(
        venue,
        PlaceOrder("mmoldx1", BUY, _price(venue, bid * 0.97), qty, "recorded scenario"),
        PlaceOrder("mmoldx2", BUY, _price(venue, bid * 0.96), qty, "recorded scenario"),
    )
    cancelled = await venue.cancel_leftovers("mmold")
    return {"cancelled": sorted(cancelled), "open_after": [o.client_id for o in await venue.open_orders()]}


SCENARIOS: dict[str, Scenario] = {
    "create_post_only": create_post_only,
    "amend": amend,
    "post_only_reject": post_only_reject,
    "open_orders_and_balance": open_orders_and_balance,
    "reconcile_at_start": reconcile_at_start,
}
