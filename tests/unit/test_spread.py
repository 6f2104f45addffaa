"""Dynamic spread layer."""

from __future__ import annotations

import pytest

from ccxt_mm.quoting.spread import DynamicSpread, SpreadParams, VolRegime, vol_regime

SEC = 1_000_000_000


def params(**kw) -> SpreadParams:
    base = dict(
        regime_sigma_bps=(1.0, 2.0, 4.0),
        base_bps={VolRegime.LOW: 5.0, VolRegime.MEDIUM: 10.0, VolRegime.HIGH: 20.0, VolRegime.EXTREME: 50.0},
        inventory_widen=1.5,
        min_spread_bps=8.0,
        cooldown_secs=300.0,
        stress_impact_bps=200.0,
        stress_imbalance=0.8,
        stress_multiplier=2.0,
        depth_window=10,
        depth_sample_secs=1.0,
    )
    base.update(kw)
    return SpreadParams(**base)


def test_regimes():
    bounds = (1.0, 2.0, 4.0)
    assert [vol_regime(s, bounds) for s in (0.5, 1.0, 3.9, 4.0)] == [VolRegime.LOW, VolRegime.MEDIUM, VolRegime.HIGH, VolRegime.EXTREME]


def test_base_spread_inventory_and_minimum():
    ds = DynamicSpread(params())
    # low regime 5 bps is below the 8 bps floor
    assert ds.update(SEC, 0.5, 0.0, 10.0, 1.0, 0.0).spread_bps == 8.0
    # high regime 20 bps × (1 + 0.4·1.5) = 32
    assert ds.update(2 * SEC, 3.0, 0.4, 10.0, 1.0, 0.0).spread_bps == pytest.approx(32.0)


def test_no_narrowing_within_cooldown_then_narrows():
    ds = DynamicSpread(params())
    ds.update(0, 3.0, 0.0, 10.0, 1.0, 0.0)  # 20 bps
    assert ds.update(100 * SEC, 1.5, 0.0, 10.0, 1.0, 0.0).spread_bps == 20.0
    assert ds.update(299 * SEC, 1.5, 0.0, 10.0, 1.0, 0.0).spread_bps == 20.0
    assert ds.update(300 * SEC, 1.5, 0.0, 10.0, 1.0, 0.0).spread_bps == 10.0
    # widening is immediate
    assert ds.update(301 * SEC, 5.0, 0.0, 10.0, 1.0, 0.0).spread_bps == 50.0


def test_stress_doubles_and_thin_depth_widens():
    ds = DynamicSpread(params(cooldown_secs=0.0))
    assert ds.update(0, 1.5, 0.0, 10.0, 250.0, 0.0).stressed
    assert ds.update(0, 1.5, 0.0, 10.0, 250.0, 0.0).spread_bps == 20.0
    assert ds.update(SEC, 1.5, 0.0, 10.0, 1.0, -0.85).spread_bps == 20.0
    assert ds.update(2 * SEC, 1.5, 0.0, 10.0, 1.0, 0.0).spread_bps == 10.0
    # median depth 10; depth 4 → factor 2 − 0.4 = 1.6 (the sample itself moves the median little)
    d = ds.update(3 * SEC, 1.5, 0.0, 4.0, 1.0, 0.0)
    assert d.depth_factor == pytest.approx(1.6)
    assert d.spread_bps == pytest.approx(16.0)
