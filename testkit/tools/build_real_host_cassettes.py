"""Build the real-hostname cassettes from ccxt's own static fixtures.

ccxt's real clients are run against a local responder that answers with the real response
bodies of ``cassettes/ccxt_static/`` (exchangeInfo and Bybit's account-type probes, which the
fixtures lack, come from the emulator's dialects); the traffic is recorded with the project's
scrubbing and the local host is then replaced by the exchange's real one, so replays exercise
ccxt exactly as in production. OKX's calls are also ccxt's request fixtures (the requests must
come out as ccxt's fixtures have them); its funding balance and order acknowledgement are real
bodies, the trading-account balance comes from the emulator's OKX dialect (its real fixture is
~35 kB of currencies we do not quote). Run from the repository root:

    .venv/bin/python testkit/tools/build_real_host_cassettes.py [binance] [binance_swap] [bybit] [bybit_swap] [okx] [okx_swap]
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from contextlib import suppress
from decimal import Decimal
from pathlib import Path

import ccxt.async_support as ccxt_async
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ccxt_mm_testkit.cassettes import cassette_vcr
from ccxt_mm_testkit.emulator.binance import BinanceDialect
from ccxt_mm_testkit.emulator.binance_futures import FUTURES_ERRORS, BinanceFuturesDialect
from ccxt_mm_testkit.emulator.bybit import BybitDialect
from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
from ccxt_mm_testkit.emulator.okx import OkxDialect
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.exchange.clients import point_at
from ccxt_mm.exchange.dialects import dialect
from ccxt_mm.exchange.swaps import SwapAccount

ROOT = Path(__file__).resolve().parents[2]  # the repository: testkit/tools/ is two below
STATIC = ROOT / "cassettes" / "ccxt_static"
OUT = ROOT / "cassettes" / "exchanges"
KEY, SECRET, PASSPHRASE = "builder-key-0000000000000000", "builder-secret-000000000000", "builder-passphrase"


def static(exchange: str, method: str, name: str = "subset", description: str | None = None) -> dict:
    """The response fixture of ``method`` in ``ccxt_static/<exchange>.<name>.json`` with
    ``description`` (None: the first)."""
    cases = json.loads((STATIC / f"{exchange}.{name}.json").read_text())["methods"][method]
    return next(c for c in cases if description in (None, c.get("description")))


def market(symbol: str, tick: str, lot: str, min_notional: str, sep: str = "") -> EmuMarket:
    base, quote = symbol.split("/")
    return EmuMarket(symbol, base + sep + quote, base, quote, Decimal(tick), Decimal(lot), Decimal(lot), Decimal(min_notional))


async def record(name: str, routes: list, cassette: str, real_host: str, calls, kinds: tuple[str, ...] = ("spot",)) -> None:
    server = EmulatorServer(routes)
    url = await server.start()
    client = getattr(ccxt_async, name)({"apiKey": KEY, "secret": SECRET, "password": PASSPHRASE, "enableRateLimit": False})
    point_at(client, url, kinds=kinds)
    path = OUT / name / cassette
    path.unlink(missing_ok=True)  # vcrpy appends to an existing cassette
    try:
        with cassette_vcr(OUT / name, record_mode="all", secrets=[KEY, SECRET, PASSPHRASE]).use_cassette(cassette):
            await calls(client)
    finally:
        await client.close()
        await server.stop()
    path.write_text(path.read_text().replace(url, real_host))


async def binance() -> None:
    ex = EmulatedExchange({m.id: m for m in (market("LTC/USDT", "0.01", "0.001", "5"), market("SOL/USDT", "0.01", "0.001", "5"))}, {})
    dialect = BinanceDialect(ex, KEY, SECRET)

    async def account(request):
        return web.json_response(static("binance", "fetchBalance")["httpResponse"])

    async def open_orders(request):
        return web.json_response(static("binance", "fetchOpenOrders")["httpResponse"])

    async def order(request):
        form = dict(x.split("=", 1) for x in (await request.text()).split("&"))
        if form.get("type") == "LIMIT_MAKER":  # the real body Binance sends, quoted in ccxt's source
            return web.json_response({"code": -2010, "msg": "Order would immediately match and take."}, status=400)
        return web.json_response(static("binance", "createOrder")["httpResponse"])

    routes = [
        web.get("/api/v3/exchangeInfo", dialect.exchange_info),
        web.get("/api/v3/account", account),
        web.get("/api/v3/openOrders", open_orders),
        web.post("/api/v3/order", order),
    ]

    async def calls(client):
        await client.load_markets()
        await client.fetch_balance()
        await client.fetch_open_orders("LTC/USDT")
        await client.create_order("SOL/USDT", "limit", "buy", 0.05, 241, {"selfTradePrevention": "expire_maker", "icebergAmount": 0.03})
        with suppress(ccxt_async.OrderImmediatelyFillable):
            await client.create_order("SOL/USDT", "limit", "buy", 0.05, 241, {"postOnly": True})

    await record("binance", routes, "real_host_static_bodies.yaml", "https://api.binance.com", calls)


async def bybit() -> None:
    ex = EmulatedExchange({m.id: m for m in (market("BTC/USDT", "0.01", "0.000001", "1"),)}, {})
    dialect = BybitDialect(ex, KEY, SECRET)

    async def wallet(request):
        return web.json_response(static("bybit", "fetchBalance")["httpResponse"])

    routes = [
        web.get("/v5/market/instruments-info", dialect.instruments),
        web.get("/v5/user/query-api", dialect.query_api),
        web.get("/v5/account/info", dialect.account_info),
        web.get("/v5/account/wallet-balance", wallet),
    ]

    async def calls(client):
        await client.load_markets()
        await client.fetch_balance()

    await record("bybit", routes, "real_host_static_bodies.yaml", "https://api.bybit.com", calls)


def usdm_depth_snapshot() -> dict:
    """The real REST ``/fapi/v1/depth`` snapshot in the bundled Binance USDⓈ-M ETHUSDT capture."""
    with gzip.open(ROOT / "ccxt_mm/recordings/binance_futures/usdm_ethusdt_20240808.gz", "rb") as fh:
        for line in fh:
            body = line.split(b" ", 1)[1]
            if body.startswith(b'{"lastUpdateId"'):
                return json.loads(body)
    raise AssertionError("no depth snapshot in the USDⓈ-M capture")


async def binance_swap() -> None:
    """fapi.binance.com: exchangeInfo from the emulator's futures dialect; the depth snapshot
    of the bundled USDⓈ-M capture; ccxt's real swap order (served in the openOrders list) and
    swap trade; the -5022 body of a post-only order that would take, as ccxt's source quotes it."""
    swaps = [
        EmuMarket(f"{b}/USDT:USDT", f"{b}USDT", b, "USDT", Decimal(t), Decimal(lot), Decimal(lot), Decimal("5"), Decimal(1), "USDT")
        for b, t, lot in (("ETH", "0.01", "0.001"), ("BTC", "0.10", "0.001"), ("LTC", "0.01", "0.001"))
    ]
    dialect = BinanceFuturesDialect(EmulatedExchange({m.id: m for m in swaps}, {}), KEY, SECRET)

    async def depth(request):
        return web.json_response(usdm_depth_snapshot())

    async def open_orders(request):
        return web.json_response([static("binance", "fetchOpenOrder")["httpResponse"]])

    async def user_trades(request):
        return web.json_response(static("binance", "fetchMyTrades", description="Swap private trade")["httpResponse"])

    async def order(request):
        return web.json_response({"code": -5022, "msg": FUTURES_ERRORS["post_only"][1]}, status=400)

    routes = [
        web.get("/fapi/v1/exchangeInfo", dialect.exchange_info),
        web.get("/fapi/v1/depth", depth),
        web.get("/fapi/v1/openOrders", open_orders),
        web.get("/fapi/v1/userTrades", user_trades),
        web.post("/fapi/v1/order", order),
    ]

    async def calls(client):
        await client.load_markets()
        await client.fetch_order_book("ETH/USDT:USDT", 1000)
        await client.fetch_open_orders("LTC/USDT:USDT")
        await client.fetch_my_trades("BTC/USDT:USDT", None, 1)
        with suppress(ccxt_async.OrderNotFillable):
            await client.create_order("ETH/USDT:USDT", "limit", "buy", 0.01, 2700, {"postOnly": True})

    await record("binance", routes, "real_host_swap_bodies.yaml", "https://fapi.binance.com", calls, kinds=("linear",))


def okx_request_fixture(method: str, description: str) -> dict:
    cases = json.loads((STATIC / "okx.request.subset.json").read_text())["methods"][method]
    return next(c for c in cases if c["description"] == description)


OKX_CALLS = (
    ("fetchBalance", "fetch_balance", "spot balance"),
    ("fetchBalance", "fetch_balance", "funding balance"),
    ("createOrder", "create_order", "Spot limit buy order"),
)
"""(fixture method, ccxt method, description) of the request fixtures the cassette holds."""


async def okx() -> None:
    ex = EmulatedExchange({"LTC-USDT": market("LTC/USDT", "0.01", "0.000001", "0", sep="-")}, {"USDT": Decimal(1000)})

    async def funding(request):
        return web.json_response(static("okx", "fetchBalance", "response.subset")["httpResponse"])

    async def batch_orders(request):
        return web.json_response(static("okx", "createOrder", "response.subset")["httpResponse"])

    real = [web.get("/api/v5/asset/balances", funding), web.post("/api/v5/trade/batch-orders", batch_orders)]
    real_paths = {r.path for r in real}
    routes = [r for r in OkxDialect(ex, KEY, SECRET, PASSPHRASE).routes() if r.path not in real_paths] + real

    async def calls(client):
        await client.load_markets()
        for method, python_name, description in OKX_CALLS:
            await getattr(client, python_name)(*okx_request_fixture(method, description)["input"])

    await record("okx", routes, "real_host_static_bodies.yaml", "https://www.okx.com", calls)


def swap(market_id: str, symbol: str, tick: str, lot: str, contract_size: str) -> EmuMarket:
    """A perpetual swap of the emulator's instruments (linear if settled in its quote)."""
    base, rest = symbol.split("/")
    quote, settle = rest.split(":")
    d = Decimal
    return EmuMarket(symbol, market_id, base, quote, d(tick), d(lot), d(lot), d(0), d(contract_size), settle, settle == base)


def real_body(exchange: str, method: str, description: str):
    """A handler answering with the real body of ``ccxt_static/<exchange>.swap.subset.json``."""

    async def handler(request):
        return web.json_response(static(exchange, method, "swap.subset", description)["httpResponse"])

    return handler


async def _direct(call):
    return await call()


async def okx_swap() -> None:
    """www.okx.com swaps: instruments from the emulator's OKX dialect (BTC-USDT-SWAP 0.01 BTC,
    BTC-USD-SWAP 100 USD, LTC-USDT-SWAP 1 LTC a contract, as OKX lists them); the order book and
    the two positions (BTC-USD-SWAP inverse cross, LTC-USDT-SWAP linear) are ccxt's real bodies."""
    markets = (
        swap("BTC-USDT-SWAP", "BTC/USDT:USDT", "0.1", "0.01", "0.01"),
        swap("BTC-USD-SWAP", "BTC/USD:BTC", "0.1", "1", "100"),
        swap("LTC-USDT-SWAP", "LTC/USDT:USDT", "0.01", "1", "1"),
    )
    dialect_routes = OkxDialect(EmulatedExchange({m.id: m for m in markets}, {}), KEY, SECRET, PASSPHRASE).routes()
    positions = {
        "BTC-USD-SWAP": real_body("okx", "fetchPosition", "Inverse swap cross fetch position"),
        "LTC-USDT-SWAP": real_body("okx", "fetchPositions", "linear swap position"),
    }

    async def position(request):
        return await positions[request.query["instId"]](request)

    routes = [r for r in dialect_routes if r.path == "/api/v5/public/instruments"] + [
        web.get("/api/v5/market/books", real_body("okx", "fetchOrderBook", "Swap orderbook")),
        web.get("/api/v5/account/positions", position),
    ]

    async def calls(client):
        await client.load_markets()
        await client.fetch_order_book("BTC/USDT:USDT", 2)
        for symbol in ("BTC/USD:BTC", "LTC/USDT:USDT"):
            await SwapAccount(client, client.market(symbol), dialect("okx").for_market(client.market(symbol)), _direct).position()

    await record("okx", routes, "real_host_swap_bodies.yaml", "https://www.okx.com", calls, kinds=("linear", "inverse"))


BYBIT_FUNDING_SINCE_MS = 1_710_800_000_000
"""The payments' ``since`` (2024-03-18 22:13 UTC): before the real rows."""


async def bybit_swap() -> None:
    """api.bybit.com linear swaps: instruments and the account-type probes from the emulator's
    Bybit dialect; the order book, the funding rate with the mark (``market/tickers``), the
    LTCUSDT position and its funding payments (``execution/list`` of type Funding) are ccxt's
    real bodies."""
    markets = (swap("BTCUSDT", "BTC/USDT:USDT", "0.10", "0.001", "1"), swap("LTCUSDT", "LTC/USDT:USDT", "0.01", "0.1", "1"))
    emulated = BybitDialect(EmulatedExchange({m.id: m for m in markets}, {}), KEY, SECRET)
    probes = ("/v5/market/instruments-info", "/v5/user/query-api", "/v5/account/info")
    routes = [r for r in emulated.routes() if r.path in probes] + [
        web.get("/v5/market/orderbook", real_body("bybit", "fetchOrderBook", "swap orderbook")),
        web.get("/v5/market/tickers", real_body("bybit", "fetchFundingRate", "fetchFundingRate")),
        web.get("/v5/position/list", real_body("bybit", "fetchPositions", "Fetch linear position")),
        web.get("/v5/execution/list", real_body("bybit", "fetchFundingHistory", "linear funding history")),
    ]

    async def calls(client):
        await client.load_markets()
        await client.fetch_order_book("BTC/USDT:USDT", 2)
        await SwapAccount(
            client, client.market("BTC/USDT:USDT"), dialect("bybit").for_market(client.market("BTC/USDT:USDT")), _direct
        ).funding_now()
        ltc = SwapAccount(client, client.market("LTC/USDT:USDT"), dialect("bybit").for_market(client.market("LTC/USDT:USDT")), _direct)
        await ltc.funding_paid(BYBIT_FUNDING_SINCE_MS)
        await ltc.position()

    await record("bybit", routes, "real_host_swap_bodies.yaml", "https://api.bybit.com", calls, kinds=("linear",))


if __name__ == "__main__":
    builders = {
        "binance": binance,
        "binance_swap": binance_swap,
        "bybit": bybit,
        "bybit_swap": bybit_swap,
        "okx": okx,
        "okx_swap": okx_swap,
    }
    for name in sys.argv[1:] or builders:
        asyncio.run(builders[name]())
