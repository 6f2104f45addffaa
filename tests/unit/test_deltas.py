"""Book deltas from successive whole books: applied to the book before, they give the book after."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ccxt_mm.market.deltas import Level, side_delta


def apply_side(levels: dict[float, float], delta: list[Level]) -> None:
    """Apply ``delta`` rows to a side held as ``{price: qty}`` (a quantity of 0 removes)."""
    for price, qty in delta:
        if qty == 0.0:
            levels.pop(price, None)
        else:
            levels[price] = qty


sides = st.dictionaries(st.integers(1, 60).map(lambda t: t * 0.5), st.integers(1, 9).map(float), max_size=12)


@given(before=sides, after=sides)
def test_a_delta_applied_to_the_side_before_gives_the_side_after(before, after):
    rows_before = [[p, q] for p, q in sorted(before.items(), reverse=True)]
    rows_after = [[p, q, "extra ccxt field"] for p, q in sorted(after.items(), reverse=True)]
    delta = side_delta(rows_before, rows_after)
    held = dict(before)
    apply_side(held, delta)
    assert held == after
    # only what changed is written: unchanged levels are not in the delta
    assert all(before.get(p) != q for p, q in delta)
    assert len(delta) == len({p for p in before.keys() | after.keys() if before.get(p) != after.get(p)})


def test_removed_levels_come_last_at_zero():
    assert side_delta([[100.0, 1.0], [99.5, 2.0]], [[100.0, 1.5]]) == [(100.0, 1.5), (99.5, 0.0)]
