"""ccxt.pro's okx watch_order_book over the emulator's websocket, fed verbatim with the real
OKX ``books`` messages of the capture: ccxt's book must equal our checksum-verified rebuild."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.pro as ccxt_pro
from ccxt_mm_testkit.emulator.core import EmulatedExchange
from ccxt_mm_testkit.emulator.okx import OkxDialect
from ccxt_mm_testkit.emulator.okx_ws import OkxBooksReplay, recorded_books
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.exchange.clients import point_at
from ccxt_mm.exchange.feed import BookFeed
from ccxt_mm.market.cryptofeed_capture import ChecksumStats, read_okx_capture
from ccxt_mm.market.events import MsgKind
from tests.conftest import OKX_FILE
from tests.integration.exchanges.conftest import API_KEY, OKX_BTCUSDT, SECRET, websocket_only


def our_tops_by_exchange_ts() -> dict[int, tuple]:
    """Top of our rebuilt BTC-USDT book after each recorded message, keyed by OKX's ``ts``
    (only timestamps carried by a single message)."""
    stats = ChecksumStats()
    log = read_okx_capture(OKX_FILE, "BTC/USDT", stats)
    assert stats.total_mismatched == 0
    messages = recorded_books(OKX_FILE, "BTC-USDT")
    book = GridBook(log.prices)
    tops: dict[int, tuple] = {}
    seen: dict[int, int] = {}
    updates = [m for m in range(log.messages) if log.msg_kind[m] in (MsgKind.SNAPSHOT, MsgKind.DIFF)]
    assert len(updates) == len(messages)
    for m, msg in zip(updates, messages, strict=True):
        log.apply_message(book, m)
        ts = int(msg["data"][0]["ts"])
        seen[ts] = seen.get(ts, 0) + 1
        bb, ba = book.best_bid, book.best_ask
        tops[ts] = (book.prices[bb], book.bid_qty[bb], book.prices[ba], book.ask_qty[ba])
    return {ts: top for ts, top in tops.items() if seen[ts] == 1}


def test_ccxt_pro_okx_book_equals_our_checksum_verified_rebuild():
    tops = our_tops_by_exchange_ts()

    async def main():
        replay = OkxBooksReplay(recorded_books(OKX_FILE, "BTC-USDT"), rate_hz=100)
        markets = EmulatedExchange({"BTC-USDT": OKX_BTCUSDT}, {"USDT": Decimal(0)})
        server = EmulatorServer([*replay.routes(), *OkxDialect(markets, API_KEY, SECRET, "p").routes()[:3]])
        url = await server.start()
        client = ccxt_pro.okx({"enableRateLimit": False})
        point_at(client, url, url.replace("http", "ws"))
        feed = BookFeed(client, "BTC/USDT", depth=25, poll_secs=1.0, mode=websocket_only())
        compared = 0
        try:
            while replay.sent < len(replay.messages) - 1 or compared == 0:
                bids, asks = await asyncio.wait_for(feed.next(), 5)
                ts = client.orderbooks["BTC/USDT"]["timestamp"]
                if ts in tops:
                    assert (bids[0][0], bids[0][1], asks[0][0], asks[0][1]) == tops[ts], ts
                    compared += 1
        finally:
            await replay.close()
            await client.close()
            await server.stop()
        return compared

    assert asyncio.run(main()) >= 50
