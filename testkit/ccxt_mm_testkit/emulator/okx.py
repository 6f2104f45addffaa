"""OKX v5 REST dialect of the emulator (spot in cash mode; perpetual swaps in net mode).

Private requests carry ``OK-ACCESS-KEY``, ``OK-ACCESS-PASSPHRASE``, ``OK-ACCESS-TIMESTAMP``
(ISO 8601) and ``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of ``timestamp + method + path``
(with the query string for GET) ``+ body``, the path as the exchange sees it. A post-only
order that would take liquidity is *accepted* and cancelled at once with ``cancelSource``
31, as OKX does; the create reply alone does not tell.

Swaps (``instType`` SWAP, sizes in contracts of ``ctVal`` ``ctValCcy``): ``reduceOnly`` orders
that would not reduce are refused (sCode 51169), margin not covering an order is 51008; the
leverage and margin mode are set together (``account/set-leverage``); positions, the mark
price, the funding rate and funding payments (``account/bills`` type 8) are served. The
trading account's ``cashBal`` of a settle currency is its wallet, ``eq`` adds the unrealized PnL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal

from aiohttp import web

from ccxt_mm_testkit.emulator.core import EmuFill, EmulatedExchange, EmuMarket, EmuOrder, EmuReject
from ccxt_mm_testkit.emulator.margin import value

FUNDING_INTERVAL_MS = 8 * 3600 * 1000
"""Funding every 8 hours from 00:00 UTC."""
STATE = {"open": "live", "filled": "filled", "canceled": "canceled", "rejected": "canceled"}
S_CODES = {
    "balance": ("51008", "Order failed. Insufficient balance."),
    "filter": ("51000", "Parameter sz error"),
    "duplicate": ("51016", "Duplicated clOrdId"),
    "unknown_order": ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist"),
    "unknown_symbol": ("51001", "Instrument ID does not exist"),
    "reduce_only": ("51169", "Order failed because you don't have any positions in this direction for this contract to reduce or close."),
}


def inst_type(m: EmuMarket) -> str:
    return "SWAP" if m.margined else "SPOT"


def _flag(value: object) -> bool:
    """A boolean request param as OKX reads it: JSON true or the string "true"."""
    return value is True or value == "true"


def _ok(data: list) -> web.Response:
    return web.json_response({"code": "0", "msg": "", "data": data})


def _fail(code: str, msg: str, status: int = 200, data: list | None = None) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": data or []}, status=status)


def order_json(o: EmuOrder) -> dict:
    state = "partially_filled" if o.status == "open" and o.filled > 0 else STATE[o.status]
    return {
        "accFillSz": str(o.filled),
        "avgPx": str(o.price) if o.filled else "",
        "cTime": str(o.created_ms),
        "cancelSource": "31" if o.cancel_reason == "post_only" else ("1" if o.status == "canceled" else ""),
        "category": "normal",
        "clOrdId": o.client_id,
        "fee": "0",
        "feeCcy": o.market.base if o.side == "buy" else o.market.quote,
        "fillPx": "",
        "fillSz": "0",
        "instId": o.market.id,
        "instType": inst_type(o.market),
        "ordId": str(o.order_id),
        "reduceOnly": "true" if o.reduce_only else "false",
        "posSide": "net",
        "ordType": "post_only" if o.post_only else "limit",
        "px": str(o.price),
        "side": o.side,
        "state": state,
        "sz": str(o.qty),
        "tag": "",
        "tdMode": "cross" if o.market.margined else "cash",
        "uTime": str(o.updated_ms),
    }


def fill_json(f: EmuFill) -> dict:
    return {
        "instType": inst_type(f.order.market),
        "instId": f.order.market.id,
        "tradeId": str(f.trade_id),
        "ordId": str(f.order.order_id),
        "clOrdId": f.order.client_id,
        "billId": str(f.trade_id),
        "tag": "",
        "fillPx": str(f.price),
        "fillSz": str(f.qty),
        "side": f.order.side,
        "posSide": "net",
        "execType": "M",
        "feeCcy": f.fee_asset,
        "fee": str(-f.fee),
        "ts": str(f.time_ms),
    }


class OkxDialect:
    def __init__(self, exchange: EmulatedExchange, api_key: str, secret: str, passphrase: str) -> None:
        self.ex = exchange
        self.api_key = api_key
        self.secret = secret.encode()
        self.passphrase = passphrase

    def routes(self) -> list[web.RouteDef]:
        p = "/api/v5"
        return [
            web.get(f"{p}/public/time", self.server_time),
            web.get(f"{p}/public/instruments", self.instruments),
            web.get(f"{p}/market/books", self.books),
            web.get(f"{p}/market/trades", self.market_trades),
            web.post(f"{p}/trade/order", self.signed(self.create_order)),
            web.post(f"{p}/trade/batch-orders", self.signed(self.batch_orders)),
            web.post(f"{p}/trade/cancel-all-after", self.signed(self.cancel_all_after)),
            web.post(f"{p}/trade/cancel-order", self.signed(self.cancel_order)),
            web.post(f"{p}/trade/amend-order", self.signed(self.amend_order)),
            web.get(f"{p}/trade/order", self.signed(self.get_order)),
            web.get(f"{p}/trade/orders-pending", self.signed(self.pending)),
            web.get(f"{p}/trade/fills-history", self.signed(self.fills)),
            web.get(f"{p}/trade/fills", self.signed(self.fills)),
            web.get(f"{p}/account/balance", self.signed(self.balance)),
            web.get(f"{p}/public/funding-rate", self.funding_rate),
            web.get(f"{p}/public/mark-price", self.mark_price),
            web.post(f"{p}/account/set-leverage", self.signed(self.set_leverage)),
            web.get(f"{p}/account/positions", self.signed(self.positions)),
            web.get(f"{p}/account/config", self.signed(self.config)),
            web.get(f"{p}/account/bills", self.signed(self.bills)),
            web.get(f"{p}/account/bills-archive", self.signed(self.bills)),
        ]

    def signed(self, handler):
        async def wrapped(request: web.Request) -> web.Response:
            body = await request.text() if request.method == "POST" else ""
            ts = request.headers.get("OK-ACCESS-TIMESTAMP", "")
            if request.headers.get("OK-ACCESS-KEY") != self.api_key:
                return _fail("50111", "Invalid OK-ACCESS-KEY", 401)
            if request.headers.get("OK-ACCESS-PASSPHRASE") != self.passphrase:
                return _fail("50105", "Invalid OK-ACCESS-PASSPHRASE", 401)
            path = request.raw_path  # path and query exactly as sent
            expected = base64.b64encode(
                hmac.new(self.secret, f"{ts}{request.method}{path}{body}".encode(), hashlib.sha256).digest()
            ).decode()
            if not hmac.compare_digest(request.headers.get("OK-ACCESS-SIGN", ""), expected):
                return _fail("50113", "Invalid Sign", 401)
            try:
                sent_ms = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000
            except ValueError:
                return _fail("50112", "Invalid OK-ACCESS-TIMESTAMP", 401)
            if abs(self.ex.clock_ms() - sent_ms) > 30_000:
                return _fail("50102", "Timestamp request expired", 401)
            params = json.loads(body) if body else dict(request.query)  # a list for batch-orders
            return await handler(params)

        return wrapped

    async def server_time(self, request: web.Request) -> web.Response:
        return _ok([{"ts": str(self.ex.clock_ms())}])

    async def instruments(self, request: web.Request) -> web.Response:
        kind = request.query.get("instType")
        return _ok(
            [
                {
                    "instId": m.id,
                    "instType": kind,
                    "baseCcy": "" if m.margined else m.base,
                    "quoteCcy": "" if m.margined else m.quote,
                    "settleCcy": m.settle,
                    "ctVal": str(m.contract_size) if m.margined else "",
                    "ctMult": "1" if m.margined else "",
                    "ctValCcy": (m.quote if m.inverse else m.base) if m.margined else "",
                    "ctType": ("inverse" if m.inverse else "linear") if m.margined else "",
                    "tickSz": str(m.tick),
                    "lotSz": str(m.lot),
                    "minSz": str(m.min_qty),
                    "maxLmtSz": "9999999999",
                    "maxMktSz": "1000000",
                    "lever": "",
                    "listTime": "1548133413000",
                    "expTime": "",
                    "state": "live",
                    "uly": f"{m.base}-{m.quote}" if m.margined else "",
                    "instFamily": f"{m.base}-{m.quote}" if m.margined else "",
                    "optType": "",
                    "stk": "",
                    "alias": "",
                    "category": "1",
                }
                for m in self.ex.markets.values()
                if inst_type(m) == kind
            ]
        )

    async def books(self, request: web.Request) -> web.Response:
        inst = request.query.get("instId", "")
        if inst not in self.ex.markets:
            return _fail(*S_CODES["unknown_symbol"])
        bids, asks = self.ex.depth(inst, int(request.query.get("sz", 400)))
        return _ok(
            [
                {
                    "asks": [[str(p), str(q), "0", "1"] for p, q in asks],
                    "bids": [[str(p), str(q), "0", "1"] for p, q in bids],
                    "ts": str(self.ex.clock_ms()),
                }
            ]
        )

    def _place(self, params: dict) -> dict:
        """One order request → its entry of the reply's ``data`` (``sCode`` 0 or an error)."""
        client_id = params.get("clOrdId", "")
        if params.get("ordType") == "market":
            try:
                m = self.ex.market(params.get("instId", ""))
                quote_sized = not m.margined and params.get("tgtCcy", "quote_ccy") != "base_ccy"
                reduce_only = _flag(params.get("reduceOnly"))
                order = self.ex.take(m.id, params["side"], Decimal(params["sz"]), client_id, quote_sized, reduce_only)
            except EmuReject as exc:
                code, msg = S_CODES.get(exc.kind, ("51000", str(exc)))
                return {"clOrdId": client_id, "ordId": "", "sCode": code, "sMsg": msg, "tag": ""}
            return {"clOrdId": client_id, "ordId": str(order.order_id), "sCode": "0", "sMsg": "Order placed", "tag": ""}
        if params.get("ordType") not in ("post_only", "limit"):
            return {"clOrdId": client_id, "ordId": "", "sCode": "51000", "sMsg": "Parameter ordType error", "tag": ""}
        inst = params.get("instId", "")
        try:
            order = self.ex.place(
                inst,
                params["side"],
                Decimal(params["px"]),
                Decimal(params["sz"]),
                client_id,
                params["ordType"] == "post_only",
                _flag(params.get("reduceOnly")),
            )
        except EmuReject as exc:
            if exc.kind != "post_only":
                code, msg = S_CODES.get(exc.kind, ("51000", str(exc)))
                return {"clOrdId": client_id, "ordId": "", "sCode": code, "sMsg": msg, "tag": ""}
            # OKX accepts a post-only order that would take and cancels it at once
            order = self.ex.find(inst, client_id=client_id)
        return {
            "clOrdId": order.client_id,
            "ordId": str(order.order_id),
            "sCode": "0",
            "sMsg": "Order placed",
            "tag": "",
            "ts": str(self.ex.clock_ms()),
        }

    def _reply(self, data: list[dict]) -> web.Response:
        failed = sum(d["sCode"] != "0" for d in data)
        if not failed:
            return _ok(data)
        return _fail("1" if failed == len(data) else "2", "Operation failed." if failed == len(data) else "", data=data)

    async def market_trades(self, request: web.Request) -> web.Response:
        inst = request.query.get("instId", "")
        limit = int(request.query.get("limit", 100))
        trades = [t for t in self.ex.public_trades if t[2] == inst][-limit:]
        return _ok(
            [
                {"instId": inst, "tradeId": str(i), "px": str(p), "sz": str(q), "side": side, "ts": str(ts)}
                for i, ts, _, p, q, side in reversed(trades)
            ]
        )

    async def create_order(self, params: dict) -> web.Response:
        return self._reply([self._place(params)])

    async def batch_orders(self, params: list) -> web.Response:
        return self._reply([self._place(p) for p in params])

    async def cancel_all_after(self, params: dict) -> web.Response:
        deadline = self.ex.arm_dead_man(int(params.get("timeOut", 0)) * 1000)
        return _ok([{"triggerTime": str(deadline // 1000 * 1000) if deadline else "0", "ts": str(self.ex.clock_ms())}])

    async def amend_order(self, params: dict) -> web.Response:
        inst = params.get("instId", "")
        order_id = int(params["ordId"]) if params.get("ordId") else None
        try:
            order = self.ex.find(inst, order_id, params.get("clOrdId"))
            price = Decimal(params.get("newPx") or order.price)
            qty = Decimal(params.get("newSz") or order.qty)
            order = self.ex.amend(inst, order.order_id, None, price, qty)
        except EmuReject as exc:
            code, msg = S_CODES.get(exc.kind, ("51000", str(exc)))
            data = [{"clOrdId": params.get("clOrdId", ""), "ordId": params.get("ordId", ""), "reqId": "", "sCode": code, "sMsg": msg}]
            return _fail("1", "Operation failed.", data=data)
        return _ok([{"clOrdId": order.client_id, "ordId": str(order.order_id), "reqId": "", "sCode": "0", "sMsg": ""}])

    async def cancel_order(self, params: dict) -> web.Response:
        inst = params.get("instId", "")
        order_id = int(params["ordId"]) if params.get("ordId") else None
        try:
            order = self.ex.cancel(inst, order_id, params.get("clOrdId"))
        except EmuReject as exc:
            code, msg = S_CODES.get(exc.kind, ("51400", str(exc)))
            data = [{"clOrdId": params.get("clOrdId", ""), "ordId": params.get("ordId", ""), "sCode": code, "sMsg": msg}]
            return _fail("1", "Operation failed.", data=data)
        return _ok([{"clOrdId": order.client_id, "ordId": str(order.order_id), "sCode": "0", "sMsg": ""}])

    async def get_order(self, params: dict) -> web.Response:
        order_id = int(params["ordId"]) if params.get("ordId") else None
        try:
            order = self.ex.find(params.get("instId", ""), order_id, params.get("clOrdId"))
        except EmuReject:
            return _fail("51603", "Order does not exist")
        return _ok([order_json(order)])

    async def pending(self, params: dict) -> web.Response:
        return _ok([order_json(o) for o in self.ex.open_orders(params.get("instId"))])

    async def fills(self, params: dict) -> web.Response:
        inst = params.get("instId")
        return _ok([fill_json(f) for f in reversed(self.ex.fills) if inst is None or f.order.market.id == inst])

    async def balance(self, params: dict) -> web.Response:
        details = []
        for asset in sorted(self.ex.balances):
            free, locked, upl = self.ex.free(asset), self.ex.locked(asset), self.ex.unrealized(asset)
            cash, eq = str(self.ex.balances[asset]), str(self.ex.balances[asset] + upl)
            details.append(
                {
                    "ccy": asset,
                    "availBal": str(free),
                    "frozenBal": str(locked),
                    "cashBal": cash,
                    "eq": eq,
                    "availEq": str(free),
                    "upl": str(upl),
                }
            )
        return _ok([{"totalEq": "0", "details": details, "uTime": str(self.ex.clock_ms())}])

    # --- swaps ------------------------------------------------------------------------
    async def funding_rate(self, request: web.Request) -> web.Response:
        m = self.ex.market(request.query.get("instId", ""))
        now = self.ex.clock_ms()
        nxt = (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        rate = str(self.ex.funding_rates.get(m.id, Decimal(0)))
        return _ok(
            [
                {
                    "instId": m.id,
                    "instType": "SWAP",
                    "fundingRate": rate,
                    "fundingTime": str(nxt),
                    "nextFundingRate": "",
                    "nextFundingTime": str(nxt + FUNDING_INTERVAL_MS),
                    "method": "current_period",
                    "ts": str(now),
                }
            ]
        )

    async def mark_price(self, request: web.Request) -> web.Response:
        m = self.ex.market(request.query.get("instId", ""))
        return _ok([{"instId": m.id, "instType": inst_type(m), "markPx": str(self.ex.mark(m.id)), "ts": str(self.ex.clock_ms())}])

    async def set_leverage(self, params: dict) -> web.Response:
        m, lever, mode = self.ex.market(params.get("instId", "")), int(params["lever"]), params.get("mgnMode", "")
        if mode not in ("cross", "isolated"):
            return _fail("51000", "Parameter mgnMode error")
        if mode != self.ex.margin_mode.get(m.id, "cross") and (self.ex.position(m.id).contracts or self.ex.open_orders(m.id)):
            return _fail("59000", "Settings failed. Close any open positions or orders before modifying settings.")
        self.ex.leverage[m.id], self.ex.margin_mode[m.id] = lever, mode
        return _ok([{"instId": m.id, "lever": str(lever), "mgnMode": mode, "posSide": "net"}])

    async def config(self, params: dict) -> web.Response:
        """The account's configuration (the fields a market maker's start reads)."""
        mode = "long_short_mode" if self.ex.hedge_mode else "net_mode"
        return _ok([{"uid": "1", "acctLv": "2", "posMode": mode, "autoLoan": False, "ctIsoMode": "automatic", "mgnIsoMode": "automatic"}])

    async def positions(self, params: dict) -> web.Response:
        rows = []
        for m in self.ex.markets.values():
            pos = self.ex.positions.get(m.id)
            if not m.margined or pos is None or not pos.contracts or params.get("instId") not in (None, m.id):
                continue
            mark = self.ex.mark(m.id)
            rows.append(
                {
                    "instId": m.id,
                    "instType": "SWAP",
                    "mgnMode": self.ex.margin_mode.get(m.id, "cross"),
                    "posSide": "net",
                    "pos": str(pos.contracts),
                    "posCcy": "",
                    "ccy": m.settle,
                    "avgPx": str(pos.entry),
                    "markPx": str(mark),
                    "upl": format(pos.unrealized(m, mark), "f"),
                    "lever": str(self.ex.lev(m.id)),
                    "liqPx": "",
                    "notionalUsd": str(abs(pos.contracts) * m.contract_size * (1 if m.inverse else mark)),
                    "imr": str(value(m, abs(pos.contracts), mark) / self.ex.lev(m.id)),
                    "margin": "",
                    "mmr": "0",
                    "cTime": str(self.ex.clock_ms()),
                    "uTime": str(self.ex.clock_ms()),
                }
            )
        return _ok(rows)

    async def bills(self, params: dict) -> web.Response:
        """Funding fees (``type`` 8), newest first."""
        rows = [
            {
                "billId": str(9_000_000 + i),
                "instId": market_id,
                "instType": "SWAP",
                "type": "8",
                "subType": "173" if amount < 0 else "174",
                "ccy": self.ex.markets[market_id].settle,
                "balChg": format(amount, "f"),
                "posBalChg": "0",
                "bal": "",
                "ts": str(ts),
            }
            for i, (ts, market_id, _, _, amount) in enumerate(self.ex.fundings)
            if params.get("type") in (None, "8") and params.get("instId") in (None, market_id)
        ]
        return _ok(rows[::-1])
