"""Dynamic spread layer (pure): volatility regime, inventory, depth and stress widening,
a minimum spread and a cooldown before any narrowing. All spreads are full spreads in bps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

import numpy as np
from annotated_types import Ge

from ccxt_mm.quoting.constraints import Fraction, Multiplier, NonNegative, Positive


class VolRegime(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    EXTREME = "extreme"


def _default_base_bps() -> dict[VolRegime, float]:
    return {VolRegime.LOW: 5.0, VolRegime.MEDIUM: 10.0, VolRegime.HIGH: 20.0, VolRegime.EXTREME: 50.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class SpreadParams:
    """Parameters of :class:`DynamicSpread`: the ``spread`` section of the config. Full spreads in bps."""

    regime_sigma_bps: tuple[Positive, Positive, Positive] = (1.0, 2.0, 4.0)
    """Upper bounds of the low, medium and high regimes on sigma (bps per sqrt second)."""
    base_bps: dict[VolRegime, Positive] = field(default_factory=_default_base_bps)
    """Spread of each volatility regime before any widening."""
    inventory_widen: NonNegative = 1.5
    """The spread is multiplied by ``1 + inventory_risk × this``."""
    min_spread_bps: NonNegative = 8.0
    """Floor of the quoted spread."""
    cooldown_secs: NonNegative = 300.0
    """No narrowing until this long after the last widening."""
    stress_impact_bps: Positive = 200.0
    """Price impact of ``book.impact_qty`` above this is stress ..."""
    stress_imbalance: Fraction = 0.8
    """... and so is a near-mid imbalance (in [-1, 1]) above this in absolute value ..."""
    stress_multiplier: Multiplier = 2.0
    """... which multiplies the spread by this."""
    depth_window: Annotated[int, Ge(1)] = 300
    """Depth samples in the rolling median of the depth factor."""
    depth_sample_secs: Positive = 1.0
    """One depth sample per this many seconds."""

    def __post_init__(self) -> None:
        """What no single field's bound says, checked on every construction."""
        low, medium, high = self.regime_sigma_bps
        if not low < medium < high:
            raise ValueError("regime_sigma_bps must be increasing")
        missing = set(VolRegime) - set(self.base_bps)
        if missing:
            raise ValueError(f"base_bps lacks regimes {sorted(missing)}")


@dataclass(init=False, slots=True)
class SpreadDecision:
    spread_bps: float
    regime: VolRegime
    depth_factor: float
    stressed: bool

    def __init__(self, spread_bps: float, regime: VolRegime, depth_factor: float, stressed: bool) -> None:
        self.spread_bps = spread_bps
        self.regime = regime
        self.depth_factor = depth_factor
        self.stressed = stressed


def vol_regime(sigma_bps: float, bounds: tuple[float, float, float]) -> VolRegime:
    """Regime of a volatility in bps per square-root second."""
    if sigma_bps < bounds[0]:
        return VolRegime.LOW
    if sigma_bps < bounds[1]:
        return VolRegime.MEDIUM
    if sigma_bps < bounds[2]:
        return VolRegime.HIGH
    return VolRegime.EXTREME


class DynamicSpread:
    """Target spread = base(regime) × (1 + inventory_risk × widen) × max(1, 2 − depth/median)
    × stress, floored at the minimum; it widens at once but narrows only after
    ``cooldown_secs`` without widening."""

    def __init__(self, params: SpreadParams) -> None:
        self.p = params
        self.current_bps = 0.0
        self._last_widen_ns = 0
        self._depths: deque[float] = deque(maxlen=params.depth_window)
        self._depth_median = 0.0
        self._last_sample_ns = 0

    def refresh(self) -> None:
        """Recompute the rolling depth median (periodic work, off the quoting path)."""
        if self._depths:
            self._depth_median = float(np.median(self._depths))

    def _depth_factor(self, now_ns: int, depth: float) -> float:
        if now_ns - self._last_sample_ns >= self.p.depth_sample_secs * 1e9:
            self._depths.append(depth)
            self._last_sample_ns = now_ns
            if self._depth_median <= 0.0:
                self._depth_median = depth
        if self._depth_median <= 0.0:
            return 1.0
        return max(1.0, 2.0 - depth / self._depth_median)

    def update(
        self,
        now_ns: int,
        sigma_bps: float,
        inventory_risk: float,
        depth: float,
        impact_bps: float,
        imbalance: float,
        multiplier: float = 1.0,
    ) -> SpreadDecision:
        """Advance to ``now_ns`` and return the spread to quote. ``depth`` is base quantity
        near mid (both sides); ``multiplier`` scales the target before the minimum applies
        (a prediction's volatility view, already bounded by the caller)."""
        p = self.p
        regime = vol_regime(sigma_bps, p.regime_sigma_bps)
        depth_factor = self._depth_factor(now_ns, depth)
        stressed = impact_bps > p.stress_impact_bps or abs(imbalance) > p.stress_imbalance
        target = p.base_bps[regime] * (1.0 + inventory_risk * p.inventory_widen) * depth_factor * multiplier
        if stressed:
            target *= p.stress_multiplier
        target = max(target, p.min_spread_bps)
        if target >= self.current_bps:
            if target > self.current_bps:
                self._last_widen_ns = now_ns
            self.current_bps = target
        elif now_ns - self._last_widen_ns >= p.cooldown_secs * 1e9:
            self.current_bps = target
        return SpreadDecision(self.current_bps, regime, depth_factor, stressed)
