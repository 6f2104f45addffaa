"""The figures a trader reads first: time quoted and the average quoted spread weighted by how
long each quote stood, filled orders apart from executions, the span in UTC."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccxt_mm.engine import FillRecord, ReplayResult
from ccxt_mm.quoting.inventory import Inventory
from ccxt_mm.report.figures import filled_orders, quoting, span, span_ns
from ccxt_mm.report.plot import pnl_curve

SEC = 10**9
T0 = 1_723_161_254 * SEC


def result(ts_secs: list[float], bid: list[float], ask: list[float], start_ns: int = 0, end_ns: int = 0) -> ReplayResult:
    n = len(ts_secs)
    return ReplayResult(
        fills=[],
        orders=[],
        book_ts_ns=np.array([T0 + int(t * SEC) for t in ts_secs], dtype=np.int64),
        best_bid=np.full(n, 99.99),
        best_ask=np.full(n, 100.01),
        mid=np.full(n, 100.0),
        bid_quote=np.array(bid),
        ask_quote=np.array(ask),
        position=np.zeros(n),
        latency_ns=np.zeros(n, dtype=np.int64),
        inventory=Inventory(),
        final_mid=100.0,
        start_ns=start_ns,
        end_ns=end_ns,
    )


def test_time_quoted_and_the_average_spread_weigh_each_quote_by_how_long_it_stood():
    """Updates at 0, 1 and 3 s, the run ending at 6 s: two-sided at 0 s (200 bps, for 1 s) and
    3 s (150 bps, for 3 s); one-sided at 1 s (for 2 s, not counted)."""
    r = result([0, 1, 3], [99.0, math.nan, 99.0], [101.0, 101.0, 100.5], start_ns=T0, end_ns=T0 + 6 * SEC)
    figures = quoting(r, *span_ns(r))
    assert figures["time_quoted_secs"] == pytest.approx(4.0)
    assert figures["time_quoted_fraction"] == pytest.approx(4.0 / 6.0)
    assert figures["avg_quoted_spread_bps"] == pytest.approx((200.0 * 1 + 150.0 * 3) / 4)


def test_a_pull_ends_the_quotes_before_the_next_update():
    """Two-sided at 0 s and 3 s, the run ending at 6 s; pulled at 0.5 s (a gap in the book) and
    4 s (a stale feed): quoted 0.5 + 1 s, not 1 + 3 s."""
    r = result([0, 1, 3], [99.0, math.nan, 99.0], [101.0, 101.0, 100.5], start_ns=T0, end_ns=T0 + 6 * SEC)
    r.pulls_ns = np.array([T0 + 4 * SEC, T0 + SEC // 2], dtype=np.int64)
    figures = quoting(r, *span_ns(r))
    assert figures["time_quoted_secs"] == pytest.approx(1.5)
    assert figures["avg_quoted_spread_bps"] == pytest.approx((200.0 * 0.5 + 150.0 * 1) / 1.5)


def test_never_two_sided_is_no_time_and_no_spread():
    r = result([0, 1], [math.nan, 99.0], [101.0, math.nan], start_ns=T0, end_ns=T0 + 2 * SEC)
    figures = quoting(r, *span_ns(r))
    assert figures["time_quoted_secs"] == 0.0 and math.isnan(figures["avg_quoted_spread_bps"])


def test_the_span_is_the_recordings_or_else_its_book_updates():
    assert span_ns(result([0, 5], [1.0, 1.0], [2.0, 2.0], start_ns=T0 - SEC, end_ns=T0 + 9 * SEC)) == (T0 - SEC, T0 + 9 * SEC)
    start, end = span_ns(result([0, 5], [1.0, 1.0], [2.0, 2.0]))
    assert (start, end) == (T0, T0 + 5 * SEC)
    assert span(start, end) == {"start_utc": "2024-08-08T23:54:14.000Z", "end_utc": "2024-08-08T23:54:19.000Z", "secs": 5.0}


def fill(order_id: str, qty: float, remaining: float, taker: bool = False) -> FillRecord:
    return FillRecord(T0, order_id, 1, 100.0, qty, 0.0, taker, 100.0, 0.0, remaining, T0)


def test_filled_orders_are_counted_apart_from_their_executions():
    """Order a fills in two executions, b in part only; c and d never; t is a reduce-only taker
    slice (not a created quote): 1 order filled, 1 partly, fill ratio 2 of 4 created."""
    fills = [fill("a", 0.4, 0.6), fill("b", 0.2, 0.8), fill("a", 0.6, 0.0), fill("t", 0.1, 0.0, taker=True)]
    assert filled_orders(fills, created=4) == {"orders_filled": 1, "orders_partly_filled": 1, "fill_ratio": 0.5}


def test_the_pnl_curve_counts_each_fill_from_when_the_engine_learnt_of_it():
    """Buy 1 at 100 (fee 0.1), learnt at 1 s; sell 1 at 102 (fee 0.1), learnt at 3 s; book
    updates at 0, 2 and 4 s with mids 100, 101 and 103."""
    fills = [
        FillRecord(T0, "a", 1, 100.0, 1.0, 0.1, False, 100.0, 1.0, 0.0, T0 + SEC),
        FillRecord(T0 + 2 * SEC, "b", -1, 102.0, 1.0, 0.1, False, 101.0, 0.0, 0.0, T0 + 3 * SEC),
    ]
    ts = np.array([T0, T0 + 2 * SEC, T0 + 4 * SEC], dtype=np.int64)
    realized, unrealized = pnl_curve(fills, ts, np.array([100.0, 101.0, 103.0]))
    assert realized.tolist() == pytest.approx([0.0, -0.1, 1.8])
    assert unrealized.tolist() == pytest.approx([0.0, 1.0, 0.0])
