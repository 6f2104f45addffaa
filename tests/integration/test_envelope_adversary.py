"""Proof by adversary: a strategy whose quotes are drawn at random drives the replay engine
over the real Binance BTCUSDT recording, and after every order the core sends the envelope's
invariants hold: |position| within the limit plus one lot (resting orders counted as filled),
every price on the tick grid and behind the opposite best, every size on the lot grid, no
buy while long (or sell while short) in reduce-only, nothing but cancels while paused or
stopped, and no order left behind."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ccxt_mm.amounts import for_recording
from ccxt_mm.config import AppConfig
from ccxt_mm.engine import ReplayEngine
from ccxt_mm.engine.envelope import (
    BAD_LEVEL,
    BAD_PRICE,
    BAD_SIDE,
    BAD_SIZE,
    CROSSING,
    DUPLICATE,
    FAR_FROM_MID,
    LOT,
    NO_ROOM,
    NOT_A_QUOTE,
    REDUCE_ONLY,
    ROOM,
    TICK,
)
from tests.integration.adversary import Adversary, AdversaryParams, GuardedVenue


def replay(log, params: AdversaryParams, settings_: dict):
    config = AppConfig.model_validate(settings_)
    adversary = Adversary(params)
    engine = ReplayEngine(config, log, adversary, run_id="adv")
    guard = GuardedVenue(engine.core.venue, engine.core, config.risk.max_position_base)
    engine.core.venue = guard
    result = engine.run()
    return config, adversary, guard, engine, result


def check_invariants(config: AppConfig, adversary: Adversary, guard: GuardedVenue, engine: ReplayEngine, result) -> None:
    limit = config.risk.max_position_base + config.market.lot_size + 1e-12
    assert guard.breaches == [], guard.breaches[:5]
    assert max(adversary.seen_positions, default=0.0) <= limit
    assert all(abs(f.position) <= limit for f in result.fills)
    assert result.position.size == 0 or abs(result.position).max() <= limit
    assert engine.venue.orders == {}, "orders left behind"
    assert engine.venue.stats.balance_rejects == 0, "an order the balances could not cover was sent"
    assert result.envelope["strategy_errors"] == adversary.raised + adversary.junk


risk = st.fixed_dictionaries(
    {
        "max_position_base": st.sampled_from([0.003, 0.01, 0.02, 0.05]),
        "daily_loss_limit_quote": st.sampled_from([0.05, 0.5, 5.0, 200.0]),
        "max_drawdown_quote": st.sampled_from([0.1, 1.0, 20.0, 300.0]),
        "reduce_only": st.sampled_from(["passive", "active"]),
    }
)
orders = st.fixed_dictionaries(
    {
        "max_levels": st.integers(1, 4),
        "post_only_cross": st.sampled_from(["passive", "drop"]),
        "max_distance_bps": st.sampled_from([5.0, 100.0]),
    }
)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    p_raise=st.sampled_from([0.0, 0.01, 0.1]),
    risk=risk,
    orders=orders,
    amend=st.booleans(),
    min_notional=st.sampled_from([0.0, 5.0]),
)
@example(  # an order the balances could not cover was sent (found on a compiled build)
    seed=3801,
    p_raise=0.1,
    risk={"max_position_base": 0.02, "daily_loss_limit_quote": 5.0, "max_drawdown_quote": 20.0, "reduce_only": "passive"},
    orders={"max_levels": 2, "post_only_cross": "drop", "max_distance_bps": 5.0},
    amend=False,
    min_notional=0.0,
)
def test_random_quotes_never_leave_the_envelope(btc_log, seed, p_raise, risk, orders, amend, min_notional):
    settings_ = {
        "risk": risk,
        "orders": orders,
        "paper": {"amend_supported": amend},
        "market": {"min_notional_quote": min_notional},
    }
    check_invariants(*replay(btc_log, AdversaryParams(seed=seed, p_raise=p_raise), settings_))


def test_the_adversary_reaches_every_mode_and_every_rule(btc_log):
    """Seed-independent cases: the invariants hold, and the runs together go through every
    risk mode and every clip and drop rule (so the property above cannot pass vacuously)."""
    cases = [
        ({"risk": {"max_position_base": 0.01, "daily_loss_limit_quote": 1.0, "max_drawdown_quote": 300.0}}, 1),
        ({"risk": {"max_position_base": 0.02, "daily_loss_limit_quote": 200.0, "max_drawdown_quote": 0.5}}, 2),
        ({"risk": {"max_position_base": 0.02, "reduce_only": "active"}, "paper": {"amend_supported": True}}, 3),
        ({"orders": {"post_only_cross": "drop", "max_levels": 2}, "market": {"min_notional_quote": 5.0}}, 4),
    ]
    modes, sent_in, clipped, dropped = set(), set(), set(), set()
    for settings_, seed in cases:
        run = replay(btc_log, AdversaryParams(seed=seed), settings_)
        check_invariants(*run)
        result, guard = run[4], run[2]
        modes |= {mode for mode, secs in result.mode_secs.items() if secs > 0}
        sent_in |= guard.modes_sent_in
        clipped |= set(result.envelope["clipped"])
        dropped |= set(result.envelope["dropped"])
    assert {"quoting", "reduce_only", "paused", "stopped"} <= modes
    assert {"quoting", "reduce_only"} <= sent_in
    assert {TICK, LOT, ROOM, CROSSING} <= clipped
    assert {NOT_A_QUOTE, BAD_SIDE, BAD_LEVEL, BAD_PRICE, BAD_SIZE, DUPLICATE, REDUCE_ONLY, CROSSING, FAR_FROM_MID, NO_ROOM} <= dropped


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), collateral_eth=st.sampled_from([0.05, 0.5, 5.0]), reduce_only=st.sampled_from(["passive", "active"]))
def test_random_quotes_on_an_inverse_swap_stay_within_the_position_limit_and_the_margin(coinm_log, seed, collateral_eth, reduce_only):
    """The same adversary on Binance COIN-M ETHUSD_PERP (contracts of 10 USD, settled in ETH,
    leverage 3): the position goes long and short of flat and never past the limit in contracts
    (80 at the first mid), and no order the margin could not cover is sent (the venue would
    reject it). With 0.05 ETH the margin binds first: 0.15 ETH of notional, about 40 contracts."""
    raw = AppConfig.model_validate(
        {
            "market": {"symbol": "ETH/USD:ETH", "tick_size": 0.01, "lot_size": 1.0, "contract_size": 10.0, "leverage": 3.0},
            "risk": {"max_position_base": 0.3, "reduce_only": reduce_only, "inventory_risk_pause": 1.0},
            "strategy": {"params": {"order_qty": 0.05}},
            "paper": {"initial_base": collateral_eth},
        }
    )
    config, _ = for_recording(raw, coinm_log)
    adversary = Adversary(AdversaryParams(seed=seed, big_qty=30.0))  # contracts: up to 300 USD at the touch
    engine = ReplayEngine(config, coinm_log, adversary, run_id="advswap")
    guard = GuardedVenue(engine.core.venue, engine.core, config.risk.max_position_base)
    engine.core.venue = guard
    result = engine.run()
    check_invariants(config, adversary, guard, engine, result)
    positions = [f.position for f in result.fills]
    assert len(positions) > 10 and min(positions) < 0.0 < max(positions)
    if collateral_eth == 0.05:
        assert max(abs(p) for p in positions) <= 45.0
