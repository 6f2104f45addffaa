"""Bybit v5 private websocket of the emulator: ``auth`` checked as Bybit does (API key, an
``expires`` in the future, hex HMAC-SHA256 of ``"GET/realtime" + expires``), then every fill
is pushed on the ``execution`` topic."""

from __future__ import annotations

import hashlib
import hmac
import json

from aiohttp import WSMsgType, web

from ccxt_mm_testkit.emulator.bybit import category, execution_json
from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange
from ccxt_mm_testkit.emulator.stream import PushStream


class BybitUserStream(PushStream):
    def __init__(self, exchange: EmulatedExchange, api_key: str, secret: str) -> None:
        super().__init__()
        self.ex = exchange
        self.api_key = api_key
        self.secret = secret.encode()
        self.subscribers: set[web.WebSocketResponse] = set()
        exchange.fill_listeners.append(self._on_fill)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/stream/v5/private", self.websocket)]

    def _auth_ok(self, args: list) -> bool:
        if len(args) != 3:
            return False
        key, expires, signature = (str(a) for a in args)
        expected = hmac.new(self.secret, f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
        fresh = expires.isdigit() and int(expires) > self.ex.clock_ms()
        return key == self.api_key and fresh and hmac.compare_digest(signature, expected)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        authed = False
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                op = req.get("op")
                if op == "ping":
                    await ws.send_json({"success": True, "ret_msg": "pong", "op": "ping", "conn_id": "emu"})
                elif op == "auth":
                    authed = self._auth_ok(req.get("args", []))
                    reply = {"success": authed, "ret_msg": "" if authed else "Params Error", "op": "auth", "conn_id": "emu"}
                    await ws.send_json(reply)
                elif op == "subscribe" and authed:
                    await ws.send_json(
                        {"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "emu", "req_id": req.get("req_id", "")}
                    )
                    if "execution" in req.get("args", []):
                        self.subscribers.add(ws)
        finally:
            self.subscribers.discard(ws)
        return ws

    def _on_fill(self, fill: EmuFill) -> None:
        message = {
            "topic": "execution",
            "id": f"emu-{fill.trade_id}",
            "creationTime": fill.time_ms,
            "data": [execution_json(fill) | {"category": category(fill.order.market)}],
        }
        for ws in list(self.subscribers):
            self.spawn(ws.send_json(message))
