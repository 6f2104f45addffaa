"""OKX v5 private websocket of the emulator: ``login`` checked as OKX does (API key,
passphrase, base64 HMAC-SHA256 of ``timestamp + "GET/users/self/verify"``), then every fill is
pushed on the ``orders`` channel as the order's update carrying ``tradeId``/``fillPx``/``fillSz``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from aiohttp import WSMsgType, web

from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange
from ccxt_mm_testkit.emulator.okx import inst_type, order_json
from ccxt_mm_testkit.emulator.stream import PushStream


def fill_update(f: EmuFill) -> dict:
    return order_json(f.order) | {
        "tradeId": str(f.trade_id),
        "fillPx": str(f.price),
        "fillSz": str(f.qty),
        "fillTime": str(f.time_ms),
        "fillFee": str(-f.fee),
        "fillFeeCcy": f.fee_asset,
        "fee": str(-f.fee),
        "feeCcy": f.fee_asset,
        "execType": "M",
    }


class OkxUserStream(PushStream):
    def __init__(self, exchange: EmulatedExchange, api_key: str, secret: str, passphrase: str) -> None:
        super().__init__()
        self.ex = exchange
        self.api_key = api_key
        self.secret = secret.encode()
        self.passphrase = passphrase
        self.subscribers: set[web.WebSocketResponse] = set()
        exchange.fill_listeners.append(self._on_fill)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/ws/v5/private", self.websocket)]

    def _login_ok(self, arg: dict) -> bool:
        digest = hmac.new(self.secret, f"{arg.get('timestamp', '')}GET/users/self/verify".encode(), hashlib.sha256).digest()
        signed = hmac.compare_digest(str(arg.get("sign", "")), base64.b64encode(digest).decode())
        return signed and arg.get("apiKey") == self.api_key and arg.get("passphrase") == self.passphrase

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        logged_in = False
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "ping":
                    await ws.send_str("pong")
                    continue
                req = json.loads(msg.data)
                if req.get("op") == "login":
                    logged_in = self._login_ok((req.get("args") or [{}])[0])
                    code = "0" if logged_in else "60009"
                    await ws.send_json(
                        {
                            "event": "login" if logged_in else "error",
                            "code": code,
                            "msg": "" if logged_in else "Login failed.",
                            "connId": "emu",
                        }
                    )
                elif req.get("op") == "subscribe" and logged_in:
                    for arg in req.get("args", []):
                        await ws.send_json({"event": "subscribe", "arg": arg, "connId": "emu"})
                    self.subscribers.add(ws)
        finally:
            self.subscribers.discard(ws)
        return ws

    def _on_fill(self, fill: EmuFill) -> None:
        message = {"arg": {"channel": "orders", "instType": inst_type(fill.order.market), "uid": "1"}, "data": [fill_update(fill)]}
        for ws in list(self.subscribers):
            self.spawn(ws.send_json(message))
