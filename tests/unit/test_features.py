"""Book features with numbers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccxt_mm.book.features import EwmaVolatility, TradeFlow, book_features, imbalance, microprice, walk_impact_bps
from ccxt_mm.book.grid_book import GridBook


def test_microprice_leans_to_the_thin_side():
    # bid 100 x 3, ask 101 x 1: (100*1 + 101*3) / 4 = 100.75
    assert microprice(100.0, 101.0, 3.0, 1.0) == pytest.approx(100.75)
    assert imbalance(3.0, 1.0) == pytest.approx(0.5)
    assert imbalance(0.0, 0.0) == 0.0


def test_walk_impact():
    prices = [100.0, 100.5, 101.0]
    qtys = [1.0, 1.0, 2.0]
    # take 2.5: 1@100 + 1@100.5 + 0.5@101 = 251.0 / 2.5 = 100.4 → 40 bps from mid 100
    assert walk_impact_bps(prices, qtys, 2.5, 100.0) == pytest.approx(40.0)
    assert walk_impact_bps(prices, qtys, 5.0, 100.0) == math.inf


def test_book_features_from_levels():
    book = GridBook.from_levels(np.array([[99.0, 2.0], [98.0, 2.0]]), np.array([[101.0, 1.0], [102.0, 3.0]]))
    f = book_features(book, levels=2, near_bps=150.0, impact_qty=1.0)
    assert (f.best_bid, f.best_ask, f.mid) == (99.0, 101.0, 100.0)
    assert f.spread_bps == pytest.approx(200.0)
    assert f.microprice == pytest.approx((99.0 * 1 + 101.0 * 2) / 3)
    assert f.imbalance == pytest.approx(0.0)  # 4 vs 4
    assert (f.depth_bid, f.depth_ask) == (2.0, 1.0)  # band [98.5, 101.5]
    assert f.impact_bps == pytest.approx(100.0)


def test_ewma_volatility_recovers_a_constant_variance_rate():
    vol = EwmaVolatility(half_life_secs=10.0, prior_sigma=0.0)
    mid, ts = 100.0, 1_000_000_000
    # alternate +/- 1 bp log returns every 0.25 s: variance rate (1e-4)^2 / 0.25 per second
    for i in range(2000):
        ts += 250_000_000
        mid *= math.exp(1e-4 if i % 2 else -1e-4)
        vol.update(ts, mid)
    assert vol.sigma == pytest.approx(1e-4 / math.sqrt(0.25), rel=1e-6)


def test_trade_flow_decays_by_half_per_half_life():
    flow = TradeFlow(half_life_secs=2.0)
    flow.update(0 + 1, 1, 4.0)
    flow.update(2_000_000_001, -1, 2.0)
    assert flow.buy == pytest.approx(2.0)
    assert flow.imbalance == pytest.approx(0.0)
