"""ccxt.pro's bybit watch_order_book over the emulator's v5 spot websocket, replaying the real
Bybit LTCUSDT capture (levels converted from the legacy id-keyed format): ccxt's book must
equal our own rebuild."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.pro as ccxt_pro
from ccxt_mm_testkit.emulator.bybit import BybitDialect
from ccxt_mm_testkit.emulator.bybit_ws import BybitBooksReplay, v5_messages
from ccxt_mm_testkit.emulator.core import EmulatedExchange
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.exchange.clients import point_at
from ccxt_mm.exchange.feed import BookFeed
from ccxt_mm.market.cryptofeed_capture import read_bybit_capture
from ccxt_mm.market.events import MsgKind
from tests.conftest import BYBIT_FILE
from tests.integration.exchanges.conftest import API_KEY, BYBIT_LTCUSDT, SECRET, websocket_only


def test_ccxt_pro_bybit_book_equals_our_rebuild():
    log = read_bybit_capture(BYBIT_FILE, "LTC/USDT")
    book = GridBook(log.prices)
    tops: dict[int, tuple] = {}
    seen: dict[int, int] = {}
    for m in range(log.messages):
        if log.msg_kind[m] in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            if log.msg_kind[m] == MsgKind.SNAPSHOT:
                book.clear()
            log.apply_message(book, m)
            ts = int(log.msg_ts_ns[m]) // 1_000_000
            seen[ts] = seen.get(ts, 0) + 1
            bb, ba = book.best_bid, book.best_ask
            tops[ts] = (book.prices[bb], book.bid_qty[bb], book.prices[ba], book.ask_qty[ba])

    async def main():
        replay = BybitBooksReplay(v5_messages(log, "LTCUSDT"), rate_hz=200)
        markets = EmulatedExchange({"LTCUSDT": BYBIT_LTCUSDT}, {"USDT": Decimal(0)})
        server = EmulatorServer([*replay.routes(), *BybitDialect(markets, API_KEY, SECRET).routes()[:3]])
        url = await server.start()
        client = ccxt_pro.bybit({"enableRateLimit": False})
        point_at(client, url, url.replace("http", "ws"))
        feed = BookFeed(client, "LTC/USDT", depth=25, poll_secs=1.0, mode=websocket_only())
        compared = 0
        try:
            while replay.sent < len(replay.messages) - 1:
                bids, asks = await asyncio.wait_for(feed.next(), 5)
                ts = client.orderbooks["LTC/USDT"]["timestamp"]
                if seen.get(ts) == 1:
                    assert (bids[0][0], bids[0][1], asks[0][0], asks[0][1]) == tops[ts], ts
                    compared += 1
        finally:
            await replay.close()
            await client.close()
            await server.stop()
        return compared

    assert asyncio.run(main()) >= 100
