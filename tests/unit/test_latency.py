"""Latency histograms and the exchange's clock seen from ours (``ccxt_mm.market.latency``)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.market.latency import OFFSET_QUANTILE, FeedClock, LatencyHistogram, clock_offset_ns

MS = 1_000_000
"""Nanoseconds in a millisecond."""


def test_an_empty_histogram_reports_nothing_counted():
    h = LatencyHistogram()
    assert h.buckets()[-1] == (math.inf, 0) and all(n == 0 for _, n in h.buckets())
    assert len(h.buckets()) == 72  # every bound, 0.01 ms to 100 s, and +inf
    s = h.summary()
    assert s["count"] == 0 and all(math.isnan(s[k]) for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms"))


def test_counts_go_to_the_bucket_whose_bound_is_the_first_at_or_above():
    h = LatencyHistogram()
    for ns in (1 * MS, 1 * MS, 2 * MS, 150 * MS, -5 * MS):  # a negative latency counts as 0
        h.add(ns)
    assert h.total == 5 and h.sum_ms == 154.0
    bounds = dict(h.buckets())
    assert bounds[0.01] == 1  # the 0
    assert bounds[1.0] == 3  # the two 1 ms exactly at the bound 1.0
    assert bounds[1.995] == 3 and bounds[2.512] == 4
    assert bounds[158.5] == 5 and h.buckets()[-1] == (math.inf, 5)
    assert all(n == 5 for b, n in h.buckets() if b >= 158.5)  # every bound, the unused ones too
    assert h.quantile_ms(0.5) == 1.0 and h.quantile_ms(0.8) == 2.512 and h.quantile_ms(1.0) == 158.5
    assert h.quantile_ms(0.0) == 0.01  # the smallest latency's bucket


def test_latencies_past_100_s_are_in_the_overflow_bucket():
    h = LatencyHistogram()
    h.add(101_000 * MS)
    assert h.quantile_ms(0.5) == math.inf
    assert h.buckets()[-2:] == [(100_000.0, 0), (math.inf, 1)]


def test_consecutive_bounds_are_within_26_percent():
    bounds = [b for b, _ in _full().buckets()[:-1]]
    assert bounds[0] == 0.01 and bounds[-1] == 100_000.0 and len(bounds) == 71
    assert max(hi / lo for lo, hi in itertools.pairwise(bounds)) < 1.26


def _full() -> LatencyHistogram:
    """A histogram with a count in the top bucket (so :meth:`buckets` lists every bound)."""
    h = LatencyHistogram()
    h.add(99_000 * MS)
    return h


@settings(max_examples=300, deadline=None)
@given(latencies=st.lists(st.integers(min_value=-10 * MS, max_value=200_000 * MS), min_size=1, max_size=200))
def test_adding_many_is_adding_each(latencies):
    one, many = LatencyHistogram(), LatencyHistogram()
    for ns in latencies:
        one.add(ns)
    many.add_many(np.array(latencies, dtype=np.int64))
    assert np.array_equal(one.counts, many.counts) and one.total == many.total
    assert math.isclose(one.sum_ms, many.sum_ms, rel_tol=1e-9, abs_tol=1e-9)
    assert one.buckets() == many.buckets()


@settings(max_examples=500, deadline=None)
@given(
    latencies=st.lists(st.integers(min_value=10_000, max_value=100_000 * MS), min_size=1, max_size=300),
    q=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_quantile_is_never_below_the_true_one_nor_26_percent_above(latencies, q):
    """Between 0.01 ms and 100 s: the true quantile is the ``ceil(q n)``-th smallest latency."""
    h = LatencyHistogram()
    for ns in latencies:
        h.add(ns)
    true_ms = sorted(latencies)[max(math.ceil(q * len(latencies)), 1) - 1] * 1e-6
    assert true_ms <= h.quantile_ms(q) < 1.26 * true_ms


def test_the_clock_offset_is_the_low_tail_of_receive_less_exchange_time():
    rng = np.random.default_rng(7)
    exch = np.arange(1, 10_001, dtype=np.int64) * MS
    recv = exch - 1_270 * MS + 3 * MS + rng.exponential(5 * MS, exch.size).astype(np.int64)  # 1.27 s behind, 3 ms floor
    offset = clock_offset_ns(recv, exch)
    assert offset == int(np.quantile(recv - exch, OFFSET_QUANTILE, method="lower"))
    assert -1_267 * MS <= offset < -1_266 * MS
    assert clock_offset_ns(recv, np.zeros_like(exch)) == 0  # no message has an exchange time
    # a short recording with one message stamped 1 s late: the offset stays the others' floor
    short = np.array([5, 7, 6, -1000, 8], dtype=np.int64) * MS
    assert clock_offset_ns(short + 10**12, np.full(5, 10**12)) == 5 * MS


def test_a_feed_clock_measures_the_latency_above_the_fastest_message():
    rng = np.random.default_rng(11)
    clock = FeedClock()
    assert clock.offset_ns is None and clock.to_local(5 * MS) == 5 * MS
    extra = rng.exponential(10 * MS, 20_000).astype(np.int64)
    for i, ns in enumerate(extra):
        exch = (i + 1) * MS
        clock.observe(exch + 500 * MS + 2 * MS + int(ns), exch)  # our clock 500 ms ahead, 2 ms floor
    clock.observe(10**15, 0)  # no exchange time: not counted
    assert clock.latency.total == extra.size
    assert 502 * MS <= clock.offset_ns < 502 * MS + 20_000  # offset and floor, to a few tens of us
    assert clock.to_local(7 * MS) == 7 * MS + clock.offset_ns
    p50 = float(np.median(extra)) * 1e-6  # exponential: ~6.9 ms
    assert p50 <= clock.latency.quantile_ms(0.5) < 1.26 * p50 + 0.05


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.integers(min_value=1, max_value=10**12), st.integers(min_value=0, max_value=10**10)), min_size=1, max_size=600
    ),
    shift_ns=st.integers(min_value=-(10**12), max_value=10**12),
    window=st.sampled_from([16, 64, 4096]),
    every=st.sampled_from([1, 7, 256]),
)
def test_feed_latencies_do_not_depend_on_the_clock_offset(messages, shift_ns, window, every):
    """The same messages received on a clock shifted by any constant: the same latencies, the
    offset moved by the shift."""
    plain, shifted = FeedClock(window=window, every=every), FeedClock(window=window, every=every)
    for exch, delay in messages:
        plain.observe(exch + delay, exch)
        shifted.observe(exch + delay + shift_ns, exch)
    assert np.array_equal(plain.latency.counts, shifted.latency.counts) and plain.latency.sum_ms == shifted.latency.sum_ms
    assert shifted.offset_ns == plain.offset_ns + shift_ns
    assert plain.latency.total == len(messages)
