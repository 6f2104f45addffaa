"""Public websockets of the emulator, streaming the emulated exchange's own book and trades.

Every change of a market's book (:meth:`EmulatedExchange.set_book`) becomes one diff message
in the exchange's dialect, numbered by the exchange's book update id, so a client's book
equals the book the exchange matches against:

- binance: ``depthUpdate`` events (``U``/``u``); the client starts from the REST snapshot,
  whose ``lastUpdateId`` is the same update id;
- okx: ``books`` channel, a snapshot on subscribe then updates chained by
  ``prevSeqId``/``seqId``, each with OKX's CRC32 checksum of the top 25 levels;
- bybit: ``orderbook.<depth>.<symbol>``, a snapshot on subscribe then deltas, ``u`` one more
  each time.

Every market trade (:meth:`EmulatedExchange.trade`) is pushed to the subscribers of that
market's trades (binance ``trade`` events, okx ``trades``, bybit ``publicTrade.<symbol>``).
Subscriptions to other channels are acknowledged and left silent. Fault hooks:
:attr:`PublicStream.drop_every` leaves out diffs (the next message shows a sequence gap), and
:meth:`EmulatorServer.drop_websockets` cuts every connection.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from aiohttp import WSMsgType, web

from ccxt_mm.market.cryptofeed_capture import okx_checksum
from ccxt_mm_testkit.emulator.core import Book, EmulatedExchange, PublicTrade
from ccxt_mm_testkit.emulator.stream import PushStream

Levels = list[list[str]]


def changed_levels(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal], descending: bool) -> Levels:
    """``[price, qty]`` of every level that is new or changed, and ``[price, "0"]`` of every
    level gone, best first."""
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out += [(p, Decimal(0)) for p in old if p not in new]
    out.sort(reverse=descending)
    return [[str(p), str(q)] for p, q in out]


def all_levels(side: dict[Decimal, Decimal], descending: bool, limit: int | None = None) -> Levels:
    return [[str(p), str(side[p])] for p in sorted(side, reverse=descending)[:limit]]


class PublicStream(PushStream):
    """The dialect-neutral part: book and trade subscribers per market, one ordered outgoing
    queue and one owned writer task per connection, diffs numbered by the exchange's book
    update id."""

    path = ""

    def __init__(self, exchange: EmulatedExchange) -> None:
        super().__init__()
        self.ex = exchange
        self.drop_every = 0
        """Fault switch: when > 0, every ``drop_every``-th diff of each market is left out."""
        self.dropped = 0
        self.sent = 0
        self.subscriptions = 0
        self.trade_subscriptions = 0
        self._subscribers: dict[str, set[web.WebSocketResponse]] = {}
        self._trade_subscribers: dict[str, set[web.WebSocketResponse]] = {}
        self._queues: dict[web.WebSocketResponse, asyncio.Queue] = {}
        self._counts: dict[str, int] = {}
        exchange.book_listeners.append(self._on_book)
        exchange.trade_listeners.append(self._on_trade)

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.websocket)]

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[ws] = queue
        self.spawn(self._write(ws, queue))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.on_text(ws, msg.data)
        finally:
            self._queues.pop(ws, None)
            for subscribers in (*self._subscribers.values(), *self._trade_subscribers.values()):
                subscribers.discard(ws)
            queue.put_nowait(None)
        return ws

    async def _write(self, ws: web.WebSocketResponse, queue: asyncio.Queue) -> None:
        while (message := await queue.get()) is not None:
            if ws.closed:
                return
            try:
                await ws.send_str(message if isinstance(message, str) else json.dumps(message))
            except ConnectionError:
                return

    def send(self, ws: web.WebSocketResponse, message: dict | str) -> None:
        queue = self._queues.get(ws)
        if queue is not None:
            queue.put_nowait(message)

    def subscribe(self, ws: web.WebSocketResponse, market_id: str) -> None:
        self._subscribers.setdefault(market_id, set()).add(ws)
        self.subscriptions += 1

    def unsubscribe(self, ws: web.WebSocketResponse, market_id: str) -> None:
        self._subscribers.get(market_id, set()).discard(ws)

    def subscribe_trades(self, ws: web.WebSocketResponse, market_id: str) -> None:
        self._trade_subscribers.setdefault(market_id, set()).add(ws)
        self.trade_subscriptions += 1

    def _on_trade(self, trade: PublicTrade) -> None:
        subscribers = self._trade_subscribers.get(trade[2])
        if subscribers:
            message = self.trade(trade)
            for ws in subscribers:
                self.send(ws, message)

    def _on_book(self, market_id: str, old: Book, new: Book) -> None:
        count = self._counts.get(market_id, 0) + 1
        self._counts[market_id] = count
        if self.drop_every and count % self.drop_every == 0:
            self.dropped += 1
            return
        subscribers = self._subscribers.get(market_id)
        if not subscribers:
            return
        seq = self.ex.book_seq[market_id]
        message = self.diff(market_id, seq, changed_levels(old[0], new[0], True), changed_levels(old[1], new[1], False))
        for ws in subscribers:
            self.send(ws, message)
            self.sent += 1

    def on_text(self, ws: web.WebSocketResponse, text: str) -> None:
        raise NotImplementedError

    def diff(self, market_id: str, seq: int, bids: Levels, asks: Levels) -> dict:
        raise NotImplementedError

    def trade(self, trade: PublicTrade) -> dict:
        raise NotImplementedError


class BinancePublicStream(PublicStream):
    """``<symbol>@depth`` streams: ``SUBSCRIBE``/``UNSUBSCRIBE`` requests, ``depthUpdate`` events."""

    path = "/stream/ws/{tail:.*}"

    def routes(self) -> list[web.RouteDef]:
        return [*super().routes(), web.get("/stream/ws", self.websocket)]

    def on_text(self, ws: web.WebSocketResponse, text: str) -> None:
        req = json.loads(text)
        method = req.get("method")
        for stream in req.get("params", []):
            market_id, _, channel = stream.partition("@")
            if channel.startswith("depth") and method == "SUBSCRIBE":
                self.subscribe(ws, market_id.upper())
            elif channel.startswith("depth") and method == "UNSUBSCRIBE":
                self.unsubscribe(ws, market_id.upper())
            elif channel == "trade" and method == "SUBSCRIBE":
                self.subscribe_trades(ws, market_id.upper())
        self.send(ws, {"result": None, "id": req.get("id")})

    def diff(self, market_id: str, seq: int, bids: Levels, asks: Levels) -> dict:
        return {"e": "depthUpdate", "E": self.ex.clock_ms(), "s": market_id, "U": seq, "u": seq, "b": bids, "a": asks}

    def trade(self, trade: PublicTrade) -> dict:
        trade_id, ts, market_id, price, qty, taker = trade
        maker_buys = taker == "sell"  # binance's "m": the buyer is the maker
        return {"e": "trade", "E": ts, "s": market_id, "t": trade_id, "p": str(price), "q": str(qty), "T": ts, "m": maker_buys, "M": True}


class OkxPublicStream(PublicStream):
    """The v5 public ``books`` channel; ``ping`` is answered ``pong``."""

    path = "/ws/ws/v5/public"

    def on_text(self, ws: web.WebSocketResponse, text: str) -> None:
        if text == "ping":
            self.send(ws, "pong")
            return
        req = json.loads(text)
        op = req.get("op")
        for arg in req.get("args", []):
            self.send(ws, {"event": op, "arg": arg, "connId": "emu"})
            market_id, channel = arg.get("instId", ""), arg.get("channel")
            if channel == "trades" and op == "subscribe":
                self.subscribe_trades(ws, market_id)
            if channel != "books" or market_id not in self.ex.books:
                continue
            if op == "subscribe":
                self.subscribe(ws, market_id)
                self.send(ws, self._message(market_id, "snapshot", -1, *self._full(market_id)))
            elif op == "unsubscribe":
                self.unsubscribe(ws, market_id)

    def _full(self, market_id: str) -> tuple[Levels, Levels]:
        bids, asks = self.ex.books[market_id]
        return all_levels(bids, True), all_levels(asks, False)

    def diff(self, market_id: str, seq: int, bids: Levels, asks: Levels) -> dict:
        return self._message(market_id, "update", seq - 1, bids, asks)

    def trade(self, trade: PublicTrade) -> dict:
        trade_id, ts, market_id, price, qty, taker = trade
        data = {"instId": market_id, "tradeId": str(trade_id), "px": str(price), "sz": str(qty), "side": taker, "ts": str(ts), "count": "1"}
        return {"arg": {"channel": "trades", "instId": market_id}, "data": [data]}

    def _message(self, market_id: str, action: str, prev: int, bids: Levels, asks: Levels) -> dict:
        """``prev``: the ``seqId`` of the change before (-1 for a snapshot); every change of
        the book is one update, so a left-out one shows as ``prevSeqId`` ≠ the last ``seqId``."""
        seq = self.ex.book_seq[market_id]
        book_bids, book_asks = self.ex.books[market_id]
        checksum = okx_checksum(
            {float(p): (str(p), str(q)) for p, q in book_bids.items()}, {float(p): (str(p), str(q)) for p, q in book_asks.items()}
        )
        data = {
            "asks": [[p, q, "0", "1"] for p, q in asks],
            "bids": [[p, q, "0", "1"] for p, q in bids],
            "ts": str(self.ex.clock_ms()),
            "checksum": checksum,
            "prevSeqId": prev,
            "seqId": seq,
        }
        return {"arg": {"channel": "books", "instId": market_id}, "action": action, "data": [data]}


class BybitPublicStream(PublicStream):
    """The v5 public ``orderbook.<depth>.<symbol>`` topics, on the spot, linear and inverse
    paths alike (a market id names one market of the emulated exchange)."""

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"/stream/v5/public/{kind}", self.websocket) for kind in ("spot", "linear", "inverse")]

    def __init__(self, exchange: EmulatedExchange) -> None:
        super().__init__(exchange)
        self._topics: dict[str, str] = {}

    def on_text(self, ws: web.WebSocketResponse, text: str) -> None:
        req = json.loads(text)
        op = req.get("op")
        if op == "ping":
            self.send(ws, {"success": True, "ret_msg": "pong", "op": "ping", "conn_id": "emu"})
            return
        self.send(ws, {"success": True, "ret_msg": "", "op": op, "conn_id": "emu", "req_id": req.get("req_id", "")})
        for topic in req.get("args", []):
            kind, _, rest = str(topic).partition(".")
            if kind == "publicTrade" and op == "subscribe":
                self.subscribe_trades(ws, rest)
            depth, _, market_id = rest.partition(".")
            if kind != "orderbook" or market_id not in self.ex.books:
                continue
            if op == "subscribe":
                self._topics[market_id] = topic
                self.subscribe(ws, market_id)
                bids, asks = self.ex.books[market_id]
                levels = int(depth)
                self.send(ws, self._message(market_id, "snapshot", all_levels(bids, True, levels), all_levels(asks, False, levels)))
            elif op == "unsubscribe":
                self.unsubscribe(ws, market_id)

    def diff(self, market_id: str, seq: int, bids: Levels, asks: Levels) -> dict:
        return self._message(market_id, "delta", bids, asks)

    def trade(self, trade: PublicTrade) -> dict:
        trade_id, ts, market_id, price, qty, taker = trade
        data = {"T": ts, "s": market_id, "S": taker.capitalize(), "v": str(qty), "p": str(price), "i": str(trade_id), "BT": False}
        return {"topic": f"publicTrade.{market_id}", "type": "snapshot", "ts": ts, "data": [data]}

    def _message(self, market_id: str, kind: str, bids: Levels, asks: Levels) -> dict:
        seq = self.ex.book_seq[market_id]
        ts = self.ex.clock_ms()
        data = {"s": market_id, "b": bids, "a": asks, "u": seq, "seq": seq}
        return {"topic": self._topics[market_id], "type": kind, "ts": ts, "data": data, "cts": ts}


PUBLIC_STREAMS: dict[str, type[PublicStream]] = {"binance": BinancePublicStream, "okx": OkxPublicStream, "bybit": BybitPublicStream}
"""The book websocket of each emulated exchange."""
