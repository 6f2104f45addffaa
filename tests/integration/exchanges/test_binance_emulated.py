"""CcxtVenue on ccxt's real binance client against the loopback Binance emulator: signing,
parsing and error mapping are ccxt's own."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import ccxt.async_support as ccxt_async
from aiohttp import web

from ccxt_mm.emulator import point_ccxt_at
from ccxt_mm.emulator.binance import BinanceDialect
from ccxt_mm.emulator.server import EmulatorServer
from ccxt_mm.execution.ccxt_venue import CcxtVenue
from ccxt_mm.execution.types import CancelOrder, CancelRejected, Fill, OrderAccepted, OrderCancelled, OrderRejected, PlaceOrder
from tests.integration.exchanges.conftest import API_KEY, SECRET, seeded_exchange

BEST_BID, BEST_ASK = 61837.63, 61837.64  # from the recording's snapshot
clock = itertools.count(1).__next__


def run(scenario, secret: str = SECRET):
    async def main():
        ex = seeded_exchange()
        server = EmulatorServer(BinanceDialect(ex, API_KEY, SECRET).routes())
        url = await server.start()
        client = ccxt_async.binance({"apiKey": API_KEY, "secret": secret, "enableRateLimit": False})
        point_ccxt_at(client, url)
        venue = CcxtVenue(client, "BTC/USDT", clock)
        try:
            await venue.start()
            return await scenario(venue, ex, server)
        finally:
            await client.close()
            await server.stop()

    return asyncio.run(main())


def test_markets_precision_and_limits_come_from_exchange_info():
    async def scenario(venue, ex, server):
        market = venue.exchange.market("BTC/USDT")
        assert market["precision"]["price"] == 0.01 and market["precision"]["amount"] == 0.00001
        assert market["limits"]["cost"]["min"] == 5.0
        assert server.requests[0] == ("GET", "/api/v3/exchangeInfo")

    run(scenario)


def test_post_only_create_rests_and_a_crossing_one_is_rejected_not_an_error():
    async def scenario(venue, ex, server):
        venue.submit(PlaceOrder("mmt1x1", 1, BEST_BID - 10, 0.001), 0)
        venue.submit(PlaceOrder("mmt1x2", 1, BEST_ASK, 0.001), 0)  # would take: LIMIT_MAKER refuses
        await venue.flush()
        accepted, rejected = venue.drain_events()
        assert accepted == OrderAccepted("mmt1x1", accepted.ts_ns)
        assert isinstance(rejected, OrderRejected) and rejected.post_only
        assert "immediately match" in rejected.reason
        assert venue.stats.post_only_rejects == 1 and venue.stats.errors == {"post_only": 1}
        (resting,) = ex.open_orders()
        assert (resting.client_id, resting.post_only, str(resting.price), str(resting.qty)) == ("mmt1x1", True, "61827.63", "0.001")
        (open_order,) = await venue.open_orders()
        assert (open_order.client_id, open_order.price, open_order.remaining) == ("mmt1x1", 61827.63, 0.001)

    run(scenario)


def test_fills_are_polled_with_fees_and_a_cancel_after_the_fill_is_rejected():
    async def scenario(venue, ex, server):
        venue.submit(PlaceOrder("mmt2x1", -1, BEST_ASK + 5, 0.002), 0)
        await venue.flush()
        venue.drain_events()
        ex.trade("BTCUSDT", "buy", Decimal("61842.64"), Decimal("0.0005"))
        await venue.poll_fills()
        (fill,) = venue.drain_events()
        assert isinstance(fill, Fill) and (fill.side, fill.price, fill.qty, fill.remaining) == (-1, 61842.64, 0.0005, 0.0015)
        assert abs(fill.fee - 61842.64 * 0.0005 * 0.001) < 1e-9  # 10 bps in USDT
        ex.trade("BTCUSDT", "buy", Decimal("61850"), Decimal("1"))  # the rest fills before our cancel lands
        venue.submit(CancelOrder("mmt2x1"), 0)
        await venue.flush()
        (late,) = venue.drain_events()
        assert isinstance(late, CancelRejected) and "Unknown order" in late.reason
        await venue.poll_fills()
        (last,) = venue.drain_events()
        assert last.remaining == 0.0
        assert (await venue.balances())["BTC"][1] == 1 - 0.002

    run(scenario)


def test_cancel_and_reconcile_at_start_cancels_only_our_prefix():
    async def scenario(venue, ex, server):
        # left over by an earlier run of ours, and someone else's order on the same account
        ex.place("BTCUSDT", "buy", Decimal("61000.00"), Decimal("0.001"), "mmold1x5", post_only=True)
        ex.place("BTCUSDT", "sell", Decimal("62000.00"), Decimal("0.001"), "manual-42", post_only=True)
        assert sorted(await venue.cancel_leftovers("mm")) == ["mmold1x5"]
        assert [o.client_id for o in ex.open_orders()] == ["manual-42"]
        venue.submit(PlaceOrder("mmt3x1", 1, 61000.0, 0.001), 0)
        await venue.flush()
        venue.submit(CancelOrder("mmt3x1"), 0)
        await venue.flush()
        assert isinstance(venue.drain_events()[-1], OrderCancelled)
        assert [o.client_id for o in ex.open_orders()] == ["manual-42"]

    run(scenario)


def test_min_notional_is_checked_before_sending():
    async def scenario(venue, ex, server):
        sent = len(server.requests)
        venue.submit(PlaceOrder("mmt4x1", 1, 61000.0, 0.00005), 0)  # 3.05 USDT < 5
        await venue.flush()
        (ev,) = venue.drain_events()
        assert isinstance(ev, OrderRejected) and "below minimum 5" in ev.reason
        assert len(server.requests) == sent

    run(scenario)


def test_a_create_whose_reply_is_lost_is_found_by_client_id_not_resent():
    async def lose_create_reply(request, handler):
        response = await handler(request)
        if request.method == "POST":
            return web.Response(status=504, text="Gateway Time-out")
        return response

    async def scenario(venue, ex, server):
        server.fault = lose_create_reply
        venue.submit(PlaceOrder("mmt5x1", 1, 61000.0, 0.001), 0)
        await venue.flush()
        (ev,) = venue.drain_events()
        assert isinstance(ev, OrderAccepted)
        assert venue.stats.lost_creates_found == 1 and venue.stats.errors == {"network": 1}
        assert [m for m, _ in server.requests].count("POST") == 1
        assert [o.client_id for o in ex.open_orders()] == ["mmt5x1"]

    run(scenario)


def test_a_wrong_secret_is_refused_by_the_signature_check():
    async def scenario(venue, ex, server):
        venue.submit(PlaceOrder("mmt6x1", 1, 61000.0, 0.001), 0)
        await venue.flush()
        (ev,) = venue.drain_events()
        assert isinstance(ev, OrderRejected) and "Signature for this request is not valid" in ev.reason
        assert venue.stats.errors == {"auth": 1} and ex.open_orders() == []

    run(scenario, secret="wrong" * 12)
