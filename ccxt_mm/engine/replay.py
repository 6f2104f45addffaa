"""Replay engine: one (exchange, symbol) quoting core driven by a recorded event log
against the paper venue.

Per message, in receive-time order: the exchange's side lives up to the message's receive time
(:mod:`ccxt_mm.engine.exchange_side`: the venue on its own book, in the exchange's order of
events), what it said that we can know by then reaches the core, and the message is applied to
the engine's book (a trade to the core's features); on each book update the core quotes. The live engine drives the same
:class:`~ccxt_mm.engine.core.QuotingCore` from exchange feeds instead.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.config import AppConfig
from ccxt_mm.engine.core import FillRecord, QuotingCore
from ccxt_mm.engine.exchange_side import NEVER, ExchangeSide
from ccxt_mm.engine.predictions import ReplayPredictions
from ccxt_mm.engine.samples import Samples, StateTimes
from ccxt_mm.errors import CrossedBookError
from ccxt_mm.execution.paper import PaperVenue, starting_balances
from ccxt_mm.market.events import BookUpdate, EventLog, MsgKind, Recording
from ccxt_mm.quoting.inventory import Inventory
from ccxt_mm.quoting.strategy import Strategy


def no_pulls() -> np.ndarray:
    """No pull (the default of :attr:`ReplayResult.pulls_ns`)."""
    return np.zeros(0, dtype=np.int64)


@dataclass
class ReplayResult:
    """Everything the report needs; arrays are sampled once per book update."""

    fills: list[FillRecord]
    orders: list[tuple[int, str, str, int, float, float, str]]
    """(ts_ns, action, order_id, side, price, qty, reason): one row per place / amend / cancel /
    take."""
    book_ts_ns: np.ndarray
    best_bid: np.ndarray
    best_ask: np.ndarray
    """The market's best bid and ask (quote)."""
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
    start_ns: int = 0
    end_ns: int = 0
    """The recording time covered: first and last message (ns; 0: not known, the book
    updates' span is taken)."""
    fundings: list[tuple[int, int, float, float, float]] = field(default_factory=list)
    """(funding time ns, when the engine learnt of it ns, rate, mark price, received in the
    settle currency) of each funding payment (a swap's)."""
    margin_ratio_max: float = 0.0
    """A swap's highest maintenance margin / equity at a book update (0 for spot)."""
    pulls_ns: np.ndarray = field(default_factory=no_pulls)
    """When the quotes were pulled (ns): the quotes of a book update stand until the next
    update or the next pull."""


GAP: Final = "book invalid: gap in the recording"
END: Final = "end of the recording"
"""Why a replay pulls its quotes (the order log's reason)."""


class ReplayEngine:
    def __init__(
        self,
        config: AppConfig,
        recording: Recording,
        strategy: Strategy,
        run_id: str,
        predictions: ReplayPredictions | None = None,
    ) -> None:
        """``recording``: an :class:`EventLog`, or a store read in segments; ``predictions``: a
        predictor asked on the timer, whose answers may bias quotes."""
        self.cfg = config
        self.predictions = predictions
        self.recording = recording
        self.book = GridBook(recording.prices)
        """The engine's book, updated in receive order."""
        base, quote = starting_balances(config.paper, config.market, config.risk.max_position_base)
        self.venue = PaperVenue(
            config.paper,
            GridBook(recording.prices),
            base=base,
            quote=quote,
            lot_size=config.market.lot_size,
            contract=config.market.contract,
            leverage=config.market.leverage,
        )
        self.clock = recording.clock()
        self.exchange = ExchangeSide(self.venue, self.clock)
        """The venue in the exchange's order of events; the core's order flow."""
        self.core = QuotingCore(config, strategy, self.exchange, run_id, self.venue.base, self.venue.quote)
        self.orders = self.core.orders
        if config.market.contract.margined:  # the rate the paper venue pays (a recording holds none)
            self.core.funding_rate = config.paper.funding_rate
        self._states = StateTimes("book_invalid", 0)
        """Recording time spent in each state: a risk mode, or book_invalid."""
        self._mode_secs: dict[str, float] = {}
        """Seconds in each state, once the recording is done."""
        self._valid = False
        """A snapshot arrived since the last INVALID message: diffs apply."""
        self._next_timer = 0
        """When the timer fires next (ns, recording time)."""
        self._start_ns = 0
        """The first message's receive time (ns)."""
        self.log: EventLog | None = None
        """The segment being replayed."""
        self._samples = Samples()
        self._perf_ns: Callable[[], int] = time.perf_counter_ns

    # --- main loop --------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> ReplayResult:
        """Replay the whole recording (once per engine), a segment at a time, each handed to the
        exchange's side one segment ahead (it may live a message's event before we receive it);
        ``progress`` is called now and then with messages done."""
        segments = self.recording.segments()
        segment = next(segments, None)
        updates = segment.book_updates() if segment is not None else []
        if segment is not None:
            self.exchange.add(segment, updates)
            self._start_ns = self._states.since_ns = self._next_timer = int(segment.msg_ts_ns[0])
        done, last_ns = 0, 0
        while segment is not None:
            ahead = next(segments, None)
            ahead_updates = ahead.book_updates() if ahead is not None else []
            if ahead is not None:
                self.exchange.add(ahead, ahead_updates)
            last_ns = self._run_segment(segment, updates, done, progress)
            done += segment.messages
            segment, updates = ahead, ahead_updates
        self._mode_secs = self._states.secs(last_ns)
        self._shutdown(last_ns)
        if progress is not None:
            progress(done)
        return self._result(last_ns)

    def _run_segment(self, log: EventLog, updates: list[BookUpdate | None], done: int, progress: Callable[[int], None] | None) -> int:
        """Replay one segment (``done``: messages before it); returns its last message's
        receive time (ns)."""
        self.log = log
        venue, exchange, core = self.venue, self.exchange, self.core
        ts_list = log.msg_ts_ns.tolist()
        kinds = log.msg_kind.tolist()
        trades_in_msg, trade_side, trade_price, trade_qty = _trade_columns(log)
        t = k = 0
        timer_ns = int(self.cfg.strategy.timer_secs * 1e9)
        next_timer = self._next_timer
        # bookTicker messages only validate the rebuild; the engine never reads them
        for m in np.flatnonzero(log.msg_kind != MsgKind.TICKER).tolist():
            now, kind = ts_list[m], kinds[m]
            due = venue.next_due_ns
            if exchange.next_market_ns <= now or (due is not None and due <= now):
                exchange.live_until(now)
            if exchange.next_release_ns <= now:
                exchange.release(now)
                core.drain(now)
            if now >= next_timer:
                self._on_timer(now)
                next_timer = now + timer_ns
            if kind == MsgKind.TRADE:
                first, t = t, t + trades_in_msg[k]
                k += 1
                for i in range(first, t):
                    core.on_trade(now, trade_side[i], trade_price[i], trade_qty[i])
            elif kind == MsgKind.SNAPSHOT or kind == MsgKind.DIFF:
                self._on_book_message(m, now, kind == MsgKind.SNAPSHOT, updates[m])
            elif kind == MsgKind.INVALID:
                self._states.set("book_invalid", now)
                self._valid = False
                core.pull(now, GAP)
            if progress is not None and m % 4096 == 0:
                progress(done + m)
        self._next_timer = next_timer
        return ts_list[-1] if ts_list else 0

    def _on_timer(self, now: int) -> None:
        """The core's timer, then the predictor's (asked with the market as it is at ``now``, ns)."""
        self.core.on_timer(now)
        predictions = self.predictions
        if predictions is not None:
            predictions.on_timer(now, self.core.snapshot(predictions.market))

    def _on_book_message(self, m: int, now: int, snapshot: bool, update: BookUpdate | None) -> None:
        """Apply message ``m`` (a snapshot or a diff, received at ``now`` ns) to the engine's
        book; once the book is quotable, let the core quote on it and sample the result and its
        tick → intent."""
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
            assert log is not None  # set before its messages are replayed
            raise CrossedBookError(
                log.sources[log.msg_src[m]],
                int(log.msg_line[m]),
                f"crossed book after update: bid {book.price(book.best_bid)} >= ask {book.price(book.best_ask)}",
            )
        if self.predictions is not None:
            core.prediction = self.predictions.get(now)
        core.on_book(now, book)
        elapsed = perf() - t0
        bid, ask = core.quotes
        feats = core.features
        assert feats is not None  # set by on_book
        self._samples.add(now, feats.best_bid, feats.best_ask, core.mid, bid, ask, core.inventory.position, elapsed)
        self._states.set(core.risk_state.mode.value, now)

    def _result(self, end_ns: int) -> ReplayResult:
        """The replay's result, once the recording is done and the venue shut down."""
        core, venue = self.core, self.venue
        if core.contract.margined:  # the base is the position, reported as such
            balances = {self.cfg.market.settle: venue.quote}
        else:
            balances = {core.base_asset: venue.base, core.quote_asset: venue.quote}
        return core_result(core, self._samples, False, self._mode_secs, balances, self._start_ns, end_ns)

    def _shutdown(self, now_ns: int) -> None:
        """Cancel everything and let every in-flight action land, the engine learning of each
        answer when it could: no order is left behind."""
        venue, exchange, core = self.venue, self.exchange, self.core
        core.pull(now_ns, END)
        while venue.next_due_ns is not None or exchange.next_release_ns < NEVER:
            exchange.live_until(NEVER)
            now_ns = max(now_ns, exchange.next_release_ns)
            exchange.release(now_ns)
            core.drain(now_ns)
            core.pull(now_ns, END)


def _trade_columns(log: EventLog) -> tuple[list[int], list[int], list[float], list[float]]:
    """The trade rows as Python numbers, in message order (book rows stay in numpy): the
    number of trades of each TRADE message, then each trade's side, price (quote) and
    quantity (base)."""
    is_trade = log.msg_kind == MsgKind.TRADE
    trade_rows = np.repeat(is_trade, log.msg_stop - log.msg_start)
    trades_in_msg = (log.msg_stop - log.msg_start)[is_trade].tolist()
    return trades_in_msg, log.row_side[trade_rows].tolist(), log.row_price[trade_rows].tolist(), log.row_qty[trade_rows].tolist()


def core_result(
    core: QuotingCore, samples: Samples, copy: bool, mode_secs: dict[str, float], balances: dict[str, float], start_ns: int, end_ns: int
) -> ReplayResult:
    """What the report takes of one market's ``core`` and ``samples`` (``copy``: copies of the
    growing lists and arrays, for a writer elsewhere while quoting goes on), with its time per
    state (s), balances and the recording time covered (ns; 0: not known)."""
    ts_ns, best_bid, best_ask, mid, bid, ask, position, latency_ns = samples.arrays(copy=copy)
    return ReplayResult(
        fills=list(core.fills) if copy else core.fills,
        orders=list(core.order_rows) if copy else core.order_rows,
        book_ts_ns=ts_ns,
        best_bid=best_bid,
        best_ask=best_ask,
        mid=mid,
        bid_quote=bid,
        ask_quote=ask,
        position=position,
        latency_ns=latency_ns,
        inventory=dataclasses.replace(core.inventory) if copy else core.inventory,
        final_mid=core.mid,
        risk_breaches=list(core.risk.breaches),
        stopped_ns=core.risk.stopped_ns,
        mode_secs=mode_secs,
        balances=balances,
        envelope=core.envelope_counts(),
        start_ns=start_ns,
        end_ns=end_ns,
        pulls_ns=np.array(core.pulls_ns, dtype=np.int64),
        fundings=list(core.fundings),
        margin_ratio_max=core.margin_ratio_max,
    )
