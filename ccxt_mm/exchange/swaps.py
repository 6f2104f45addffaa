"""A perpetual swap's account at the exchange edge: margin mode and leverage set at start and
checked, the mark price and funding rate, the position, and the settle currency's cash.

Each call goes through ccxt's unified API (``set_margin_mode``, ``set_leverage``,
``fetch_funding_rate``, ``fetch_positions``, ``fetch_balance``); ``call`` is the venue's
retried, rate-limited caller, so errors arrive translated (:mod:`ccxt_mm.exchange.errors`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import ccxt.async_support as ccxt_async
from ccxt.base.errors import MarginModeAlreadySet

from ccxt_mm.errors import VenueError
from ccxt_mm.quoting.contract import Contract

WalletReader = Callable[[dict, str], float | None]
"""``(ccxt balance, settle currency)`` → the wallet as the exchange states it (None: not stated)."""
Call = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""The venue's caller: runs one exchange call (retried where idempotent), errors translated."""


def account_params(market: dict) -> dict:
    """ccxt's unified ``type`` and ``subType`` params of ``fetch_balance`` and ``fetch_positions``
    that read the account a swap is margined in (binance: USDⓈ-M or COIN-M)."""
    return {"type": market["type"], "subType": "inverse" if market.get("inverse") else "linear"}


async def set_up(exchange: ccxt_async.Exchange, market: dict, leverage: int, margin_mode: str, call: Call) -> tuple[float, float]:
    """Set the margin mode and the leverage of ``market`` on the account and check the
    exchange took the leverage asked; returns (mark price, funding rate) now."""
    symbol = market["symbol"]

    async def margin() -> None:
        with suppress(MarginModeAlreadySet):  # set already: nothing to change
            await exchange.set_margin_mode(margin_mode, symbol)

    await call(margin)
    reply = await call(lambda: exchange.set_leverage(leverage, symbol))
    got = reply.get("leverage") if isinstance(reply, dict) else None
    if got is not None and int(float(got)) != leverage:
        raise VenueError(f"{exchange.id} {symbol}: leverage {leverage} asked, the exchange set {got}")
    return await funding_now(exchange, symbol, call)


async def funding_now(exchange: ccxt_async.Exchange, symbol: str, call: Call) -> tuple[float, float]:
    """(mark price, funding rate) of ``symbol`` now (``fetch_funding_rate``)."""
    rate = await call(lambda: exchange.fetch_funding_rate(symbol))
    mark = rate.get("markPrice") or rate.get("indexPrice")
    if not mark:
        raise VenueError(f"{exchange.id} {symbol}: the funding rate's reply has no mark price: {rate.get('info')!r:.300}")
    return float(mark), float(rate.get("fundingRate") or 0.0)


async def funding_paid(exchange: ccxt_async.Exchange, market: dict, since_ms: int, call: Call) -> list[tuple[str, int, float]]:
    """(id, time ms, amount received in the settle currency) of the funding payments of
    ``market``'s position since ``since_ms``, oldest first (``fetch_funding_history``)."""
    rows = await call(lambda: exchange.fetch_funding_history(market["symbol"], since_ms, None, account_params(market)))
    paid = [(str(r.get("id")), int(r["timestamp"]), float(r["amount"])) for r in rows if r.get("timestamp") is not None]
    return sorted(paid, key=lambda row: row[1])


async def read_position(exchange: ccxt_async.Exchange, market: dict, call: Call) -> tuple[float, float, float, float]:
    """(contracts > 0 long, entry price, unrealized PnL in the settle currency, mark price) of
    ``market``'s position (zeros without one; one-way mode: one position a market)."""
    contracts = entry = unrealized = mark = 0.0
    symbol = market["symbol"]
    for p in await call(lambda: exchange.fetch_positions([symbol], account_params(market))):
        if p.get("symbol") != symbol:
            continue
        size = float(p.get("contracts") or 0.0)
        contracts += -size if p.get("side") == "short" else size
        unrealized += float(p.get("unrealizedPnl") or 0.0)
        mark = float(p.get("markPrice") or mark)
        entry = float(p.get("entryPrice") or entry)
    return contracts, entry, unrealized, mark


async def read_cash(exchange: ccxt_async.Exchange, market: dict, wallet_of: WalletReader | None, call: Call) -> tuple[float, float, float]:
    """(free, cash, position) of ``market``'s settle currency, the cash as the engine counts it:
    the equity (wallet and unrealized PnL) less the position's value at the mark, so that cash
    plus the position's value at any price is the equity at that price (linear: the wallet less
    position × entry; flat: the wallet). The wallet is the exchange's own figure where the
    dialect reads it, else ccxt's total less the unrealized PnL, read just after."""
    settle = market["settle"]
    raw = await call(lambda: exchange.fetch_balance(account_params(market)))
    contracts, _, unrealized, mark = await read_position(exchange, market, call)
    entry = raw.get(settle) or {}
    total = float(entry.get("total") or 0.0)
    stated = wallet_of(raw, settle) if wallet_of is not None else None
    wallet = total - unrealized if stated is None else stated
    if contracts and not mark > 0:
        raise VenueError(f"{exchange.id} {market['symbol']}: a position of {contracts:g} without a mark price")
    contract = Contract(float(market["contractSize"]), bool(market.get("inverse")), True)
    cash = wallet + unrealized - contract.position_value(contracts, mark) if contracts else wallet
    return float(entry.get("free") or 0.0), cash, contracts
