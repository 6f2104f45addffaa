"""Bybit v5 public spot websocket of the emulator, replaying a recorded book.

The bundled Bybit capture is the legacy ``orderBookL2_25`` format (levels keyed by id);
:func:`~ccxt_mm.market.cryptofeed_capture.read_bybit_capture` turns it into price levels, and
each snapshot or delta is sent as the v5 ``orderbook.50.<symbol>`` message with the same
prices and sizes (size 0 deletes a level), ``ts`` the recorded receive time in ms.
"""

from __future__ import annotations

import json

from aiohttp import WSMsgType, web

from ccxt_mm.market.events import EventLog, MsgKind
from ccxt_mm_testkit.emulator.stream import RecordedStream


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


class BybitBooksReplay(RecordedStream):
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
                self.start(ws)
        return ws
