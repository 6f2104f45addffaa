"""ccxt.pro's binance watch_order_book over the emulator's depth websocket, fed with the real
BTCUSDT recording: ccxt's book must equal our own rebuild at every update id, and a sequence
gap must end in a resubscription, not a frozen loop."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt.pro as ccxt_pro
import pytest
from ccxt.base.errors import ChecksumError
from ccxt_mm_testkit.emulator.binance import BinanceDialect
from ccxt_mm_testkit.emulator.binance_ws import BinanceDepthReplay
from ccxt_mm_testkit.emulator.core import EmulatedExchange
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.errors import ExchangeError
from ccxt_mm.exchange.clients import point_at
from ccxt_mm.exchange.feed import BookFeed
from ccxt_mm.market.binance_capture import read_binance_capture
from ccxt_mm.market.events import MsgKind
from tests.conftest import BINANCE_FILES
from tests.integration.exchanges.conftest import API_KEY, BTCUSDT, SECRET, websocket_only


@pytest.fixture(scope="module")
def recording():
    log = read_binance_capture(BINANCE_FILES[:1], "BTC/USDT", tickers=False)
    book = GridBook(log.prices)
    tops: dict[int, tuple] = {}
    for m in range(log.messages):
        if log.msg_kind[m] in (MsgKind.SNAPSHOT, MsgKind.DIFF):
            log.apply_message(book, m)
            bb, ba = book.best_bid, book.best_ask
            tops[int(log.msg_seq[m])] = (book.prices[bb], book.bid_qty[bb], book.prices[ba], book.ask_qty[ba])
    return log, tops


def run(log, scenario, drop: frozenset[int] = frozenset()):
    async def main():
        replay = BinanceDepthReplay(log, "BTCUSDT", rate_hz=100, drop=drop)
        markets = EmulatedExchange({"BTCUSDT": BTCUSDT}, {"USDT": Decimal(0)})
        server = EmulatorServer([*replay.routes(), *BinanceDialect(markets, API_KEY, SECRET).routes()[:3]])
        url = await server.start()
        client = ccxt_pro.binance({"enableRateLimit": False})
        point_at(client, url, url.replace("http", "ws"))
        try:
            return await scenario(BookFeed(client, "BTC/USDT", depth=20, poll_secs=1.0, mode=websocket_only()), replay)
        finally:
            await replay.close()
            await client.close()
            await server.stop()

    return asyncio.run(main())


def top(bids, asks) -> tuple:
    return (bids[0][0], bids[0][1], asks[0][0], asks[0][1])


def test_ccxt_pro_book_equals_our_rebuild_at_every_update(recording):
    log, tops = recording

    async def scenario(feed, replay):
        checked = 0
        while checked < 80:
            bids, asks = await feed.next()
            assert top(bids, asks) == tops[feed.last_nonce], feed.last_nonce
            checked += 1
        assert replay.subscriptions == 1
        return checked

    assert run(log, scenario) == 80


def test_a_sequence_gap_resubscribes_with_backoff_and_recovers(recording):
    log, tops = recording
    diffs = [int(log.msg_seq[m]) for m in range(log.messages) if log.msg_kind[m] == MsgKind.DIFF]
    dropped = diffs[30]

    async def scenario(feed, replay):
        gaps, good_after, backoff, spins = 0, 0, 0.05, 0
        while good_after < 30:
            try:
                bids, asks = await feed.next()
            except ExchangeError as exc:  # ours, from ccxt's ChecksumError (binance's sequence gap)
                assert isinstance(exc.__cause__, ChecksumError)
                gaps += 1
                await asyncio.sleep(backoff)  # every retry path yields and backs off
                backoff = min(backoff * 2, 1.0)
                continue
            spins += 1
            assert top(bids, asks) == tops[feed.last_nonce]
            if feed.last_nonce > dropped:
                good_after += 1
        return gaps, replay.subscriptions, spins

    gaps, subscriptions, spins = run(log, scenario, drop=frozenset({dropped}))
    assert gaps >= 1 and subscriptions >= 2
    assert spins < 500
