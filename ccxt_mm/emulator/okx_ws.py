"""OKX v5 public websocket of the emulator, streaming the real ``books`` messages of a
cryptofeed capture verbatim: after a ``subscribe`` to ``books`` for an instrument, every
recorded message of that channel and instrument is sent, in order, at a fixed rate."""

from __future__ import annotations

import asyncio
import gzip
import json

import orjson
from aiohttp import WSMsgType, web


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


class OkxBooksReplay:
    def __init__(self, messages: list[dict], rate_hz: float) -> None:
        self.messages = messages
        self.interval = 1.0 / rate_hz
        self.sent = 0
        self._tasks: set[asyncio.Task] = set()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/stream/ws/v5/public", self.websocket)]

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
