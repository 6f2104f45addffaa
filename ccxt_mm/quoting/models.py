"""Inventory-aware quoting models and their online calibration (pure).

Units are the caller's choice as long as they agree; the strategy works in basis points
of mid: distances ``delta`` in bps, ``k`` in 1/bps, ``A`` in fills per second, ``sigma`` in
bps per square-root second, ``gamma`` in 1/bps, inventory ``q`` in order units.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Final


@dataclass(init=False, slots=True)
class ModelQuote:
    """Where a model wants to quote: reservation price and half-spreads around it."""

    reservation: float
    bid_half_spread: float
    ask_half_spread: float

    def __init__(self, reservation: float, bid_half_spread: float, ask_half_spread: float) -> None:
        self.reservation = reservation
        self.bid_half_spread = bid_half_spread
        self.ask_half_spread = ask_half_spread

    @property
    def bid(self) -> float:
        return self.reservation - self.bid_half_spread

    @property
    def ask(self) -> float:
        return self.reservation + self.ask_half_spread


def avellaneda_stoikov(s: float, q: float, gamma: float, sigma: float, k: float, time_left: float) -> ModelQuote:
    """Avellaneda & Stoikov (2008), finite horizon.

    ``r = s - q·γ·σ²·(T-t)`` and total spread ``γ·σ²·(T-t) + (2/γ)·ln(1 + γ/k)``, split
    evenly around ``r``. ``time_left`` is ``T - t`` in the unit ``sigma`` is quoted per.
    """
    reservation = s - q * gamma * sigma * sigma * time_left
    spread = gamma * sigma * sigma * time_left + 2.0 / gamma * math.log1p(gamma / k)
    return ModelQuote(reservation, 0.5 * spread, 0.5 * spread)


def avellaneda_stoikov_infinite(s: float, q: float, gamma: float, sigma: float, k: float, q_max: float) -> ModelQuote:
    """Avellaneda & Stoikov (2008) §2.3, infinite horizon with discount
    ``ω = ½·γ²·σ²·(q_max+1)²``: reservation bid/ask prices

    ``r_a = s + (1/γ)·ln(1 + (1-2q)·γ²σ² / (2ω - γ²q²σ²))``,
    ``r_b = s + (1/γ)·ln(1 + (-1-2q)·γ²σ² / (2ω - γ²q²σ²))``,

    each quoted ``(1/γ)·ln(1 + γ/k)`` further out. Returned around ``reservation = s``
    with asymmetric half-spreads. At ``q = q_max`` the bid's logarithm reaches 0 (at
    ``-q_max`` the ask's): that side's half-spread is infinite, i.e. do not quote it.
    Requires ``|q| <= q_max``.
    """
    g2s2 = gamma * gamma * sigma * sigma
    omega = 0.5 * g2s2 * (q_max + 1.0) ** 2
    denom = 2.0 * omega - g2s2 * q * q
    ask_arg = 1.0 + (1.0 - 2.0 * q) * g2s2 / denom
    bid_arg = 1.0 + (-1.0 - 2.0 * q) * g2s2 / denom
    edge = math.log1p(gamma / k) / gamma
    ask_half = math.log(ask_arg) / gamma + edge if ask_arg > 0.0 else math.inf
    bid_half = -math.log(bid_arg) / gamma + edge if bid_arg > 0.0 else math.inf
    return ModelQuote(s, bid_half, ask_half)


@dataclass(frozen=True, slots=True)
class GlftCoefficients:
    """Guéant–Lehalle–Fernandez-Tapia closed-form coefficients (c1 in distance units,
    c2 in distance per unit of ``sigma``)."""

    c1: float
    c2: float

    def half_spread(self, sigma: float) -> float:
        return self.c1 + 0.5 * sigma * self.c2

    def skew(self, sigma: float) -> float:
        """Shift of both quotes per order unit of inventory."""
        return sigma * self.c2

    def quote(self, fair: float, q: float, sigma: float) -> ModelQuote:
        """GLFT quotes: bid = fair − (half + skew·q), ask = fair + (half − skew·q)."""
        half, skew = self.half_spread(sigma), self.skew(sigma)
        return ModelQuote(fair - skew * q, half, half)


def glft_coefficients(gamma: float, k: float, a: float) -> GlftCoefficients:
    """``c1 = (1/γ)·ln(1+γ/k)``, ``c2 = sqrt(γ/(2·A·k) · (1+γ/k)^(k/γ+1))``."""
    c1 = math.log1p(gamma / k) / gamma
    c2 = math.sqrt(gamma / (2.0 * a * k) * (1.0 + gamma / k) ** (k / gamma + 1.0))
    return GlftCoefficients(c1, c2)


def glft(fair: float, q: float, gamma: float, sigma: float, k: float, a: float) -> ModelQuote:
    """GLFT quotes at once from the model's parameters (a strategy keeps the coefficients
    between recalibrations and calls :meth:`GlftCoefficients.quote`)."""
    return glft_coefficients(gamma, k, a).quote(fair, q, sigma)


A_MIN: Final = 1e-6
A_MAX: Final = 1e6
"""Fill intensities at zero distance taken, per second (the prior's range, ``prior_a``)."""
K_MIN: Final = 1e-6
K_MAX: Final = 1e3
"""Decays of fill intensity with distance taken, 1/bps (the prior's range, ``prior_k``)."""
FIT_LOG_A_MAX: Final = 700.0
"""ln A above this is no fill intensity (and ``exp`` would overflow past 709)."""


class IntensityCalibrator:
    """Fits the fill intensity ``λ(δ) = A·exp(-k·δ)`` from trades seen at distance from mid.

    Every trade's distance ``δ`` (bps beyond the mid at the time, on the side it hit) is
    kept for ``window_secs``, and for each ``δ_j`` of the grid ``deltas_bps`` a running count
    of the window's trades at least that far out is kept, so a trade costs O(grid) and a
    refit O(grid). ``λ(δ_j)`` is that count over the window's length; ``ln λ = ln A − k·δ``
    is fitted by least squares. Until the window holds ``min_trades`` trades spread over
    ``min_secs`` and at least three grid points have arrivals, the priors stay and
    :attr:`calibrated` is False.
    """

    def __init__(
        self,
        prior_a: float,
        prior_k: float,
        deltas_bps: tuple[float, ...],
        window_secs: float,
        min_trades: int,
        min_secs: float,
    ) -> None:
        self.a, self.k = prior_a, prior_k
        self.calibrated = False
        self._deltas = sorted(deltas_bps)
        self._counts = [0] * len(self._deltas)
        self._window_ns = int(window_secs * 1e9)
        self._min_trades = min_trades
        self._min_ns = int(min_secs * 1e9)
        self._trades: deque[tuple[int, float]] = deque()
        self._first_ns = 0

    def _count(self, distance: float, step: int) -> None:
        counts = self._counts
        for j, delta in enumerate(self._deltas):
            if distance < delta:
                break
            counts[j] += step

    def add_trade(self, ts_ns: int, distance_bps: float) -> None:
        if not self._first_ns:
            self._first_ns = ts_ns
        self._trades.append((ts_ns, distance_bps))
        self._count(distance_bps, 1)

    def refit(self, now_ns: int) -> None:
        """Expire old trades and re-estimate ``A`` and ``k`` (call about once per second)."""
        trades, cutoff = self._trades, now_ns - self._window_ns
        while trades and trades[0][0] < cutoff:
            self._count(trades.popleft()[1], -1)
        span_secs = (min(now_ns - self._first_ns, self._window_ns) if self._first_ns else 0) * 1e-9
        if len(trades) < self._min_trades or span_secs * 1e9 < self._min_ns:
            return
        points = [(d, math.log(c / span_secs)) for d, c in zip(self._deltas, self._counts, strict=True) if c > 0]
        if len(points) < 3:
            return
        n = len(points)
        mean_x = sum(x for x, _ in points) / n
        mean_y = sum(y for _, y in points) / n
        sxx = sum((x - mean_x) ** 2 for x, _ in points)
        if sxx <= 0.0:  # one distance given several times: no slope to fit
            return
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
        a, k = math.exp(min(mean_y - slope * mean_x, FIT_LOG_A_MAX)), -slope
        if not (A_MIN <= a <= A_MAX and K_MIN <= k <= K_MAX):
            return  # rising with distance, or past what the priors may be: not a fill intensity
        self.a, self.k = a, k
        self.calibrated = True
