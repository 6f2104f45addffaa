"""Bybit v5 REST dialect of the emulator (unified trading account: the spot category, and the
linear and inverse categories of perpetual swaps).

Private requests carry ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` and
``X-BAPI-SIGN`` = hex HMAC-SHA256 of ``timestamp + key + recvWindow + payload`` (the query
string for GET, the JSON body for POST). A post-only (``timeInForce=PostOnly``) order that
would take liquidity is accepted and then ``Cancelled`` with reject reason
``EC_PostOnlyWillTakeLiquidity``, as Bybit does. ``/v5/user/query-api`` echoes the API key in
its body, as the real endpoint does (cassettes must scrub it).

Swaps: ``reduceOnly`` orders that would not reduce are refused (110017), margin not covering an
order is 110007; ``position/set-leverage`` answers 110043 when the leverage is already set, as
Bybit does; the account's margin mode is account-wide (``account/set-margin-mode``); positions,
tickers (mark price and funding rate) and funding executions (``execType`` Funding, ``execFee``
positive when paid) are served. A coin's ``walletBalance`` leaves out the unrealized PnL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange, EmuMarket, EmuOrder, EmuReject
from ccxt_mm_testkit.emulator.margin import value

STATUS = {"open": "New", "filled": "Filled", "canceled": "Cancelled", "rejected": "Cancelled"}
RET_CODES = {
    "balance": (170131, "Balance insufficient"),
    "filter": (170136, "Order quantity exceeded lower limit."),
    "duplicate": (170141, "Duplicate clientOrderId."),
    "unknown_order": (170213, "Order does not exist."),
    "unknown_symbol": (170121, "Invalid symbol."),
}
SWAP_CODES = RET_CODES | {
    "balance": (110007, "ab not enough for new order"),
    "reduce_only": (110017, "current position is zero, cannot fix reduce-only order qty"),
    "filter": (10001, "params error: qty"),
}
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
"""Funding every 8 hours from 00:00 UTC."""


def category(m: EmuMarket) -> str:
    if not m.margined:
        return "spot"
    return "inverse" if m.inverse else "linear"


def _ok(result: dict, time_ms: int) -> web.Response:
    return web.json_response({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": time_ms})


def _fail(code: int, msg: str, time_ms: int, status: int = 200) -> web.Response:
    return web.json_response({"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": time_ms}, status=status)


def order_json(o: EmuOrder) -> dict:
    status = "PartiallyFilled" if o.status == "open" and o.filled > 0 else STATUS[o.status]
    return {
        "orderId": str(o.order_id),
        "orderLinkId": o.client_id,
        "symbol": o.market.id,
        "price": str(o.price),
        "qty": str(o.qty),
        "side": "Buy" if o.side == "buy" else "Sell",
        "isLeverage": "0",
        "positionIdx": 0,
        "orderStatus": status,
        "cancelType": "UNKNOWN",
        "rejectReason": "EC_PostOnlyWillTakeLiquidity" if o.cancel_reason == "post_only" else "EC_NoError",
        "avgPrice": str(o.price) if o.filled else "",
        "leavesQty": str(o.remaining if o.status == "open" else 0),
        "leavesValue": str(o.remaining * o.price if o.status == "open" else 0),
        "cumExecQty": str(o.filled),
        "cumExecValue": str(o.filled * o.price),
        "cumExecFee": "0",
        "timeInForce": "PostOnly" if o.post_only else "GTC",
        "orderType": "Limit",
        "stopOrderType": "",
        "orderIv": "",
        "triggerPrice": "0.00",
        "takeProfit": "0.00",
        "stopLoss": "0.00",
        "reduceOnly": o.reduce_only,
        "closeOnTrigger": False,
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }


def execution_json(f: EmuFill) -> dict:
    return {
        "symbol": f.order.market.id,
        "orderId": str(f.order.order_id),
        "orderLinkId": f.order.client_id,
        "side": "Buy" if f.order.side == "buy" else "Sell",
        "orderPrice": str(f.order.price),
        "orderQty": str(f.order.qty),
        "leavesQty": str(f.order.remaining),
        "orderType": "Limit",
        "execFee": str(f.fee),
        "feeCurrency": f.fee_asset,
        "execId": str(f.trade_id),
        "execPrice": str(f.price),
        "execQty": str(f.qty),
        "execType": "Trade",
        "execValue": str(value(f.order.market, f.qty, f.price) if f.order.market.margined else f.price * f.qty),
        "execTime": str(f.time_ms),
        "isMaker": True,
        "feeRate": "0.001",
    }


class BybitDialect:
    def __init__(self, exchange: EmulatedExchange, api_key: str, secret: str) -> None:
        self.ex = exchange
        self.api_key = api_key
        self.secret = secret.encode()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v5/market/time", self.server_time),
            web.get("/v5/market/instruments-info", self.instruments),
            web.get("/v5/market/orderbook", self.orderbook),
            web.get("/v5/market/recent-trade", self.recent_trades),
            web.get("/v5/user/query-api", self.signed(self.query_api)),
            web.get("/v5/account/info", self.signed(self.account_info)),
            web.post("/v5/order/create", self.signed(self.create_order)),
            web.post("/v5/order/cancel", self.signed(self.cancel_order)),
            web.post("/v5/order/amend", self.signed(self.amend_order)),
            web.post("/v5/order/disconnected-cancel-all", self.signed(self.disconnected_cancel_all)),
            web.get("/v5/order/realtime", self.signed(self.realtime)),
            web.get("/v5/execution/list", self.signed(self.executions)),
            web.get("/v5/account/wallet-balance", self.signed(self.wallet_balance)),
            web.get("/v5/market/tickers", self.tickers),
            web.post("/v5/position/set-leverage", self.signed(self.set_leverage)),
            web.post("/v5/account/set-margin-mode", self.signed(self.set_margin_mode)),
            web.get("/v5/position/list", self.signed(self.positions)),
        ]

    def signed(self, handler):
        async def wrapped(request: web.Request) -> web.Response:
            now = self.ex.clock_ms()
            payload = await request.text() if request.method == "POST" else request.query_string
            ts = request.headers.get("X-BAPI-TIMESTAMP", "")
            window = request.headers.get("X-BAPI-RECV-WINDOW", "5000")
            if request.headers.get("X-BAPI-API-KEY") != self.api_key:
                return _fail(10003, "API key is invalid.", now, 401)
            expected = hmac.new(self.secret, f"{ts}{self.api_key}{window}{payload}".encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(request.headers.get("X-BAPI-SIGN", ""), expected):
                return _fail(10004, "Error sign, please check your signature generation algorithm.", now, 401)
            if not ts.isdigit() or not now - int(window) <= int(ts) <= now + 1000:
                return _fail(10002, "invalid request, please check your server timestamp or recv_window param", now)
            params = json.loads(payload) if request.method == "POST" and payload else dict(parse_qsl(payload))
            try:
                return await handler(params)
            except EmuReject as exc:
                codes = RET_CODES if params.get("category") in (None, "spot") else SWAP_CODES
                code, msg = codes.get(exc.kind, (170130, str(exc)))
                return _fail(code, msg, now)

        return wrapped

    async def server_time(self, request: web.Request) -> web.Response:
        now = self.ex.clock_ms()
        return _ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)

    async def instruments(self, request: web.Request) -> web.Response:
        now = self.ex.clock_ms()
        kind = request.query.get("category", "")
        if kind != "spot":
            items = [self._swap_info(m) for m in self.ex.markets.values() if category(m) == kind]
            return _ok({"category": kind, "list": items, "nextPageCursor": ""}, now)
        items = [
            {
                "symbol": m.id,
                "baseCoin": m.base,
                "quoteCoin": m.quote,
                "innovation": "0",
                "status": "Trading",
                "marginTrading": "none",
                "lotSizeFilter": {
                    "basePrecision": str(m.lot),
                    "quotePrecision": "0.00000001",
                    "minOrderQty": str(m.min_qty),
                    "maxOrderQty": "10000",
                    "minOrderAmt": str(m.min_notional),
                    "maxOrderAmt": "10000000",
                },
                "priceFilter": {"tickSize": str(m.tick)},
            }
            for m in self.ex.markets.values()
            if not m.margined
        ]
        return _ok({"category": "spot", "list": items, "nextPageCursor": ""}, now)

    def _swap_info(self, m: EmuMarket) -> dict:
        return {
            "symbol": m.id,
            "contractType": "InversePerpetual" if m.inverse else "LinearPerpetual",
            "status": "Trading",
            "baseCoin": m.base,
            "quoteCoin": m.quote,
            "settleCoin": m.settle,
            "launchTime": "1585526400000",
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": "2",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": str(m.tick), "maxPrice": "1999999.80", "tickSize": str(m.tick)},
            "lotSizeFilter": {
                "maxOrderQty": "100000",
                "minOrderQty": str(m.min_qty),
                "qtyStep": str(m.lot),
                "postOnlyMaxOrderQty": "100000",
                "maxMktOrderQty": "10000",
                "minNotionalValue": str(m.min_notional),
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "copyTrading": "both",
        }

    async def orderbook(self, request: web.Request) -> web.Response:
        now = self.ex.clock_ms()
        symbol = request.query.get("symbol", "")
        if symbol not in self.ex.markets:
            return _fail(*RET_CODES["unknown_symbol"], now)
        bids, asks = self.ex.depth(symbol, int(request.query.get("limit", 200)))
        book = {
            "s": symbol,
            "b": [[str(p), str(q)] for p, q in bids],
            "a": [[str(p), str(q)] for p, q in asks],
            "ts": now,
            "u": len(self.ex.fills) + 1,
        }
        return _ok(book, now)

    async def recent_trades(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        limit = int(request.query.get("limit", 60))
        trades = [t for t in self.ex.public_trades if t[2] == symbol][-limit:]
        items = [
            {
                "execId": str(i),
                "symbol": symbol,
                "price": str(p),
                "size": str(q),
                "side": "Buy" if side == "buy" else "Sell",
                "time": str(ts),
            }
            for i, ts, _, p, q, side in reversed(trades)
        ]
        return _ok({"category": "spot", "list": items}, self.ex.clock_ms())

    async def query_api(self, params: dict) -> web.Response:
        now = self.ex.clock_ms()
        return _ok({"id": "1", "note": "emulator", "apiKey": self.api_key, "readOnly": 0, "secret": "", "unified": 0, "uta": 1}, now)

    async def account_info(self, params: dict) -> web.Response:
        now = self.ex.clock_ms()
        return _ok({"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False, "updatedTime": str(now)}, now)

    async def create_order(self, params: dict) -> web.Response:
        now = self.ex.clock_ms()
        if params.get("category") == "spot" and params.get("orderType") == "Market":
            quote_sized = params.get("marketUnit", "quoteCoin") != "baseCoin"
            order = self.ex.take(
                params.get("symbol", ""), params["side"].lower(), Decimal(params["qty"]), params.get("orderLinkId", ""), quote_sized
            )
            return _ok({"orderId": str(order.order_id), "orderLinkId": order.client_id}, now)
        reduce_only = params.get("reduceOnly") is True
        if params.get("category") in ("linear", "inverse") and params.get("orderType") == "Market":
            order = self.ex.take(
                params.get("symbol", ""), params["side"].lower(), Decimal(params["qty"]), params.get("orderLinkId", ""), False, reduce_only
            )
            return _ok({"orderId": str(order.order_id), "orderLinkId": order.client_id}, now)
        if params.get("orderType") != "Limit":
            return _fail(10001, "params error: only limit and market orders are emulated", now)
        client_id = params.get("orderLinkId", "")
        symbol = params.get("symbol", "")
        post_only = params.get("timeInForce") == "PostOnly"
        side = params["side"].lower()
        try:
            order = self.ex.place(symbol, side, Decimal(params["price"]), Decimal(params["qty"]), client_id, post_only, reduce_only)
        except EmuReject as exc:
            if exc.kind != "post_only":
                raise
            order = self.ex.find(symbol, client_id=client_id)  # accepted, then cancelled at once
        return _ok({"orderId": str(order.order_id), "orderLinkId": order.client_id}, now)

    async def disconnected_cancel_all(self, params: dict) -> web.Response:
        self.ex.arm_dead_man(int(params.get("timeWindow", 0)) * 1000)
        return _ok({}, self.ex.clock_ms())

    async def amend_order(self, params: dict) -> web.Response:
        order_id = int(params["orderId"]) if params.get("orderId") else None
        order = self.ex.find(params.get("symbol", ""), order_id, params.get("orderLinkId"))
        price = Decimal(params.get("price") or order.price)
        qty = Decimal(params.get("qty") or order.qty)
        order = self.ex.amend(order.market.id, order.order_id, None, price, qty)
        return _ok({"orderId": str(order.order_id), "orderLinkId": order.client_id}, self.ex.clock_ms())

    async def cancel_order(self, params: dict) -> web.Response:
        order_id = int(params["orderId"]) if params.get("orderId") else None
        order = self.ex.cancel(params.get("symbol", ""), order_id, params.get("orderLinkId"))
        return _ok({"orderId": str(order.order_id), "orderLinkId": order.client_id}, self.ex.clock_ms())

    async def realtime(self, params: dict) -> web.Response:
        symbol = params.get("symbol")
        if params.get("orderId") or params.get("orderLinkId"):
            order_id = int(params["orderId"]) if params.get("orderId") else None
            orders = [self.ex.find(symbol or "", order_id, params.get("orderLinkId"))]
        else:
            orders = self.ex.open_orders(symbol)
        return _ok(
            {"category": params.get("category", "spot"), "list": [order_json(o) for o in orders], "nextPageCursor": ""}, self.ex.clock_ms()
        )

    async def executions(self, params: dict) -> web.Response:
        """Our trades, or with ``execType`` Funding the funding payments, newest first."""
        symbol = params.get("symbol")
        if params.get("execType") == "Funding":
            items = [self._funding_json(i, f) for i, f in enumerate(self.ex.fundings) if symbol in (None, f[1])][::-1]
        else:
            items = [execution_json(f) for f in reversed(self.ex.fills) if symbol is None or f.order.market.id == symbol]
        return _ok({"category": params.get("category", "spot"), "list": items, "nextPageCursor": ""}, self.ex.clock_ms())

    def _funding_json(self, i: int, funding: tuple) -> dict:
        """A funding payment as Bybit lists it: ``execFee`` is what the position paid (> 0 paid)."""
        ts, market_id, rate, mark, amount = funding
        m, pos = self.ex.markets[market_id], self.ex.position(market_id).contracts
        return {
            "symbol": market_id,
            "execType": "Funding",
            "execId": f"funding-{i}",
            "execFee": format(-amount, "f"),
            "feeRate": format(rate, "f"),
            "execPrice": format(mark, "f"),
            "execQty": format(abs(pos), "f"),
            "execValue": format(value(m, abs(pos), mark) if pos else Decimal(0), "f"),
            "execTime": str(ts),
            "side": "Buy" if pos > 0 else "Sell",
            "orderId": "",
            "orderLinkId": "",
            "isMaker": False,
        }

    async def wallet_balance(self, params: dict) -> web.Response:
        coins = []
        for asset in sorted(self.ex.balances):
            wallet, margin, upl = self.ex.balances[asset], self.ex.margin_used(asset), self.ex.unrealized(asset)
            coins.append(
                {
                    "coin": asset,
                    "walletBalance": str(wallet),
                    "equity": str(wallet + upl),
                    "unrealisedPnl": format(upl, "f"),
                    "locked": str(self.ex.locked(asset) - margin),
                    "totalOrderIM": "0",
                    "totalPositionIM": str(margin),
                }
            )
        result = {"list": [{"accountType": "UNIFIED", "totalEquity": "0", "coin": coins}]}
        return _ok(result, self.ex.clock_ms())

    # --- swaps ------------------------------------------------------------------------
    async def tickers(self, request: web.Request) -> web.Response:
        now, kind = self.ex.clock_ms(), request.query.get("category", "")
        items = []
        for m in self.ex.markets.values():
            if category(m) != kind or request.query.get("symbol") not in (None, m.id):
                continue
            bid, ask = self.ex.best(m.id)
            mark = self.ex.mark(m.id)
            items.append(
                {
                    "symbol": m.id,
                    "lastPrice": str(mark),
                    "indexPrice": str(mark),
                    "markPrice": str(mark),
                    "bid1Price": str(bid),
                    "ask1Price": str(ask),
                    "fundingRate": format(self.ex.funding_rates.get(m.id, Decimal(0)), "f"),
                    "nextFundingTime": str((now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS),
                    "openInterest": "0",
                    "volume24h": "0",
                    "turnover24h": "0",
                }
            )
        return _ok({"category": kind, "list": items}, now)

    async def set_leverage(self, params: dict) -> web.Response:
        now, m = self.ex.clock_ms(), self.ex.market(params.get("symbol", ""))
        lever = int(Decimal(params["buyLeverage"]))
        if self.ex.leverage.get(m.id) == lever:
            return _fail(110043, "Set leverage not modified", now)
        self.ex.leverage[m.id] = lever
        return _ok({}, now)

    async def set_margin_mode(self, params: dict) -> web.Response:
        mode = {"REGULAR_MARGIN": "cross", "ISOLATED_MARGIN": "isolated"}.get(params.get("setMarginMode", ""))
        if mode is None:
            return _fail(10001, "params error: setMarginMode", self.ex.clock_ms())
        for m in self.ex.markets.values():  # account-wide
            if m.margined:
                self.ex.margin_mode[m.id] = mode
        return _ok({"reasons": []}, self.ex.clock_ms())

    async def positions(self, params: dict) -> web.Response:
        rows = []
        for m in self.ex.markets.values():
            if category(m) != params.get("category") or params.get("symbol") not in (None, m.id):
                continue
            pos, mark = self.ex.position(m.id), self.ex.mark(m.id)
            size = abs(pos.contracts)
            rows.append(
                {
                    "positionIdx": 1 if self.ex.hedge_mode else 0,  # hedge mode: 1 the long side
                    "symbol": m.id,
                    "side": "Buy" if pos.contracts > 0 else ("Sell" if pos.contracts < 0 else ""),
                    "size": str(size),
                    "avgPrice": str(pos.entry),
                    "positionValue": str(value(m, size, pos.entry) if size else 0),
                    "tradeMode": 0,
                    "positionStatus": "Normal",
                    "leverage": str(self.ex.lev(m.id)),
                    "markPrice": str(mark),
                    "liqPrice": "",
                    "positionIM": str(value(m, size, mark) / self.ex.lev(m.id) if size else 0),
                    "positionMM": "0",
                    "unrealisedPnl": format(pos.unrealized(m, mark), "f"),
                    "cumRealisedPnl": "0",
                    "createdTime": str(self.ex.clock_ms()),
                    "updatedTime": str(self.ex.clock_ms()),
                }
            )
        return _ok({"category": params.get("category"), "list": rows, "nextPageCursor": ""}, self.ex.clock_ms())
