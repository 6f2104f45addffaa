"""Quoting models: hand-worked numbers from the papers' formulas."""

from __future__ import annotations

import math

import pytest

from ccxt_mm.quoting.models import (
    IntensityCalibrator,
    avellaneda_stoikov,
    avellaneda_stoikov_infinite,
    glft,
    glft_coefficients,
)


def test_avellaneda_stoikov_finite_horizon():
    # s=100, q=2, γ=0.1, σ=2, k=1.5, T-t=1
    # r = 100 - 2·0.1·4·1 = 99.2; spread = 0.4 + 20·ln(1 + 0.1/1.5) = 0.4 + 1.290770 = 1.690770
    mq = avellaneda_stoikov(100.0, 2.0, 0.1, 2.0, 1.5, 1.0)
    assert mq.reservation == pytest.approx(99.2)
    assert mq.bid_half_spread + mq.ask_half_spread == pytest.approx(1.690770, abs=1e-6)
    assert mq.bid == pytest.approx(99.2 - 0.845385, abs=1e-6)
    assert mq.ask == pytest.approx(99.2 + 0.845385, abs=1e-6)


def test_avellaneda_stoikov_infinite_horizon():
    # γ=0.1, σ=2, q_max=4 → γ²σ² = 0.04, ω = ½·0.04·25 = 0.5; q=0 → denominator 1
    # r_a = s + 10·ln(1.04) = s + 0.392207; r_b = s + 10·ln(0.96) = s − 0.408220; edge 0.645385
    mq = avellaneda_stoikov_infinite(100.0, 0.0, 0.1, 2.0, 1.5, 4.0)
    assert mq.ask == pytest.approx(100.0 + 0.392207 + 0.645385, abs=1e-6)
    assert mq.bid == pytest.approx(100.0 - 0.408220 - 0.645385, abs=1e-6)
    # long inventory lowers both reservation prices
    long = avellaneda_stoikov_infinite(100.0, 2.0, 0.1, 2.0, 1.5, 4.0)
    assert long.ask < mq.ask and long.bid < mq.bid
    # at q = q_max: r_b's logarithm is ln(1 + (-1 - 8)/(25 - 16)) = ln 0 → no bid at all
    full = avellaneda_stoikov_infinite(100.0, 4.0, 0.1, 2.0, 1.5, 4.0)
    assert full.bid == -math.inf and math.isfinite(full.ask)


def test_glft_closed_form():
    # γ=0.1, k=1.5, A=2: c1 = 10·ln(16/15) = 0.645385
    # c2 = sqrt(0.1/(2·2·1.5) · (16/15)^16) = sqrt(0.0166667 · 2.808425) = 0.216349
    coef = glft_coefficients(0.1, 1.5, 2.0)
    assert coef.c1 == pytest.approx(0.645385, abs=1e-6)
    assert coef.c2 == pytest.approx(0.216349, abs=1e-6)
    # σ=2: half-spread 0.645385 + 0.216349 = 0.861734, skew 0.432698; q = 1 order unit
    mq = glft(100.0, 1.0, 0.1, 2.0, 1.5, 2.0)
    assert mq.bid == pytest.approx(100.0 - (0.861734 + 0.432698), abs=1e-5)
    assert mq.ask == pytest.approx(100.0 + (0.861734 - 0.432698), abs=1e-5)
    flat = glft(100.0, 0.0, 0.1, 2.0, 1.5, 2.0)
    assert flat.ask - flat.bid == pytest.approx(2 * 0.861734, abs=1e-5)


def exponential_trades(cal: IntensityCalibrator, a: float, k: float, secs: int, t0: int = 10**18) -> int:
    """Feed trades whose distances are the exact quantiles of Exp(k), A per second."""
    n = int(a * secs)
    for i in range(n):
        ts = t0 + int(i / n * secs * 1e9)
        cal.add_trade(ts, -math.log(1.0 - (i + 0.5) / n) / k)
    return t0 + secs * 10**9


def test_calibrator_recovers_a_and_k_from_trade_arrivals():
    cal = IntensityCalibrator(1.0, 0.5, (0.0, 0.5, 1.0, 2.0, 3.0, 4.0), window_secs=600, min_trades=50, min_secs=10)
    end = exponential_trades(cal, a=20.0, k=0.8, secs=300)
    cal.refit(end)
    assert cal.calibrated
    assert cal.k == pytest.approx(0.8, rel=0.05)
    assert cal.a == pytest.approx(20.0, rel=0.05)


def test_calibrator_keeps_priors_until_enough_trades():
    cal = IntensityCalibrator(1.0, 0.5, (0.0, 0.5, 1.0, 2.0), window_secs=600, min_trades=500, min_secs=10)
    end = exponential_trades(cal, a=1.0, k=0.8, secs=100)
    cal.refit(end)
    assert (cal.a, cal.k, cal.calibrated) == (1.0, 0.5, False)


def test_calibrator_keeps_priors_on_a_grid_of_one_repeated_distance():
    """Distances ``(1, 1, 1)``: three points, no spread in x, no slope (it divided by zero)."""
    cal = IntensityCalibrator(1.0, 0.5, (1.0, 1.0, 1.0), window_secs=600, min_trades=50, min_secs=10)
    end = exponential_trades(cal, a=20.0, k=0.8, secs=300)
    cal.refit(end)
    assert (cal.a, cal.k, cal.calibrated) == (1.0, 0.5, False)


def test_calibrator_refuses_a_fit_past_the_priors_range():
    """Trades falling off by k = 5,000 per bps: past K_MAX, no fill intensity a model can use;
    the priors stay. The same trades at k = 800 fit."""
    steep = IntensityCalibrator(1.0, 0.5, (0.0, 0.0001, 0.0002, 0.0004), window_secs=600, min_trades=50, min_secs=10)
    steep.refit(exponential_trades(steep, a=20.0, k=5_000.0, secs=300))
    assert (steep.a, steep.k, steep.calibrated) == (1.0, 0.5, False)
    fits = IntensityCalibrator(1.0, 0.5, (0.0, 0.0005, 0.001, 0.002), window_secs=600, min_trades=50, min_secs=10)
    fits.refit(exponential_trades(fits, a=20.0, k=800.0, secs=300))
    assert fits.calibrated and fits.k == pytest.approx(800.0, rel=0.1)
