"""The exchange's side of a replay: the paper venue living the recorded market in the exchange's
order of events, and what reaches the engine when.

A replay walks the recording in receive order: that is the engine's view. The exchange lived the
same market in its own order: every book update and trade at its exchange time (on our clock,
see :mod:`ccxt_mm.market.latency`), with our actions arriving at send + latency. This side keeps
its own book (the same updates, applied in that order), hands the venue every event up to our
``now`` (it has happened at the exchange by then, whether or not we have received it), and
holds what the venue says until we could know it: a fill or a post-only cancel caused by a
market event when we receive that event's message, an ack or a reject one median feed latency
after the action arrived, never out of the order the venue said them in.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import numpy as np

from ccxt_mm.execution.paper import PaperVenue
from ccxt_mm.execution.types import Action, VenueEvent
from ccxt_mm.market.events import BookUpdate, EventLog, MsgKind
from ccxt_mm.market.latency import RecordedClock

NEVER: Final = 2**62
"""A time (ns) after every event."""


class ExchangeSide:
    """Implements :class:`ccxt_mm.execution.venue.OrderFlow` for the engine over ``venue``, which
    it drives in the exchange's order (see the module)."""

    def __init__(self, venue: PaperVenue, log: EventLog, clock: RecordedClock, updates: list[BookUpdate | None]) -> None:
        """``venue`` on a book of its own (updated here, in the exchange's order); ``updates``:
        ``log``'s :meth:`~ccxt_mm.market.events.EventLog.book_updates`."""
        self.venue = venue
        self.supports_amend = venue.supports_amend
        self.events: list[VenueEvent] = []
        """Events the engine may know now, oldest first."""
        self._held: deque[tuple[int, VenueEvent]] = deque()
        """(when we can know it, event), in the venue's order, times non-decreasing."""
        self._held_until = 0
        self._updates = updates
        self._recv = log.msg_ts_ns.tolist()
        self._latency_ns = clock.median_latency_ns
        self._when, self._msg, self._row = _schedule(log, clock.venue_ns)
        self._kinds = log.msg_kind.tolist()
        self._side, self._price, self._qty = log.row_side.tolist(), log.row_price.tolist(), log.row_qty.tolist()
        self._next = 0
        """Index of the next market event in the schedule."""
        self.next_market_ns = self._when[0] if self._when else NEVER
        """Exchange time (ns, our clock) of the next market event."""
        self._valid = False
        """The venue's book is whole (a snapshot since the last gap)."""

    # --- the engine's side (OrderFlow) ------------------------------------------------
    def submit(self, action: Action, now_ns: int) -> None:
        self.venue.submit(action, now_ns)

    def drain_events(self) -> list[VenueEvent]:
        events, self.events = self.events, []
        return events

    def release(self, now_ns: int) -> None:
        """Make what the venue said and we can know by ``now_ns`` (ns, our clock) drainable."""
        held = self._held
        while held and held[0][0] <= now_ns:
            self.events.append(held.popleft()[1])

    @property
    def next_release_ns(self) -> int:
        """When the first event held can be known (ns, our clock; :data:`NEVER`: none held)."""
        return self._held[0][0] if self._held else NEVER

    # --- the exchange's side ------------------------------------------------------------
    def live_until(self, horizon: int) -> None:
        """Let the exchange live up to ``horizon`` (ns, our clock): market events and our
        actions in time order, a market event first at a tie (an order arriving as a trade
        executes misses it)."""
        venue = self.venue
        while True:
            due = venue.next_due_ns
            market = self.next_market_ns
            if market <= horizon and market < NEVER and (due is None or market <= due):
                self._market_event()
            elif due is not None and due <= horizon:
                venue.advance(due)
                self._hold(due + self._latency_ns)
            else:
                return

    def _market_event(self) -> None:
        k = self._next
        self._next = k + 1
        self.next_market_ns = self._when[k + 1] if k + 1 < len(self._when) else NEVER
        m, i, when = self._msg[k], self._row[k], self._when[k]
        if i >= 0:
            self.venue.on_trade(when, self._side[i], self._price[i], self._qty[i])
        else:
            self._book_event(m, when)
        self._hold(self._recv[m])

    def _book_event(self, m: int, when: int) -> None:
        """Apply book message ``m`` to the venue's book; let the venue see a whole, uncrossed book."""
        kind, book = self._kinds[m], self.venue.book
        if kind == MsgKind.INVALID:
            self._valid = False
            return
        if kind == MsgKind.SNAPSHOT:
            book.clear()
            self._valid = True
        update = self._updates[m]
        if not self._valid or update is None:
            return
        book.apply(*update)
        if book.ready and book.best_bid < book.best_ask:
            self.venue.on_book_update(when)

    def _hold(self, when_known: int) -> None:
        """Hold what the venue just said until ``when_known`` (ns, our clock; never before what
        it said earlier)."""
        if not self.venue.events:
            return
        if when_known > self._held_until:
            self._held_until = when_known
        for event in self.venue.drain_events():
            self._held.append((self._held_until, event))


def _schedule(log: EventLog, venue_ns: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """The recorded market as the exchange lived it: per event its exchange time (ns, our
    clock), its message and its trade row (-1: a book message), sorted by time, a trade
    before a book update at the same time, else in receive order."""
    kinds = log.msg_kind
    counts = log.msg_stop - log.msg_start
    trade_msg = np.flatnonzero(kinds == MsgKind.TRADE)
    per_msg = counts[trade_msg]
    firsts = np.repeat(log.msg_start[trade_msg], per_msg)
    trade_rows = firsts + np.arange(int(per_msg.sum())) - np.repeat(np.cumsum(per_msg) - per_msg, per_msg)
    book_msg = np.flatnonzero((kinds == MsgKind.SNAPSHOT) | (kinds == MsgKind.DIFF) | (kinds == MsgKind.INVALID))
    msgs = np.concatenate([np.repeat(trade_msg, counts[trade_msg]), book_msg])
    rows = np.concatenate([trade_rows, np.full(book_msg.size, -1, dtype=np.int64)])
    when = venue_ns[msgs]
    order = np.lexsort((msgs, rows < 0, when))
    return when[order].tolist(), msgs[order].tolist(), rows[order].tolist()
