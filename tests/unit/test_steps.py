"""Tick and lot steps: clean floats, the same as decimal arithmetic gives."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.book.steps import ceil_to, floor_to, multiple, multiples

STEPS = [0.01, 0.1, 1.0, 10.0, 0.5, 0.25, 0.005, 0.001, 0.00025, 5e-5, 1e-5, 1e-8, 0.3, 0.2]
"""Steps with a whole inverse (divided by it) and without (10, 0.3, 0.2: rounded)."""


def test_rounding_helpers():
    assert floor_to(61837.6399999, 0.01) == 61837.63
    assert ceil_to(61837.6300001, 0.01) == 61837.64
    assert ceil_to(61837.63, 0.01) == 61837.63
    assert floor_to(0.0029999, 0.00001) == 0.00299


@settings(max_examples=3000, deadline=None)
@given(
    x=st.floats(min_value=0.0, max_value=2e5, allow_nan=False),
    step=st.sampled_from(STEPS),
)
def test_rounding_helpers_give_the_float_nearest_to_the_decimal_multiple(x, step):
    """Steps whose inverse is whole (0.01, 0.005, 1e-8) divide by it; others (10, 0.3) round
    the product to the step's decimals: both must give the float nearest to the decimal
    multiple of the step, i.e. what the decimal arithmetic gives."""
    d_step, d_x = Decimal(repr(step)), Decimal(x)
    for got, rounding, nudge in ((floor_to(x, step), ROUND_FLOOR, 1e-9), (ceil_to(x, step), ROUND_CEILING, -1e-9)):
        n = int((Decimal(x / step + nudge)).to_integral_value(rounding))  # the helpers' own 1e-9 tolerance
        assert got == float(n * d_step)
        assert abs(Decimal(got) - d_x) <= d_step * Decimal("1.000001")


@settings(max_examples=300, deadline=None)
@given(first=st.integers(min_value=0, max_value=10**9), step=st.sampled_from(STEPS))
def test_a_grid_of_multiples_is_the_scalar_multiples(first, step):
    """Live books lay their price grid with :func:`multiples`: each price must be the one
    :func:`multiple` (and so the decimal arithmetic) gives."""
    n = np.arange(first, first + 50, dtype=np.int64)
    grid = multiples(n, step)
    assert grid.dtype == np.float64
    assert grid.tolist() == [multiple(k, step) for k in n.tolist()] == [float(k * Decimal(repr(step))) for k in n.tolist()]
