"""Faults an emulated exchange can inject, as :class:`~ccxt_mm_testkit.emulator.server.EmulatorServer`
hooks: each takes the request and the exchange's own handler and answers in its place, late,
twice, or not at all. ``paths`` limits a fault to requests whose path contains one of them.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from ccxt_mm_testkit.emulator.core import EmulatedExchange
from ccxt_mm_testkit.emulator.server import Fault, Handler


def _hit(request: web.Request, paths: tuple[str, ...]) -> bool:
    """No ``paths``: every request; else one whose path contains an entry (``"DELETE /x"``
    also requires the method)."""
    for entry in paths:
        method, _, path = entry.rpartition(" ")
        if path in request.path and (not method or method == request.method):
            return True
    return not paths


def status(code: int, text: str, retry_after: float | None = None, paths: tuple[str, ...] = ()) -> Fault:
    """Answer ``code`` (429 rate limit, 418 IP ban, 5xx, 503 maintenance) instead of the exchange."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}

    async def fault(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _hit(request, paths):
            return web.Response(status=code, text=text, headers=headers)
        return await handler(request)

    return fault


def hang(secs: float, paths: tuple[str, ...] = ()) -> Fault:
    """Hold the request for ``secs`` before letting the exchange answer (past client timeouts)."""

    async def fault(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _hit(request, paths):
            await asyncio.sleep(secs)
        return await handler(request)

    return fault


def _drop(request: web.Request) -> web.StreamResponse:
    """Reset the connection: the client sees it close without an answer."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)  # never reaches the client


def reset(paths: tuple[str, ...] = ()) -> Fault:
    """Connection reset before the exchange sees the request."""

    async def fault(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _hit(request, paths):
            return _drop(request)
        return await handler(request)

    return fault


def lose_reply(paths: tuple[str, ...]) -> Fault:
    """The exchange does the work (an order is created) but the connection drops before the
    reply: the client cannot know whether it happened."""

    async def fault(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _hit(request, paths):
            await handler(request)
            return _drop(request)
        return await handler(request)

    return fault


def late_reply(secs: float, paths: tuple[str, ...]) -> Fault:
    """The exchange acts at once but its acknowledgement arrives ``secs`` later."""

    async def fault(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if _hit(request, paths):
            await asyncio.sleep(secs)
        return response

    return fault


def _double_first_list(doc):
    """``doc`` with its first list of objects (the trades) repeated twice."""
    if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
        return doc + doc
    if isinstance(doc, dict):
        for key, value in doc.items():
            doubled = _double_first_list(value)
            if doubled is not value:
                return {**doc, key: doubled}
    if isinstance(doc, list):
        for i, value in enumerate(doc):
            doubled = _double_first_list(value)
            if doubled is not value:
                return [*doc[:i], doubled, *doc[i + 1 :]]
    return doc


def duplicate_items(paths: tuple[str, ...]) -> Fault:
    """Every trade (fill) the exchange reports is reported twice in the same answer."""

    async def fault(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if not _hit(request, paths) or not isinstance(response, web.Response) or response.body is None:
            return response
        doc = json.loads(response.body)
        return web.json_response(_double_first_list(doc), status=response.status)

    return fault


def fill_first(exchange: EmulatedExchange, paths: tuple[str, ...]) -> Fault:
    """A cancel that races a fill: every open order is filled by a taker just before the
    exchange sees the request, which then finds nothing to cancel."""

    async def fault(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _hit(request, paths):
            for order in exchange.open_orders():
                taker = "sell" if order.side == "buy" else "buy"
                exchange.trade(order.market.id, taker, order.price, order.remaining)
        return await handler(request)

    return fault
