"""Binance spot depth websocket of the emulator, streaming a real recording.

Serves ``/stream/ws/...`` (the diff-depth stream a ccxt.pro client subscribes to) and
``/api/v3/depth`` (the REST snapshot it fetches to start a book). Both replay an
:class:`~ccxt_mm.market.events.EventLog`: each streamed ``depthUpdate`` is the next recorded
diff, with ``U`` = previous ``u`` + 1 as in the gap-free recording, and a snapshot is the
replayed book at the last update id sent. ``drop`` names update ids never sent, to make a
sequence gap.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.market.events import EventLog, MsgKind


class BinanceDepthReplay:
    def __init__(self, log: EventLog, market_id: str, rate_hz: float, drop: frozenset[int] = frozenset()) -> None:
        self.log = log
        self.market_id = market_id
        self.interval = 1.0 / rate_hz
        self.drop = drop
        self.book = GridBook(log.prices)
        self.sent: list[int] = []
        """Update ids sent, in order."""
        self.subscriptions = 0
        self._diffs = [m for m in range(log.messages) if log.msg_kind[m] == MsgKind.DIFF]
        snapshot = next(m for m in range(log.messages) if log.msg_kind[m] == MsgKind.SNAPSHOT)
        log.apply_message(self.book, snapshot)
        self.last_u = int(log.msg_seq[snapshot])
        self._next = 0
        self._streaming: asyncio.Task | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/stream/ws/{tail:.*}", self.websocket),
            web.get("/stream/ws", self.websocket),
            web.get("/api/v3/depth", self.depth),
        ]

    async def depth(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", 100))
        bids = self.book.top_bids(limit)
        asks = self.book.top_asks(limit)
        return web.json_response(
            {
                "lastUpdateId": self.last_u,
                "bids": [[f"{p:.8f}", f"{q:.8f}"] for p, q in zip(*bids, strict=True)],
                "asks": [[f"{p:.8f}", f"{q:.8f}"] for p, q in zip(*asks, strict=True)],
            }
        )

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                if req.get("method") == "SUBSCRIBE":
                    self.subscriptions += 1
                    await ws.send_json({"result": None, "id": req.get("id")})
                    if self._streaming is None:
                        self._streaming = asyncio.create_task(self._stream())
        finally:
            self._sockets.discard(ws)
        return ws

    async def _stream(self) -> None:
        """Advance the recording at the configured rate and send each diff to subscribers."""
        log = self.log
        while self._next < len(self._diffs):
            await asyncio.sleep(self.interval)
            m = self._diffs[self._next]
            self._next += 1
            log.apply_message(self.book, m)
            u = int(log.msg_seq[m])
            first, self.last_u = self.last_u + 1, u
            if u in self.drop:
                continue
            a, s, b = int(log.msg_start[m]), int(log.msg_split[m]), int(log.msg_stop[m])
            message = {
                "e": "depthUpdate",
                "E": int(log.msg_ts_ns[m]) // 1_000_000,
                "s": self.market_id,
                "U": first,
                "u": u,
                "b": [[f"{p:.8f}", f"{q:.8f}"] for p, q in zip(log.row_price[a:s].tolist(), log.row_qty[a:s].tolist(), strict=True)],
                "a": [[f"{p:.8f}", f"{q:.8f}"] for p, q in zip(log.row_price[s:b].tolist(), log.row_qty[s:b].tolist(), strict=True)],
            }
            self.sent.append(u)
            for ws in list(self._sockets):
                await ws.send_json(message)

    async def close(self) -> None:
        if self._streaming is not None:
            self._streaming.cancel()
            await asyncio.gather(self._streaming, return_exceptions=True)
        for ws in list(self._sockets):
            await ws.close()
