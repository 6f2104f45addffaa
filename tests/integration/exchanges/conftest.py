"""Emulated exchanges on 127.0.0.1 with books seeded from the real recordings."""

from __future__ import annotations

import gzip
from decimal import Decimal

import orjson

from ccxt_mm.emulator.core import EmulatedExchange, EmuMarket
from tests.conftest import BINANCE_FILES

API_KEY = "emu" + "k" * 61
SECRET = "emu" + "s" * 61
BTCUSDT = EmuMarket("BTC/USDT", "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"))


def binance_snapshot() -> dict:
    """The real REST depth snapshot (line 8) of the bundled BTCUSDT recording."""
    with gzip.open(BINANCE_FILES[0], "rb") as fh:
        for line in fh:
            body = line.split(b" ", 1)[1]
            if body.startswith(b'{"lastUpdateId"'):
                return orjson.loads(body)
    raise AssertionError("no snapshot in the recording")


def seeded_exchange() -> EmulatedExchange:
    ex = EmulatedExchange({"BTCUSDT": BTCUSDT}, {"BTC": Decimal("1"), "USDT": Decimal("100000")})
    snap = binance_snapshot()
    ex.set_book("BTCUSDT", snap["bids"], snap["asks"])
    return ex
