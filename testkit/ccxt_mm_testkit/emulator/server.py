"""Runs emulated exchanges on 127.0.0.1 (an ephemeral port) for tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from aiohttp import web

from ccxt_mm_testkit.emulator.core import EmulatedExchange

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Fault = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


class EmulatorServer:
    """One aiohttp server. ``fault``, when set, receives every request with the exchange's
    handler: it may answer instead (429, 5xx), hang, or call the handler and then lose or
    alter the reply (a create that succeeds on the exchange but whose ack never arrives)."""

    def __init__(self, routes: list[web.RouteDef], exchange: EmulatedExchange | None = None) -> None:
        self.exchange = exchange
        self.fault: Fault | None = None
        self.requests: list[tuple[str, str]] = []
        self._websockets: set[asyncio.BaseTransport] = set()
        """Transports of the websocket connections open now."""
        self._app = web.Application(middlewares=[self._middleware])
        self._app.add_routes(routes)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if self.exchange is not None:
            self.exchange.check_dead_man()  # the exchange's own timer, checked as time passes
        transport = request.transport
        websocket = request.headers.get("Upgrade", "").lower() == "websocket" and transport is not None
        if websocket:
            self._websockets.add(transport)
        try:
            if self.fault is not None:
                return await self.fault(request, handler)
            return await handler(request)
        finally:
            if websocket:
                self._websockets.discard(transport)

    def drop_websockets(self) -> int:
        """Cut every open websocket connection without a close frame (a network drop);
        returns how many were cut."""
        dropped = list(self._websockets)
        for transport in dropped:
            transport.abort()
        return len(dropped)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        # a test's hanging handler must not hold the shutdown for the default minute
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@contextmanager
def serve_in_thread(routes: list[web.RouteDef]) -> Iterator[str]:
    """Serve ``routes`` from an :class:`EmulatorServer` on its own event loop in a background
    thread, for synchronous callers (a replay asks its predictor from plain code); yields the
    base URL and stops the server on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="emulator", daemon=True)
    thread.start()
    server = EmulatorServer(routes)
    try:
        yield asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
