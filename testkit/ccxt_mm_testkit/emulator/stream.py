"""Websocket pushing shared by the emulator's streams: owned send tasks, and replay of
recorded messages at a fixed rate."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine

from aiohttp import web


class PushStream:
    """Owns every task it spawns to push messages; :meth:`close` cancels them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class RecordedStream(PushStream):
    """Sends ``messages`` to a subscriber, one every ``1 / rate_hz`` seconds."""

    def __init__(self, messages: list[dict], rate_hz: float) -> None:
        super().__init__()
        self.messages = messages
        self.interval = 1.0 / rate_hz
        self.sent = 0

    def start(self, ws: web.WebSocketResponse) -> None:
        self.spawn(self._stream(ws))

    async def _stream(self, ws: web.WebSocketResponse) -> None:
        for message in self.messages:
            await asyncio.sleep(self.interval)
            if ws.closed:
                return
            await ws.send_json(message)
            self.sent += 1
