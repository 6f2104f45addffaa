"""A replay's windows: cut anywhere and laid back end to end, they give the figures of the whole
(PnL, fills, inventory, peak, trough, drawdown); the objectives on known numbers; the search
space's grids and random draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.sweep.search import random_points
from ccxt_mm.sweep.space import SweepFile, key_problem, set_key
from ccxt_mm.sweep.windows import MINUTE_NS, Minutes, WindowFigures, laid_end_to_end, score, window_edges, windows_of


@st.composite
def runs(draw):
    """Book update times (ns, increasing), PnL and position at each, fill times, a window count."""
    n = draw(st.integers(1, 60))
    gaps = draw(st.lists(st.integers(1, 3 * MINUTE_NS), min_size=n, max_size=n))
    ts = np.cumsum(np.array(gaps, dtype=np.int64)) + 1_700_000_000_000_000_000
    pnl = np.array(draw(st.lists(st.floats(-50, 50, allow_nan=False), min_size=n, max_size=n)))
    position = np.array(draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n, max_size=n)))
    fills = np.array(draw(st.lists(st.sampled_from(ts.tolist()), max_size=20)), dtype=np.int64)
    return ts, pnl, position, fills, draw(st.integers(1, 7))


@settings(max_examples=200, deadline=None)
@given(runs())
def test_windows_laid_end_to_end_give_the_whole(run):
    ts, pnl, position, fills, k = run
    start, end = int(ts[0]), int(ts[-1])
    (whole,) = windows_of(ts, pnl, position, fills, window_edges(start, end, 1))
    cut = windows_of(ts, pnl, position, fills, window_edges(start, end, k))
    joined = laid_end_to_end(cut)
    assert len(cut) == k and sum(w.fills for w in cut) == fills.size == whole.fills == joined.fills
    assert joined.pnl_quote == pytest.approx(whole.pnl_quote, abs=1e-9) == pytest.approx(float(pnl[-1]), abs=1e-9)
    assert whole.max_abs_inventory_base == joined.max_abs_inventory_base == pytest.approx(max(float(np.abs(position).max()), 0.0))
    for name in ("peak_quote", "trough_quote", "max_drawdown_quote"):
        assert getattr(joined, name) == pytest.approx(getattr(whole, name), abs=1e-9), name
    assert joined.minutes.whole == pytest.approx(whole.minutes.whole, abs=1e-9) and joined.minutes.marked == whole.minutes.marked
    assert (joined.minutes.first_part, joined.minutes.last_part) == pytest.approx((whole.minutes.first_part, whole.minutes.last_part))
    assert WindowFigures.from_dict(joined.as_dict()) == joined
    running_high = np.maximum.accumulate(np.concatenate(([0.0], pnl)))
    assert whole.max_drawdown_quote == pytest.approx(float((running_high - np.concatenate(([0.0], pnl))).max()), abs=1e-9)


def test_minute_pnl_is_taken_at_whole_minutes_from_the_window_start():
    t0 = 1_700_000_000_000_000_000
    ts = t0 + np.array([10, 70, 130, 185], dtype=np.int64) * 1_000_000_000
    pnl = np.array([1.0, 3.0, 2.0, 6.0])
    (w,) = windows_of(ts, pnl, np.zeros(4), np.array([], dtype=np.int64), window_edges(int(ts[0]), int(ts[-1]), 1))
    assert w.pnl_quote == 6.0  # minute marks at 10, 70 and 130 s: 130..185 s is the part of a minute the window ends in
    assert w.minutes == Minutes(whole=(2.0, -1.0), first_part=1.0, last_part=4.0, marked=True)


def figures(pnl: float, minutes: tuple[float, ...] = (), held: float = 0.5, fills: int = 3) -> WindowFigures:
    return WindowFigures(pnl, fills, held, max(pnl, 0.0), min(pnl, 0.0), max(-pnl, 0.0), Minutes(whole=minutes))


def test_the_objectives_on_known_numbers():
    f = figures(2.0, (1.0, -1.0, 3.0))
    assert score("pnl", f) == 2.0 and score("fills", f) == 3.0 and score("pnl_per_inventory", f) == 4.0
    assert score("sharpe_per_minute", f) == pytest.approx(1.0 / 2.0)  # mean 1, sample sd 2
    assert score("pnl_per_inventory", figures(2.0, held=0.0)) == 0.0 and score("sharpe_per_minute", figures(1.0, (1.0,))) == 0.0
    with pytest.raises(ValueError, match="unknown metric"):
        score("profit", f)


SPACE = {
    "spread.min_spread_bps": {"low": 0.5, "high": 2.0, "step": 0.5},
    "strategy.params.levels": {"low": 1, "high": 3, "step": 1},
    "strategy.params.gamma": {"low": 0.01, "high": 1.0, "log": True},
    "strategy.params.model": {"values": ["glft", "avellaneda_stoikov"]},
}


def test_a_range_with_a_step_is_a_grid_whole_numbers_stay_whole():
    spec = SweepFile.model_validate({"space": SPACE, "search": {"method": "random", "trials": 5}})
    assert spec.space["spread.min_spread_bps"].grid() == (0.5, 1.0, 1.5, 2.0)
    assert spec.space["strategy.params.levels"].grid() == (1, 2, 3) and spec.space["strategy.params.gamma"].grid() is None


@given(st.integers(0, 2**32 - 2))  # seed + 1 is drawn too
def test_random_draws_are_fixed_by_the_seed_and_stay_in_the_space(seed):
    spec = SweepFile.model_validate({"space": SPACE, "search": {"method": "random", "trials": 20, "seed": seed}})
    points = random_points(spec)
    assert points == random_points(spec) and len(points) == 20
    for p in points:
        assert p["spread.min_spread_bps"] in (0.5, 1.0, 1.5, 2.0) and p["strategy.params.levels"] in (1, 2, 3)
        assert 0.01 <= p["strategy.params.gamma"] <= 1.0 and p["strategy.params.model"] in ("glft", "avellaneda_stoikov")
    other = SweepFile.model_validate({"space": SPACE, "search": {"method": "random", "trials": 20, "seed": seed + 1}})
    assert random_points(other) != points


def test_keys_are_found_in_the_full_config_and_set_without_losing_their_siblings():
    full = {"spread": {"base_bps": {"low": 5.0, "high": 20.0}, "min_spread_bps": 8.0}, "strategy": {"params": {}}}
    assert key_problem(full, "spread.base_bps.low") is None and key_problem(full, "strategy.params.anything") is None
    assert "no key 'base' in spread" in (key_problem(full, "spread.base.low") or "")
    tree: dict = {}
    set_key(tree, "spread.base_bps.low", 1.0, full)
    assert tree == {"spread": {"base_bps": {"low": 1.0, "high": 20.0}, "min_spread_bps": 8.0}}
