"""Two clocks: the exchange's and ours. Feed latency from receive − exchange time, and latency
histograms (pure, synchronous).

A message's ``receive − exchange`` time is its feed latency plus the offset between the two
clocks, and one-way measurements cannot tell the two apart. The offset is constant where the
latency varies and never goes below its floor, so the low tail of ``receive − exchange`` is
taken as offset plus no latency (:func:`clock_offset_ns`); what a message took beyond it is its
feed latency. A recording whose clock was 1.27 s behind Binance's (the bundled one) and one in
step give the same latencies. The fastest messages are taken to have taken no time at all: the
model's exchange clock runs ahead of the true one by the path's floor latency (a few ms from a
nearby cloud region); ``docs/fill_model.md`` says what that does to fills.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

import numpy as np

OFFSET_QUANTILE: Final = 0.001
"""The quantile of ``receive − exchange`` taken as the clock offset: low enough to be the
floor, above the few messages an exchange stamps wrongly."""
OFFSET_MIN_RANK: Final = 2
"""...and never lower than the 2nd smallest: in a short recording one message stamped wrongly
does not move the clock."""

_BUCKETS_MS: Final = tuple(float(f"{10 ** (k / 10):.4g}") for k in range(-20, 51))
"""Histogram bucket upper bounds, ms: 10 per decade from 0.01 ms to 100 s, to 4 significant
digits (one bound is at most 1.2592 times the one below)."""


def clock_offset_ns(recv_ns: np.ndarray, exch_ns: np.ndarray) -> int:
    """The offset of the receiving clock from the exchange's plus the floor latency (ns): the
    :func:`floor_of` ``recv − exch`` over the messages that have an exchange time
    (``exch > 0``); 0 if none has."""
    known = exch_ns > 0
    if not known.any():
        return 0
    return floor_of(recv_ns[known] - exch_ns[known])


def floor_of(differences: np.ndarray) -> int:
    """The :data:`OFFSET_QUANTILE` quantile of ``differences`` (ns), at least the
    :data:`OFFSET_MIN_RANK`-th smallest (the largest if there are fewer)."""
    rank = min(differences.size - 1, max(OFFSET_MIN_RANK - 1, int(OFFSET_QUANTILE * (differences.size - 1))))
    return int(np.partition(differences, rank)[rank])


@dataclass
class LatencyHistogram:
    """Counts of latencies in log-spaced buckets (10 per decade, 0.01 ms to 100 s; the last
    bucket takes everything above). Adding is O(log buckets); quantiles are bucket bounds, so
    within 26 % above the true value."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(_BUCKETS_MS) + 1, dtype=np.int64))
    """Latencies per bucket: ``counts[i]`` those above bound ``i - 1`` and at most bound ``i``."""
    total: int = 0
    """Latencies counted."""
    sum_ms: float = 0.0
    """Their sum, ms."""

    def add(self, latency_ns: int) -> None:
        """Count one latency (ns; a negative one counts as 0). ~0.5 us: cheap enough for one
        call per feed message."""
        ms = max(latency_ns, 0) * 1e-6
        self.counts[bisect_left(_BUCKETS_MS, ms)] += 1
        self.total += 1
        self.sum_ms += ms

    def add_many(self, latency_ns: np.ndarray) -> None:
        """Count every latency of ``latency_ns`` (ns)."""
        ms = np.maximum(latency_ns, 0) * 1e-6
        np.add.at(self.counts, np.searchsorted(_BUCKETS_MS, ms), 1)
        self.total += int(ms.size)
        self.sum_ms += float(ms.sum())

    def quantile_ms(self, q: float) -> float:
        """The upper bound of the bucket holding quantile ``q`` in [0, 1] (ms; NaN if empty;
        inf if it is in the overflow bucket): the bucket of the ``ceil(q × total)``-th smallest
        latency (the smallest for ``q`` = 0), so never below it and, between 0.01 ms and
        100 s, less than 1.26 times it."""
        if self.total == 0:
            return math.nan
        i = int(np.searchsorted(np.cumsum(self.counts), max(q * self.total, 1)))
        return _BUCKETS_MS[i] if i < len(_BUCKETS_MS) else math.inf

    def buckets(self) -> list[tuple[float, int]]:
        """``(upper bound ms, cumulative count)`` per bucket, every bound always (a Prometheus
        histogram's series must not appear mid-run), then ``(inf, total)``."""
        cum = np.cumsum(self.counts).tolist()
        return [(_BUCKETS_MS[i], cum[i]) for i in range(len(_BUCKETS_MS))] + [(math.inf, self.total)]

    def summary(self) -> dict[str, float]:
        """Count, p50 / p90 / p99 (bucket bounds, :meth:`quantile_ms`) and mean in ms, for a
        report (NaN where nothing was counted)."""
        return {
            "count": self.total,
            "p50_ms": self.quantile_ms(0.5),
            "p90_ms": self.quantile_ms(0.9),
            "p99_ms": self.quantile_ms(0.99),
            "mean_ms": self.sum_ms / self.total if self.total else math.nan,
        }


@dataclass
class FeedClock:
    """The exchange's clock seen from ours, learnt online from a live feed: the offset
    (:func:`clock_offset_ns`) of the last ``window`` messages, recomputed every ``every``, and
    a histogram of the feed latency of each message (its ``receive − exchange`` less the
    offset known when it came; the first message sets the offset)."""

    window: int = 4096
    every: int = 256
    offset_ns: int | None = None
    """None until the first message with an exchange time."""
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    _recent: np.ndarray = field(init=False)
    _seen: int = 0

    def __post_init__(self) -> None:
        self._recent = np.zeros(self.window, dtype=np.int64)

    def observe(self, recv_ns: int, exch_ns: int) -> None:
        """One message received at ``recv_ns`` (our clock) that the exchange stamped
        ``exch_ns`` (its clock); an exchange time of 0 or less (none) is ignored."""
        if exch_ns <= 0:
            return
        d = recv_ns - exch_ns
        self._recent[self._seen % self.window] = d
        self._seen += 1
        if self.offset_ns is None or d < self.offset_ns or self._seen % self.every == 0:
            recent = self._recent[: min(self._seen, self.window)]
            self.offset_ns = floor_of(recent)
        self.latency.add(d - self.offset_ns)

    def to_local(self, exch_ns: int) -> int:
        """An exchange time on our clock (ns): when the fastest message would have reached us."""
        return exch_ns + (self.offset_ns or 0)


@dataclass(frozen=True)
class RecordedClock:
    """The exchange's clock of a recording, on the recording's own (receive) clock: facts of the
    whole recording, known before a replay starts (:func:`recorded_clock`)."""

    offset_ns: int
    """:func:`clock_offset_ns` of the recording (0 if no message has an exchange time)."""
    stamped: int
    """Messages with an exchange time."""
    feed_latency: LatencyHistogram
    """Receive time − exchange time on our clock, of the stamped messages."""
    median_latency_ns: int
    """The median of those (0 without exchange times)."""

    def venue_ns(self, recv_ns: np.ndarray, exch_ns: np.ndarray, before_ns: int = 0) -> np.ndarray:
        """Per message received at ``recv_ns`` and stamped ``exch_ns`` (0: not stamped), the
        exchange's time of it on the receive clock (exchange time + offset): a message without
        one takes its predecessor's (``before_ns``: the last exchange time stamped before these
        messages, 0: none; the receive time before the first); in a recording without exchange
        times at all, the receive time."""
        if self.stamped == 0:
            return recv_ns.copy()
        stamped = exch_ns > 0
        last_stamped = np.maximum.accumulate(np.where(stamped, np.arange(recv_ns.size), -1))
        carried = np.where(last_stamped >= 0, exch_ns[np.maximum(last_stamped, 0)], before_ns)
        return np.where(carried > 0, carried + self.offset_ns, recv_ns)


def clock_of(differences: np.ndarray) -> RecordedClock:
    """The :class:`RecordedClock` of a recording whose stamped messages were received
    ``differences`` (ns: receive − exchange time, one per stamped message) after their stamps."""
    histogram = LatencyHistogram()
    if differences.size == 0:
        return RecordedClock(0, 0, histogram, 0)
    offset = floor_of(differences)
    latency = differences - offset
    histogram.add_many(latency)
    return RecordedClock(offset, int(differences.size), histogram, int(np.median(latency)))


def recorded_clock(recv_ns: np.ndarray, exch_ns: np.ndarray) -> RecordedClock:
    """The :class:`RecordedClock` of messages received at ``recv_ns`` that the exchange
    stamped ``exch_ns`` (ns; 0: not stamped)."""
    stamped = exch_ns > 0
    return clock_of(recv_ns[stamped] - exch_ns[stamped])
