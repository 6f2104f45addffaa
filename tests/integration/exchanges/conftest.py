"""Emulated exchanges on 127.0.0.1 with books seeded from the real recordings."""

from __future__ import annotations

import asyncio
import functools
import gzip
import itertools
from decimal import Decimal

import orjson
from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
from ccxt_mm_testkit.emulator.frames import Frame, book_frames

from ccxt_mm.exchange.feed import WebsocketFallback
from ccxt_mm.market.capture import load_capture
from tests.conftest import BINANCE_FILES, BYBIT_FILE, OKX_FILE


def websocket_only(what: str = "book") -> WebsocketFallback:
    """A feed mode on the websocket that never falls back to REST polling."""
    return WebsocketFallback(what, websocket=True, after=0, retry_secs=0.0)


def market(symbol: str, market_id: str, tick: str, lot: str, min_notional: str) -> EmuMarket:
    """A spot market whose minimum order is one ``lot``."""
    base, quote = symbol.split("/")
    return EmuMarket(symbol, market_id, base, quote, Decimal(tick), Decimal(lot), Decimal(lot), Decimal(min_notional))


BTCUSDT = EmuMarket("BTC/USDT", "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"))
OKX_BTCUSDT = EmuMarket("BTC/USDT", "BTC-USDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.00000001"), Decimal("0.00001"), Decimal("0"))
BYBIT_LTCUSDT = EmuMarket("LTC/USDT", "LTCUSDT", "LTC", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("1"))

MARKETS: dict[str, list[tuple[EmuMarket, list[str], str]]] = {
    "binance": [
        (BTCUSDT, BINANCE_FILES[:1], "BTC/USDT"),
        (market("ETH/USDT", "ETHUSDT", "0.01", "0.01", "5"), [BYBIT_FILE], "ETH/USDT"),
        (market("LINK/USDT", "LINKUSDT", "0.001", "0.1", "5"), [BYBIT_FILE], "LINK/USDT"),
    ],
    "okx": [
        (OKX_BTCUSDT, [OKX_FILE], "BTC/USDT"),
        (market("BTC/USD", "BTC-USD", "0.1", "1", "0"), [OKX_FILE], "BTC-USD-220527"),
        (market("UNI/USD", "UNI-USD", "0.001", "1", "0"), [OKX_FILE], "UNI-USD-SWAP"),
    ],
    "bybit": [
        (BYBIT_LTCUSDT, [BYBIT_FILE], "LTC/USDT"),
        (market("BCH/USDT", "BCHUSDT", "0.01", "0.01", "1"), [BYBIT_FILE], "BCH/USDT"),
        (market("XTZ/USDT", "XTZUSDT", "0.001", "0.1", "1"), [BYBIT_FILE], "XTZ/USDT"),
    ],
}
"""Each emulated exchange's markets: (market, the recording whose books it shows, its symbol or
instrument id there). The first is the exchange's own recording's main market; the others show
other real books of the bundled recordings (see ccxt_mm/recordings/PROVENANCE.md: binance has
no other spot recording, so its ETH/USDT and LINK/USDT show Bybit's; okx's BTC/USD and UNI/USD
show OKX's BTC-USD-220527 future and UNI-USD-SWAP, sizes in contracts), tick and lot those of
the recording (its finest price step, its smallest size)."""


@functools.cache
def market_frames(exchange: str, market_id: str) -> list[Frame]:
    """Top-20 books after each of the first 400 updates of the recording market ``market_id`` of
    emulated ``exchange`` shows."""
    files, recorded_as = next((files, name) for m, files, name in MARKETS[exchange] if m.id == market_id)
    return book_frames(load_capture(files, recorded_as), 20, 400)


def recorded_frames(exchange: str, symbol: str) -> list[Frame]:
    """:func:`market_frames` of ``exchange``'s market ``symbol``."""
    return market_frames(exchange, next(m.id for m, _, _ in MARKETS[exchange] if m.symbol == symbol))


def seed_others(ex: EmulatedExchange, exchange: str) -> EmulatedExchange:
    """``ex`` with every market of :data:`MARKETS` of ``exchange`` but its first, each book its
    recording's first top-20 book."""
    for m, _, _ in MARKETS[exchange][1:]:
        ex.markets[m.id] = m
        bids, asks = market_frames(exchange, m.id)[0]
        ex.set_book(m.id, [(repr(p), repr(q)) for p, q in bids], [(repr(p), repr(q)) for p, q in asks])
    return ex


async def step_books(markets: list[tuple[EmulatedExchange, str, list[Frame]]], period_secs: float) -> None:
    """Every ``period_secs``, each (exchange, market id, frames) market's book takes its next
    frame (round and round), as a live market moves."""
    for step in itertools.count():
        for ex, market_id, frames in markets:
            bids, asks = frames[step % len(frames)]
            ex.set_book(market_id, [(repr(p), repr(q)) for p, q in bids], [(repr(p), repr(q)) for p, q in asks])
        await asyncio.sleep(period_secs)


API_KEY = "emu" + "k" * 61
SECRET = "emu" + "s" * 61


def binance_snapshot() -> dict:
    """The real REST depth snapshot (line 8) of the bundled BTCUSDT recording."""
    with gzip.open(BINANCE_FILES[0], "rb") as fh:
        for line in fh:
            body = line.split(b" ", 1)[1]
            if body.startswith(b'{"lastUpdateId"'):
                return orjson.loads(body)
    raise AssertionError("no snapshot in the recording")


def okx_snapshot(inst_id: str = "BTC-USDT") -> dict:
    """The real OKX v5 ``books`` snapshot of ``inst_id`` from the bundled cryptofeed capture."""
    with gzip.open(OKX_FILE, "rb") as fh:
        for line in fh:
            msg = orjson.loads(line).get("msg") or {}
            if msg.get("action") == "snapshot" and msg["arg"]["instId"] == inst_id:
                return msg["data"][0]
    raise AssertionError(f"no OKX snapshot of {inst_id}")


def seeded_exchange() -> EmulatedExchange:
    ex = EmulatedExchange({"BTCUSDT": BTCUSDT}, {"BTC": Decimal("1"), "USDT": Decimal("100000")})
    snap = binance_snapshot()
    ex.set_book("BTCUSDT", snap["bids"], snap["asks"])
    return seed_others(ex, "binance")


def seeded_okx() -> EmulatedExchange:
    ex = EmulatedExchange({"BTC-USDT": OKX_BTCUSDT}, {"BTC": Decimal("1"), "USDT": Decimal("100000")})
    snap = okx_snapshot()
    ex.set_book("BTC-USDT", [lv[:2] for lv in snap["bids"]], [lv[:2] for lv in snap["asks"]])
    return seed_others(ex, "okx")


def bybit_snapshot(symbol: str = "LTCUSDT") -> list[dict]:
    """The real Bybit ``orderBookL2_25`` snapshot of ``symbol`` from the bundled capture."""
    with gzip.open(BYBIT_FILE, "rb") as fh:
        for line in fh:
            msg = orjson.loads(line).get("msg") or {}
            if msg.get("topic") == f"orderBookL2_25.{symbol}" and msg.get("type") == "snapshot":
                return msg["data"]["order_book"]
    raise AssertionError(f"no Bybit snapshot of {symbol}")


def seeded_bybit() -> EmulatedExchange:
    ex = EmulatedExchange({"LTCUSDT": BYBIT_LTCUSDT}, {"LTC": Decimal("100"), "USDT": Decimal("100000")})
    levels = bybit_snapshot()
    bids = [(lv["price"], str(lv["size"])) for lv in levels if lv["side"] == "Buy"]
    asks = [(lv["price"], str(lv["size"])) for lv in levels if lv["side"] == "Sell"]
    ex.set_book("LTCUSDT", bids, asks)
    return seed_others(ex, "bybit")
