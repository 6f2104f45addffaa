"""Binance spot REST dialect of the emulator (``/api/v3``).

Payload shapes follow the real responses in ccxt's static fixtures (``createOrder``,
``fetchOpenOrders``, ``fetchOrder``, ``fetchBalance``, ``fetchMyTrades``, ``fetchOrderBook``)
and Binance's documented ``exchangeInfo``. Signed endpoints check what Binance checks: the
``X-MBX-APIKEY`` header, the hex HMAC-SHA256 of the query string (GET/DELETE) or body (POST)
without its ``signature``, and ``timestamp`` within ``recvWindow``.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange, EmuOrder, EmuReject

STATUS = {"open": "NEW", "filled": "FILLED", "canceled": "CANCELED", "rejected": "EXPIRED"}
ERRORS = {
    "post_only": (-2010, "Order would immediately match and take."),
    "balance": (-2010, "Account has insufficient balance for requested action."),
    "duplicate": (-2010, "Duplicate order sent."),
    "unknown_order": (-2013, "Order does not exist."),
    "unknown_symbol": (-1121, "Invalid symbol."),
}


def _num(x: Decimal) -> str:
    return f"{x:.8f}"


def _error(code: int, msg: str, status: int = 400) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


def order_json(o: EmuOrder) -> dict:
    status = "PARTIALLY_FILLED" if o.status == "open" and o.filled > 0 else STATUS[o.status]
    return {
        "symbol": o.market.id,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "price": _num(o.price),
        "origQty": _num(o.qty),
        "executedQty": _num(o.filled),
        "cummulativeQuoteQty": _num(o.filled * o.price),
        "status": status,
        "timeInForce": "GTC",
        "type": "LIMIT_MAKER" if o.post_only else "LIMIT",
        "side": o.side.upper(),
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": o.created_ms,
        "updateTime": o.updated_ms,
        "isWorking": True,
        "workingTime": o.created_ms,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def trade_json(f: EmuFill) -> dict:
    return {
        "symbol": f.order.market.id,
        "id": f.trade_id,
        "orderId": f.order.order_id,
        "orderListId": -1,
        "price": _num(f.price),
        "qty": _num(f.qty),
        "quoteQty": _num(f.price * f.qty),
        "commission": _num(f.fee),
        "commissionAsset": f.fee_asset,
        "time": f.time_ms,
        "isBuyer": f.order.side == "buy",
        "isMaker": True,
        "isBestMatch": True,
    }


class BinanceDialect:
    """aiohttp routes for one emulated Binance spot account."""

    errors = ERRORS
    """Our reject kinds → (code, message) as this API answers them."""

    def __init__(self, exchange: EmulatedExchange, api_key: str, secret: str, recv_window_ms: int = 5000) -> None:
        self.ex = exchange
        self.api_key = api_key
        self.secret = secret.encode()
        self.recv_window_ms = recv_window_ms

    def routes(self) -> list[web.RouteDef]:
        p = "/api/v3"
        return [
            web.get(f"{p}/ping", self.ping),
            web.get(f"{p}/time", self.server_time),
            web.get(f"{p}/exchangeInfo", self.exchange_info),
            web.get(f"{p}/depth", self.depth),
            web.get(f"{p}/aggTrades", self.agg_trades),
            web.post(f"{p}/order", self.signed(self.create_order)),
            web.post(f"{p}/order/cancelReplace", self.signed(self.cancel_replace)),
            web.delete(f"{p}/order", self.signed(self.cancel_order)),
            web.get(f"{p}/order", self.signed(self.get_order)),
            web.get(f"{p}/openOrders", self.signed(self.open_orders)),
            web.delete(f"{p}/openOrders", self.signed(self.cancel_all)),
            web.get(f"{p}/account", self.signed(self.account)),
            web.get(f"{p}/myTrades", self.signed(self.my_trades)),
        ]

    # --- authentication ---------------------------------------------------------------
    def signed(self, handler):
        async def wrapped(request: web.Request) -> web.Response:
            payload = request.query_string if request.method in ("GET", "DELETE") else await request.text()
            if request.headers.get("X-MBX-APIKEY") != self.api_key:
                return _error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            unsigned, sep, signature = payload.rpartition("&signature=")
            expected = hmac.new(self.secret, unsigned.encode(), hashlib.sha256).hexdigest()
            if not sep or not hmac.compare_digest(signature, expected):
                return _error(-1022, "Signature for this request is not valid.")
            params = dict(parse_qsl(unsigned))
            ts = int(params.get("timestamp", 0))
            window = int(params.get("recvWindow", self.recv_window_ms))
            now = self.ex.clock_ms()
            if not now - window <= ts <= now + 1000:
                return _error(-1021, "Timestamp for this request is outside of the recvWindow.")
            try:
                return await handler(params)
            except EmuReject as exc:
                code, msg = self.errors.get(exc.kind, (-1013, str(exc)))
                return _error(code, msg if exc.kind in self.errors else f"Filter failure: {exc}")

        return wrapped

    # --- public -----------------------------------------------------------------------
    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def server_time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.ex.clock_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        symbols = []
        for m in self.ex.markets.values():
            symbols.append(
                {
                    "symbol": m.id,
                    "status": "TRADING",
                    "baseAsset": m.base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": m.quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": True,
                    "ocoAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": _num(m.tick), "maxPrice": "1000000.00000000", "tickSize": _num(m.tick)},
                        {"filterType": "LOT_SIZE", "minQty": _num(m.min_qty), "maxQty": "9000.00000000", "stepSize": _num(m.lot)},
                        {"filterType": "NOTIONAL", "minNotional": _num(m.min_notional), "applyMinToMarket": True},
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
                }
            )
        return web.json_response({"timezone": "UTC", "serverTime": self.ex.clock_ms(), "rateLimits": [], "symbols": symbols})

    async def depth(self, request: web.Request) -> web.Response:
        market_id = request.query.get("symbol", "")
        if market_id not in self.ex.markets:
            return _error(*ERRORS["unknown_symbol"])
        bids, asks = self.ex.depth(market_id, int(request.query.get("limit", 100)))
        return web.json_response(
            {
                "lastUpdateId": self.ex.book_seq.get(market_id, 0),
                "bids": [[_num(p), _num(q)] for p, q in bids],
                "asks": [[_num(p), _num(q)] for p, q in asks],
            }
        )

    async def agg_trades(self, request: web.Request) -> web.Response:
        market_id = request.query.get("symbol", "")
        since = int(request.query.get("startTime", 0))
        limit = int(request.query.get("limit", 500))
        trades = [t for t in self.ex.public_trades if t[2] == market_id and t[1] >= since][-limit:]
        return web.json_response(
            [
                {"a": i, "p": _num(p), "q": _num(q), "f": i, "l": i, "T": ts, "m": side == "sell", "M": True}
                for i, ts, _, p, q, side in trades
            ]
        )

    # --- private ----------------------------------------------------------------------
    async def create_order(self, params: dict) -> web.Response:
        kind = params.get("type")
        if kind == "MARKET":
            order = self.ex.take(
                params.get("symbol", ""), params["side"].lower(), Decimal(params["quantity"]), params.get("newClientOrderId", "")
            )
            return web.json_response(order_json(order) | {"transactTime": order.created_ms, "fills": []})
        if kind not in ("LIMIT", "LIMIT_MAKER"):
            return _error(-1116, "Invalid orderType.")
        order = self.ex.place(
            params.get("symbol", ""),
            params["side"].lower(),
            Decimal(params["price"]),
            Decimal(params["quantity"]),
            params.get("newClientOrderId", ""),
            post_only=kind == "LIMIT_MAKER",
        )
        body = order_json(order)
        body["transactTime"] = order.created_ms
        body["fills"] = []
        return web.json_response(body)

    async def cancel_replace(self, params: dict) -> web.Response:
        """STOP_ON_FAILURE: cancel, then place the new order; if the new order fails the old
        one stays cancelled (HTTP 409, code -2021), as Binance does."""
        old_id = int(params["cancelOrderId"]) if "cancelOrderId" in params else None
        old = self.ex.find(params.get("symbol", ""), old_id, params.get("cancelOrigClientOrderId"))
        if old.status != "open":
            failure = {"code": -2011, "msg": "Unknown order sent."}
            data = {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED", "cancelResponse": failure, "newOrderResponse": None}
            return web.json_response({"code": -2022, "msg": "Order cancel-replace failed.", "data": data}, status=400)
        self.ex.cancel(old.market.id, old.order_id)
        try:
            new = self.ex.place(
                old.market.id,
                params["side"].lower(),
                Decimal(params["price"]),
                Decimal(params["quantity"]),
                params.get("newClientOrderId", ""),
                post_only=params.get("type") == "LIMIT_MAKER",
            )
        except EmuReject as exc:
            code, msg = ERRORS.get(exc.kind, (-1013, str(exc)))
            data = {
                "cancelResult": "SUCCESS",
                "newOrderResult": "FAILURE",
                "cancelResponse": order_json(old),
                "newOrderResponse": {"code": code, "msg": msg},
            }
            return web.json_response({"code": -2021, "msg": "Order cancel-replace partially failed.", "data": data}, status=409)
        body = order_json(new) | {"transactTime": new.created_ms, "fills": []}
        return web.json_response(
            {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS", "cancelResponse": order_json(old), "newOrderResponse": body}
        )

    def _lookup(self, params: dict) -> EmuOrder:
        order_id = int(params["orderId"]) if "orderId" in params else None
        return self.ex.find(params.get("symbol", ""), order_id, params.get("origClientOrderId"))

    async def cancel_order(self, params: dict) -> web.Response:
        order = self._lookup(params)
        if order.status != "open":
            return _error(-2011, "Unknown order sent.")
        self.ex.cancel(order.market.id, order.order_id)
        return web.json_response(order_json(order))

    async def get_order(self, params: dict) -> web.Response:
        return web.json_response(order_json(self._lookup(params)))

    async def open_orders(self, params: dict) -> web.Response:
        return web.json_response([order_json(o) for o in self.ex.open_orders(params.get("symbol"))])

    async def cancel_all(self, params: dict) -> web.Response:
        cancelled = [self.ex.cancel(o.market.id, o.order_id) for o in self.ex.open_orders(params.get("symbol"))]
        return web.json_response([order_json(o) for o in cancelled])

    async def account(self, params: dict) -> web.Response:
        balances = [{"asset": a, "free": _num(self.ex.free(a)), "locked": _num(self.ex.locked(a))} for a in sorted(self.ex.balances)]
        return web.json_response(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "updateTime": self.ex.clock_ms(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
            }
        )

    async def my_trades(self, params: dict) -> web.Response:
        market_id = params.get("symbol", "")
        since = int(params.get("startTime", 0))
        fills = [f for f in self.ex.fills if f.order.market.id == market_id and f.time_ms >= since]
        return web.json_response([trade_json(f) for f in fills])
