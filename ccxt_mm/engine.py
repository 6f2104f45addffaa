"""Replay engine: one (exchange, symbol) market maker driven by a recorded event log.

Per message, in receive-time order: deliver the venue's due actions, apply the message to
the book (or to the paper venue's queues if it is a trade), feed venue events to the order
manager and inventory, then on each book update ask risk and strategy for quotes and send
the order manager's actions. Live mode swaps the event log for a feed and the paper venue
for an exchange venue; strategy, risk and order manager are the same objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ccxt_mm.book.features import TradeFlow, book_features
from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.config import AppConfig
from ccxt_mm.errors import CrossedBookError
from ccxt_mm.execution.orders import OrderManager, OrderManagerParams
from ccxt_mm.execution.paper import PaperParams, PaperVenue
from ccxt_mm.execution.types import Action, AmendOrder, CancelOrder, Fill, PlaceOrder, TakeOrder
from ccxt_mm.market.events import EventLog, MsgKind
from ccxt_mm.quoting.inventory import Inventory
from ccxt_mm.quoting.risk import RiskManager, RiskMode, RiskParams, RiskState
from ccxt_mm.quoting.strategy import MarketContext, Strategy
from ccxt_mm.quoting.types import BUY


@dataclass(frozen=True, slots=True)
class FillRecord:
    ts_ns: int
    order_id: str
    side: int
    price: float
    qty: float
    fee: float
    taker: bool
    mid: float
    position: float
    remaining: float
    """Base quantity of the order still resting after this fill."""


@dataclass
class ReplayResult:
    """Everything the report needs; arrays are sampled once per book update."""

    fills: list[FillRecord]
    orders: list[tuple[int, str, str, int, float, float]]
    """(ts_ns, action, order_id, side, price, qty): one row per place / amend / cancel."""
    book_ts_ns: np.ndarray
    mid: np.ndarray
    bid_quote: np.ndarray
    ask_quote: np.ndarray
    position: np.ndarray
    latency_ns: np.ndarray
    """Tick → order intent: book features, risk, strategy and order manager, per update."""
    inventory: Inventory
    final_mid: float
    stats: dict[str, float | int | str] = field(default_factory=dict)
    risk_breaches: list[str] = field(default_factory=list)
    stopped_ns: int = 0
    """When the kill switch fired (0: never)."""
    mode_secs: dict[str, float] = field(default_factory=dict)
    balances: dict[str, float] = field(default_factory=dict)


def risk_params(config: AppConfig) -> RiskParams:
    """The config's risk section, with the position limit keyed by the market's base asset."""
    fields = config.risk.model_dump()
    fields["max_position_base"] = {config.market.base: config.risk.max_position_base}
    return RiskParams(**fields)


class ReplayEngine:
    def __init__(self, config: AppConfig, log: EventLog, strategy: Strategy, run_id: str) -> None:
        self.cfg = config
        self.log = log
        self.strategy = strategy
        self.book = GridBook(log.prices)
        p = config.paper
        self.base_asset, self.quote_asset = config.market.base, config.market.quote
        self.venue = PaperVenue(
            PaperParams(p.entry_latency_ms, p.cancel_latency_ms, p.maker_fee_bps, p.taker_fee_bps, p.queue_model),
            self.book,
            base=config.risk.max_position_base if p.initial_base is None else p.initial_base,
            quote=p.initial_quote,
            supports_amend=p.amend_supported,
        )
        o = config.orders
        self.orders = OrderManager(
            OrderManagerParams(o.tolerance_bps, o.size_tolerance, o.max_age_secs, f"{o.client_id_prefix}{run_id}x"),
            self.venue.supports_amend,
        )
        self.risk = RiskManager(risk_params(config))
        self.inventory = Inventory()
        self.flow = TradeFlow(config.book.trade_flow_half_life_secs)
        self._fills: list[FillRecord] = []
        self._order_rows: list[tuple[int, str, str, int, float, float]] = []
        self._mid = 0.0
        self._risk_state = RiskState(RiskMode.QUOTING, "", 0.0)
        self._mode_ns: dict[str, int] = {}
        """Recording time spent in each state: a risk mode, or book_invalid."""
        self._quotes = (np.nan, np.nan)

    # --- plumbing ---------------------------------------------------------------------
    def _send(self, actions: list[Action], now_ns: int) -> None:
        rows = self._order_rows
        for a in actions:
            self.venue.submit(a, now_ns)
            match a:
                case PlaceOrder(client_id=cid, side=side, price=price, qty=qty):
                    rows.append((now_ns, "place", cid, side, price, qty))
                case AmendOrder(client_id=cid, price=price, qty=qty):
                    rows.append((now_ns, "amend", cid, self.orders.by_id[cid].side, price, qty))
                case CancelOrder(client_id=cid):
                    order = self.orders.by_id[cid]
                    rows.append((now_ns, "cancel", cid, order.side, order.price, order.qty))
                case TakeOrder(client_id=cid, side=side, qty=qty):
                    rows.append((now_ns, "take", cid, side, self._mid, qty))

    def _drain(self) -> None:
        for ev in self.venue.drain_events():
            self.orders.on_event(ev)
            if isinstance(ev, Fill):
                self.inventory.on_fill(ev.side, ev.price, ev.qty, ev.fee)
                self._fills.append(
                    FillRecord(
                        ev.ts_ns,
                        ev.client_id,
                        ev.side,
                        ev.price,
                        ev.qty,
                        ev.fee,
                        ev.taker,
                        self._mid,
                        self.inventory.position,
                        ev.remaining,
                    )
                )

    def _evaluate_risk(self, now_ns: int) -> RiskState:
        mid, inv = self._mid, self.inventory
        base_value = self.venue.base * mid
        equity = base_value + self.venue.quote
        return self.risk.evaluate(now_ns, inv.pnl(mid), {self.base_asset: inv.position}, {self.base_asset: base_value}, equity)

    def _quote(self, now_ns: int) -> None:
        cfg = self.cfg
        feats = book_features(self.book, cfg.book.levels, cfg.book.near_bps, cfg.book.impact_qty)
        self._mid = feats.mid
        state = self._evaluate_risk(now_ns)
        self._risk_state = state
        inv = self.inventory
        if state.mode is RiskMode.STOPPED or state.mode is RiskMode.PAUSED:
            self._send(self.orders.cancel_all(), now_ns)
            self._quotes = (np.nan, np.nan)
            return
        resting_buy, resting_sell = self.orders.resting(BUY), self.orders.resting(-BUY)
        room_buy, room_sell = self.risk.order_room(self.base_asset, inv.position, resting_buy, resting_sell)
        room_buy = min(room_buy, max(0.0, self.venue.quote / feats.best_ask - resting_buy))
        room_sell = min(room_sell, max(0.0, self.venue.base - resting_sell))
        ctx = MarketContext(now_ns, feats, inv.position, room_buy, room_sell, state, cfg.market.tick_size, cfg.market.lot_size)
        desired = self.strategy.on_book(ctx)
        actions = self.orders.reconcile(desired, now_ns)
        if state.mode is RiskMode.REDUCE_ONLY:
            losses = {self.base_asset: -inv.unrealized(feats.mid)}
            for s in self.risk.taker_slices(now_ns, {self.base_asset: inv.position}, losses):
                qty = round(s.qty / cfg.market.lot_size) * cfg.market.lot_size
                if qty > 0.0:
                    actions.append(TakeOrder(self.orders.next_client_id(), s.side, qty))
        self._send(actions, now_ns)
        bids = [q.price for q in desired if q.side == BUY and q.level == 0]
        asks = [q.price for q in desired if q.side != BUY and q.level == 0]
        self._quotes = (bids[0] if bids else np.nan, asks[0] if asks else np.nan)

    # --- main loop --------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> ReplayResult:
        """Replay the whole log; ``progress`` is called now and then with messages done."""
        log, book, venue, strategy = self.log, self.book, self.venue, self.strategy
        ts_list = log.msg_ts_ns.tolist()
        kinds = log.msg_kind.tolist()
        # trade rows as Python numbers, in message order (book rows stay in numpy)
        is_trade = log.msg_kind == MsgKind.TRADE
        trade_rows = np.repeat(is_trade, log.msg_stop - log.msg_start)
        trades_in_msg = (log.msg_stop - log.msg_start)[is_trade].tolist()
        trade_side = log.row_side[trade_rows].tolist()
        trade_price = log.row_price[trade_rows].tolist()
        trade_qty = log.row_qty[trade_rows].tolist()
        t = k = 0
        n_updates = int(np.isin(log.msg_kind, (MsgKind.SNAPSHOT, MsgKind.DIFF)).sum())
        sample_ts = np.zeros(n_updates, dtype=np.int64)
        sample = np.full((4, n_updates), np.nan)
        latency = np.zeros(n_updates, dtype=np.int64)
        n = 0
        valid = False
        state = "book_invalid"
        last_ts = ts_list[0] if ts_list else 0
        timer_ns = int(self.cfg.strategy.timer_secs * 1e9)
        next_timer = last_ts
        perf = time.perf_counter_ns
        # bookTicker messages only validate the rebuild; the engine never reads them
        for m in np.flatnonzero(log.msg_kind != MsgKind.TICKER).tolist():
            now, kind = ts_list[m], kinds[m]
            if venue.next_due_ns is not None and venue.next_due_ns <= now:
                venue.advance(now)
                self._drain()
            if now >= next_timer:
                strategy.on_timer(now)
                next_timer = now + timer_ns
            self._mode_ns[state] = self._mode_ns.get(state, 0) + now - last_ts
            last_ts = now
            if kind == MsgKind.TRADE:
                first, t = t, t + trades_in_msg[k]
                k += 1
                for i in range(first, t):
                    side, price, qty = trade_side[i], trade_price[i], trade_qty[i]
                    venue.on_trade(now, side, price, qty)
                    strategy.on_trade(now, side, price, qty, self._mid)
                    self.flow.update(now, side, qty)
                self._drain()
            elif kind == MsgKind.SNAPSHOT or kind == MsgKind.DIFF:
                t0 = perf()
                if kind == MsgKind.SNAPSHOT:
                    book.clear()
                    valid = True
                if not valid:
                    continue
                log.apply_message(book, m)
                if book.crossed:
                    raise CrossedBookError(
                        log.sources[log.msg_src[m]],
                        int(log.msg_line[m]),
                        f"crossed book after update: bid {book.prices[book.best_bid]} >= ask {book.prices[book.best_ask]}",
                    )
                if not book.ready:
                    continue
                venue.on_book_update()
                self._quote(now)
                latency[n] = perf() - t0
                sample_ts[n] = now
                sample[:, n] = (self._mid, self._quotes[0], self._quotes[1], self.inventory.position)
                n += 1
                state = self._risk_state.mode.value
            elif kind == MsgKind.INVALID:
                valid = False
                state = "book_invalid"
                self._send(self.orders.cancel_all(), now)
            if progress is not None and m % 4096 == 0:
                progress(m)
        self._shutdown(ts_list[-1] if ts_list else 0)
        if progress is not None:
            progress(log.messages)
        return ReplayResult(
            fills=self._fills,
            orders=self._order_rows,
            book_ts_ns=sample_ts[:n],
            mid=sample[0, :n],
            bid_quote=sample[1, :n],
            ask_quote=sample[2, :n],
            position=sample[3, :n],
            latency_ns=latency[:n],
            inventory=self.inventory,
            final_mid=self._mid,
            risk_breaches=list(self.risk.breaches),
            stopped_ns=self.risk.stopped_ns,
            mode_secs={k: v * 1e-9 for k, v in sorted(self._mode_ns.items())},
            balances={self.base_asset: venue.base, self.quote_asset: venue.quote},
        )

    def _shutdown(self, now_ns: int) -> None:
        """Cancel everything and let every in-flight action land: no order is left behind."""
        self._send(self.orders.cancel_all(), now_ns)
        while self.venue.next_due_ns is not None:
            now_ns = self.venue.next_due_ns
            self.venue.advance(now_ns)
            self._drain()
            self._send(self.orders.cancel_all(), now_ns)
