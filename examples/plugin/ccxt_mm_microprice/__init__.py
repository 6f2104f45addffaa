"""A second strategy for ccxt-mm, written to the plugin contract of :mod:`ccxt_mm.strategies`.

One quote a side around the book's microprice (volume-weighted between best bid and ask),
shifted against inventory: long, both quotes move down (sells fill sooner, buys later), short,
up. Prices quote currency, sizes base units, distances bps of the microprice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ccxt_mm.strategies import BUY, SELL, AppConfig, MarketContext, Quote, RiskMode, ceil_to, floor_to


class Params(BaseModel):
    """``strategy.params`` of ``microprice_skew``; a misspelt key is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    half_spread_bps: float = Field(1.0, gt=0)
    """Distance of each quote from the (skewed) microprice."""
    skew_bps: float = Field(2.0, ge=0)
    """Shift of both quotes at a full position (``max_position_base``), against it."""
    order_qty: float = Field(0.002, gt=0)
    """Size of each quote, base units (less when the room is smaller)."""
    max_position_base: float = Field(0.02, gt=0)
    """Position at which the skew is full; the engine's own limit is ``risk.max_position_base``."""


class MicropriceSkew:
    def __init__(self, params: Params) -> None:
        self.p = params

    def on_trade(self, ts_ns: int, side: int, price: float, qty: float, mid: float) -> None:
        """Not used: this strategy reads the book only."""

    def on_timer(self, ts_ns: int) -> None:
        """Not used: nothing to calibrate."""

    def on_book(self, ctx: MarketContext) -> list[Quote]:
        p, book, mode = self.p, ctx.book, ctx.risk.mode
        if mode is RiskMode.PAUSED or mode is RiskMode.STOPPED:
            return []
        inventory = max(-1.0, min(1.0, ctx.position / p.max_position_base))
        fair = book.microprice * (1.0 - inventory * p.skew_bps * 1e-4)
        sides = (ctx.risk.reduce_side,) if mode is RiskMode.REDUCE_ONLY else (BUY, SELL)
        quotes, tick = [], ctx.tick_size
        for side in sides:
            room = ctx.room_buy if side == BUY else ctx.room_sell
            if mode is RiskMode.REDUCE_ONLY:  # reduce, never flip: at most what the limit lets go
                room = min(room, ctx.risk.reduce_max_base)
            qty = floor_to(min(p.order_qty, room), ctx.lot_size)
            if qty < ctx.lot_size:
                continue
            if side == BUY:  # post-only: at least one tick below the best ask
                price = min(floor_to(fair * (1.0 - p.half_spread_bps * 1e-4), tick), floor_to(book.best_ask - tick, tick))
            else:
                price = max(ceil_to(fair * (1.0 + p.half_spread_bps * 1e-4), tick), ceil_to(book.best_bid + tick, tick))
            quotes.append(Quote(side, 0, price, qty))
        return quotes


def build(params: dict[str, Any], config: AppConfig) -> MicropriceSkew:
    """The plugin's factory, named by the entry point: ``factory(params, config)``."""
    return MicropriceSkew(Params.model_validate(params))
