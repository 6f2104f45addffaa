"""Binance spot user-data stream of the emulator (websocket API ``/ws-api/v3``).

``userDataStream.subscribe.signature`` is checked as Binance does (API key, HMAC-SHA256 of
the key-sorted params, timestamp), then every fill of the account is pushed as an
``executionReport`` event wrapped in ``{"subscriptionId", "event"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange
from ccxt_mm_testkit.emulator.stream import PushStream


def execution_report(f: EmuFill) -> dict:
    o = f.order
    return {
        "e": "executionReport",
        "E": f.time_ms,
        "s": o.market.id,
        "c": o.client_id,
        "S": o.side.upper(),
        "o": "LIMIT_MAKER" if o.post_only else "LIMIT",
        "f": "GTC",
        "q": f"{o.qty:.8f}",
        "p": f"{o.price:.8f}",
        "P": "0.00000000",
        "F": "0.00000000",
        "g": -1,
        "C": "",
        "x": "TRADE",
        "X": "FILLED" if o.remaining == 0 else "PARTIALLY_FILLED",
        "r": "NONE",
        "i": o.order_id,
        "l": f"{f.qty:.8f}",
        "z": f"{o.filled:.8f}",
        "L": f"{f.price:.8f}",
        "n": f"{f.fee:.8f}",
        "N": f.fee_asset,
        "T": f.time_ms,
        "t": f.trade_id,
        "I": f.trade_id,
        "w": o.remaining > 0,
        "m": True,
        "M": True,
        "O": o.created_ms,
        "Z": f"{o.filled * o.price:.8f}",
        "Y": f"{f.qty * f.price:.8f}",
        "Q": "0.00000000",
    }


class BinanceUserStream(PushStream):
    def __init__(self, exchange: EmulatedExchange, api_key: str, secret: str) -> None:
        super().__init__()
        self.ex = exchange
        self.api_key = api_key
        self.secret = secret.encode()
        self.subscribers: dict[web.WebSocketResponse, int] = {}
        exchange.fill_listeners.append(self._on_fill)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws-api/ws-api/v3", self.websocket)]

    def _signed(self, params: dict) -> bool:
        unsigned = {k: v for k, v in sorted(params.items()) if k != "signature"}
        expected = hmac.new(self.secret, urlencode(unsigned).encode(), hashlib.sha256).hexdigest()
        return params.get("apiKey") == self.api_key and hmac.compare_digest(str(params.get("signature", "")), expected)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                if req.get("method") != "userDataStream.subscribe.signature":
                    await ws.send_json({"id": req.get("id"), "status": 400, "error": {"code": -1100, "msg": "Unknown method."}})
                elif not self._signed(req.get("params", {})):
                    await ws.send_json(
                        {"id": req.get("id"), "status": 401, "error": {"code": -1022, "msg": "Signature for this request is not valid."}}
                    )
                else:
                    self.subscribers[ws] = len(self.subscribers)
                    await ws.send_json({"id": req.get("id"), "status": 200, "result": {"subscriptionId": self.subscribers[ws]}})
        finally:
            self.subscribers.pop(ws, None)
        return ws

    def _on_fill(self, fill: EmuFill) -> None:
        for ws, subscription in list(self.subscribers.items()):
            self.spawn(ws.send_json({"subscriptionId": subscription, "event": execution_report(fill)}))
