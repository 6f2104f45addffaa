"""Bybit v5 public spot websocket of the emulator, replaying a recorded book.

The bundled Bybit capture is the legacy ``orderBookL2_25`` format (levels keyed by id);
:func:`~ccxt_mm.market.cryptofeed_capture.read_bybit_capture` turns it into price levels, and
each snapshot or delta is sent as the v5 ``orderbook.50.<symbol>`` message with the same
prices and sizes (size 0 deletes a level), ``ts`` the recorded receive time in ms.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from ccxt_mm.market.events import EventLog, MsgKind


def v5_messages(log: EventLog, market_id: str) -> list[dict]:
    out = []
    seq = 0
    for m in range(log.messages):
        kind = log.msg_kind[m]
        if kind not in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            continue
        seq += 1
        a, s, b = int(log.msg_start[m]), int(log.msg_split[m]), int(log.msg_stop[m])

        def levels(lo: int, hi: int) -> list[list[str]]:
            return [[repr(p), repr(q)] for p, q in zip(log.row_price[lo:hi].tolist(), log.row_qty[lo:hi].tolist(), strict=True)]

        out.append(
            {
                "topic": f"orderbook.50.{market_id}",
                "type": "snapshot" if kind == MsgKind.SNAPSHOT else "delta",
                "ts": int(log.msg_ts_ns[m]) // 1_000_000,
                "data": {"s": market_id, "b": levels(a, s), "a": levels(s, b), "u": seq, "seq": seq},
                "cts": int(log.msg_ts_ns[m]) // 1_000_000,
            }
        )
    return out


class BybitBooksReplay:
    def __init__(self, messages: list[dict], rate_hz: float) -> None:
        self.messages = messages
        self.interval = 1.0 / rate_hz
        self.sent = 0
        self._tasks: set[asyncio.Task] = set()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/stream/v5/public/spot", self.websocket)]

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            req = json.loads(msg.data)
            if req.get("op") == "ping":
                await ws.send_json({"success": True, "ret_msg": "pong", "op": "ping"})
            elif req.get("op") == "subscribe":
                await ws.send_json({"success": True, "ret_msg": "", "op": "subscribe", "req_id": req.get("req_id", "")})
                task = asyncio.create_task(self._stream(ws))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return ws

    async def _stream(self, ws: web.WebSocketResponse) -> None:
        for message in self.messages:
            await asyncio.sleep(self.interval)
            if ws.closed:
                return
            await ws.send_json(message)
            self.sent += 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
