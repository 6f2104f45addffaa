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
from dataclasses import dataclass
from typing import Final

import numpy as np

from ccxt_mm.errors import DataError
from ccxt_mm.execution.paper import PaperVenue
from ccxt_mm.execution.types import Action, VenueEvent
from ccxt_mm.market.events import BookUpdate, EventLog, MsgKind
from ccxt_mm.market.latency import RecordedClock

NEVER: Final = 2**62
"""A time (ns) after every event."""


class ExchangeSide:
    """Implements :class:`ccxt_mm.execution.venue.OrderFlow` for the engine over ``venue``, which
    it drives in the exchange's order (see the module).

    The recording comes in consecutive segments (:meth:`add`), each added before the engine
    reaches it: the exchange may have lived a message's event before we received it."""

    def __init__(self, venue: PaperVenue, clock: RecordedClock) -> None:
        """``venue`` on a book of its own (updated here, in the exchange's order)."""
        self.venue = venue
        self.supports_amend = venue.supports_amend
        self.events: list[VenueEvent] = []
        """Events the engine may know now, oldest first."""
        self._held: deque[tuple[int, VenueEvent]] = deque()
        """(when we can know it, event), in the venue's order, times non-decreasing."""
        self._held_until = 0
        self._clock = clock
        self._latency_ns = clock.median_latency_ns
        self._schedule = _Schedule.empty()
        """The market events not lived yet, in the exchange's order."""
        self._next = 0
        """Index of the next market event in the schedule."""
        self.next_market_ns = NEVER
        """Exchange time (ns, our clock) of the next market event."""
        self._lived_ns = -NEVER
        """The furthest horizon lived to (ns, our clock)."""
        self._messages = 0
        """Messages added so far: the number of the next segment's first."""
        self._last_exch_ns = 0
        """The last exchange time stamped in the segments added (0: none)."""
        self._valid = False
        """The venue's book is whole (a snapshot since the last gap)."""

    def add(self, log: EventLog, updates: list[BookUpdate | None]) -> None:
        """Add the next segment of the recording (``updates``: its
        :meth:`~ccxt_mm.market.events.EventLog.book_updates`). A message the exchange lived
        before a horizon already lived to cannot be placed in the past: a DataError."""
        venue_ns = self._clock.venue_ns(log.msg_ts_ns, log.msg_exch_ns, self._last_exch_ns)
        stamped = log.msg_exch_ns[log.msg_exch_ns > 0]
        if stamped.size:
            self._last_exch_ns = int(stamped[-1])
        first = self._messages
        added = _Schedule.of(log, venue_ns, updates, first)
        self._messages += log.messages
        if added.when and added.when[0] <= self._lived_ns:  # in time order: the first is the earliest
            m = added.order[0] - first
            raise DataError(
                log.sources[log.msg_src[m]],
                int(log.msg_line[m]),
                "the exchange stamped this message long before it was received (more than a replay segment); "
                "it cannot be replayed in the exchange's order",
            )
        self._schedule = self._schedule.rest(self._next).merged(added)
        self._next = 0
        self.next_market_ns = self._schedule.when[0] if self._schedule.when else NEVER

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
        if horizon > self._lived_ns:
            self._lived_ns = horizon
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
        k, schedule = self._next, self._schedule
        self._next = k + 1
        self.next_market_ns = schedule.when[k + 1] if k + 1 < len(schedule.when) else NEVER
        when, kind = schedule.when[k], schedule.kind[k]
        if kind == MsgKind.TRADE:
            self.venue.on_trade(when, schedule.side[k], schedule.price[k], schedule.qty[k])
        else:
            self._book_event(kind, schedule.update[k], when)
        self._hold(schedule.known[k])

    def _book_event(self, kind: int, update: BookUpdate | None, when: int) -> None:
        """Apply a book message to the venue's book; let the venue see a whole, uncrossed book."""
        book = self.venue.book
        if kind == MsgKind.INVALID:
            self._valid = False
            return
        if kind == MsgKind.SNAPSHOT:
            book.clear()
            self._valid = True
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


@dataclass
class _Schedule:
    """Market events as the exchange lived them, one entry per trade row or book message, in
    time order (a trade before a book update at the same time, else in receive order):
    exchange time (ns, our clock), when its message was received, kind, and the trade's side,
    price and quantity or the book message's update."""

    when: list[int]
    known: list[int]
    order: list[int]
    """The event's message number in the whole recording."""
    kind: list[int]
    side: list[int]
    price: list[float]
    qty: list[float]
    update: list[BookUpdate | None]

    @classmethod
    def empty(cls) -> _Schedule:
        return cls([], [], [], [], [], [], [], [])

    @classmethod
    def of(cls, log: EventLog, venue_ns: np.ndarray, updates: list[BookUpdate | None], first: int) -> _Schedule:
        """The events of ``log`` (a segment whose first message is number ``first`` of the
        recording), ``venue_ns`` its messages' exchange times on our clock."""
        kinds = log.msg_kind
        counts = log.msg_stop - log.msg_start
        trade_msg = np.flatnonzero(kinds == MsgKind.TRADE)
        per_msg = counts[trade_msg]
        firsts = np.repeat(log.msg_start[trade_msg], per_msg)
        trade_rows = firsts + np.arange(int(per_msg.sum())) - np.repeat(np.cumsum(per_msg) - per_msg, per_msg)
        book_msg = np.flatnonzero((kinds == MsgKind.SNAPSHOT) | (kinds == MsgKind.DIFF) | (kinds == MsgKind.INVALID))
        msgs = np.concatenate([np.repeat(trade_msg, per_msg), book_msg])
        rows = np.concatenate([trade_rows, np.full(book_msg.size, -1, dtype=np.int64)])
        when = venue_ns[msgs]
        ranked = np.lexsort((msgs, rows < 0, when))
        msgs, rows = msgs[ranked], rows[ranked]
        pick = np.where(rows >= 0, rows, log.row_price.size)  # a book event: the placeholder past the last row
        return cls(
            when[ranked].tolist(),
            log.msg_ts_ns[msgs].tolist(),
            (msgs + first).tolist(),
            kinds[msgs].tolist(),
            np.append(log.row_side, 0)[pick].tolist(),
            np.append(log.row_price, 0.0)[pick].tolist(),
            np.append(log.row_qty, 0.0)[pick].tolist(),
            _book_updates(updates, msgs.tolist(), rows.tolist()),
        )

    def rest(self, k: int) -> _Schedule:
        """The events from the ``k``-th on."""
        return _Schedule(
            self.when[k:], self.known[k:], self.order[k:], self.kind[k:], self.side[k:], self.price[k:], self.qty[k:], self.update[k:]
        )

    def merged(self, later: _Schedule) -> _Schedule:
        """These events and ``later``'s (of messages after all of these) in one time order."""
        if not self.when:
            return later
        when = np.array(self.when + later.when, dtype=np.int64)
        kind = np.array(self.kind + later.kind, dtype=np.int64)
        order = np.array(self.order + later.order, dtype=np.int64)
        ranked = np.lexsort((order, kind != MsgKind.TRADE, when))
        updates = self.update + later.update
        return _Schedule(
            when[ranked].tolist(),
            np.array(self.known + later.known, dtype=np.int64)[ranked].tolist(),
            order[ranked].tolist(),
            kind[ranked].tolist(),
            np.array(self.side + later.side, dtype=np.int64)[ranked].tolist(),
            np.array(self.price + later.price, dtype=np.float64)[ranked].tolist(),
            np.array(self.qty + later.qty, dtype=np.float64)[ranked].tolist(),
            [updates[i] for i in ranked.tolist()],
        )


def _book_updates(updates: list[BookUpdate | None], msgs: list[int], rows: list[int]) -> list[BookUpdate | None]:
    """Per event (its message and trade row, -1: a book message), the book message's update."""
    return [None if rows[i] >= 0 else updates[msgs[i]] for i in range(len(msgs))]
