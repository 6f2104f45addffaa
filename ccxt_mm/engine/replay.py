"""Replay engine: one (exchange, symbol) quoting core driven by a recorded event log
against the paper venue.

Per message, in receive-time order: deliver the venue's due actions, apply the message to
the book (or to the paper venue's queues if it is a trade), feed venue events to the core,
then on each book update let the core quote. The live engine drives the same
:class:`~ccxt_mm.engine.core.QuotingCore` from exchange feeds instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.config import AppConfig
from ccxt_mm.engine.core import FillRecord, QuotingCore
from ccxt_mm.engine.predictions import ReplayPredictions
from ccxt_mm.errors import CrossedBookError
from ccxt_mm.execution.paper import PaperVenue
from ccxt_mm.market.events import BookUpdate, EventLog, MsgKind
from ccxt_mm.market.latency import recorded_clock
from ccxt_mm.quoting.inventory import Inventory
from ccxt_mm.quoting.strategy import Strategy

_NEVER: Final = 2**62
"""A time (ns) after every event."""


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
    risk_breaches: list[str] = field(default_factory=list)
    stopped_ns: int = 0
    """When the kill switch fired (0: never)."""
    mode_secs: dict[str, float] = field(default_factory=dict)
    balances: dict[str, float] = field(default_factory=dict)
    envelope: dict[str, object] = field(default_factory=dict)
    """What the core's envelope changed: ``clipped`` and ``dropped`` quotes by reason, and
    ``strategy_errors``."""


class ReplayEngine:
    def __init__(
        self, config: AppConfig, log: EventLog, strategy: Strategy, run_id: str, predictions: ReplayPredictions | None = None
    ) -> None:
        """``predictions``: a predictor asked on the timer, whose answers may bias quotes."""
        self.cfg = config
        self.predictions = predictions
        self.log = log
        self.book = GridBook(log.prices)
        p = config.paper
        self.venue = PaperVenue(
            p,
            self.book,
            base=config.risk.max_position_base if p.initial_base is None else p.initial_base,
            quote=p.initial_quote,
            lot_size=config.market.lot_size,
        )
        self.core = QuotingCore(config, strategy, self.venue, run_id, self.venue.base, self.venue.quote)
        self.clock = recorded_clock(log.msg_ts_ns, log.msg_exch_ns)
        self._venue_trades = _venue_trades(log, self.clock.venue_ns)
        """Every trade as ``(exchange time ns on our clock, aggressor, price, qty)``, in the
        order the exchange executed them."""
        self._venue_trade = 0
        """How many of them the venue has seen."""
        self._next_trade_ns = self._venue_trades[0][0] if self._venue_trades else _NEVER
        """Exchange time of the next of them (ns, our clock)."""
        self.orders = self.core.orders
        self._mode_ns: dict[str, int] = {}
        """Recording time spent in each state: a risk mode, or book_invalid."""
        self._state = "book_invalid"
        """The state the recording time is counted in now."""
        self._state_since = 0
        """When ``_state`` began (ns, recording time)."""
        self._valid = False
        """A snapshot arrived since the last INVALID message: diffs apply."""
        self._samples: list[tuple[int, float, float, float, float]] = []
        """(ts_ns, mid, bid, ask, position) per book update."""
        self._latency: list[int] = []
        """Tick → intent per book update (ns)."""
        self._perf_ns: Callable[[], int] = time.perf_counter_ns

    # --- main loop --------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> ReplayResult:
        """Replay the whole log (once per engine); ``progress`` is called now and then with
        messages done."""
        log, venue, core = self.log, self.venue, self.core
        ts_list = log.msg_ts_ns.tolist()
        kinds = log.msg_kind.tolist()
        clock = self.clock
        exch_list, stamped = clock.venue_ns.tolist(), clock.stamped.tolist()
        trades_in_msg, trade_side, trade_price, trade_qty = _trade_columns(log)
        updates = log.book_updates()
        t = k = 0
        self._state_since = ts_list[0] if ts_list else 0
        timer_ns = int(self.cfg.strategy.timer_secs * 1e9)
        next_timer = self._state_since
        horizon = -_NEVER
        """The exchange time (ns, our clock) the venue has reached: the latest of the messages
        received so far."""
        # bookTicker messages only validate the rebuild; the engine never reads them
        for m in np.flatnonzero(log.msg_kind != MsgKind.TICKER).tolist():
            now, kind = ts_list[m], kinds[m]
            if stamped[m]:
                if exch_list[m] > horizon:
                    horizon = exch_list[m]
                due = venue.next_due_ns
                if self._next_trade_ns <= horizon or (due is not None and due <= horizon):
                    self._venue_until(horizon)
                    core.drain(now)
            if now >= next_timer:
                self._on_timer(now)
                next_timer = now + timer_ns
            if kind == MsgKind.TRADE:
                first, t = t, t + trades_in_msg[k]
                k += 1
                for i in range(first, t):
                    core.on_trade(now, trade_side[i], trade_price[i], trade_qty[i])
                core.drain(now)
            elif kind == MsgKind.SNAPSHOT or kind == MsgKind.DIFF:
                self._on_book_message(m, now, exch_list[m], kind == MsgKind.SNAPSHOT, updates[m])
            elif kind == MsgKind.INVALID:
                self._set_state("book_invalid", now)
                self._valid = False
                core.pull(now)
            if progress is not None and m % 4096 == 0:
                progress(m)
        if ts_list:
            self._add_mode_time(self._state, ts_list[-1] - self._state_since)
        self._shutdown(ts_list[-1] if ts_list else 0)
        if progress is not None:
            progress(log.messages)
        return self._result()

    def _venue_until(self, horizon: int) -> None:
        """Let the venue live up to exchange time ``horizon`` (ns, our clock): our actions that
        reach it by then and the trades it executed by then, in the exchange's order (a trade
        before an action at the same time), whether or not we have received them yet."""
        venue, trades, j = self.venue, self._venue_trades, self._venue_trade
        n = len(trades)
        while True:
            due = venue.next_due_ns
            trade_ns = trades[j][0] if j < n else None
            if trade_ns is not None and trade_ns <= horizon and (due is None or trade_ns <= due):
                venue.on_trade(*trades[j])
                j += 1
            elif due is not None and due <= horizon:
                venue.advance(due)
            else:
                break
        self._venue_trade = j
        self._next_trade_ns = trades[j][0] if j < n else _NEVER

    def _on_timer(self, now: int) -> None:
        """The core's timer, then the predictor's (asked with the market as it is at ``now``, ns)."""
        self.core.on_timer(now)
        predictions = self.predictions
        if predictions is not None:
            predictions.on_timer(now, self.core.snapshot(predictions.market))

    def _on_book_message(self, m: int, now: int, exch_ns: int, snapshot: bool, update: BookUpdate | None) -> None:
        """Apply message ``m`` (a snapshot or a diff, received at ``now`` ns, of exchange time
        ``exch_ns`` on our clock) to the book; once the book is quotable, let the core quote on
        it and sample the result and its tick → intent."""
        perf = self._perf_ns
        t0 = perf()
        book, core = self.book, self.core
        if snapshot:
            book.clear()
            self._valid = True
        if not self._valid:
            return
        assert update is not None  # every snapshot and diff has one
        book.apply(*update)
        if not book.ready:
            return
        if book.best_bid >= book.best_ask:
            log = self.log
            raise CrossedBookError(
                log.sources[log.msg_src[m]],
                int(log.msg_line[m]),
                f"crossed book after update: bid {book.price(book.best_bid)} >= ask {book.price(book.best_ask)}",
            )
        self.venue.on_book_update(exch_ns)
        core.drain(now)  # what the update filled, before the core quotes on it
        if self.predictions is not None:
            core.prediction = self.predictions.get(now)
        core.on_book(now, book)
        self._latency.append(perf() - t0)
        self._samples.append((now, core.mid, *core.quotes, core.inventory.position))
        mode = core.risk_state.mode.value
        if mode != self._state:
            self._set_state(mode, now)

    def _set_state(self, state: str, now: int) -> None:
        """Count the recording time up to ``now`` (ns) in the current state, then in ``state``."""
        if state != self._state:
            self._add_mode_time(self._state, now - self._state_since)
            self._state, self._state_since = state, now

    def _result(self) -> ReplayResult:
        """The replay's result, once the log is done and the venue shut down."""
        core, venue, samples = self.core, self.venue, self._samples
        return ReplayResult(
            fills=core.fills,
            orders=core.order_rows,
            book_ts_ns=np.array([row[0] for row in samples], dtype=np.int64),
            mid=np.array([row[1] for row in samples], dtype=np.float64),
            bid_quote=np.array([row[2] for row in samples], dtype=np.float64),
            ask_quote=np.array([row[3] for row in samples], dtype=np.float64),
            position=np.array([row[4] for row in samples], dtype=np.float64),
            latency_ns=np.array(self._latency, dtype=np.int64),
            inventory=core.inventory,
            final_mid=core.mid,
            risk_breaches=list(core.risk.breaches),
            stopped_ns=core.risk.stopped_ns,
            mode_secs={k: v * 1e-9 for k, v in sorted(self._mode_ns.items())},
            balances={core.base_asset: venue.base, core.quote_asset: venue.quote},
            envelope=core.envelope_counts(),
        )

    def _add_mode_time(self, state: str, ns: int) -> None:
        self._mode_ns[state] = self._mode_ns.get(state, 0) + ns

    def _shutdown(self, now_ns: int) -> None:
        """Cancel everything and let every in-flight action land: no order is left behind."""
        self._venue_until(_NEVER)
        self.core.drain(now_ns)
        self.core.pull(now_ns)
        while self.venue.next_due_ns is not None:
            now_ns = self.venue.next_due_ns
            self.venue.advance(now_ns)
            self.core.drain(now_ns)
            self.core.pull(now_ns)


def _trade_columns(log: EventLog) -> tuple[list[int], list[int], list[float], list[float]]:
    """The trade rows as Python numbers, in message order (book rows stay in numpy): the
    number of trades of each TRADE message, then each trade's side, price (quote) and
    quantity (base)."""
    is_trade = log.msg_kind == MsgKind.TRADE
    trade_rows = np.repeat(is_trade, log.msg_stop - log.msg_start)
    trades_in_msg = (log.msg_stop - log.msg_start)[is_trade].tolist()
    return trades_in_msg, log.row_side[trade_rows].tolist(), log.row_price[trade_rows].tolist(), log.row_qty[trade_rows].tolist()


def _venue_trades(log: EventLog, venue_ns: np.ndarray) -> list[tuple[int, int, float, float]]:
    """Every trade row as ``(exchange time ns on our clock, aggressor, price, qty)``, sorted
    by that time (ties in receive order)."""
    counts = log.msg_stop - log.msg_start
    is_trade = np.repeat(log.msg_kind == MsgKind.TRADE, counts)
    ts = np.repeat(venue_ns, counts)[is_trade]
    order = np.argsort(ts, kind="stable")
    when, side = ts[order].tolist(), log.row_side[is_trade][order].tolist()
    price, qty = log.row_price[is_trade][order].tolist(), log.row_qty[is_trade][order].tolist()
    return [(when[i], side[i], price[i], qty[i]) for i in range(len(when))]
