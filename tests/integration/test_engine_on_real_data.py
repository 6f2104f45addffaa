"""The replay engine on the real BTCUSDT recording: start-up, limits, kill switch, reports."""

from __future__ import annotations

import pytest

from ccxt_mm.config import AppConfig
from ccxt_mm.engine import ReplayEngine
from ccxt_mm.market.events import MsgKind
from ccxt_mm.report import summarize
from ccxt_mm.report.plot import pnl_curve
from ccxt_mm.strategies import load_strategy

TIGHT = {
    "spread": {"min_spread_bps": 1.0, "base_bps": {"low": 1.0, "medium": 2.0, "high": 4.0, "extreme": 10.0}, "cooldown_secs": 5.0},
    "strategy": {"params": {"uncalibrated_widen": 1.0}},
}


def run(log, overrides: dict):
    config = AppConfig.model_validate(overrides)
    engine = ReplayEngine(config, log, load_strategy(config), run_id="t")
    return config, engine, engine.run()


def test_quotes_within_a_second_of_the_first_book(btc_log):
    _, _, result = run(btc_log, {})
    snapshot_ts = int(btc_log.msg_ts_ns[btc_log.msg_kind == MsgKind.SNAPSHOT][0])
    first_place = min(ts for ts, action, *_ in result.orders if action == "place")
    assert first_place - snapshot_ts < 1_000_000_000


def test_position_limit_holds_and_active_reduce_only_takes(btc_log):
    limit = 0.004
    overrides = {
        **TIGHT,
        "risk": {"max_position_base": limit, "reduce_only": "active", "active_interval_secs": 2.0, "reduce_to_fraction": 0.5},
    }
    _, engine, result = run(btc_log, overrides)
    maker = [f for f in result.fills if not f.taker]
    taker = [f for f in result.fills if f.taker]
    assert len(maker) > 20 and taker, "the tight config trades and reaches the limit"
    # worst-case sizing: the net position never exceeds the limit, even with orders resting
    assert max(abs(f.position) for f in result.fills) <= limit + 1e-12
    # each taker slice is 10 % of the excess over limit × 0.5, and reduces the position
    for f in taker:
        before = f.position - f.side * f.qty
        assert abs(f.position) < abs(before)
        assert f.qty <= (abs(before) - limit * 0.5) * 0.1 + 1e-5
    assert result.mode_secs["reduce_only"] > 0.0
    assert engine.venue.orders == {}
    # the core's ledger, moved by fill events alone, equals the venue's balances, fees included
    assert engine.core.base_balance == pytest.approx(engine.venue.base, abs=1e-12)
    assert engine.core.quote_balance == pytest.approx(engine.venue.quote, abs=1e-8)


def test_kill_switch_stops_quoting_and_cancels_everything(btc_log):
    _, engine, result = run(btc_log, {**TIGHT, "risk": {"max_drawdown_quote": 0.05}})
    assert len(result.risk_breaches) == 1 and "drawdown" in result.risk_breaches[0]
    assert result.stopped_ns > 0 and result.mode_secs["stopped"] > 0.0
    # from the update that tripped it, nothing is placed again and everything is cancelled
    assert [row for row in result.orders if row[1] == "place" and row[0] >= result.stopped_ns] == []
    stops = [row for row in result.orders if row[1] == "cancel" and row[0] == result.stopped_ns]
    assert stops and all(row[6] == f"risk stopped: {result.risk_breaches[0]}" for row in stops)
    assert engine.venue.orders == {} and engine.orders.by_id == {}
    assert all(row[6] for row in result.orders), "every order sent has its reason in the order log"


def test_target_allocation_rebalancing_in_the_summary(btc_log):
    config, _, result = run(btc_log, {"risk": {"target_allocation": {"BTC": 0.5, "USDT": 0.5}}})
    s = summarize(config, result, {})
    mid = result.final_mid
    btc_value = result.balances["BTC"] * mid
    equity = btc_value + result.balances["USDT"]
    assert s["equity_quote"] == pytest.approx(equity)
    assert s["rebalance"]["BTC"]["rebalance_quote"] == pytest.approx(0.5 * equity - btc_value)
    assert s["rebalance"]["USDT"]["rebalance_quote"] == pytest.approx(0.5 * equity - result.balances["USDT"])


def test_the_plots_pnl_curve_ends_at_the_summarys_pnl_and_follows_the_position(btc_log):
    """The tight example (hundreds of fills): the curve rebuilt from the fills ends at the
    summary's total, and the position it implies at each update is the engine's."""
    config, _, result = run(btc_log, TIGHT)
    s = summarize(config, result, {})
    realized, unrealized = pnl_curve(result.fills, result.book_ts_ns, result.mid)
    assert len(result.fills) > 300
    assert realized[-1] + unrealized[-1] == pytest.approx(s["pnl_total"], abs=1e-9)
    assert realized[-1] == pytest.approx(s["pnl_realized"] - s["fees"], abs=1e-9)
    assert realized[0] == 0.0 and unrealized[0] == 0.0
