"""Venue-neutral state of the loopback exchange emulator: markets, a public book per
market, our resting orders, balances and fills, with hooks to inject faults.

The protocol modules (``binance``, …) translate each exchange's REST dialect to these calls,
so every venue is matched by the same engine. Prices and quantities are Decimals (exchanges
validate on exact decimal grids); times are milliseconds of the emulator's clock.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from ccxt_mm_testkit.emulator.margin import EmuPosition, value

DEFAULT_LEVERAGE = 20
"""An account's leverage on a swap until it sets one (binance's default)."""
STATED = Decimal("1e-8")
"""A swap's fees, realized PnL and funding are charged to the 8 decimals the exchange states."""
Book = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]
"""(bids, asks) of one market: price → quantity."""
PublicTrade = tuple[int, int, str, Decimal, Decimal, str]
"""(trade id, time ms, market id, price, base quantity, taker side)."""


@dataclass(frozen=True)
class EmuMarket:
    """One market: unified ``symbol`` (BTC/USDT, ETH/USDT:USDT), exchange ``id`` (BTCUSDT).
    A perpetual swap names its ``settle`` currency (empty: spot); its quantities are
    contracts of ``contract_size`` (base units, or quote units if ``inverse``)."""

    symbol: str
    id: str
    base: str
    quote: str
    tick: Decimal
    lot: Decimal
    min_qty: Decimal
    min_notional: Decimal
    contract_size: Decimal = Decimal(1)
    settle: str = ""
    inverse: bool = False

    @property
    def margined(self) -> bool:
        """A swap: positions on margin in the settle currency, not balances of base and quote."""
        return bool(self.settle)


@dataclass
class EmuOrder:
    order_id: int
    client_id: str
    market: EmuMarket
    side: str  # "buy" | "sell"
    price: Decimal
    qty: Decimal
    filled: Decimal
    status: str  # "open" | "filled" | "canceled" | "rejected"
    created_ms: int
    updated_ms: int
    post_only: bool
    cancel_reason: str = ""
    reduce_only: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled


@dataclass(frozen=True)
class EmuFill:
    trade_id: int
    order: EmuOrder
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    time_ms: int
    realized: Decimal = Decimal(0)
    """Swaps: the PnL the fill realized (settle currency)."""


class EmuReject(Exception):
    """A request the exchange refuses; ``kind`` is venue-neutral, the protocol maps it."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind  # filter | balance | post_only | reduce_only | duplicate | unknown_order | unknown_symbol
        super().__init__(message)


@dataclass
class EmulatedExchange:
    markets: dict[str, EmuMarket]
    """By exchange id."""
    balances: dict[str, Decimal]
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.002")
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    books: dict[str, Book] = field(default_factory=dict)
    book_seq: dict[str, int] = field(default_factory=dict)
    """Market id → update id of its book, one more at every change (binance ``lastUpdateId``)."""
    book_listeners: list[Callable[[str, Book, Book], None]] = field(default_factory=list)
    """Called with (market id, old book, new book) at every change (book websocket streams)."""
    orders: dict[int, EmuOrder] = field(default_factory=dict)
    fills: list[EmuFill] = field(default_factory=list)
    public_trades: list[PublicTrade] = field(default_factory=list)
    """Every market trade, oldest first."""
    trade_listeners: list[Callable[[PublicTrade], None]] = field(default_factory=list)
    """Called with every market trade (public trade websocket streams)."""
    fill_listeners: list[Callable[[EmuFill], None]] = field(default_factory=list)
    """Called with every fill (user-data websocket streams)."""
    dead_man_deadline_ms: int = 0
    """Cancel-all-after deadline (0: disarmed)."""
    post_only_crosses: bool = False
    """Fault switch: every post-only order arrives to a book that has moved through it (as
    when the market moves between the quote and its arrival) and is refused."""
    positions: dict[str, EmuPosition] = field(default_factory=dict)
    """Market id → our position of a swap market."""
    leverage: dict[str, int] = field(default_factory=dict)
    """Market id → the account's leverage on it (:data:`DEFAULT_LEVERAGE` until set)."""
    margin_mode: dict[str, str] = field(default_factory=dict)
    """Market id → ``cross`` (until set) or ``isolated``."""
    hedge_mode: bool = False
    """The account keeps a long and a short of a swap apart (Binance's dual-side position,
    OKX's ``long_short_mode``, Bybit's position index 1 and 2); else one-way (net)."""
    funding_rates: dict[str, Decimal] = field(default_factory=dict)
    """Market id → the rate the next funding pays (0 until set): a long pays it."""
    fundings: list[tuple[int, str, Decimal, Decimal, Decimal]] = field(default_factory=list)
    """(time ms, market id, rate, mark price, amount credited) of every funding paid."""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    def arm_dead_man(self, timeout_ms: int) -> int:
        """Arm (or with 0 disarm) the cancel-all-after switch; returns the deadline."""
        self.dead_man_deadline_ms = self.clock_ms() + timeout_ms if timeout_ms > 0 else 0
        return self.dead_man_deadline_ms

    def check_dead_man(self) -> list[EmuOrder]:
        """Cancel every open order once the switch's deadline has passed."""
        if not self.dead_man_deadline_ms or self.clock_ms() < self.dead_man_deadline_ms:
            return []
        self.dead_man_deadline_ms = 0
        return [self.cancel(o.market.id, o.order_id) for o in self.open_orders()]

    # --- public book ------------------------------------------------------------------
    def set_book(self, market_id: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        """Replace the public book of ``market_id`` (levels as decimal strings, price then
        quantity; quantity 0 levels are left out)."""
        old = self.books.get(market_id, ({}, {}))
        new = (
            {Decimal(p): Decimal(q) for p, q in bids if Decimal(q) > 0},
            {Decimal(p): Decimal(q) for p, q in asks if Decimal(q) > 0},
        )
        self.books[market_id] = new
        self.book_seq[market_id] = self.book_seq.get(market_id, 0) + 1
        for listener in self.book_listeners:
            listener(market_id, old, new)

    def would_take(self, market_id: str, side: str, price: Decimal) -> bool:
        """A buy at or above the best ask (a sell at or below the best bid) would trade."""
        bid, ask = self.best(market_id)
        if side == "buy":
            return ask is not None and price >= ask
        return bid is not None and price <= bid

    def best(self, market_id: str) -> tuple[Decimal | None, Decimal | None]:
        bids, asks = self.books.get(market_id, ({}, {}))
        return (max(bids) if bids else None), (min(asks) if asks else None)

    def depth(self, market_id: str, limit: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids, asks = self.books.get(market_id, ({}, {}))
        return sorted(bids.items(), reverse=True)[:limit], sorted(asks.items())[:limit]

    # --- balances ---------------------------------------------------------------------
    def locked(self, asset: str) -> Decimal:
        """What open orders hold of ``asset`` (spot), plus the margin positions and open
        orders of the swaps settled in it use."""
        total = Decimal(0)
        for o in self.orders.values():
            if o.status != "open" or o.market.margined:
                continue
            if o.side == "buy" and o.market.quote == asset:
                total += o.remaining * o.price
            elif o.side == "sell" and o.market.base == asset:
                total += o.remaining
        return total + self.margin_used(asset)

    def free(self, asset: str) -> Decimal:
        """Spot: the balance less what orders hold; a settle currency: the equity (balance and
        unrealized PnL) less the margin in use."""
        return self.balances.get(asset, Decimal(0)) + self.unrealized(asset) - self.locked(asset)

    # --- swaps ------------------------------------------------------------------------
    def mark(self, market_id: str) -> Decimal:
        """The market's mark price: its mid (the position's entry without a two-sided book)."""
        bid, ask = self.best(market_id)
        if bid is None or ask is None:
            return self.positions.get(market_id, EmuPosition()).entry
        return (bid + ask) / 2

    def lev(self, market_id: str) -> int:
        return self.leverage.get(market_id, DEFAULT_LEVERAGE)

    def position(self, market_id: str) -> EmuPosition:
        return self.positions.setdefault(market_id, EmuPosition())

    def unrealized(self, settle: str) -> Decimal:
        """Unrealized PnL at the mark of the positions settled in ``settle``."""
        return sum(
            (p.unrealized(self.markets[i], self.mark(i)) for i, p in self.positions.items() if self.markets[i].settle == settle),
            Decimal(0),
        )

    def margin_used(self, settle: str) -> Decimal:
        """Initial margin of the positions at the mark and of the open orders that are not
        reduce-only, of the swaps settled in ``settle`` (value / leverage)."""
        total = Decimal(0)
        for i, p in self.positions.items():
            m = self.markets[i]
            if m.settle == settle and p.contracts:
                total += value(m, abs(p.contracts), self.mark(i)) / self.lev(i)
        for o in self.orders.values():
            if o.status == "open" and o.market.settle == settle and not o.reduce_only:
                total += value(o.market, o.remaining, o.price) / self.lev(o.market.id)
        return total

    def _reduces(self, m: EmuMarket, side: str, qty: Decimal) -> bool:
        """An order of ``qty`` on ``side`` would only reduce the position."""
        pos = self.position(m.id).contracts
        return (pos > 0 if side == "sell" else pos < 0) and qty <= abs(pos)

    def _check_margin(self, m: EmuMarket, side: str, price: Decimal, qty: Decimal, reduce_only: bool, held: Decimal = Decimal(0)) -> None:
        """Refuse a reduce-only order that would not reduce, and an order the margin does not
        cover (``held``: margin the order being amended holds already)."""
        pos = self.position(m.id).contracts
        if reduce_only and not (pos > 0 if side == "sell" else pos < 0):
            raise EmuReject("reduce_only", "ReduceOnly Order is rejected.")
        if reduce_only or self._reduces(m, side, qty):
            return
        need = value(m, qty, price) / self.lev(m.id)
        if self.free(m.settle) + held < need:
            raise EmuReject("balance", f"Margin is insufficient: need {need} {m.settle}, available {self.free(m.settle) + held}")

    def pay_funding(self, market_id: str) -> Decimal:
        """Funding now at the market's rate and mark: a long pays ``rate`` × its value, a short
        receives it (negative rates the other way); returns the amount credited."""
        m = self.market(market_id)
        rate, mark = self.funding_rates.get(market_id, Decimal(0)), self.mark(market_id)
        contracts = self.position(market_id).contracts
        amount = (-value(m, contracts, mark) * rate).quantize(STATED) if contracts and rate else Decimal(0)
        self.balances[m.settle] = self.balances.get(m.settle, Decimal(0)) + amount
        self.fundings.append((self.clock_ms(), market_id, rate, mark, amount))
        return amount

    def _expire_reduce_only(self, market_id: str) -> None:
        """Reduce-only orders that would no longer reduce (the position is flat or turned)
        are cancelled by the exchange."""
        pos = self.position(market_id).contracts
        for o in self.open_orders(market_id):
            if o.reduce_only and not (pos > 0 if o.side == "sell" else pos < 0):
                o.status, o.cancel_reason, o.updated_ms = "canceled", "reduce_only", self.clock_ms()

    # --- orders -----------------------------------------------------------------------
    def market(self, market_id: str) -> EmuMarket:
        if market_id not in self.markets:
            raise EmuReject("unknown_symbol", f"unknown symbol {market_id}")
        return self.markets[market_id]

    def place(
        self, market_id: str, side: str, price: Decimal, qty: Decimal, client_id: str, post_only: bool, reduce_only: bool = False
    ) -> EmuOrder:
        """Validate and rest a limit order; a post-only order that would cross raises
        ``post_only`` (the protocol decides whether that is an error or a cancelled order).
        ``reduce_only`` (swaps): refused unless it reduces the position."""
        m = self.market(market_id)
        if price <= 0 or price % m.tick != 0:
            raise EmuReject("filter", f"price {price} is not a multiple of tick {m.tick}")
        if qty < m.min_qty or qty % m.lot != 0:
            raise EmuReject("filter", f"quantity {qty} is not a multiple of lot {m.lot} >= {m.min_qty}")
        notional = value(m, qty, price) if m.margined and not m.inverse else price * qty
        if notional < m.min_notional and not reduce_only:
            raise EmuReject("filter", f"notional {notional} below {m.min_notional}")
        if any(o.client_id == client_id and o.status == "open" for o in self.orders.values()):
            raise EmuReject("duplicate", f"duplicate client order id {client_id}")
        if m.margined:
            self._check_margin(m, side, price, qty, reduce_only)
        else:
            need, asset = (price * qty, m.quote) if side == "buy" else (qty, m.base)
            if self.free(asset) < need:
                raise EmuReject("balance", f"insufficient {asset}: need {need}, free {self.free(asset)}")
        now = self.clock_ms()
        order = EmuOrder(next(self._ids), client_id, m, side, price, qty, Decimal(0), "open", now, now, post_only, "", reduce_only)
        if post_only and (self.post_only_crosses or self.would_take(market_id, side, price)):
            order.status, order.cancel_reason = "rejected", "post_only"
            self.orders[order.order_id] = order
            raise EmuReject("post_only", "Order would immediately match and take.")
        self.orders[order.order_id] = order
        return order

    def find(self, market_id: str, order_id: int | None = None, client_id: str | None = None) -> EmuOrder:
        """By exchange id, or the latest order with ``client_id`` (a binance replacement
        keeps the client id of the order it replaced)."""
        for o in reversed(self.orders.values()):
            if o.market.id == market_id and (o.order_id == order_id or (client_id is not None and o.client_id == client_id)):
                return o
        raise EmuReject("unknown_order", "Order does not exist.")

    def cancel(self, market_id: str, order_id: int | None = None, client_id: str | None = None) -> EmuOrder:
        order = self.find(market_id, order_id, client_id)
        if order.status != "open":
            raise EmuReject("unknown_order", "Unknown order sent.")
        order.status, order.updated_ms = "canceled", self.clock_ms()
        return order

    def amend(self, market_id: str, order_id: int | None, client_id: str | None, price: Decimal, qty: Decimal) -> EmuOrder:
        """Change an open order's price and total quantity in place. A post-only order that
        would then take liquidity is cancelled (``cancel_reason`` post_only), as okx and
        bybit do; other violations raise and leave the order as it was."""
        order = self.find(market_id, order_id, client_id)
        if order.status != "open":
            raise EmuReject("unknown_order", "Order does not exist.")
        m = order.market
        if price <= 0 or price % m.tick != 0 or qty % m.lot != 0 or qty <= order.filled:
            raise EmuReject("filter", f"amend to price {price} quantity {qty} is not valid")
        if m.margined:
            held = Decimal(0) if order.reduce_only else value(m, order.remaining, order.price) / self.lev(m.id)
            self._check_margin(m, order.side, price, qty - order.filled, order.reduce_only, held)
        else:
            need, asset = ((price * (qty - order.filled)), m.quote) if order.side == "buy" else (qty - order.filled, m.base)
            if self.free(asset) + (order.remaining * order.price if order.side == "buy" else order.remaining) < need:
                raise EmuReject("balance", f"insufficient {asset} for amend")
        order.updated_ms = self.clock_ms()
        if order.post_only and self.would_take(market_id, order.side, price):
            order.status, order.cancel_reason = "canceled", "post_only"
            return order
        order.price, order.qty = price, qty
        return order

    def open_orders(self, market_id: str | None = None) -> list[EmuOrder]:
        return [o for o in self.orders.values() if o.status == "open" and (market_id is None or o.market.id == market_id)]

    # --- market activity --------------------------------------------------------------
    def trade(self, market_id: str, taker_side: str, price: Decimal, qty: Decimal) -> list[EmuFill]:
        """A taker of ``qty`` at ``price`` or better: fills our resting orders on the other
        side at that price or better, best price then oldest first."""
        maker_side = "sell" if taker_side == "buy" else "buy"
        public = (next(self._ids), self.clock_ms(), market_id, price, qty, taker_side)
        self.public_trades.append(public)
        for listener in self.trade_listeners:
            listener(public)
        hit = [
            o
            for o in self.open_orders(market_id)
            if o.side == maker_side and (o.price <= price if maker_side == "sell" else o.price >= price)
        ]
        hit.sort(key=lambda o: ((o.price if maker_side == "sell" else -o.price), o.created_ms, o.order_id))
        fills = []
        left = qty
        for o in hit:
            if left <= 0:
                break
            if o.status != "open":  # a reduce-only order the fills before cancelled
                continue
            take = min(left, o.remaining, self._room(o))
            left -= take
            fills.append(self._fill(o, o.price, take))
        return fills

    def _room(self, o: EmuOrder) -> Decimal:
        """Contracts ``o`` may still fill: a reduce-only order no more than the position."""
        return abs(self.position(o.market.id).contracts) if o.reduce_only else o.remaining

    def take(
        self, market_id: str, side: str, qty: Decimal, client_id: str, quote_sized: bool = False, reduce_only: bool = False
    ) -> EmuOrder:
        """A market order of ours: walks the public book from the best opposite level, pays
        the taker fee; the book itself is not depleted (it is the recorded market). With
        ``quote_sized`` a buy's ``qty`` is quote currency, as okx and bybit read spot market
        buys by default. A swap's checks its margin; ``reduce_only`` fills at most the
        position (refused if it would not reduce)."""
        m = self.market(market_id)
        if quote_sized and side == "buy":
            _, ask = self.best(market_id)
            qty = (qty / ask).quantize(m.lot, rounding="ROUND_DOWN")
        if qty < m.min_qty or qty % m.lot != 0:
            raise EmuReject("filter", f"quantity {qty} is not a multiple of lot {m.lot} >= {m.min_qty}")
        bids, asks = self.depth(market_id, 1000)
        levels = asks if side == "buy" else bids
        if sum(q for _, q in levels) < qty:
            raise EmuReject("filter", "not enough liquidity for the market order")
        if m.margined:
            self._check_margin(m, side, levels[0][0], qty, reduce_only)
        now = self.clock_ms()
        order = EmuOrder(next(self._ids), client_id, m, side, levels[0][0], qty, Decimal(0), "open", now, now, False, "", reduce_only)
        self.orders[order.order_id] = order
        left = min(qty, self._room(order))
        if left < qty:  # the part past the position expires unfilled
            order.status, order.cancel_reason = "canceled", "reduce_only"
        for price, avail in levels:
            take = min(left, avail)
            if take > 0:
                self._fill(order, price, take, self.taker_fee)
            left -= take
            if left == 0:
                break
        return order

    def _fill(self, order: EmuOrder, price: Decimal, qty: Decimal, fee_rate: Decimal | None = None) -> EmuFill:
        m, now = order.market, self.clock_ms()
        order.filled += qty
        order.updated_ms = now
        if order.remaining == 0:
            order.status = "filled"
        rate = self.maker_fee if fee_rate is None else fee_rate
        sign = 1 if order.side == "buy" else -1
        realized = Decimal(0)
        if m.margined:
            # charged as stated: to the 8 decimals the exchange reports
            realized = self.position(m.id).apply(m, sign * qty, price).quantize(STATED)
            fee, fee_asset = (value(m, qty, price) * rate).quantize(STATED), m.settle
            self.balances[m.settle] = self.balances.get(m.settle, Decimal(0)) + realized - fee
        else:
            notional = price * qty
            fee = (notional if order.side == "sell" else qty) * rate
            fee_asset = m.quote if order.side == "sell" else m.base
            self.balances[m.base] = self.balances.get(m.base, Decimal(0)) + sign * qty
            self.balances[m.quote] = self.balances.get(m.quote, Decimal(0)) - sign * notional
            self.balances[fee_asset] -= fee
        fill = EmuFill(next(self._ids), order, price, qty, fee, fee_asset, now, realized)
        self.fills.append(fill)
        if m.margined:
            self._expire_reduce_only(m.id)
        for listener in self.fill_listeners:
            listener(fill)
        return fill


TopLevels = tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]
"""(bids best first, asks best first) as (price, quantity)."""


class BookLog:
    """The top ``depth`` levels a side of every book an :class:`EmulatedExchange` shows, by
    market id and update id: each change of a book is one update its public streams publish
    (see :mod:`~ccxt_mm_testkit.emulator.public_ws`; none is left out unless a fault switch
    says so) and the book its REST depth answers until the next. A test's record of what the
    exchange published, to check a client's books against; it keeps every update, so it is
    attached only where one is checked."""

    def __init__(self, exchange: EmulatedExchange, depth: int = 20) -> None:
        self.exchange = exchange
        self.depth = depth
        self.books: dict[str, dict[int, TopLevels]] = {}
        """Market id → update id → the book's top levels after that update."""
        exchange.book_listeners.append(self._on_book)

    def _on_book(self, market_id: str, old: Book, new: Book) -> None:
        bids, asks = new
        top_bids = tuple((float(p), float(bids[p])) for p in sorted(bids, reverse=True)[: self.depth])
        top_asks = tuple((float(p), float(asks[p])) for p in sorted(asks)[: self.depth])
        self.books.setdefault(market_id, {})[self.exchange.book_seq[market_id]] = (top_bids, top_asks)
