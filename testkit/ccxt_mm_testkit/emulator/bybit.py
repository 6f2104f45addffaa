"""Bybit v5 REST dialect of the emulator (unified trading account, spot category).

Private requests carry ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` and
``X-BAPI-SIGN`` = hex HMAC-SHA256 of ``timestamp + key + recvWindow + payload`` (the query
string for GET, the JSON body for POST). A post-only (``timeInForce=PostOnly``) order that
would take liquidity is accepted and then ``Cancelled`` with reject reason
``EC_PostOnlyWillTakeLiquidity``, as Bybit does. ``/v5/user/query-api`` echoes the API key in
its body, as the real endpoint does (cassettes must scrub it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange, EmuOrder, EmuReject

STATUS = {"open": "New", "filled": "Filled", "canceled": "Cancelled", "rejected": "Cancelled"}
RET_CODES = {
    "balance": (170131, "Balance insufficient"),
    "filter": (170136, "Order quantity exceeded lower limit."),
    "duplicate": (170141, "Duplicate clientOrderId."),
    "unknown_order": (170213, "Order does not exist."),
    "unknown_symbol": (170121, "Invalid symbol."),
}


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
        "reduceOnly": False,
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
        "execValue": str(f.price * f.qty),
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
                code, msg = RET_CODES.get(exc.kind, (170130, str(exc)))
                return _fail(code, msg, now)

        return wrapped

    async def server_time(self, request: web.Request) -> web.Response:
        now = self.ex.clock_ms()
        return _ok({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)

    async def instruments(self, request: web.Request) -> web.Response:
        now = self.ex.clock_ms()
        if request.query.get("category") != "spot":
            return _ok({"category": request.query.get("category", ""), "list": [], "nextPageCursor": ""}, now)
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
        ]
        return _ok({"category": "spot", "list": items, "nextPageCursor": ""}, now)

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
        if params.get("category") != "spot" or params.get("orderType") != "Limit":
            return _fail(10001, "params error: only spot limit orders are emulated", now)
        client_id = params.get("orderLinkId", "")
        symbol = params.get("symbol", "")
        post_only = params.get("timeInForce") == "PostOnly"
        side = params["side"].lower()
        try:
            order = self.ex.place(symbol, side, Decimal(params["price"]), Decimal(params["qty"]), client_id, post_only)
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
        return _ok({"category": "spot", "list": [order_json(o) for o in orders], "nextPageCursor": ""}, self.ex.clock_ms())

    async def executions(self, params: dict) -> web.Response:
        symbol = params.get("symbol")
        items = [execution_json(f) for f in reversed(self.ex.fills) if symbol is None or f.order.market.id == symbol]
        return _ok({"category": "spot", "list": items, "nextPageCursor": ""}, self.ex.clock_ms())

    async def wallet_balance(self, params: dict) -> web.Response:
        coins = []
        for asset in sorted(self.ex.balances):
            free, locked = self.ex.free(asset), self.ex.locked(asset)
            coins.append(
                {
                    "coin": asset,
                    "walletBalance": str(free + locked),
                    "equity": str(free + locked),
                    "locked": str(locked),
                    "totalOrderIM": "0",
                    "totalPositionIM": "0",
                }
            )
        result = {"list": [{"accountType": "UNIFIED", "totalEquity": "0", "coin": coins}]}
        return _ok(result, self.ex.clock_ms())
