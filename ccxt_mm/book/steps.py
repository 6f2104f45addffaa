"""Prices and sizes on a step grid (tick or lot), as clean floats (pure).

A multiple ``n × step`` is returned as the float nearest to its decimal value (``61837.63``,
not ``61837.630000000005``). When ``1 / step`` is a whole number that gives ``step`` back
(0.01 → 100, 0.005 → 200, 1e-8 → 1e8) that float is ``n / inverse``, since IEEE division
rounds correctly: the same float as rounding ``n * step`` to the step's decimals, at half the
cost. Other steps (10, 0.3) are rounded to their decimals.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

_DECIMALS: Final[dict[float, int]] = {}
"""Step → :func:`_decimals` of it (a plain dict, not a ``functools`` cache: see :mod:`ccxt_mm.compiled`)."""


def _decimals(step: float) -> int:
    """Decimals a multiple of ``step`` is rounded to: one more than the step's first significant one."""
    decimals = _DECIMALS.get(step)
    if decimals is None:
        decimals = _DECIMALS[step] = max(0, -math.floor(math.log10(step)) + 1)
    return decimals


_INVERSES: Final[dict[float, float]] = {}
"""Step → :func:`_inverse` of it (a market has two steps; a plain dict, not a ``functools``
cache: see :mod:`ccxt_mm.compiled`)."""


def _inverse(step: float) -> float:
    """``1 / step`` when it is a whole number that gives ``step`` back exactly, else 0."""
    inverse = _INVERSES.get(step)
    if inverse is None:
        whole = float(round(1.0 / step))
        inverse = _INVERSES[step] = whole if whole >= 1.0 and 1.0 / whole == step else 0.0
    return inverse


def multiple(n: int, step: float) -> float:
    """``n × step`` as a clean float."""
    inverse = _inverse(step)
    return n / inverse if inverse else round(n * step, _decimals(step))


def multiples(n: np.ndarray, step: float) -> np.ndarray:
    """:func:`multiple` of each integer of ``n``, as a float64 array."""
    inverse = _inverse(step)
    return n / inverse if inverse else np.round(n * step, _decimals(step))


def floor_to(x: float, step: float) -> float:
    """``x`` rounded down to a multiple of ``step``, as a clean float."""
    return multiple(math.floor(x / step + 1e-9), step)


def ceil_to(x: float, step: float) -> float:
    """``x`` rounded up to a multiple of ``step``, as a clean float."""
    return multiple(math.ceil(x / step - 1e-9), step)
