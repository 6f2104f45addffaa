"""A perpetual swap's account at the exchange edge: hedge mode refused, margin mode and leverage
set at start and checked, the mark price and funding rate, the position, the settle
currency's cash, and the funding payments.

Each call goes through ccxt's unified API (``fetch_position_mode``, ``set_margin_mode``,
``set_leverage``, ``fetch_funding_rate``, ``fetch_mark_price``, ``fetch_positions``,
``fetch_balance``, ``fetch_funding_history``); ``call`` is the venue's retried, rate-limited
caller, so errors arrive translated (:mod:`ccxt_mm.exchange.errors`). What differs by
exchange comes from its :class:`~ccxt_mm.exchange.dialects.Dialect`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import ccxt.async_support as ccxt_async
from ccxt.base.errors import MarginModeAlreadySet

from ccxt_mm.errors import VenueError
from ccxt_mm.exchange.dialects import Dialect
from ccxt_mm.exchange.errors import CcxtError
from ccxt_mm.quoting.contract import Contract

log = logging.getLogger("ccxt_mm.venue")

Call = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""The venue's caller: runs one exchange call (retried where idempotent), errors translated."""


@dataclass(frozen=True)
class SwapAccount:
    """One swap market's account on ``exchange`` (ccxt's ``market``)."""

    exchange: ccxt_async.Exchange
    market: dict
    dialect: Dialect
    call: Call

    @property
    def symbol(self) -> str:
        return self.market["symbol"]

    @property
    def params(self) -> dict:
        """ccxt's ``type`` and ``subType`` params that pick the account a swap is margined in,
        where the exchange has several (binance: USDⓈ-M or COIN-M); none for one account (okx)."""
        if not self.dialect.typed_accounts:
            return {}
        return {"type": self.market["type"], "subType": "inverse" if self.market.get("inverse") else "linear"}

    async def set_up(self, leverage: int, margin_mode: str) -> tuple[float, float]:
        """Refuse an account in hedge mode, set the margin mode and the leverage on the account
        (one ``set_leverage`` call where the dialect says it sets both) and check the exchange
        took the leverage asked; returns (mark price, funding rate) now."""
        ex, symbol = self.exchange, self.symbol
        await self.refuse_hedge_mode()
        if self.dialect.leverage_sets_margin_mode:
            reply = await self.call(lambda: ex.set_leverage(leverage, symbol, {"marginMode": margin_mode}))
        else:

            async def margin() -> None:
                with suppress(MarginModeAlreadySet):  # set already: nothing to change
                    await ex.set_margin_mode(margin_mode, symbol)

            await self.call(margin)
            reply = await self.call(self._leverage(leverage))
        got = reply.get("leverage") if isinstance(reply, dict) else None
        if got is None and isinstance(reply, dict):  # okx: data[0].lever
            got = ((reply.get("data") or [{}])[0] or {}).get("lever")
        if got is not None and int(float(got)) != leverage:
            raise VenueError(f"{ex.id} {symbol}: leverage {leverage} asked, the exchange set {got}")
        return await self.funding_now()

    async def refuse_hedge_mode(self) -> None:
        """An account in hedge (two-sided) position mode keeps a long and a short of one market
        apart, and each order must say which it opens or closes; the engine holds one net
        position a market, so it starts in one-way mode only. The mode comes from
        ``fetch_position_mode`` where ccxt has it, else from the position rows (bybit: a
        position index other than 0)."""
        ex, symbol = self.exchange, self.symbol
        if ex.has.get("fetchPositionMode"):
            hedged = (await self.call(lambda: ex.fetch_position_mode(symbol, self.params))).get("hedged")
        else:
            hedged = any(p.get("hedged") for p in await self.call(lambda: ex.fetch_positions([symbol], self.params)))
        if hedged:
            raise VenueError(
                f"{ex.id} {symbol}: the account is in hedge (two-sided) position mode; ccxt-mm holds one net position a market:"
                " switch the account to one-way mode"
            )

    def _leverage(self, leverage: int) -> Callable[[], Awaitable[Any]]:
        """``set_leverage``, a refusal that says it is set already (the dialect's) taken as done."""

        async def set_it() -> object:
            try:
                return await self.exchange.set_leverage(leverage, self.symbol)
            except CcxtError as exc:
                if self.dialect.unchanged and self.dialect.unchanged in str(exc):
                    return None
                raise

        return set_it

    async def funding_now(self) -> tuple[float, float]:
        """(mark price, funding rate) now: the mark from the funding rate's reply, else from
        ``fetch_mark_price`` (okx states it apart)."""
        ex, symbol = self.exchange, self.symbol
        rate = await self.call(lambda: ex.fetch_funding_rate(symbol))
        mark = rate.get("markPrice") or rate.get("indexPrice")
        if not mark and ex.has.get("fetchMarkPrice"):
            mark = (await self.call(lambda: ex.fetch_mark_price(symbol))).get("markPrice")
        if not mark:
            raise VenueError(f"{ex.id} {symbol}: no mark price in the funding rate's reply: {rate.get('info')!r:.300}")
        return float(mark), float(rate.get("fundingRate") or 0.0)

    async def funding_paid(self, since_ms: int) -> list[tuple[str, int, float]]:
        """(id, time ms, amount received in the settle currency) of the funding payments of the
        position since ``since_ms`` (ccxt's default page: the caller moves ``since_ms`` on),
        oldest first."""
        paid = []
        for r in await self.call(lambda: self.exchange.fetch_funding_history(self.symbol, since_ms, None, self.params)):
            if r.get("timestamp") is None or r.get("amount") is None or r.get("id") is None:  # never silently: its drift shows too
                log.error("%s %s: funding payment unreadable: %r", self.exchange.id, self.symbol, r.get("info"))
                continue
            paid.append((str(r.get("id")), int(r["timestamp"]), self.dialect.funding_sign * float(r["amount"])))
        return sorted(paid, key=lambda row: row[1])

    async def position(self) -> tuple[float, float, float]:
        """(contracts > 0 long, unrealized PnL in the settle currency, mark price) of the
        position (zeros without one; one-way mode: one position a market)."""
        contracts = unrealized = mark = 0.0
        for p in await self.call(lambda: self.exchange.fetch_positions([self.symbol], self.params)):
            if p.get("symbol") != self.symbol:
                continue
            size = float(p.get("contracts") or 0.0)
            contracts += -size if p.get("side") == "short" else size
            unrealized += float(p.get("unrealizedPnl") or 0.0)
            mark = float(p.get("markPrice") or mark)
        return contracts, unrealized, mark

    async def cash(self) -> tuple[float, float, float, float]:
        """(free, cash, position, mark) of the settle currency, the cash as the engine counts it: the
        equity (wallet and unrealized PnL) less the position's value at the mark, so that cash
        plus the position's value at any price is the equity at that price (linear: the wallet
        less position × entry; flat: the wallet). The wallet is the exchange's own figure where
        the dialect reads it, else ccxt's total less the unrealized PnL, read just after."""
        settle = self.market["settle"]
        raw = await self.call(lambda: self.exchange.fetch_balance(self.params))
        contracts, unrealized, mark = await self.position()
        entry = raw.get(settle) or {}
        stated = self.dialect.swap_wallet(raw, settle) if self.dialect.swap_wallet is not None else None
        wallet = float(entry.get("total") or 0.0) - unrealized if stated is None else stated
        if contracts and not mark > 0:
            raise VenueError(f"{self.exchange.id} {self.symbol}: a position of {contracts:g} without a mark price")
        contract = Contract(float(self.market["contractSize"]), bool(self.market.get("inverse")), True)
        cash = wallet + unrealized - contract.position_value(contracts, mark) if contracts else wallet
        return float(entry.get("free") or 0.0), cash, contracts, mark
