"""OKX v5 public websocket of the emulator, streaming the real ``books`` messages of a
cryptofeed capture verbatim: after a ``subscribe`` to ``books`` for an instrument, every
recorded message of that channel and instrument is sent, in order, at a fixed rate."""

from __future__ import annotations

import gzip
import json

import orjson
from aiohttp import WSMsgType, web

from ccxt_mm_testkit.emulator.stream import RecordedStream


def recorded_books(path: str, inst_id: str) -> list[dict]:
    """The ``books`` messages (snapshot, then updates) of ``inst_id`` in the capture."""
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            msg = orjson.loads(line).get("msg")
            if (
                isinstance(msg, dict)
                and msg.get("arg", {}).get("channel") == "books"
                and "data" in msg
                and msg["arg"].get("instId") == inst_id
            ):
                out.append(msg)
    return out


class OkxBooksReplay(RecordedStream):
    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/ws/v5/public", self.websocket)]

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT or msg.data == "ping":
                if msg.type == WSMsgType.TEXT:
                    await ws.send_str("pong")
                continue
            req = json.loads(msg.data)
            if req.get("op") == "subscribe":
                for arg in req.get("args", []):
                    await ws.send_json({"event": "subscribe", "arg": arg, "connId": "emulator"})
                    if arg.get("channel") == "books":
                        self.start(ws)
        return ws
