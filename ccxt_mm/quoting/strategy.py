"""Strategy protocol and the default inventory-aware market maker (pure, synchronous).

Strategies are plugins: any class satisfying :class:`Strategy` registered in the
``ccxt_mm.strategies`` entry-point group, constructed with its parameters mapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Protocol

from annotated_types import Ge, Le

from ccxt_mm.book.features import BookFeatures, EwmaVolatility
from ccxt_mm.book.steps import ceil_to, floor_to
from ccxt_mm.quoting.constraints import Multiplier, NonNegative, Positive
from ccxt_mm.quoting.models import (
    A_MAX,
    A_MIN,
    K_MAX,
    K_MIN,
    GlftCoefficients,
    IntensityCalibrator,
    ModelQuote,
    avellaneda_stoikov,
    avellaneda_stoikov_infinite,
    glft_coefficients,
)
from ccxt_mm.quoting.risk import RiskMode, RiskState
from ccxt_mm.quoting.spread import DynamicSpread, SpreadDecision, SpreadParams, vol_regime
from ccxt_mm.quoting.types import BUY, SELL, Prediction, Quote


@dataclass(init=False, slots=True)
class MarketContext:
    """Everything a strategy may read on one book update."""

    ts_ns: int
    book: BookFeatures
    position: float
    """The position the inventory term uses, in the market's amount unit: the net quantity
    traded since start, plus (``portfolio.skew``) the other markets' part of the base asset."""
    room_buy: float
    """Quantity the bids asked for may total: the room the limits leave with every resting
    order counted as filled, plus this market's own resting bids (asked again, they are kept
    and use no room; the envelope clips whatever passes the room)."""
    room_sell: float
    """The same for the asks."""
    risk: RiskState
    tick_size: float
    lot_size: float
    prediction: Prediction | None = None
    """The latest fresh prediction for this market, if a predictor runs (never awaited)."""
    funding_rate: float = 0.0
    """A swap's funding rate per funding interval (positive: longs pay shorts); 0 for spot."""

    def __init__(
        self,
        ts_ns: int,
        book: BookFeatures,
        position: float,
        room_buy: float,
        room_sell: float,
        risk: RiskState,
        tick_size: float,
        lot_size: float,
        prediction: Prediction | None = None,
        funding_rate: float = 0.0,
    ) -> None:
        self.ts_ns = ts_ns
        self.book = book
        self.position = position
        self.room_buy = room_buy
        self.room_sell = room_sell
        self.risk = risk
        self.tick_size = tick_size
        self.lot_size = lot_size
        self.prediction = prediction
        self.funding_rate = funding_rate


class Strategy(Protocol):
    def on_trade(self, ts_ns: int, side: int, price: float, qty: float, mid: float) -> None:
        """A market trade; ``side`` is the aggressor (+1 buy), ``mid`` the mid before it."""

    def on_book(self, ctx: MarketContext) -> list[Quote]:
        """The quotes wanted now (an empty list cancels everything)."""

    def on_timer(self, ts_ns: int) -> None:
        """Periodic work kept off the quoting path (calibration), about once per second."""


class ModelName(StrEnum):
    GLFT = "glft"
    AVELLANEDA_STOIKOV = "avellaneda_stoikov"
    AVELLANEDA_STOIKOV_INFINITE = "avellaneda_stoikov_infinite"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketMakerParams:
    """Parameters of :class:`MarketMaker`: ``strategy.params`` of the built-in ``market_maker``."""

    model: ModelName = ModelName.GLFT
    """The quoting model: GLFT or Avellaneda–Stoikov (finite or infinite horizon)."""
    gamma: Positive = 0.05
    """Risk aversion, 1/bps."""
    horizon_secs: Positive = 60.0
    """``T − t`` of the finite-horizon Avellaneda–Stoikov model (rolling)."""
    order_qty: Positive = 0.002
    """Base quantity per quote level; inventory ``q`` is counted in these units."""
    max_inventory_units: Positive = 10.0
    """``q_max`` of the infinite-horizon model, in order units."""
    levels: Annotated[int, Ge(1), Le(20)] = 2
    """Quote levels per side."""
    level_step_bps: NonNegative = 2.0
    """Distance between consecutive levels."""
    use_microprice: bool = True
    """Fair price: the microprice (True) or the mid (False)."""
    prior_sigma_bps: Positive = 0.5
    """Volatility prior, bps per square-root second."""
    vol_half_life_secs: Positive = 30.0
    """EWMA half-life of the realized volatility."""
    prior_a: Annotated[float, Ge(A_MIN), Le(A_MAX)] = 1.0
    """Fill intensity at zero distance, per second (prior; from a fill a week to a million a
    second: the GLFT and Avellaneda–Stoikov terms divide by ``a × k``)."""
    prior_k: Annotated[float, Ge(K_MIN), Le(K_MAX)] = 0.5
    """Decay of fill intensity with distance, 1/bps (prior)."""
    calib_deltas_bps: tuple[NonNegative, ...] = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
    """Distances at which trade rates are fitted."""
    calib_window_secs: Positive = 120.0
    """Trades kept for the A, k fit."""
    calib_min_trades: Annotated[int, Ge(3)] = 50
    """The fit needs at least this many trades ..."""
    calib_min_secs: NonNegative = 10.0
    """... spread over at least this long."""
    uncalibrated_widen: Multiplier = 1.5
    """Spread multiplier until A and k are calibrated from the market."""
    funding_skew: NonNegative = 0.0
    """A swap: both quotes move by −this × the funding rate (in bps of it: 1.0 with a rate of
    0.01 % moves them 1 bp down while longs pay), so the book leans to the side funding pays."""
    prediction_shift_bps: NonNegative = 2.0
    """Largest reservation-price shift a prediction may cause (at confidence 1), bps."""
    prediction_spread_range: tuple[Positive, Positive] = (0.8, 2.0)
    """Bounds of the spread multiplier a prediction's volatility regime may apply."""

    def __post_init__(self) -> None:
        """What no single field's bound says, checked on every construction."""
        low, high = self.prediction_spread_range
        if not low <= 1.0 <= high:
            raise ValueError(f"prediction_spread_range {list(self.prediction_spread_range)} must contain 1.0 (low <= 1 <= high)")


class MarketMaker:
    """Model quote (GLFT or Avellaneda–Stoikov) widened to the dynamic spread, skewed by
    inventory, laddered over ``levels``, sized for the worst case and kept post-only."""

    def __init__(self, params: MarketMakerParams, spread: SpreadParams) -> None:
        """``spread``: the config's ``spread`` section, the dynamic spread quotes are widened to."""
        self.p = params
        self.vol = EwmaVolatility(params.vol_half_life_secs, params.prior_sigma_bps * 1e-4)
        self.intensity = IntensityCalibrator(
            params.prior_a,
            params.prior_k,
            params.calib_deltas_bps,
            params.calib_window_secs,
            params.calib_min_trades,
            params.calib_min_secs,
        )
        self.spread = DynamicSpread(spread)
        self.last_spread: SpreadDecision | None = None
        self._glft: GlftCoefficients | None = None
        self._glft_a = self._glft_k = math.nan

    def on_trade(self, ts_ns: int, side: int, price: float, qty: float, mid: float) -> None:
        if mid > 0.0:
            self.intensity.add_trade(ts_ns, side * (price - mid) / mid * 1e4)

    def on_timer(self, ts_ns: int) -> None:
        self.intensity.refit(ts_ns)
        self.spread.refresh()

    def model_quote(self, q: float, sigma_bps: float) -> ModelQuote:
        """Reservation offset and half-spreads in bps around a fair price of 0."""
        p, a, k = self.p, self.intensity.a, self.intensity.k
        match p.model:
            case ModelName.GLFT:
                return self._glft_coefficients(a, k).quote(0.0, q, sigma_bps)
            case ModelName.AVELLANEDA_STOIKOV:
                return avellaneda_stoikov(0.0, q, p.gamma, sigma_bps, k, p.horizon_secs)
            case ModelName.AVELLANEDA_STOIKOV_INFINITE:
                q = max(-p.max_inventory_units, min(p.max_inventory_units, q))
                return avellaneda_stoikov_infinite(0.0, q, p.gamma, sigma_bps, k, p.max_inventory_units)

    def _glft_coefficients(self, a: float, k: float) -> GlftCoefficients:
        """GLFT's coefficients at the calibrated ``a`` and ``k``, recomputed only when a
        recalibration moved them."""
        coef = self._glft
        if coef is None or a != self._glft_a or k != self._glft_k:
            coef = self._glft = glft_coefficients(self.p.gamma, k, a)
            self._glft_a, self._glft_k = a, k
        return coef

    def prediction_bias(self, prediction: Prediction | None, sigma_bps: float) -> tuple[float, float]:
        """(reservation shift in bps, spread multiplier) a prediction asks for, bounded by
        ``prediction_shift_bps`` × confidence and ``prediction_spread_range``."""
        if prediction is None:
            return 0.0, 1.0
        p = self.p
        shift = max(-1.0, min(1.0, prediction.direction)) * prediction.confidence * p.prediction_shift_bps
        spread = self.spread.p
        base = spread.base_bps
        ratio = base[prediction.volatility] / base[vol_regime(sigma_bps, spread.regime_sigma_bps)]
        low, high = p.prediction_spread_range
        return shift, max(low, min(high, ratio))

    def half_spreads(self, mq: ModelQuote, spread_bps: float) -> tuple[float, float]:
        """(bid, ask) half-spreads in bps: the model's, widened evenly to ``spread_bps`` (the
        dynamic spread) when they add up to less, and by ``uncalibrated_widen`` until the fill
        intensity is calibrated."""
        bid_half, ask_half = mq.bid_half_spread, mq.ask_half_spread
        shortfall = spread_bps - (bid_half + ask_half)
        if shortfall > 0.0:
            bid_half += 0.5 * shortfall
            ask_half += 0.5 * shortfall
        if not self.intensity.calibrated:
            bid_half *= self.p.uncalibrated_widen
            ask_half *= self.p.uncalibrated_widen
        return bid_half, ask_half

    def on_book(self, ctx: MarketContext) -> list[Quote]:
        p, book = self.p, ctx.book
        self.vol.update(ctx.ts_ns, book.mid)
        sigma_bps = self.vol.sigma * 1e4
        shift_bps, multiplier = self.prediction_bias(ctx.prediction, sigma_bps)
        shift_bps -= p.funding_skew * ctx.funding_rate * 1e4
        self.last_spread = self.spread.update(
            ctx.ts_ns,
            sigma_bps,
            ctx.risk.inventory_risk,
            book.depth_bid + book.depth_ask,
            book.impact_bps,
            book.imbalance_near,
            multiplier,
        )
        mode = ctx.risk.mode
        if mode in (RiskMode.PAUSED, RiskMode.STOPPED):
            return []
        mq = self.model_quote(ctx.position / p.order_qty, sigma_bps)
        bid_half, ask_half = self.half_spreads(mq, self.last_spread.spread_bps)
        fair = book.microprice if p.use_microprice else book.mid
        reservation = fair * (1.0 + (mq.reservation + shift_bps) * 1e-4)
        sides: tuple[int, ...] = (BUY, SELL)
        if mode is RiskMode.REDUCE_ONLY:
            sides = (ctx.risk.reduce_side,)
        quotes: list[Quote] = []
        tick, lot = ctx.tick_size, ctx.lot_size
        full_qty = floor_to(p.order_qty, lot)
        for side in sides:
            room = ctx.room_buy if side == BUY else ctx.room_sell
            half = bid_half if side == BUY else ask_half
            if math.isinf(half) or math.isnan(half):
                continue  # the model refuses this side (inventory at its bound)
            # post-only: never at or through the opposite best, at most one tick behind it
            limit = floor_to(book.best_ask - tick, tick) if side == BUY else ceil_to(book.best_bid + tick, tick)
            for level in range(p.levels):
                qty = full_qty if room >= full_qty else floor_to(room, lot)
                if qty < lot:
                    break
                room -= qty
                dist = (half + level * p.level_step_bps) * 1e-4
                if side == BUY:
                    price = min(floor_to(reservation * (1.0 - dist), tick), limit)
                    if price < tick:
                        break  # a model this far from the market wants no bid at all
                else:
                    price = max(ceil_to(reservation * (1.0 + dist), tick), limit)
                quotes.append(Quote(side, level, price, qty))
        return quotes
