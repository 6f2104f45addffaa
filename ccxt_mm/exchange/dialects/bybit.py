"""Bybit spot (v5, unified account): its dialect, and ccxt.pro's bybit client with the
order-book sequence check ccxt leaves out.

Dialect: an amend sets the order's total size; the book stream takes fixed depths; an order
is read by client id from ``/v5/order/realtime`` (ccxt's ``fetch_order`` needs the exchange
id), and single orders of a UTA account are read from there too (the last 500 orders);
``cancel_all_orders_after`` takes the product type. Swaps (linear and inverse categories): the
wallet is ccxt's total (``walletBalance``, no unrealized PnL); setting the leverage it has
already is refused with 110043 (taken as done); a funding execution's ``execFee`` is what the
position paid.

Sequence check:
Bybit numbers each ``orderbook.<depth>.<symbol>`` message with ``u``, one more every time
(a snapshot may restart it, e.g. ``u`` = 1 after a service restart). ccxt applies every delta
it receives without looking at ``u``, so a lost message would leave a silently wrong book.
Here a delta whose ``u`` does not follow the last one rejects that book's watch with
``InvalidNonce`` (as ccxt does for okx and binance), the book is dropped, the following deltas
are ignored, and the next ``watch_order_book`` unsubscribes and subscribes again: bybit sends a
fresh snapshot in reply to a subscribe. The book's ``nonce`` is its ``u`` (ccxt leaves it
unset for bybit).
"""

from __future__ import annotations

import ccxt.pro as ccxt_pro
from ccxt.base.errors import InvalidNonce

from ccxt_mm.exchange.dialects import Dialect


class SequencedBybit(ccxt_pro.bybit):
    def __init__(self, config: dict | None = None) -> None:
        super().__init__(config or {})
        self.book_gaps = 0
        """Sequence gaps found (each one a resubscription)."""
        self.deltas_ignored = 0
        """Deltas received for a book waiting for its snapshot after a gap."""
        self._last_u: dict[str, int] = {}
        """Topic → ``u`` of the last message applied."""
        self._resync: set[str] = set()
        """Symbols whose book must be subscribed again."""

    def handle_order_book(self, client, message: dict) -> None:
        topic = str(message.get("topic", ""))
        data = message.get("data") or {}
        u = data.get("u")
        market_type = "spot" if "spot" in client.url else "contract"
        symbol = self.safe_market(data.get("s"), None, None, market_type)["symbol"]
        last = self._last_u.get(topic)
        if message.get("type") == "snapshot" or (last is not None and isinstance(u, int) and u == last + 1):
            self._last_u[topic] = u
            super().handle_order_book(client, message)
            self.orderbooks[symbol]["nonce"] = u  # read once the watcher resumes, after this returns
            return None
        if last is None:
            self.deltas_ignored += 1
            return None
        del self._last_u[topic]
        self.book_gaps += 1
        self.orderbooks.pop(symbol, None)
        self._resync.add(symbol)
        client.reject(InvalidNonce(f"{self.id} {topic}: update id {u} after {last}"), "orderbook:" + symbol)
        return None

    async def watch_order_book_for_symbols(self, symbols: list[str], limit: int | None = None, params: dict | None = None):
        params = params or {}
        for symbol in [s for s in symbols if s in self._resync]:
            await self.un_watch_order_book_for_symbols([symbol], {"limit": limit} if limit else {})
            self._resync.discard(symbol)
        return await super().watch_order_book_for_symbols(symbols, limit, params)


def category(market: dict) -> str:
    """Bybit's v5 ``category`` of a ccxt market: spot, linear or inverse."""
    if market.get("type") != "swap":
        return "spot"
    return "inverse" if market.get("inverse") else "linear"


async def find_by_client_id(exchange: ccxt_pro.Exchange, market: dict, client_id: str) -> dict | None:
    """Our order with ``client_id`` in any state, parsed by ccxt (None: bybit has none)."""
    query = {"category": category(market), "symbol": market["id"], "orderLinkId": client_id}
    raw = await exchange.private_get_v5_order_realtime(query)
    found = (raw.get("result") or {}).get("list") or []
    return exchange.parse_order(found[0], market) if found else None


DIALECT = Dialect(
    name="bybit",
    client_class=SequencedBybit,
    client_options={"fetchOrder": {"acknowledged": True}},
    book_depths=(1, 50, 200, 1000),
    amend_sets_total_size=True,
    dead_man_params={"type": "spot"},
    find_by_client_id=find_by_client_id,
    market_types={"spot": "spot", "linear": "linear", "inverse": "inverse"},
    swap={"dead_man_params": {"type": "swap"}},
    swap_wallet=lambda balance, settle: (balance.get(settle) or {}).get("total"),  # ccxt's total is walletBalance
    unchanged="110043",
    funding_sign=-1.0,
)
