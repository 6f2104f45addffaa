"""Binance USDⓈ-M (``/fapi``) and COIN-M (``/dapi``) futures REST dialect of the emulator:
perpetual swaps with one position a market (one-way mode), funding, leverage and margin type.

Shapes follow Binance's derivatives API docs (exchangeInfo, order, openOrders, userTrades,
account, positionRisk, leverageBracket, premiumIndex, income, leverage, marginType) and the
real swap payloads of ccxt's static fixtures (fetchOpenOrder, fetchMyTrades, editOrders).
What differs from spot: a post-only (``timeInForce=GTX``) order that would take is refused
with -5022 and never recorded; ``reduceOnly=true`` that would not reduce is refused with
-2022; margin not covering an order is -2019; a modify (``PUT order``) keeps the order id and
sets its total quantity; balances are the settle currency's wallet, margin and unrealized PnL.
Signing is spot's (:class:`~ccxt_mm_testkit.emulator.binance.BinanceDialect`).
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from ccxt_mm_testkit.emulator.binance import ERRORS, STATUS, BinanceDialect, _error, _num
from ccxt_mm_testkit.emulator.core import EmuFill, EmuMarket, EmuOrder
from ccxt_mm_testkit.emulator.margin import value

FUTURES_ERRORS = ERRORS | {
    "post_only": (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected."),
    "reduce_only": (-2022, "ReduceOnly Order is rejected."),
    "balance": (-2019, "Margin is insufficient."),
    "duplicate": (-4116, "ClientOrderId is duplicated."),
}
"""Spot's answers, but for the refusals futures word and number their own way."""
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
"""Funding every 8 hours from 00:00 UTC."""


class BinanceFuturesDialect(BinanceDialect):
    """Routes of one emulated futures account: ``prefix`` ``fapi`` (USDⓈ-M, the markets
    settled in their quote) or ``dapi`` (COIN-M, settled in their base)."""

    errors = FUTURES_ERRORS

    def __init__(self, exchange, api_key: str, secret: str, prefix: str = "fapi", recv_window_ms: int = 5000) -> None:
        super().__init__(exchange, api_key, secret, recv_window_ms)
        self.prefix = prefix
        self.inverse = prefix == "dapi"

    def _mine(self) -> list[EmuMarket]:
        return [m for m in self.ex.markets.values() if m.margined and m.inverse == self.inverse]

    def routes(self) -> list[web.RouteDef]:
        p, s = f"/{self.prefix}/v1", self.signed
        account = f"/{self.prefix}/v1" if self.inverse else f"/{self.prefix}/v3"
        brackets = f"/{self.prefix}/v2" if self.inverse else f"/{self.prefix}/v1"
        return [
            web.get(f"{p}/ping", self.ping),
            web.get(f"{p}/time", self.server_time),
            web.get(f"{p}/exchangeInfo", self.exchange_info),
            web.get(f"{p}/depth", self.depth),
            web.get(f"{p}/aggTrades", self.agg_trades),
            web.get(f"{p}/premiumIndex", self.premium_index),
            web.post(f"{p}/order", s(self.create_order)),
            web.put(f"{p}/order", s(self.modify_order)),
            web.delete(f"{p}/order", s(self.cancel_order)),
            web.get(f"{p}/order", s(self.get_order)),
            web.get(f"{p}/openOrders", s(self.open_orders)),
            web.delete(f"{p}/allOpenOrders", s(self.cancel_all)),
            web.get(f"{p}/userTrades", s(self.my_trades)),
            web.get(f"{p}/income", s(self.income)),
            web.post(f"{p}/leverage", s(self.set_leverage)),
            web.post(f"{p}/marginType", s(self.set_margin_type)),
            web.get(f"{p}/positionSide/dual", s(self.position_side_dual)),
            web.get(f"{brackets}/leverageBracket", s(self.leverage_bracket)),
            web.get(f"{account}/account", s(self.account)),
            web.get(f"{account}/positionRisk", s(self.position_risk)),
        ]

    # --- public -----------------------------------------------------------------------
    async def exchange_info(self, request: web.Request) -> web.Response:
        symbols = [self._symbol_info(m) for m in self._mine()]
        return web.json_response({"timezone": "UTC", "serverTime": self.ex.clock_ms(), "rateLimits": [], "symbols": symbols})

    def _symbol_info(self, m: EmuMarket) -> dict:
        filters = [
            {"filterType": "PRICE_FILTER", "minPrice": _num(m.tick), "maxPrice": "1000000", "tickSize": _num(m.tick)},
            {"filterType": "LOT_SIZE", "minQty": _num(m.min_qty), "maxQty": "100000", "stepSize": _num(m.lot)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": _num(m.min_qty), "maxQty": "10000", "stepSize": _num(m.lot)},
        ]
        if not self.inverse:
            filters.append({"filterType": "MIN_NOTIONAL", "notional": _num(m.min_notional)})
        info = {
            "symbol": m.id,
            "pair": m.id.split("_")[0],
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "baseAsset": m.base,
            "quoteAsset": m.quote,
            "marginAsset": m.settle,
            "pricePrecision": 8,
            "quantityPrecision": 8,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            "filters": filters,
        }
        if self.inverse:
            return info | {"contractStatus": "TRADING", "contractSize": int(m.contract_size)}
        return info | {"status": "TRADING"}

    async def premium_index(self, request: web.Request) -> web.Response:
        now = self.ex.clock_ms()
        rows = [
            {
                "symbol": m.id,
                "markPrice": _num(self.ex.mark(m.id)),
                "indexPrice": _num(self.ex.mark(m.id)),
                "lastFundingRate": _num(self.ex.funding_rates.get(m.id, Decimal(0))),
                "interestRate": "0.00010000",
                "nextFundingTime": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
                "time": now,
            }
            for m in self._mine()
            if request.query.get("symbol") in (None, m.id)
        ]
        return web.json_response(rows[0] if rows and "symbol" in request.query and not self.inverse else rows)

    # --- orders -----------------------------------------------------------------------
    def order_json(self, o: EmuOrder) -> dict:
        status = "PARTIALLY_FILLED" if o.status == "open" and o.filled > 0 else STATUS[o.status]
        if o.status == "canceled" and o.cancel_reason:
            status = "EXPIRED"
        body = {
            "orderId": o.order_id,
            "symbol": o.market.id,
            "status": status,
            "clientOrderId": o.client_id,
            "price": _num(o.price),
            "avgPrice": _num(o.price if o.filled else Decimal(0)),
            "origQty": _num(o.qty),
            "executedQty": _num(o.filled),
            "cumQty": _num(o.filled),
            "timeInForce": "GTX" if o.post_only else "GTC",
            "type": "LIMIT",
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "side": o.side.upper(),
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": "LIMIT",
            "time": o.created_ms,
            "updateTime": o.updated_ms,
        }
        cum = "cumBase" if self.inverse else "cumQuote"
        return body | {cum: _num(value(o.market, o.filled, o.price) if o.filled else Decimal(0))}

    async def create_order(self, params: dict) -> web.Response:
        kind, reduce_only = params.get("type"), params.get("reduceOnly") == "true"
        side, qty, cid = params["side"].lower(), Decimal(params["quantity"]), params.get("newClientOrderId", "")
        if kind == "MARKET":
            order = self.ex.take(params.get("symbol", ""), side, qty, cid, reduce_only=reduce_only)
        elif kind == "LIMIT":
            post_only = params.get("timeInForce") == "GTX"
            order = self.ex.place(params.get("symbol", ""), side, Decimal(params["price"]), qty, cid, post_only, reduce_only)
        else:
            return _error(-1116, "Invalid orderType.")
        return web.json_response(self.order_json(order))

    async def modify_order(self, params: dict) -> web.Response:
        order = self._lookup(params)
        order = self.ex.amend(order.market.id, order.order_id, None, Decimal(params["price"]), Decimal(params["quantity"]))
        return web.json_response(self.order_json(order))

    async def cancel_order(self, params: dict) -> web.Response:
        order = self._lookup(params)
        if order.status != "open":
            return _error(-2011, "Unknown order sent.")
        self.ex.cancel(order.market.id, order.order_id)
        return web.json_response(self.order_json(order))

    async def get_order(self, params: dict) -> web.Response:
        return web.json_response(self.order_json(self._lookup(params)))

    async def open_orders(self, params: dict) -> web.Response:
        return web.json_response([self.order_json(o) for o in self.ex.open_orders(params.get("symbol"))])

    async def cancel_all(self, params: dict) -> web.Response:
        for o in self.ex.open_orders(params.get("symbol")):
            self.ex.cancel(o.market.id, o.order_id)
        return web.json_response({"code": 200, "msg": "The operation of cancel all open order is done."})

    def trade_json(self, f: EmuFill) -> dict:
        m = f.order.market
        body = {
            "symbol": m.id,
            "id": f.trade_id,
            "orderId": f.order.order_id,
            "side": f.order.side.upper(),
            "price": _num(f.price),
            "qty": _num(f.qty),
            "realizedPnl": _num(f.realized),
            "marginAsset": m.settle,
            "commission": _num(f.fee),
            "commissionAsset": f.fee_asset,
            "time": f.time_ms,
            "positionSide": "BOTH",
            "maker": f.order.post_only or f.order.price != f.price or f.order.qty != f.qty,
            "buyer": f.order.side == "buy",
        }
        if self.inverse:
            return body | {"pair": m.id.split("_")[0], "baseQty": _num(value(m, f.qty, f.price))}
        return body | {"quoteQty": _num(f.price * f.qty * m.contract_size)}

    async def my_trades(self, params: dict) -> web.Response:
        market_id, since = params.get("symbol", ""), int(params.get("startTime", 0))
        fills = [f for f in self.ex.fills if f.order.market.id == market_id and f.time_ms >= since]
        return web.json_response([self.trade_json(f) for f in fills][-int(params.get("limit", 500)) :])

    # --- account ----------------------------------------------------------------------
    async def set_leverage(self, params: dict) -> web.Response:
        m, leverage = self.ex.market(params.get("symbol", "")), int(params["leverage"])
        if not 1 <= leverage <= 125:
            return _error(-4028, f"Leverage {leverage} is not valid")
        self.ex.leverage[m.id] = leverage
        cap = {"maxQty": "1000"} if self.inverse else {"maxNotionalValue": "1000000"}
        return web.json_response({"leverage": leverage, "symbol": m.id} | cap)

    async def set_margin_type(self, params: dict) -> web.Response:
        m, wanted = self.ex.market(params.get("symbol", "")), params.get("marginType", "").lower()
        mode = {"crossed": "cross", "isolated": "isolated"}.get(wanted)
        if mode is None:
            return _error(-4044, "The margin type is invalid.")
        if self.ex.margin_mode.get(m.id, "cross") == mode:
            return _error(-4046, "No need to change margin type.")
        if self.ex.position(m.id).contracts or self.ex.open_orders(m.id):
            return _error(-4048, "Margin type cannot be changed if there exists position.")
        self.ex.margin_mode[m.id] = mode
        return web.json_response({"code": 200, "msg": "success"})

    async def position_side_dual(self, params: dict) -> web.Response:
        return web.json_response({"dualSidePosition": self.ex.hedge_mode})

    async def leverage_bracket(self, params: dict) -> web.Response:
        rows = []
        for m in self._mine():
            cap, floor = ("qtyCap", "qtyFloor") if self.inverse else ("notionalCap", "notionalFloor")
            bracket = {"bracket": 1, "initialLeverage": 125, cap: 1_000_000, floor: 0, "maintMarginRatio": 0.004, "cum": 0.0}
            rows.append({"symbol": m.id, "notionalCoef": 1.0, "brackets": [bracket]})
        return web.json_response(rows)

    async def account(self, params: dict) -> web.Response:
        now, assets = self.ex.clock_ms(), []
        for asset in sorted({m.settle for m in self._mine()}):
            wallet, upnl, used = self.ex.balances.get(asset, Decimal(0)), self.ex.unrealized(asset), self.ex.margin_used(asset)
            assets.append(
                {
                    "asset": asset,
                    "walletBalance": _num(wallet),
                    "unrealizedProfit": _num(upnl),
                    "marginBalance": _num(wallet + upnl),
                    "initialMargin": _num(used),
                    "maintMargin": "0",
                    "crossWalletBalance": _num(wallet),
                    "availableBalance": _num(self.ex.free(asset)),
                    "maxWithdrawAmount": _num(self.ex.free(asset)),
                    "updateTime": now,
                }
            )
        return web.json_response(
            {"canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": now, "assets": assets, "positions": []}
        )

    async def position_risk(self, params: dict) -> web.Response:
        rows = []
        for m in self._mine():
            if params.get("symbol") not in (None, m.id):
                continue
            pos, mark = self.ex.position(m.id), self.ex.mark(m.id)
            row = {
                "symbol": m.id,
                "positionSide": "BOTH",
                "positionAmt": _num(pos.contracts),
                "entryPrice": _num(pos.entry),
                "breakEvenPrice": _num(pos.entry),
                "markPrice": _num(mark),
                "unRealizedProfit": _num(pos.unrealized(m, mark)),
                "liquidationPrice": "0",
                "isolatedMargin": "0",
                "marginAsset": m.settle,
                "isolatedWallet": "0",
                "updateTime": self.ex.clock_ms(),
            }
            if self.inverse:
                row |= {"leverage": str(self.ex.lev(m.id)), "marginType": self.ex.margin_mode.get(m.id, "cross"), "maxQty": "1000"}
                row |= {"notionalValue": _num(value(m, pos.contracts, mark) if pos.contracts else Decimal(0)), "isAutoAddMargin": "false"}
            else:
                row |= {"notional": _num(value(m, pos.contracts, mark) if pos.contracts else Decimal(0)), "adl": 0}
            rows.append(row)
        return web.json_response(rows)

    async def income(self, params: dict) -> web.Response:
        """Funding payments (``incomeType=FUNDING_FEE``), oldest first."""
        since = int(params.get("startTime", 0))
        rows = [
            {
                "symbol": market_id,
                "incomeType": "FUNDING_FEE",
                "income": _num(amount),
                "asset": self.ex.markets[market_id].settle,
                "info": "FUNDING_FEE",
                "time": ts,
                "tranId": 9_000_000 + i,
                "tradeId": "",
            }
            for i, (ts, market_id, _, _, amount) in enumerate(self.ex.fundings)
            if ts >= since and params.get("symbol") in (None, market_id)
        ]
        if params.get("incomeType") not in (None, "FUNDING_FEE"):
            rows = []
        return web.json_response(rows[-int(params.get("limit", 100)) :])
