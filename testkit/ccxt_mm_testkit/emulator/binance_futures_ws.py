"""Binance USDⓈ-M and COIN-M futures websockets of the emulator, under the hosts ccxt.pro
names them by (``fstream``, ``dstream``: see :func:`ccxt_mm.exchange.clients.point_at`).

Public: the diff-depth and trade streams, on ``/fstream/public/ws`` (USDⓈ-M; the ``public``
category of Binance's split futures streams) and ``/dstream/ws`` (COIN-M). A futures
``depthUpdate`` is chained to the one before by ``pu``, the previous event's ``u`` (spot
chains ``U`` = last ``u`` + 1), and a client starts from ``/fapi/v1/depth``'s
``lastUpdateId``, the same update id.

Private: ``POST /fapi/v1/listenKey`` (or ``/dapi``; the API key header alone, as Binance
asks) gives a listen key; ``/fstream/private/ws?listenKey=`` (USDⓈ-M) or
``/dstream/ws/<listenKey>`` (COIN-M) then pushes every fill of that account's markets as an
``ORDER_TRADE_UPDATE`` event (Binance's derivatives user-data stream docs).
"""

from __future__ import annotations

import secrets

from aiohttp import WSMsgType, web

from ccxt_mm_testkit.emulator.binance import _error, _num
from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange
from ccxt_mm_testkit.emulator.public_ws import BinancePublicStream, Levels
from ccxt_mm_testkit.emulator.stream import PushStream

LISTEN_KEY = "{listen_key:[A-Za-z0-9]{32,}}"
"""A listen key in a path: 64 letters and digits (a stream index is a small number)."""


class BinanceFuturesPublicStream(BinancePublicStream):
    """Spot's ``SUBSCRIBE`` handling; the events carry ``pu``."""

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(path, self.websocket)
            for path in ("/fstream/public/ws", "/fstream/public/ws/{index:\\d+}", "/dstream/ws", "/dstream/ws/{index:\\d+}")
        ]

    def diff(self, market_id: str, seq: int, bids: Levels, asks: Levels) -> dict:
        return super().diff(market_id, seq, bids, asks) | {"T": self.ex.clock_ms(), "pu": seq - 1}


def order_trade_update(f: EmuFill) -> dict:
    """A fill as Binance's futures user-data stream pushes it."""
    o = f.order
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": f.time_ms,
        "T": f.time_ms,
        "o": {
            "s": o.market.id,
            "c": o.client_id,
            "S": o.side.upper(),
            "o": "LIMIT",
            "f": "GTX" if o.post_only else "GTC",
            "q": _num(o.qty),
            "p": _num(o.price),
            "ap": _num(o.price),
            "sp": "0",
            "x": "TRADE",
            "X": "FILLED" if o.remaining == 0 else "PARTIALLY_FILLED",
            "i": o.order_id,
            "l": _num(f.qty),
            "z": _num(o.filled),
            "L": _num(f.price),
            "N": f.fee_asset,
            "n": _num(f.fee),
            "T": f.time_ms,
            "t": f.trade_id,
            "b": "0",
            "a": "0",
            "m": o.post_only or o.price != f.price or o.qty != f.qty,
            "R": o.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": "LIMIT",
            "ps": "BOTH",
            "cp": False,
            "rp": _num(f.realized),
        },
    }


class BinanceFuturesUserStream(PushStream):
    """Listen keys and the user-data websockets of both futures accounts."""

    def __init__(self, exchange: EmulatedExchange, api_key: str) -> None:
        super().__init__()
        self.ex = exchange
        self.api_key = api_key
        self.listen_keys: dict[str, bool] = {}
        """Listen key → whether it is COIN-M's (inverse markets) or USDⓈ-M's."""
        self.subscribers: dict[web.WebSocketResponse, bool] = {}
        """Open user-data websocket → inverse, as its listen key."""
        self.pushed = 0
        exchange.fill_listeners.append(self._on_fill)

    def routes(self) -> list[web.RouteDef]:
        routes = [web.get("/fstream/private/ws", self.websocket), web.get(f"/dstream/ws/{LISTEN_KEY}", self.websocket)]
        for prefix in ("/fapi/v1", "/dapi/v1"):
            routes += [web.route(method, f"{prefix}/listenKey", self.listen_key) for method in ("POST", "PUT", "DELETE")]
        return routes

    async def listen_key(self, request: web.Request) -> web.Response:
        """POST opens a key, PUT keeps it alive, DELETE closes it."""
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return _error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if request.method != "POST":
            return web.json_response({})
        key = secrets.token_hex(32)
        self.listen_keys[key] = request.path.startswith("/dapi")
        return web.json_response({"listenKey": key})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info.get("listen_key") or request.query.get("listenKey", "")
        if key not in self.listen_keys:
            return _error(-1125, "This listenKey does not exist.")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.subscribers[ws] = self.listen_keys[key]
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await ws.send_json({"result": None, "id": None})
        finally:
            self.subscribers.pop(ws, None)
        return ws

    def _on_fill(self, fill: EmuFill) -> None:
        market = fill.order.market
        if not market.margined:
            return
        for ws, inverse in list(self.subscribers.items()):
            if inverse == market.inverse:
                self.pushed += 1
                self.spawn(ws.send_json(order_trade_update(fill)))
