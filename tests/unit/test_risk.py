"""Risk layer: inventory risk, limits, kill switch, reduce-only, worst-case sizing."""

from __future__ import annotations

import pytest

from ccxt_mm.quoting.risk import ReduceOnlyStyle, RiskManager, RiskMode, RiskParams, inventory_risk

SEC = 1_000_000_000
DAY = 86_400 * SEC


def params(**kw) -> RiskParams:
    base = dict(
        max_position_base=1.0,
        max_exposure_quote=1e9,
        daily_loss_limit_quote=100.0,
        max_drawdown_quote=150.0,
        inventory_risk_pause=0.7,
        concentration_threshold=0.15,
        concentration_multiplier=1.5,
        reduce_only=ReduceOnlyStyle.ACTIVE,
        active_slice_fraction=0.1,
        active_interval_secs=5.0,
        reduce_to_fraction=0.8,
    )
    base.update(kw)
    return RiskParams(**base)


def test_inventory_risk_herfindahl():
    # shares 0.1 and 0.1: HHI 0.02, no share above 15 %
    assert inventory_risk({"BTC": 100.0, "ETH": 100.0}, 1000.0, 0.15, 1.5) == pytest.approx(0.02)
    # shares 0.3 and 0.1: (0.09 + 0.01) × 1.5
    assert inventory_risk({"BTC": 300.0, "ETH": -100.0}, 1000.0, 0.15, 1.5) == pytest.approx(0.15)
    assert inventory_risk({"BTC": 1000.0}, 1000.0, 0.15, 1.5) == 1.0


def test_pause_on_inventory_risk():
    rm = RiskManager(params(), "BTC")
    state = rm.evaluate(SEC, 0.0, {"BTC": 0.1}, {"BTC": 800.0}, 1000.0)
    assert state.mode is RiskMode.PAUSED and state.inventory_risk == pytest.approx(0.96)  # 0.8² × 1.5
    assert rm.evaluate(2 * SEC, 0.0, {"BTC": 0.1}, {"BTC": 100.0}, 1000.0).mode is RiskMode.QUOTING


def test_daily_loss_pauses_until_next_day_and_drawdown_stops_for_good():
    rm = RiskManager(params(), "BTC")
    assert rm.evaluate(SEC, 50.0, {}, {}, 1e6).mode is RiskMode.QUOTING
    assert rm.evaluate(2 * SEC, -60.0, {}, {}, 1e6).mode is RiskMode.PAUSED  # 0 → −60 … day start 50 → −110
    assert rm.evaluate(DAY + SEC, -60.0, {}, {}, 1e6).mode is RiskMode.QUOTING  # new day starts at −60
    state = rm.evaluate(DAY + 2 * SEC, -101.0, {}, {}, 1e6)  # peak 50 → drawdown 151 > 150
    assert state.mode is RiskMode.STOPPED
    assert rm.evaluate(2 * DAY, 500.0, {}, {}, 1e6).mode is RiskMode.STOPPED
    assert rm.breaches == [state.reason]


def test_reduce_only_hysteresis_and_active_slices():
    rm = RiskManager(params(), "BTC")
    assert rm.evaluate(SEC, 0.0, {"BTC": 1.0}, {}, 1e6).mode is RiskMode.REDUCE_ONLY
    slices = rm.taker_slices(SEC * 10, {"BTC": 1.0}, {"BTC": 5.0})
    # excess over 0.8 is 0.2; a 10 % slice is 0.02, selling
    assert [(s.side, round(s.qty, 12)) for s in slices] == [(-1, 0.02)]
    assert rm.taker_slices(SEC * 12, {"BTC": 1.0}, {}) == []  # interval not elapsed
    assert rm.evaluate(SEC * 13, 0.0, {"BTC": 0.85}, {}, 1e6).mode is RiskMode.REDUCE_ONLY
    assert rm.evaluate(SEC * 14, 0.0, {"BTC": 0.8}, {}, 1e6).mode is RiskMode.QUOTING


def test_order_room_counts_resting_orders_as_filled():
    rm = RiskManager(params(), "BTC")
    assert rm.order_room("BTC", 0.3, resting_buy=0.5, resting_sell=0.2) == pytest.approx((0.2, 1.1))
    assert rm.order_room("BTC", -0.9, resting_buy=0.0, resting_sell=0.2) == pytest.approx((1.9, 0.0))
