"""The websockets of each emulated exchange, by exchange id: its public book stream and its
private fill stream (login checked with the exchange's own signature scheme)."""

from __future__ import annotations

from ccxt_mm_testkit.emulator.binance_futures_ws import BinanceFuturesPublicStream, BinanceFuturesUserStream
from ccxt_mm_testkit.emulator.binance_user_ws import BinanceUserStream
from ccxt_mm_testkit.emulator.bybit_user_ws import BybitUserStream
from ccxt_mm_testkit.emulator.core import EmulatedExchange
from ccxt_mm_testkit.emulator.okx_user_ws import OkxUserStream
from ccxt_mm_testkit.emulator.public_ws import PUBLIC_STREAMS, PublicStream
from ccxt_mm_testkit.emulator.stream import PushStream


def websockets(name: str, exchange: EmulatedExchange, api_key: str, secret: str, passphrase: str) -> tuple[PublicStream, PushStream]:
    """(book stream, user stream) of emulated exchange ``name`` (binance, okx or bybit);
    ``passphrase`` is okx's only. An emulated binance of swaps streams from its futures hosts
    (okx and bybit serve both kinds on the same streams)."""
    if name == "binance" and any(m.margined for m in exchange.markets.values()):
        return BinanceFuturesPublicStream(exchange), BinanceFuturesUserStream(exchange, api_key)
    user: PushStream = {
        "binance": lambda: BinanceUserStream(exchange, api_key, secret),
        "okx": lambda: OkxUserStream(exchange, api_key, secret, passphrase),
        "bybit": lambda: BybitUserStream(exchange, api_key, secret),
    }[name]()
    return PUBLIC_STREAMS[name](exchange), user
