"""The quoting core of one (exchange, symbol): strategy, risk, order manager and ledger.

Venue-agnostic and synchronous: replay and live engines feed it books, trades and timer
ticks and it sends order actions to whatever :class:`~ccxt_mm.execution.venue.OrderFlow` it
was given. Paper, replay and live therefore share every decision.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

from ccxt_mm.book.features import BookFeatures, EwmaVolatility, TradeFlow, book_features, level_features
from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.book.levels import BookLevels
from ccxt_mm.config import AppConfig
from ccxt_mm.engine.envelope import Envelope
from ccxt_mm.execution.orders import OrderManager
from ccxt_mm.execution.types import REDUCE_SLICE, Action, AmendOrder, CancelOrder, Fill, FundingPaid, PlaceOrder, TakeOrder
from ccxt_mm.execution.venue import OrderFlow
from ccxt_mm.llm.predictor import MarketSnapshot
from ccxt_mm.quoting.inventory import Inventory
from ccxt_mm.quoting.portfolio import Part, Portfolio, stricter
from ccxt_mm.quoting.risk import RiskManager, RiskMode, RiskState, limit_or_inf
from ccxt_mm.quoting.strategy import MarketContext, MarketMaker, Strategy
from ccxt_mm.quoting.types import BUY, Prediction


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
    seen_ns: int
    """When we learnt of it (ns, our clock); ``ts_ns`` is when it happened at the exchange."""


_SNAPSHOT_VOL_HALF_LIFE_SECS: Final = 30.0
REDUCE_ONLY_NOTE: Final = " (reduce-only)"
"""Added to the order log's reason of an order sent with the exchange's reduce-only flag."""
log: Final = logging.getLogger("ccxt_mm.strategy")


def client_id_prefix(prefix: str, run_id: str, symbol: str) -> str:
    """``<prefix><run id><symbol letters>x``: unique per run and per market, so two markets of
    one exchange never send the same client order id; alphanumeric, as OKX requires."""
    return f"{prefix}{run_id}{''.join(ch for ch in symbol if ch.isalnum())}x"


class QuotingCore:
    """Turns market updates into order actions for one market and keeps its ledger.

    Whatever the strategy asks for passes through the :class:`Envelope` before the order
    manager sees it; a strategy that raises has the market's quotes pulled, and the error is
    logged once (with its traceback) and counted in :attr:`strategy_errors`.

    ``base_balance`` / ``quote_balance`` start from the venue's balances and move with every
    fill (fees included), so the engine can compare them with the venue at any time; on a
    margined market (a swap) they are the position (contracts) and the collateral (settle
    currency), and :attr:`fundings` holds each funding payment: (funding time ns, when we
    learnt of it ns, rate, mark price, received in the settle currency), and
    :attr:`margin_ratio_max` the highest maintenance margin / equity seen; the engine sets
    :attr:`funding_rate`, a swap's current rate per interval, for the strategy.
    """

    portfolio: Portfolio | None
    """The book of risk this market shares with others (:meth:`join`); None: its own only."""
    portfolio_key: str
    """This market's key in :attr:`portfolio`."""
    skew_weight: float
    """Share of the other markets' position of the base asset in the inventory term."""
    hedge_excess: float
    """The excess of the base asset over its portfolio target this market hedges at its last
    quote, base units (> 0: it sells it; 0: none)."""
    _part: Part
    """This market's part, as last told to :attr:`portfolio`."""

    def __init__(
        self,
        config: AppConfig,
        strategy: Strategy,
        venue: OrderFlow,
        run_id: str,
        base_balance: float,
        quote_balance: float,
    ) -> None:
        self.cfg = config
        # the config values every book update reads, as native attributes (see ccxt_mm.compiled)
        b, m = config.book, config.market
        self.feature_levels, self.near_bps, self.impact_qty = b.levels, b.near_bps, b.impact_qty
        self.tick_size, self.lot_size = m.tick_size, m.lot_size
        self.max_exposure_quote = limit_or_inf(config.risk.max_exposure_quote)
        self.strategy = strategy
        self.envelope = Envelope(config.market, config.orders)
        self.strategy_errors = 0
        """Strategy calls that raised (or returned something other than a list)."""
        self._market_maker = strategy if isinstance(strategy, MarketMaker) else None
        """The strategy when it is the built-in one, compiled with this module: called
        natively on each book update (a plugin is called through the protocol)."""
        self.venue = venue
        self.base_asset, self.quote_asset = config.market.base, config.market.quote
        self.orders = OrderManager(
            config.orders, venue.supports_amend, client_id_prefix(config.orders.client_id_prefix, run_id, config.market.symbol)
        )
        self.risk = RiskManager(config.risk, config.market.base)
        self.contract, self.leverage, self.margin_ratio_max, self.funding_rate = config.market.contract, config.market.leverage, 0.0, 0.0
        self.inventory = Inventory(contract_size=self.contract.size, inverse=self.contract.inverse)
        self.flow = TradeFlow(config.book.trade_flow_half_life_secs)
        self.base_balance, self.quote_balance = base_balance, quote_balance
        self.fills: list[FillRecord] = []
        self.fundings: list[tuple[int, int, float, float, float]] = []
        self.order_rows: list[tuple[int, str, str, int, float, float, str]] = []
        """(ts_ns, action, order_id, side, price, qty, reason): one row per place / amend / cancel
        / take, with why it was sent."""
        self.pulls_ns: list[int] = []
        """When the quotes were pulled (ns): a quote stands until the next book update or pull."""
        self.mid = 0.0
        self.risk_state = RiskState(RiskMode.QUOTING, "", 0.0)
        self.quotes = (math.nan, math.nan)
        """Level-0 bid and ask wanted at the last update (nan: none)."""
        self.features: BookFeatures | None = None
        """Book features of the last update."""
        self.prediction: Prediction | None = None
        """Set by the engine from its prediction board before each update (None: no view)."""
        self.vol = EwmaVolatility(_SNAPSHOT_VOL_HALF_LIFE_SECS, 0.0)
        """Mid volatility sampled on the timer, for predictors (off the quoting path)."""
        self.portfolio, self.portfolio_key, self.skew_weight, self.hedge_excess = None, "", 0.0, 0.0

    def join(self, portfolio: Portfolio, key: str) -> None:
        """Share ``portfolio`` with the other markets as ``key``: its rooms and risk mode hold
        here too, and (``portfolio.skew``) the other markets' position moves the inventory term."""
        self.portfolio, self.portfolio_key = portfolio, key
        p = portfolio.p
        self.skew_weight = 0.0 if p.skew == "local" else 1.0 if p.skew == "portfolio" else p.blend_weight
        self._part = Part(self.base_asset)
        self._report()

    def _report(self) -> None:
        """Tell the portfolio this market's part now (after fills and order changes, and at
        each quote's mid)."""
        pf = self.portfolio
        if pf is None:
            return
        part, c, mid = self._part, self.contract, self.mid
        price = mid or self.inventory.avg_price
        per_unit = c.base_units(1.0, price) if price > 0.0 or not c.inverse else 0.0
        resting_buy, resting_sell = self.orders.resting()
        part.position = self.inventory.position * per_unit
        part.resting_buy, part.resting_sell = resting_buy * per_unit, resting_sell * per_unit
        part.mid, part.pnl = mid, c.to_quote(self.inventory.pnl(mid), mid) if mid else 0.0
        feats = self.features
        if feats is not None:
            part.best_bid, part.best_ask = feats.best_bid, feats.best_ask
        pf.update(self.portfolio_key, part)

    # --- inputs -----------------------------------------------------------------------
    def on_trade(self, now_ns: int, side: int, price: float, qty: float) -> None:
        """A market trade; ``side`` is the aggressor (+1 buy)."""
        try:
            self.strategy.on_trade(now_ns, side, price, qty, self.mid)
        except Exception as exc:  # a plugin's failure pulls this market's quotes, never the engine
            self._strategy_failed(now_ns, "on_trade", exc)
        self.flow.update(now_ns, side, qty)

    def on_timer(self, now_ns: int) -> None:
        try:
            self.strategy.on_timer(now_ns)
        except Exception as exc:
            self._strategy_failed(now_ns, "on_timer", exc)
        if self.mid > 0.0:
            self.vol.update(now_ns, self.mid)

    @property
    def pnl(self) -> float:
        """Market-making PnL marked to the last mid, settle currency (0 before the first book)."""
        return self.inventory.pnl(self.mid) if self.mid else 0.0

    def snapshot(self, market: str) -> MarketSnapshot | None:
        """What a predictor is told about this market now (None before the first book)."""
        f = self.features
        if f is None:
            return None
        limit = self.cfg.risk.max_position_base
        return MarketSnapshot(
            market,
            f.mid,
            (f.microprice - f.mid) / f.mid * 1e4,
            f.spread_bps,
            f.imbalance,
            self.vol.sigma * 1e4,
            self.flow.imbalance,
            max(-1.0, min(1.0, self.inventory.position / limit)),
        )

    def on_book(self, now_ns: int, book: GridBook) -> None:
        """Quote on a book update (``book`` ready and uncrossed)."""
        self._quote(now_ns, book_features(book, self.feature_levels, self.near_bps, self.impact_qty))

    def on_levels(self, now_ns: int, levels: BookLevels) -> None:
        """Quote on a whole book given as its levels (both sides non-empty, uncrossed): a
        live book as the exchange sends it, with no grid to build."""
        self._quote(now_ns, level_features(levels, self.feature_levels, self.near_bps, self.impact_qty))

    def _quote(self, now_ns: int, feats: BookFeatures) -> None:
        self.features = feats
        self.mid = feats.mid
        self._report()
        state = self._evaluate_risk(now_ns)
        self.risk_state = state
        if state.mode is RiskMode.STOPPED or state.mode is RiskMode.PAUSED:
            if self.orders.by_id:
                self.pull(now_ns, f"risk {state.mode.value}: {state.reason}")
            else:
                self.quotes = (math.nan, math.nan)
            return
        self.hedge_excess = self.portfolio.hedge_for(self.portfolio_key) if self.portfolio is not None else 0.0
        room_buy, room_sell = self._rooms(feats)
        ctx = self._context(now_ns, feats, state, room_buy, room_sell)
        mm = self._market_maker
        try:
            asked: object = mm.on_book(ctx) if mm is not None else self.strategy.on_book(ctx)
            if not isinstance(asked, list):
                raise TypeError(f"on_book returned {type(asked).__name__}, not a list of Quote")
        except Exception as exc:
            self._strategy_failed(now_ns, "on_book", exc)
            return
        desired = self.envelope.admit(asked, state, feats.best_bid, feats.best_ask, room_buy, room_sell, self.orders, now_ns)
        actions = self.orders.reconcile(desired, now_ns, self.contract.margined and state.mode is RiskMode.REDUCE_ONLY)
        if state.mode is RiskMode.REDUCE_ONLY:
            self._report()  # the orders just reconciled count in the slices' rooms
            self._take_slices(now_ns, feats, actions)
        if self.hedge_excess != 0.0:
            self._report()
            self._hedge_slice(now_ns, feats, state, actions)
        self._send(actions, now_ns)
        self._report()
        bid = ask = math.nan
        for q in desired:
            if q.level == 0:
                if q.side == BUY:
                    bid = q.price
                else:
                    ask = q.price
        self.quotes = (bid, ask)

    def _context(self, now_ns: int, feats: BookFeatures, state: RiskState, room_buy: float, room_sell: float) -> MarketContext:
        """What the strategy is told. Its quotes replace this market's resting orders, not add
        to them, so the rooms it sizes them by are the rooms left plus those (the envelope keeps
        an order asked again at no room); the position is its own plus, by ``skew_weight``, the
        other markets' part of the base asset, in this market's unit."""
        resting_buy, resting_sell = self.orders.resting()
        position = self.inventory.position
        pf = self.portfolio
        if pf is not None and (self.skew_weight > 0.0 or self.hedge_excess != 0.0):
            whole = self.skew_weight * pf.others(self.portfolio_key) + pf.p.hedge_skew * self.hedge_excess
            position += whole / self.contract.base_units(1.0, feats.mid)
        return MarketContext(
            now_ns,
            feats,
            position,
            room_buy + resting_buy,
            room_sell + resting_sell,
            state,
            self.tick_size,
            self.lot_size,
            self.prediction,
            self.funding_rate,
        )

    def _take_slices(self, now_ns: int, feats: BookFeatures, actions: list[Action]) -> None:
        """Active reduce-only: the risk manager's taker slices, each within the balance its
        side has left after the resting orders (and the ones just placed)."""
        inv = self.inventory
        losses = {self.base_asset: -inv.unrealized(feats.mid)}
        for s in self.risk.taker_slices(now_ns, {self.base_asset: inv.position}, losses):
            room_buy, room_sell = self._rooms(feats)
            qty = self.envelope.taker_qty(s.qty, room_buy if s.side == BUY else room_sell, feats.mid)
            if qty > 0.0:
                actions.append(TakeOrder(self.orders.next_client_id(), s.side, qty, REDUCE_SLICE, self.contract.margined))

    def _hedge_slice(self, now_ns: int, feats: BookFeatures, state: RiskState, actions: list[Action]) -> None:
        """``portfolio.hedge: taker``: a slice of the excess taken on this market (the best to
        reduce at), one per ``hedge_interval_secs`` across markets, within its rooms and only
        while the half spread plus the fee stays within ``hedge_max_cost_bps``; in reduce-only,
        only on the reducing side and no further than it allows (a swap's sent reduce-only)."""
        pf = self.portfolio
        if pf is None or pf.p.hedge != "taker":
            return
        p, excess = pf.p, self.hedge_excess
        side = -1 if excess > 0.0 else BUY
        reducing = state.mode is RiskMode.REDUCE_ONLY
        if reducing and side != state.reduce_side:
            return
        if feats.spread_bps / 2.0 + p.hedge_fee_bps > p.hedge_max_cost_bps or not pf.slice_due(self.base_asset, now_ns):
            return
        room_buy, room_sell = self._rooms(feats)
        room = room_buy if side == BUY else room_sell
        if reducing:
            room = min(room, state.reduce_max_base)
        wanted = p.hedge_slice_fraction * abs(excess) / self.contract.base_units(1.0, feats.mid)
        swap_reduce = reducing and self.contract.margined
        qty = self.envelope.taker_qty(wanted, room, feats.mid, swap_reduce)
        if qty > 0.0:
            why = f"portfolio hedge: {self.base_asset} {excess:+.6g} from target, {p.hedge_slice_fraction:g} of it taken here (best price)"
            actions.append(TakeOrder(self.orders.next_client_id(), side, qty, why, swap_reduce))

    def _rooms(self, feats: BookFeatures) -> tuple[float, float]:
        """Base quantity each side may still add, every resting order counted as filled:
        the position limit, the exposure limit on holdings, and the balances (buy, sell)."""
        resting_buy, resting_sell = self.orders.resting()
        room_buy, room_sell = self.risk.order_room(self.base_asset, self.inventory.position, resting_buy, resting_sell)
        pf = self.portfolio
        if pf is not None:  # the asset's limits across markets, in this market's unit (its part told)
            whole_buy, whole_sell = pf.rooms(self.portfolio_key)
            per_base = 1.0 / self.contract.base_units(1.0, feats.mid)
            room_buy, room_sell = min(room_buy, whole_buy * per_base), min(room_sell, whole_sell * per_base)
        if self.contract.margined:
            return self._margin_rooms(feats.mid, room_buy, room_sell, resting_buy, resting_sell)
        room_buy = min(room_buy, max(0.0, self.quote_balance / feats.best_ask - resting_buy))
        room_buy = min(room_buy, max(0.0, self.max_exposure_quote / feats.mid - self.base_balance - resting_buy))
        room_sell = min(room_sell, max(0.0, self.base_balance - resting_sell))
        return room_buy, room_sell

    def _margin_rooms(self, mid: float, room_buy: float, room_sell: float, resting_buy: float, resting_sell: float) -> tuple[float, float]:
        """A margined market's rooms (contracts): the position limit's, within the exposure
        limit and the margin the equity allows, on the long and on the short side the position
        reaches if every resting order fills."""
        c, pos = self.contract, self.base_balance
        equity = self.quote_balance + c.position_value(pos, mid)
        most = min(self.max_exposure_quote / c.quote_notional(1.0, mid), max(0.0, equity) * self.leverage / c.notional(1.0, mid))
        room_buy = min(room_buy, max(0.0, most - (pos + resting_buy)))
        room_sell = min(room_sell, max(0.0, most + (pos - resting_sell)))
        return room_buy, room_sell

    def envelope_counts(self) -> dict[str, object]:
        """Quotes the envelope clipped and dropped, by reason, and the strategy's failures."""
        env = self.envelope
        clipped, dropped = dict(sorted(env.clipped.items())), dict(sorted(env.dropped.items()))
        return {"clipped": clipped, "dropped": dropped, "strategy_errors": self.strategy_errors}

    def _strategy_failed(self, now_ns: int, call: str, exc: Exception) -> None:
        """Pull this market's quotes; log the first failure with its traceback, count all."""
        self.strategy_errors += 1
        if self.strategy_errors == 1:
            log.error(
                "%s: strategy %s raised in %s; quotes pulled (later failures are counted, not logged)",
                self.cfg.market.symbol,
                type(self.strategy).__name__,
                call,
                exc_info=exc,
            )
        self.pull(now_ns, f"strategy error in {call}")

    def pull(self, now_ns: int, reason: str) -> None:
        """Cancel every open order for ``reason`` (stale or broken book, pause, stop, shutdown)."""
        self._send(self.orders.cancel_all(reason), now_ns)
        self.quotes = (math.nan, math.nan)
        self.pulls_ns.append(now_ns)
        self._report()

    def drain(self, now_ns: int) -> None:
        """Apply the venue's events to the order manager, inventory and ledger; ``now_ns``: when
        we learn of them (ns, our clock)."""
        if not self.venue.events:  # most book updates: no call into the venue
            return
        for ev in self.venue.drain_events():
            if isinstance(ev, FundingPaid):
                self.inventory.funding += ev.amount
                self.quote_balance += ev.amount
                self.fundings.append((ev.ts_ns, now_ns, ev.rate, ev.mark, ev.amount))
                continue
            self.orders.on_event(ev)
            if isinstance(ev, Fill):
                self.inventory.on_fill(ev.side, ev.price, ev.qty, ev.fee)
                self.base_balance += ev.side * ev.qty - ev.fee_base
                self.quote_balance -= self.contract.cost(ev.side, ev.qty, ev.price) + ev.fee - ev.fee_base * ev.price
                self.fills.append(
                    FillRecord(
                        ev.ts_ns,
                        ev.client_id,
                        ev.side,
                        ev.price,
                        ev.qty,
                        ev.fee,
                        ev.taker,
                        self.mid,
                        self.inventory.position,
                        ev.remaining,
                        now_ns,
                    )
                )
        self._report()

    # --- internals --------------------------------------------------------------------
    def _evaluate_risk(self, now_ns: int) -> RiskState:
        """The market's own risk state, made stricter by the portfolio's where it shares one
        (its reduce-only bound converted from base units to this market's)."""
        local = self._evaluate_own_risk(now_ns)
        pf = self.portfolio
        if pf is None:
            return local
        pf.evaluate(now_ns, self.base_asset)
        whole = pf.state(self.portfolio_key, local.inventory_risk)
        if whole is not None and whole.mode is RiskMode.REDUCE_ONLY:
            most = whole.reduce_max_base / self.contract.base_units(1.0, self.mid)
            whole = RiskState(whole.mode, whole.reason, whole.inventory_risk, whole.reduce_side, most)
        return stricter(local, whole)

    def _evaluate_own_risk(self, now_ns: int) -> RiskState:
        mid, inv = self.mid, self.inventory
        c = self.contract
        if c.margined:  # limits in the quote currency; the inventory risk is the margin's share of the equity
            pos, cash = self.base_balance, self.quote_balance
            held = c.quote_notional(pos, mid)
            power = c.to_quote(cash + c.position_value(pos, mid), mid) * self.leverage
            ratio = c.margin_ratio(pos, cash, mid)
            self.margin_ratio_max = max(self.margin_ratio_max, ratio)
            pnl = c.to_quote(inv.pnl(mid), mid)
            return self.risk.evaluate(now_ns, pnl, {self.base_asset: inv.position}, {self.base_asset: held}, power, ratio)
        base_value = self.base_balance * mid
        equity = base_value + self.quote_balance
        return self.risk.evaluate(now_ns, inv.pnl(mid), {self.base_asset: inv.position}, {self.base_asset: base_value}, equity)

    def _send(self, actions: list[Action], now_ns: int) -> None:
        rows = self.order_rows
        for a in actions:
            self.venue.submit(a, now_ns)
            # isinstance, not match/case: see ccxt_mm.compiled
            if isinstance(a, PlaceOrder):
                reason = a.reason + REDUCE_ONLY_NOTE if a.reduce_only else a.reason
                if self.hedge_excess != 0.0 and (a.side == BUY) == (self.hedge_excess < 0.0):
                    reason += f" (portfolio hedge: {self.base_asset} {self.hedge_excess:+.6g} from target)"
                rows.append((now_ns, "place", a.client_id, a.side, a.price, a.qty, reason))
            elif isinstance(a, AmendOrder):
                rows.append((now_ns, "amend", a.client_id, self.orders.by_id[a.client_id].side, a.price, a.qty, a.reason))
            elif isinstance(a, CancelOrder):
                order = self.orders.by_id[a.client_id]
                rows.append((now_ns, "cancel", a.client_id, order.side, order.price, order.qty, a.reason))
            elif isinstance(a, TakeOrder):
                self.orders.take_sent(a.client_id, a.side, a.qty, now_ns)
                rows.append((now_ns, "take", a.client_id, a.side, self.mid, a.qty, a.reason))
