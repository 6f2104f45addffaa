"""Risk layer (pure): limits, inventory risk, kill switch, reduce-only and worst-case sizing.

Quantities are base units, values and PnL quote currency, times ns on the caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Final

from annotated_types import Gt, Le

from ccxt_mm.quoting.constraints import Fraction, Multiplier, Off, Positive


class RiskMode(StrEnum):
    QUOTING = "quoting"
    REDUCE_ONLY = "reduce_only"  # a position or exposure limit is hit
    PAUSED = "paused"  # cancel and stop quoting; resumes when the cause clears
    STOPPED = "stopped"  # kill switch: cancel everything, never resume in this run


class ReduceOnlyStyle(StrEnum):
    PASSIVE = "passive"  # quote only the side that reduces inventory
    ACTIVE = "active"  # also take liquidity in slices of the excess


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskParams:
    """Parameters of :class:`RiskManager`: the ``risk`` section of the config."""

    max_position_base: Positive = 0.02
    """Largest |net base quantity traded| of the market's base asset, resting orders counted as filled."""
    max_exposure_quote: Annotated[Positive | None, Off("no limit on the value of the holdings")] = 50_000.0
    """Sum over risky assets of |holding × mid| allowed (null or off: none)."""
    daily_loss_limit_quote: Annotated[Positive | None, Off("no daily loss pauses quoting")] = 200.0
    """Market-making PnL below −this since the UTC day started pauses until the next day (null
    or off: never)."""
    max_drawdown_quote: Annotated[Positive | None, Off("no kill switch: no drawdown stops the run")] = 300.0
    """Kill switch: market-making PnL this far below its peak stops the run (null or off: none)."""
    inventory_risk_pause: Fraction = 0.7
    """Quoting pauses while the inventory risk (in [0, 1]) is above this."""
    concentration_threshold: Fraction = 0.15
    """An asset's share of equity above this ..."""
    concentration_multiplier: Multiplier = 1.5
    """... multiplies the Herfindahl score by this."""
    reduce_only: ReduceOnlyStyle = ReduceOnlyStyle.PASSIVE
    """At a position limit: quote only the reducing side, or also take liquidity."""
    active_slice_fraction: Annotated[float, Gt(0), Le(1)] = 0.1
    """Active reduce-only takes this fraction of the excess ..."""
    active_interval_secs: Positive = 5.0
    """... every this many seconds."""
    max_margin_ratio: Annotated[float, Gt(0), Le(1)] = 0.5
    """A swap: maintenance margin / equity at or above this is reduce-only against the position
    (the exchange liquidates at 1)."""
    reduce_to_fraction: Fraction = 0.8
    """Reduce-only, once entered at the limit, lasts until |position| <= limit × this."""
    target_allocation: dict[str, Fraction] = field(default_factory=dict)
    """Asset → target share of equity; the report shows the rebalancing it would take."""


def inventory_risk(values: dict[str, float], equity: float, threshold: float, multiplier: float) -> float:
    """Concentration of risky holdings in [0, 1].

    Herfindahl index of each risky asset's share of equity (``|value| / equity``), times
    ``multiplier`` when one share exceeds ``threshold``, capped at 1. Quote currency is not
    a risky asset and is left out of ``values``.
    """
    if equity <= 0.0:
        return 1.0
    score = largest = 0.0
    for value in values.values():
        share = abs(value) / equity
        score += share * share
        largest = max(largest, share)
    if largest > threshold:
        score *= multiplier
    return min(1.0, score)


@dataclass(init=False, slots=True)
class RiskState:
    mode: RiskMode
    reason: str
    inventory_risk: float
    reduce_side: int = 0
    """In reduce-only, the side that reduces (+1 buy / -1 sell): against the position when a
    position limit is hit, against the holdings when the exposure limit is."""
    reduce_max_base: float = 0.0
    """In reduce-only, the most that side may trade, base units: the position (a position
    limit never flips it), or unbounded for exposure (the balances bound it)."""

    def __init__(self, mode: RiskMode, reason: str, inventory_risk: float, reduce_side: int = 0, reduce_max_base: float = 0.0) -> None:
        self.mode = mode
        self.reason = reason
        self.inventory_risk = inventory_risk
        self.reduce_side = reduce_side
        self.reduce_max_base = reduce_max_base


@dataclass(frozen=True, slots=True)
class TakerSlice:
    """An order the active reduce-only mode wants to take: ``side`` +1 buy / -1 sell."""

    asset: str
    side: int
    qty: float


_UNBOUNDED: Final = float("inf")
DAY_NS: Final = 86_400 * 1_000_000_000
"""One UTC day in nanoseconds: the daily loss limit's period."""


def limit_or_inf(limit: float | None) -> float:
    """A limit that may be switched off (None) as a number to compare with: inf when off."""
    return _UNBOUNDED if limit is None else limit


class RiskManager:
    """Tracks PnL peaks and day starts and decides the risk mode on each update."""

    def __init__(self, params: RiskParams, base_asset: str) -> None:
        self.p = params
        self.max_exposure = limit_or_inf(params.max_exposure_quote)
        self.daily_loss_limit = limit_or_inf(params.daily_loss_limit_quote)
        self.max_drawdown = limit_or_inf(params.max_drawdown_quote)
        """The risk limits, quote currency (inf: switched off)."""
        self.position_limits: dict[str, float] = {base_asset: params.max_position_base}
        """Asset → largest |position|, base units: derived, ``max_position_base`` for the market's
        ``base_asset`` (the other assets of the positions given are not limited)."""
        self.peak_pnl = 0.0
        self.day_start_pnl = 0.0
        self.day = -1
        self.stopped_reason = ""
        self.stopped_ns = 0
        self.breaches: list[str] = []
        self.reducing: set[str] = set()
        self._last_slice_ns = 0

    def loss_today(self, now_ns: int, pnl: float) -> float:
        """Loss taken since the UTC day of ``now_ns`` started, quote currency (0 on a day not
        evaluated yet)."""
        return max(0.0, self.day_start_pnl - pnl) if self.day == now_ns // DAY_NS else 0.0

    def evaluate(
        self,
        now_ns: int,
        pnl: float,
        positions: dict[str, float],
        values: dict[str, float],
        equity: float,
        margin_ratio: float = 0.0,
    ) -> RiskState:
        """``pnl``: market-making PnL (realized + unrealized − fees); ``positions``: net base
        traded per asset; ``values``: quote value of each risky holding; ``margin_ratio``: a
        swap's maintenance margin / equity (0 for spot)."""
        p = self.p
        day = now_ns // DAY_NS
        if day != self.day:
            self.day, self.day_start_pnl = day, pnl
        self.peak_pnl = max(self.peak_pnl, pnl)
        risk = inventory_risk(values, equity, p.concentration_threshold, p.concentration_multiplier)
        if not self.stopped_reason and self.peak_pnl - pnl > self.max_drawdown:
            self.stopped_reason = f"drawdown {self.peak_pnl - pnl:.2f} > max_drawdown_quote {p.max_drawdown_quote}"
            self.stopped_ns = now_ns
            self.breaches.append(self.stopped_reason)
        if self.stopped_reason:
            return RiskState(RiskMode.STOPPED, self.stopped_reason, risk)
        if self.day_start_pnl - pnl > self.daily_loss_limit:
            return RiskState(RiskMode.PAUSED, "daily loss limit", risk)
        if risk > p.inventory_risk_pause:
            return RiskState(RiskMode.PAUSED, f"inventory risk {risk:.2f} > {p.inventory_risk_pause}", risk)
        if margin_ratio >= p.max_margin_ratio:
            return self._margin_call(margin_ratio, next(iter(positions.values()), 0.0), risk)
        for asset, pos in positions.items():
            limit = self.position_limits.get(asset)
            if limit is None:
                continue
            if abs(pos) >= limit:
                self.reducing.add(asset)
            elif abs(pos) <= limit * p.reduce_to_fraction:
                self.reducing.discard(asset)
        if self.reducing:
            names = sorted(self.reducing)
            pos = positions.get(names[0], 0.0)
            return RiskState(RiskMode.REDUCE_ONLY, f"position limit reached: {', '.join(names)}", risk, -1 if pos > 0.0 else 1, abs(pos))
        exposure = held = 0.0
        for value in values.values():
            exposure += abs(value)
            held += value
        if exposure >= self.max_exposure:
            return RiskState(RiskMode.REDUCE_ONLY, "total exposure limit", risk, -1 if held > 0.0 else 1, _UNBOUNDED)
        return RiskState(RiskMode.QUOTING, "", risk)

    def _margin_call(self, margin_ratio: float, position: float, risk: float) -> RiskState:
        """Reduce-only against ``position`` (contracts), no further than flat."""
        why = f"margin ratio {margin_ratio:.2f} >= max_margin_ratio {self.p.max_margin_ratio}"
        return RiskState(RiskMode.REDUCE_ONLY, why, risk, -1 if position > 0.0 else 1, abs(position))

    def order_room(self, asset: str, position: float, resting_buy: float, resting_sell: float) -> tuple[float, float]:
        """Base quantity that may still be bought and sold if every resting order filled
        (cancels are asynchronous, so resting orders count as filled): (buy, sell)."""
        limit = self.position_limits.get(asset, float("inf"))
        buy = max(0.0, limit - (position + resting_buy))
        sell = max(0.0, limit + (position - resting_sell))
        return buy, sell

    def taker_slices(self, now_ns: int, positions: dict[str, float], losses: dict[str, float]) -> list[TakerSlice]:
        """Active reduce-only: every ``active_interval_secs``, for each asset in reduce-only,
        a slice of ``active_slice_fraction`` of its excess over ``limit × reduce_to_fraction``,
        the largest unrealized loss (``losses``, quote, positive = losing) first."""
        p = self.p
        if p.reduce_only is not ReduceOnlyStyle.ACTIVE or now_ns - self._last_slice_ns < p.active_interval_secs * 1e9:
            return []
        slices = []
        for asset in sorted(self.reducing, key=lambda a: -losses.get(a, 0.0)):
            pos = positions.get(asset, 0.0)
            excess = abs(pos) - self.position_limits[asset] * p.reduce_to_fraction
            if excess > 0.0:
                slices.append(TakerSlice(asset, -1 if pos > 0 else 1, excess * p.active_slice_fraction))
        if slices:
            self._last_slice_ns = now_ns
        return slices
