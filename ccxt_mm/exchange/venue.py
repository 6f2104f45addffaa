"""Venue over a ccxt ``async_support`` exchange, one symbol.

The quoting loop calls :meth:`submit` and :meth:`drain_events` and never awaits; a worker
task running :meth:`run` sends the actions. ccxt dicts stay in this module: what leaves it
are :mod:`ccxt_mm.execution.types` events and :class:`MarketFacts`. ccxt's exceptions become
ours in :meth:`_call` (:func:`ccxt_mm.exchange.errors.translate`); each error's ``kind`` says
what is done about it.

Post-only orders are sent with ccxt's unified ``postOnly`` flag (binance spot LIMIT_MAKER,
okx ``ordType=post_only``, bybit ``timeInForce=PostOnly``) and the client order id through
ccxt's unified ``clientOrderId`` (binance ``newClientOrderId``, okx ``clOrdId``, bybit
``orderLinkId``). A post-only reject is not an error and comes in two shapes: an immediate
``OrderImmediatelyFillable`` (binance) or an accepted order that the exchange cancels at once
(okx, bybit): the order's final status decides.

An order request's round trip (:attr:`CcxtVenue.ack_latency`) starts when its HTTP request
leaves: the client's aiohttp session stamps it (:data:`_REQUEST_TRACE`), after ccxt's own
request pacing, which would otherwise be most of it (11-52 ms against 0.5-1 ms on loopback).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TypeVar

import aiohttp
import ccxt.async_support as ccxt_async
from aiolimiter import AsyncLimiter

from ccxt_mm.book.levels import BookLevels
from ccxt_mm.config import LiveConfig
from ccxt_mm.errors import ExchangeError, OrderNotFound, VenueError
from ccxt_mm.exchange import swaps
from ccxt_mm.exchange.dialects import dialect
from ccxt_mm.exchange.errors import CcxtError, translate
from ccxt_mm.execution.types import (
    Action,
    AmendAccepted,
    AmendOrder,
    CancelOrder,
    CancelRejected,
    Fill,
    FundingPaid,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    PlaceOrder,
    TakeOrder,
    VenueEvent,
)
from ccxt_mm.execution.venue import ACK_ACTIONS, Holdings, MarketFacts, OpenOrder, Reconciliation, Worker
from ccxt_mm.market.latency import LatencyHistogram
from ccxt_mm.quoting.types import BUY
from ccxt_mm.retry import Backoff, retrying

log = logging.getLogger("ccxt_mm.venue")

SIDES = {"buy": BUY, "sell": -BUY}
"""ccxt's side names → our side signs (any other name is a malformed reply)."""


def classify(exc: Exception) -> str:
    """What the venue does about ``exc``: its ``kind`` (``error`` for anything not ours)."""
    return exc.kind if isinstance(exc, ExchangeError) else "error"


T = TypeVar("T")


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and classify(exc) in ("network", "rate_limit")


_REQUEST_SENT: ContextVar[list[int] | None] = ContextVar("request_sent", default=None)
"""Where the calling task's HTTP requests stamp the time they leave (perf counter, ns)."""


async def _stamp_request(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams) -> None:
    """An HTTP request leaves: stamp it where the task making it asked for (:meth:`CcxtVenue._call`)."""
    sent = _REQUEST_SENT.get()
    if sent is not None:
        sent.append(time.perf_counter_ns())


_REQUEST_TRACE = aiohttp.TraceConfig()
"""Added to each client's session by :meth:`CcxtVenue.start`: ccxt paces, signs, then sends."""
_REQUEST_TRACE.on_request_start.append(_stamp_request)
_REQUEST_TRACE.freeze()


IDEMPOTENT_BACKOFF = Backoff(initial_secs=0.2, max_secs=2.0, jitter="added", honour_hint=False)
"""Waits between attempts of a read or a cancel: 0.2 s doubling, plus up to 1 s, so three
attempts outlast a blip of 0.6-2.6 s; a ``Retry-After`` is held by the venue's gate in
:meth:`CcxtVenue._call` (and counted there), not slept here."""


async def retry_idempotent(call: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """Retry a read or a cancel (never a create) on network errors and rate limits, with
    exponential backoff and jitter; the last error propagates."""
    async for attempt in retrying(attempts=attempts, retry_if=_transient, backoff=IDEMPOTENT_BACKOFF):
        with attempt:
            return await call()
    raise AssertionError("unreachable")


@dataclass
class VenueStats:
    post_only_rejects: int = 0
    rejects: int = 0
    rate_limited: int = 0
    """429 / 418 answers; each blocks every call of this venue until Retry-After passes."""
    rate_limit_wait_secs: float = 0.0
    lost_creates_found: int = 0
    """Creates whose reply was lost but that the exchange had: found by client id."""
    errors: dict[str, int] = field(default_factory=dict)


_FUNDING_LOOKBACK_MS = 24 * 3600 * 1000
"""How far back a swap's funding baseline looks (a day: any clock skew and three fundings)."""
_BALANCE_READS = 3
"""Balance reads a reconciliation makes at most while fills keep racing them."""
_LIVE = LiveConfig()
"""Defaults of the config's ``live`` section."""


async def load_market(exchange: ccxt_async.Exchange, symbol: str) -> dict:
    """ccxt's market of ``symbol`` (the exchange's markets are loaded once per client)."""
    try:
        await exchange.load_markets()
    except CcxtError as exc:
        raise translate(exc) from exc
    if symbol not in exchange.markets:
        raise VenueError(f"{exchange.id}: unknown symbol {symbol}")
    return exchange.market(symbol)


def market_facts(market: dict) -> MarketFacts:
    """The engine's facts of a ccxt market (precision in tick-size mode, as ccxt gives these
    exchanges; a missing minimum is 0): a spot market or a perpetual swap (ccxt's ``type``,
    ``contractSize``, ``settle``, ``inverse``); anything else is a :class:`VenueError`."""
    if market.get("type") not in ("spot", "swap"):
        raise VenueError(f"{market.get('symbol')}: a {market.get('type')} market; spot markets and perpetual swaps are quoted")
    limits = market.get("limits") or {}
    swap = {}
    if market["type"] == "swap":
        swap = {"contract_size": float(market["contractSize"]), "settle": market["settle"], "inverse": bool(market.get("inverse"))}
    return MarketFacts(
        tick_size=market["precision"]["price"],
        lot_size=market["precision"]["amount"],
        min_order_base=(limits.get("amount") or {}).get("min") or 0.0,
        min_notional_quote=(limits.get("cost") or {}).get("min") or 0.0,
        base=market["base"],
        quote=market["quote"],
        **swap,
    )


class CcxtVenue:
    """Implements :class:`ccxt_mm.execution.venue.Venue` over ``exchange`` for ``symbol``.

    ``order_budget_per_min``: creates, amends and cancels sent per minute at most (None: no
    budget); :meth:`housekeeping` polls fills every ``fill_poll_secs`` and re-arms the
    dead-man switch for ``dead_man_secs`` every third of it; ``push_fills``: the fills
    watcher (:meth:`watch_fills`) runs as a worker where the exchange pushes our trades;
    ``leverage`` and ``margin_mode``: a swap's, set on the account at :meth:`start`."""

    mode = "live"
    fills_from_public_trades = False
    facts: MarketFacts | None = None
    """The market's facts, read by :meth:`start`."""
    _swap: swaps.SwapAccount | None = None
    """A swap's account (set by :meth:`start`; None for spot)."""
    _funding_since_ms: int | None = None
    """A swap's funding payments are read from this time on (ms; None before the baseline)."""

    def __init__(
        self,
        exchange: ccxt_async.Exchange,
        symbol: str,
        clock_ns: Callable[[], int],
        order_budget_per_min: float | None = None,
        *,
        fill_poll_secs: float = _LIVE.fill_poll_secs,
        dead_man_secs: float = _LIVE.dead_man_secs,
        push_fills: bool = False,
        leverage: int = 1,
        margin_mode: str = _LIVE.margin_mode,
    ) -> None:
        self.exchange, self.symbol, self.clock_ns = exchange, symbol, clock_ns
        self.dialect = dialect(exchange.id)
        self.supports_amend = bool(exchange.has.get("editOrder"))
        self.stats = VenueStats()
        self.ack_latency = {action: LatencyHistogram() for action in ACK_ACTIONS}
        """Per action, the round trip of its requests: from the HTTP request leaving (after
        ccxt's pacing and signing) to ccxt's answer, a reply or a refusal; a request that
        fails on the network, without an answer, is not counted."""
        self._actions: asyncio.Queue[Action] = asyncio.Queue()
        self.events: list[VenueEvent] = []
        self._order_ids: dict[str, str] = {}  # client id → exchange order id, while it may rest
        self._clients: OrderedDict[str, str] = OrderedDict()
        """Exchange order id → client id of our recent orders, kept after they leave the book:
        a fill that happened just before a cancel is still ours when the poll sees it."""
        self._remaining: dict[str, float] = {}
        self._filled: dict[str, float] = {}
        """Client id → base quantity of its current exchange order seen filled."""
        self._sides: dict[str, str] = {}
        self._in_doubt: dict[str, float] = {}
        """Client id → quantity of creates (or binance replacements) sent whose answer never
        came back because the task was cancelled (shutdown): looked up by client id later."""
        self._seen_trades: OrderedDict[str, None] = OrderedDict()
        """Ids of the trades already turned into fills (websocket and polling both see them)."""
        self._market: dict | None = None
        self._order_budget = AsyncLimiter(order_budget_per_min, 60.0) if order_budget_per_min else None
        self.blocked_until = 0.0
        """Monotonic time before which no request is sent (429 / 418 with Retry-After)."""
        self._block_secs = 0.0
        self.fill_poll_secs, self.dead_man_secs, self.push_fills = fill_poll_secs, dead_man_secs, push_fills
        self.leverage, self.margin_mode = leverage, margin_mode  # a swap's, set on the account at start
        self._funding_seen: set[str] = set()  # ids of the funding payments since start() reported
        self.dead_man_armed = False
        self._next_fill_poll = self._next_dead_man = 0.0
        """Monotonic times at which :meth:`housekeeping` polls fills and re-arms the switch next."""
        self._fills_reported = 0
        """Fill and funding events made so far (a reconciliation's balance read is retried while it grows)."""

    @property
    def name(self) -> str:
        return f"{self.exchange.id} {self.symbol}"

    # --- calls ------------------------------------------------------------------------
    async def _call(self, fn: Callable[[], Awaitable[T]], action: str | None = None) -> T:
        """One exchange call, held back while the exchange asked us to wait; ``action``: the
        order action it sends, whose round trip :attr:`ack_latency` counts."""
        wait = self.blocked_until - time.monotonic()
        if wait > 0:
            self.stats.rate_limit_wait_secs += wait
            await asyncio.sleep(wait)
        sent: list[int] = []
        token = _REQUEST_SENT.set(sent)
        try:
            result = await fn()
        except CcxtError as exc:
            err = translate(exc, getattr(self.exchange, "last_response_headers", None))
            if err.kind != "network":  # refused: an answer all the same
                self._answered(action, sent)
            # ccxt maps okx's HTTP 429 to ExchangeNotAvailable: its Retry-After holds us back
            # too, while the error stays a network one (a create is looked up, not resent)
            if err.kind == "rate_limit" or (err.kind == "network" and err.retry_after_secs is not None):
                self._back_off(err.retry_after_secs)
            raise err from exc
        finally:
            _REQUEST_SENT.reset(token)
        self._answered(action, sent)
        self._block_secs = 0.0
        return result

    def _answered(self, action: str | None, sent: list[int]) -> None:
        """The exchange answered ``action``'s request: count its round trip, from the last
        HTTP request ``sent`` (none if ccxt sent nothing)."""
        if action is not None and sent:
            self.ack_latency[action].add(time.perf_counter_ns() - sent[-1])

    def _back_off(self, retry_after_secs: float | None) -> None:
        """Honour the exchange's ``Retry-After`` of a 429 / 418; without one, 1 s doubling to 60 s."""
        secs = retry_after_secs if retry_after_secs is not None else min(60.0, max(1.0, 2 * self._block_secs))
        self._block_secs = secs
        self.blocked_until = max(self.blocked_until, time.monotonic() + secs)
        self.stats.rate_limited += 1

    async def _idempotent(self, fn: Callable[[], Awaitable[T]], action: str | None = None) -> T:
        """:meth:`_call`, retried as :func:`retry_idempotent` does (each attempt a request)."""
        return await retry_idempotent(lambda: self._call(fn, action))

    async def _order_slot(self) -> None:
        if self._order_budget is not None:
            await self._order_budget.acquire()

    # --- Venue protocol ---------------------------------------------------------------
    def submit(self, action: Action, now_ns: int) -> None:
        self._actions.put_nowait(action)

    def drain_events(self) -> list[VenueEvent]:
        events, self.events = self.events, []
        return events

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> MarketFacts:
        """Load markets (precision and limits come from the exchange); a swap's margin mode
        and leverage are set on the account and its mark price and funding rate read. From
        now the client's HTTP requests are stamped as they leave (:data:`_REQUEST_TRACE`)."""
        for key, values in self.dialect.client_options.items():
            self.exchange.options.setdefault(key, {}).update(values)
        self._market = market = await load_market(self.exchange, self.symbol)
        session = self.exchange.session  # ccxt opens it with the first request
        if session is not None and _REQUEST_TRACE not in session.trace_configs:
            session.trace_configs.append(_REQUEST_TRACE)
        facts = market_facts(market)
        if facts.swap:
            self.dialect = self.dialect.for_market(market)
            self._swap = swaps.SwapAccount(self.exchange, market, self.dialect, self._idempotent)
            mark, rate = await self._swap.set_up(self.leverage, self.margin_mode)
            facts = dataclasses.replace(facts, mark_price=mark, funding_rate=rate)
        self.facts = facts
        return facts

    def workers(self) -> list[Worker]:
        """The order worker; the fills watcher too where fills are pushed (polling stays on as
        its fallback, so its failures leave the quotes up)."""
        workers = [Worker("orders", self.run, True)]
        if self.push_fills and self.exchange.has.get("watchMyTrades"):
            workers.append(Worker("fills", self.watch_fills, False))
        return workers

    def on_book(self, now_ns: int, levels: BookLevels) -> None:
        """Nothing to do: the exchange matches our orders."""

    def on_trade(self, ts_ns: int, aggressor: int, price: float, qty: float) -> None:
        """Nothing to do: our fills come from the exchange."""

    async def housekeeping(self, now_ns: int) -> None:
        """Poll fills and re-arm the dead-man switch when they are due."""
        mono = time.monotonic()
        if mono >= self._next_fill_poll:
            await self.poll_fills()
            self._next_fill_poll = mono + self.fill_poll_secs
        if mono >= self._next_dead_man:
            await self.arm_dead_man(self.dead_man_secs)
            self._next_dead_man = mono + self.dead_man_secs / 3

    async def run(self) -> None:
        """Send queued actions one by one until cancelled."""
        while True:
            action = await self._actions.get()
            await self.execute(action)

    async def flush(self, cancels_only: bool = False) -> None:
        """Send everything queued now (tests); ``cancels_only`` (shutdown): send the cancels,
        refuse queued creates and amends without sending them (nothing new reaches the book)."""
        while not self._actions.empty():
            action = self._actions.get_nowait()
            if cancels_only and not isinstance(action, CancelOrder):
                self.events.append(OrderRejected(action.client_id, self.clock_ns(), f"{self.name}: not sent, shutting down"))
                continue
            await self.execute(action)

    async def execute(self, action: Action) -> None:
        match action:
            case PlaceOrder():
                await self._place(action)
            case CancelOrder():
                await self._cancel(action)
            case AmendOrder():
                await self._amend(action)
            case TakeOrder():
                await self._take(action)

    # --- orders -----------------------------------------------------------------------
    def _count(self, kind: str) -> None:
        self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1

    def _reject(self, client_id: str, reason: str, post_only: bool = False) -> None:
        if post_only:
            self.stats.post_only_rejects += 1
        else:
            self.stats.rejects += 1
        self.events.append(OrderRejected(client_id, self.clock_ns(), reason, post_only))

    async def _place(self, a: PlaceOrder) -> None:
        ex, symbol = self.exchange, self.symbol
        try:
            amount = ex.amount_to_precision(symbol, a.qty)
            price = ex.price_to_precision(symbol, a.price)
        except CcxtError as exc:  # below the exchange's minimum: ccxt refuses it before any call
            self._reject(a.client_id, f"{self.name}: {translate(exc)}")
            return
        min_cost = ((self._market or {}).get("limits", {}).get("cost") or {}).get("min")
        notional = float(amount) * float(price) * (self.facts.contract_size if self.facts else 1.0)
        if min_cost and not (self.facts and self.facts.inverse) and notional < min_cost and not a.reduce_only:
            self._reject(a.client_id, f"{self.name}: notional {notional:g} below minimum {min_cost:g}")
            return
        side = "buy" if a.side == BUY else "sell"
        self._sides[a.client_id] = side
        params = {"postOnly": True, "clientOrderId": a.client_id} | self._reduce_only(a.reduce_only)
        await self._order_slot()
        try:
            order = await self._call(lambda: ex.create_order(symbol, "limit", side, float(amount), float(price), params), "place")
        except asyncio.CancelledError:
            self._in_doubt[a.client_id] = float(amount)
            raise
        except Exception as exc:
            kind = classify(exc)
            self._count(kind)
            if kind == "network":
                await self._resolve_lost_create(a)
            else:
                refusal = self.dialect.post_only_refusal
                self._reject(a.client_id, f"{self.name}: {exc}", post_only=kind == "post_only" or bool(refusal and refusal in str(exc)))
            return
        if not order.get("id"):
            # accepted, but the reply lacks the order id: find it by client id, never resend
            self._count("malformed_reply")
            await self._resolve_lost_create(a)
            return
        if order.get("status") is None:
            # okx and bybit acknowledge without a state: the final status decides
            acked = order
            try:
                order = await self._idempotent(lambda: ex.fetch_order(acked["id"], symbol))
            except asyncio.CancelledError:  # shutdown: the order exists, track it so it is cancelled and its fills count
                self._on_created(a.client_id, acked, float(amount))
                raise
            except Exception as exc:  # the order exists: track it; reconciliation settles its state
                self._count(classify(exc))
        self._on_created(a.client_id, order, float(amount))

    def _reduce_only(self, wanted: bool) -> dict:
        """ccxt's unified ``reduceOnly`` param of a swap's order the core flagged so (spot has none)."""
        return {"reduceOnly": True} if wanted and self.facts is not None and self.facts.swap else {}

    def _on_created(self, client_id: str, order: dict, amount: float) -> None:
        """Track an accepted order of ``amount`` (base). Its fills so far have not been
        counted (they could not be matched to it yet), so they all come off ``amount``."""
        status = order.get("status")
        if status in ("canceled", "rejected", "expired") and not order.get("filled"):
            # accepted, then cancelled by the exchange at once: a post-only that would take
            self._reject(client_id, f"{self.name}: post-only order cancelled by the exchange", post_only=True)
            return
        self._remember(client_id, str(order["id"]))
        self._remaining[client_id] = amount
        self._filled[client_id] = 0.0
        self.events.append(OrderAccepted(client_id, self.clock_ns()))

    def _remember(self, client_id: str, order_id: str, keep: int = 10_000) -> None:
        self._order_ids[client_id] = order_id
        self._clients[order_id] = client_id
        while len(self._clients) > keep:
            self._clients.popitem(last=False)

    async def _resolve_lost_create(self, a: PlaceOrder) -> None:
        """A create whose reply was lost is looked up by client id, never blindly resent; an
        order found in any state (it may have filled meanwhile) is tracked, so its fills count."""
        order = await self._find_by_client_id(a.client_id)
        if order is not None and order.get("id"):
            self.stats.lost_creates_found += 1
            self._on_created(a.client_id, order, float(self.exchange.amount_to_precision(self.symbol, a.qty)))
        else:
            self._reject(a.client_id, f"{self.name}: create failed and the order is not on the exchange")

    async def _find_by_client_id(self, client_id: str) -> dict | None:
        """Our order with this client id in whatever state (None: the exchange has none)."""
        ex = self.exchange
        try:
            lookup = self.dialect.find_by_client_id
            if lookup is not None:
                market = self._market or ex.market(self.symbol)
                return await self._idempotent(lambda: lookup(ex, market, client_id))
            return await self._idempotent(lambda: ex.fetch_order(None, self.symbol, {"clientOrderId": client_id}))
        except Exception as exc:
            if classify(exc) == "not_found":
                return None
            raise

    async def settle_in_flight(self) -> None:
        """Look up creates whose answer was lost to a cancelled task (shutdown), so that their
        fills count and the orders are cancelled (a failed look-up is logged: what is left is
        found by its prefix in :meth:`close`, adopted and cancelled, and its fills polled)."""
        try:
            for client_id, amount in list(self._in_doubt.items()):
                order = await self._find_by_client_id(client_id)
                del self._in_doubt[client_id]
                if order is not None and order.get("id"):
                    self._on_created(client_id, order, amount)
        except Exception as exc:
            log.warning("%s: shutdown could not look up in-flight creates: %s", self.name, exc)

    async def close(self, prefix: str) -> list[str]:
        """Send the queued cancels (refusing queued creates and amends), poll the last fills,
        cancel whatever of ours (``prefix``) is still open (three tries), and poll once more:
        an order can fill between the first poll and its cancel, and once nothing of ours
        rests that last poll sees every fill."""
        for step in (lambda: self.flush(cancels_only=True), self.poll_fills):
            try:
                await step()
            except Exception as exc:  # what is left is found by client id just below
                log.warning("%s: shutdown step failed: %s", self.name, exc)
        left: list[str] = []
        for attempt in range(3):
            try:
                left = await self._cancel_open(prefix, adopt=True)
                break
            except Exception as exc:
                log.error("%s: shutdown could not confirm every cancel (attempt %d): %s", self.name, attempt + 1, exc)
                await asyncio.sleep(0.5 * (attempt + 1))
        try:
            await self.poll_fills()
        except Exception as exc:
            log.error("%s: the last fills after the cancels could not be polled: %s", self.name, exc)
        return left

    async def _take(self, a: TakeOrder) -> None:
        """A market order of the active reduce-only mode (base quantity on both sides: ccxt
        sets okx's ``tgtCcy`` and bybit's ``marketUnit`` for spot market buys); its fills
        arrive like any other."""
        ex, symbol = self.exchange, self.symbol
        side = "buy" if a.side == BUY else "sell"
        try:
            amount = float(ex.amount_to_precision(symbol, a.qty))
        except CcxtError as exc:  # below the exchange's minimum: ccxt refuses it before any call
            self._count("invalid")
            self._reject(a.client_id, f"{self.name}: reduce-only taker order refused: {translate(exc)}")
            return
        try:
            params = {"clientOrderId": a.client_id} | self._reduce_only(a.reduce_only)
            order = await self._call(lambda: ex.create_order(symbol, "market", side, amount, None, params))
        except Exception as exc:
            self._count(classify(exc))
            self._reject(a.client_id, f"{self.name}: reduce-only taker order refused: {exc}")
            return
        if order.get("id"):
            self._remember(a.client_id, str(order["id"]))
            self._remaining[a.client_id] = amount
            self._sides[a.client_id] = side

    async def _amend(self, a: AmendOrder) -> None:
        """``edit_order``: okx and bybit amend in place, binance spot cancels and replaces
        (a new exchange id, our client id kept). After a failure, or a reply without a
        state, the order's own status decides: gone → cancelled (its slot is free), else the
        amend was refused and the order rests as it was. A post-only amend that would take
        liquidity ends the order on every venue."""
        ex, symbol, cid = self.exchange, self.symbol, a.client_id
        order_id = self._order_ids.get(cid)
        if order_id is None:
            self.events.append(OrderRejected(cid, self.clock_ns(), f"{self.name}: amend of an order that is not open"))
            return
        # binance replaces with a new order of ``amount``; okx and bybit set the order's total
        # size: what has filled is added, so what rests is the size asked for (less any fill
        # not seen yet), and never an amend to no more than the filled size, which they refuse
        filled = self._filled.get(cid, 0.0) if self.dialect.amend_sets_total_size else 0.0
        try:
            amount = ex.amount_to_precision(symbol, a.qty + filled)
            price = ex.price_to_precision(symbol, a.price)
        except CcxtError as exc:  # below the exchange's minimum: refused before any call, the order rests as it was
            self.events.append(OrderRejected(cid, self.clock_ns(), f"{self.name}: amend refused: {translate(exc)}"))
            return
        params = {"postOnly": True, "clientOrderId": cid}
        side = self._sides[cid]
        await self._order_slot()
        try:
            edited = await self._call(lambda: ex.edit_order(order_id, symbol, "limit", side, float(amount), float(price), params), "amend")
        except asyncio.CancelledError:
            if self.dialect.amend_replaces:  # a replacement order may exist under a new exchange id
                self._in_doubt[cid] = float(amount)
            raise
        except Exception as exc:
            self._count(classify(exc))
            edited = {"id": None, "status": None, "error": f"{self.name}: amend refused: {exc}"}
        if "error" in edited:
            await self._settle_failed_amend(cid, order_id, edited["error"])
            return
        new_id = str(edited.get("id") or order_id)
        status = await self._status(new_id, edited)
        if status in ("canceled", "rejected", "expired"):
            self.stats.post_only_rejects += 1
            self._order_ids.pop(cid, None)
            self.events.append(OrderCancelled(cid, self.clock_ns()))
        else:
            if new_id != order_id:  # replaced (binance): the old order's unseen fills come first
                await self._poll_fills_before(cid)
                self._filled[cid] = 0.0
            self._remember(cid, new_id)
            rest = float(amount) - filled
            self._remaining[cid] = rest
            self.events.append(AmendAccepted(cid, self.clock_ns(), float(price), rest))

    async def _status(self, order_id: str, reply: dict) -> str | None:
        """The order's status in the exchange's ``reply``, else as fetched (not found: canceled)."""
        status = reply.get("status")
        if status is None:
            try:
                status = (await self._idempotent(lambda: self.exchange.fetch_order(order_id, self.symbol))).get("status")
            except OrderNotFound:
                status = "canceled"
        return status

    async def _settle_failed_amend(self, cid: str, order_id: str, error: str) -> None:
        """An amend that failed or went unanswered: the latest order with our client id
        decides. Open under a new id: binance's replacement went through. Open under the old
        id: refused, it rests as it was. Gone: the slot is free."""
        order = await self._find_by_client_id(cid)
        status = order.get("status") if order else None
        if order is None or status in ("canceled", "rejected", "expired", "closed"):
            if status != "closed":  # not filled: refused as it would have taken liquidity
                self.stats.post_only_rejects += 1
            self._order_ids.pop(cid, None)
            self.events.append(OrderCancelled(cid, self.clock_ns()))
        elif str(order["id"]) != order_id:
            amount = float(order.get("amount") or 0.0)
            self._remember(cid, str(order["id"]))
            self._remaining[cid] = amount
            self._filled[cid] = 0.0
            self.events.append(AmendAccepted(cid, self.clock_ns(), float(order["price"]), amount))
        else:
            self.events.append(OrderRejected(cid, self.clock_ns(), error))

    async def _cancel(self, a: CancelOrder) -> None:
        order_id = self._order_ids.get(a.client_id)
        if order_id is None:
            self.events.append(CancelRejected(a.client_id, self.clock_ns(), "unknown to this venue"))
            return
        await self._order_slot()
        try:
            reply = await self._idempotent(lambda: self.exchange.cancel_order(order_id, self.symbol), "cancel")
        except Exception as exc:
            kind = classify(exc)
            self._count(kind)
            if kind == "not_found":  # filled, most likely: its fills come first
                await self._poll_fills_before(a.client_id)
                self.events.append(CancelRejected(a.client_id, self.clock_ns(), f"{self.name}: {exc}"))
                return
            # a cancel is never dropped: queued again, sent after the caller's backoff
            self._actions.put_nowait(a)
            raise VenueError(f"{self.name}: cancel {a.client_id} failed, will retry: {exc}") from exc
        self._order_ids.pop(a.client_id, None)
        if self._unseen_fills(a.client_id, reply):
            await self._poll_fills_before(a.client_id)
        self.events.append(OrderCancelled(a.client_id, self.clock_ns()))

    async def _poll_fills_before(self, client_id: str) -> None:
        """Poll fills before reporting that an order left the book: its size is never released
        while part of it has filled unseen (the engine would quote that part again, past its
        limit)."""
        try:
            await self.poll_fills()
        except Exception as exc:  # the next poll finds them; the cancel or replace itself stands
            self._count(classify(exc))
            log.warning("%s: fills of %s not polled before it left the book: %s", self.name, client_id, exc)

    def _unseen_fills(self, client_id: str, reply: object) -> bool:
        """The cancel's reply says (or leaves open) that the order filled more than the fills
        seen so far: binance answers with the order's ``remaining``, okx and bybit with none."""
        remaining = reply.get("remaining") if isinstance(reply, dict) else None
        if remaining is None:
            return True
        return float(remaining) < self._remaining.get(client_id, 0.0) - 1e-12

    async def arm_dead_man(self, timeout_secs: float) -> bool:
        """Ask the exchange to cancel all our orders unless re-armed within ``timeout_secs``;
        False where the exchange has no such switch (binance spot)."""
        if not self.exchange.has.get("cancelAllOrdersAfter"):
            return False
        params = dict(self.dialect.dead_man_params)
        await self._idempotent(lambda: self.exchange.cancel_all_orders_after(int(timeout_secs * 1000), params))
        self.dead_man_armed = True
        return True

    # --- reads ------------------------------------------------------------------------
    async def open_orders(self) -> list[OpenOrder]:
        """The open orders on this market; a reply missing a field is a :class:`VenueError`."""
        orders = await self._idempotent(lambda: self.exchange.fetch_open_orders(self.symbol))
        out = []
        for o in orders:
            try:
                side = SIDES[o["side"]]
                out.append(OpenOrder(str(o["id"]), o.get("clientOrderId") or "", side, float(o["price"]), float(o["remaining"])))
            except (KeyError, TypeError, ValueError) as exc:
                self._count("malformed_reply")
                raise VenueError(f"{self.name}: open order without a usable {exc}: {o.get('info')!r:.300}") from None
        return out

    async def balances(self) -> dict[str, tuple[float, float]]:
        """(free, total) per asset with a non-zero total; a swap's: its settle currency's, the
        total its cash (see :meth:`holdings`)."""
        return (await self.holdings()).balances

    async def holdings(self) -> Holdings:
        """Spot's balances per asset; a swap's settle currency (free, cash:
        :meth:`~ccxt_mm.exchange.swaps.SwapAccount.cash`), position and mark. A swap's first read
        is the funding baseline: the payments it includes are never reported again
        (:meth:`_baseline_funding`)."""
        if self._swap is None:
            raw = await self._idempotent(self.exchange.fetch_balance)
            return Holdings({a: (float(raw["free"].get(a) or 0.0), float(t)) for a, t in raw["total"].items() if t})
        if self._funding_since_ms is None:
            return await self._baseline_funding()
        free, cash, position, mark = await self._swap.cash()
        return Holdings({self._swap.market["settle"]: (free, cash)}, position, mark)

    async def _baseline_funding(self) -> Holdings:
        """Read the cash between two reads of the last day's funding payments until both agree
        (a payment credited meanwhile is read again): those payments are in the cash, so they
        are marked seen, and later polls start from the newest."""
        assert self._swap is not None
        since = self.exchange.milliseconds() - _FUNDING_LOOKBACK_MS
        for _ in range(_BALANCE_READS):
            before = {pid for pid, _, _ in await self._swap.funding_paid(since)}
            free, cash, position, mark = await self._swap.cash()
            after = await self._swap.funding_paid(since)
            if {pid for pid, _, _ in after} == before:
                break
        self._funding_seen.update(pid for pid, _, _ in after)
        self._funding_since_ms = max((ts for _, ts, _ in after), default=since)
        return Holdings({self._swap.market["settle"]: (free, cash)}, position, mark)

    async def cancel_leftovers(self, prefix: str) -> list[str]:
        """Cancel open orders whose client id starts with ``prefix`` (left by earlier runs);
        returns their client ids."""
        return await self._cancel_open(prefix, adopt=False)

    async def _cancel_open(self, prefix: str, adopt: bool) -> list[str]:
        """Cancel our open orders of ``prefix``; ``adopt``: they are this run's (shutdown), so
        their fills are ours and the next poll reports them (:meth:`_adopt`)."""
        cancelled = []
        for o in await self.open_orders():
            if o.client_id.startswith(prefix):
                if adopt:
                    self._adopt(o)
                with suppress(OrderNotFound):  # filled or cancelled meanwhile: gone either way
                    await self._idempotent(lambda o=o: self.exchange.cancel_order(o.order_id, self.symbol))
                cancelled.append(o.client_id)
        return cancelled

    def _adopt(self, o: OpenOrder) -> None:
        """Track an order of this run found on the exchange but not by us (a create answered
        too late), so that its fills, past and future, become fill events."""
        if o.order_id not in self._clients:
            self._remember(o.client_id, o.order_id)
            self._remaining.setdefault(o.client_id, o.remaining)

    async def reconcile(self, tracked_open: set[str], prefix: str) -> Reconciliation:
        """Make the exchange's open orders and ours agree (after a reconnect, and now and then),
        then read the balances.

        Orders of this run the exchange holds but we do not track (a create answered too
        late) are cancelled; orders we think open that the exchange no longer has are
        checked against fills first and otherwise reported cancelled, freeing their slots.
        A fill landing between our last fill poll and the balance read is in the balance but
        not in our fills: fills are polled after the read and, if there were new ones, the
        balances read again, so that balances and fill events describe the same fills."""
        orphans, vanished = await self._resync_orders(tracked_open, prefix)
        for _ in range(_BALANCE_READS):
            fills = self._fills_reported
            held = await self.holdings()
            await self.poll_fills()
            rate = await self.poll_funding()
            if self._fills_reported == fills:
                break
        return Reconciliation(orphans, vanished, held, rate)

    async def poll_funding(self) -> float | None:
        """A swap's funding payments since the baseline (:meth:`holdings`) not reported yet become
        :class:`FundingPaid` events (at the rate and mark read now: the payment's own are not
        all stated); returns the funding rate now (None for spot). Each poll starts at the newest
        payment seen, so ccxt's one page is never outgrown."""
        if self._swap is None:
            return None
        mark, rate = await self._swap.funding_now()
        if self._funding_since_ms is None:  # no baseline yet: nothing can be told apart
            return rate
        for payment_id, ts_ms, amount in await self._swap.funding_paid(self._funding_since_ms):
            self._funding_since_ms = max(self._funding_since_ms, ts_ms)
            if payment_id not in self._funding_seen:
                self._funding_seen.add(payment_id)
                self._fills_reported += 1
                self.events.append(FundingPaid(ts_ms * 1_000_000, rate, mark, amount))
        return rate

    async def _resync_orders(self, tracked_open: set[str], prefix: str) -> tuple[list[str], list[str]]:
        """Returns (orphans cancelled, vanished orders) of :meth:`reconcile`."""
        exchange_open = {o.client_id: o for o in await self.open_orders() if o.client_id.startswith(prefix)}
        orphans = [cid for cid in exchange_open if cid not in tracked_open and cid not in self._order_ids]
        for cid in orphans:
            self._adopt(exchange_open[cid])
            with suppress(OrderNotFound):
                await self._idempotent(lambda cid=cid: self.exchange.cancel_order(exchange_open[cid].order_id, self.symbol))
        missing = [cid for cid in tracked_open if cid not in exchange_open]
        if missing:
            await self.poll_fills()
        vanished = [cid for cid in missing if self._remaining.get(cid, 0.0) > 0.0]
        for cid in vanished:
            self._order_ids.pop(cid, None)
            self.events.append(OrderCancelled(cid, self.clock_ns()))
        return orphans, vanished

    def seen_trades(self) -> list[str]:
        """Ids of the fills already turned into events, oldest first."""
        return list(self._seen_trades)

    def order_headroom(self) -> float | None:
        """Whole order requests the budget allows now (aiolimiter's public ``has_capacity``,
        searched); 0 while blocked by the exchange; None without a budget."""
        if time.monotonic() < self.blocked_until:
            return 0.0
        budget = self._order_budget
        if budget is None:
            return None
        low, high = 0, int(budget.max_rate)
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if budget.has_capacity(mid) else (low, mid - 1)
        return float(low)

    def remember_seen(self, trade_ids: list[str]) -> None:
        """Fills an earlier run already counted (restored after a restart)."""
        for trade_id in trade_ids:
            self._seen_trades[str(trade_id)] = None

    async def poll_fills(self) -> None:
        """Our new trades from ``fetch_my_trades`` (the fallback of :meth:`watch_fills`)."""
        self._on_trades(await self._idempotent(lambda: self.exchange.fetch_my_trades(self.symbol)))

    async def watch_fills(self) -> None:
        """Our trades as the exchange pushes them (``watch_my_trades``), until cancelled;
        errors propagate so the caller backs off and polling covers the gap."""
        fee_sign = self.dialect.pushed_fee_sign
        while True:
            try:
                trades = await self.exchange.watch_my_trades(self.symbol)
            except CcxtError as exc:
                raise translate(exc) from exc
            self._on_trades(trades, fee_sign)

    def _on_trades(self, trades: list[dict], fee_sign: float = 1.0) -> None:
        """Turn our trades not seen before into Fill events (a fee cost > 0 is charged)."""
        base = (self._market or {}).get("base")
        swap = self.facts is not None and self.facts.swap
        settle = (self._market or {}).get("settle")
        for t in trades:
            trade_id = str(t.get("id"))
            client_id = self._clients.get(str(t.get("order")))
            if client_id is None or trade_id in self._seen_trades:
                continue
            try:
                qty, price, ts_ms = float(t["amount"]), float(t["price"]), int(t["timestamp"])
                side = SIDES[t["side"]]
                fee = t.get("fee") or {}
                fee_cost = fee_sign * float(fee.get("cost") or 0.0)
            except (KeyError, TypeError, ValueError) as exc:
                # never silently: counted and logged; reconciliation reports the balance drift it leaves
                self._count("malformed_reply")
                log.error("%s: fill %s of order %s unreadable (%s): %r", self.name, trade_id, client_id, exc, t.get("info"))
                continue
            self._seen_trades[trade_id] = None
            self._fills_reported += 1
            if len(self._seen_trades) > 100_000:
                self._seen_trades.popitem(last=False)
            if swap and fee_cost and fee.get("currency") != settle:  # e.g. a fee paid in BNB: not in the ledger, said so
                self._count("fee_not_in_settle")
                log.error(
                    "%s: fill %s fee %g %s is not in the settle currency %s", self.name, trade_id, fee_cost, fee.get("currency"), settle
                )
                fee_cost = 0.0
            fee_base = fee_cost if fee.get("currency") == base and not swap else 0.0  # a swap's fee is in its settle currency
            fee_quote = fee_base * price if fee_base else fee_cost
            remaining = max(0.0, round(self._remaining.get(client_id, qty) - qty, 12))
            self._remaining[client_id] = remaining
            self._filled[client_id] = self._filled.get(client_id, 0.0) + qty
            if remaining <= 0.0:
                self._order_ids.pop(client_id, None)
            self.events.append(Fill(client_id, ts_ms * 1_000_000, side, price, qty, fee_quote, False, remaining, fee_base))
