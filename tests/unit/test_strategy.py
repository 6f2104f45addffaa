"""The default MarketMaker: tick/lot rounding, post-only clamping, skew, risk modes (pure)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.book.features import BookFeatures
from ccxt_mm.book.steps import ceil_to, floor_to
from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError
from ccxt_mm.quoting.risk import RiskMode, RiskState
from ccxt_mm.quoting.strategy import MarketContext, MarketMaker
from ccxt_mm.quoting.types import BUY, SELL
from ccxt_mm.strategies import load_strategy

TICK, LOT = 0.01, 0.00001


def features(bid: float, ask: float, bid_qty: float = 1.0, ask_qty: float = 1.0) -> BookFeatures:
    mid = 0.5 * (bid + ask)
    return BookFeatures(bid, ask, bid_qty, ask_qty, mid, mid, (ask - bid) / mid * 1e4, 0.0, 0.0, 5.0, 5.0, 1.0)


def maker(**params) -> MarketMaker:
    return load_strategy(AppConfig.model_validate({"strategy": {"params": params}}))


def ctx(book: BookFeatures, position=0.0, room=(1.0, 1.0), mode=RiskMode.QUOTING, ts=10**18) -> MarketContext:
    reduce_side = SELL if position > 0 else BUY  # what the risk manager says at a position limit
    return MarketContext(ts, book, position, room[0], room[1], RiskState(mode, "", 0.0, reduce_side, abs(position)), TICK, LOT)


def test_two_levels_a_side_on_the_grid_and_symmetric_when_flat():
    quotes = maker(use_microprice=False).on_book(ctx(features(100.0, 100.02)))
    bids = sorted((q for q in quotes if q.side == BUY), key=lambda q: q.level)
    asks = sorted((q for q in quotes if q.side == SELL), key=lambda q: q.level)
    assert len(bids) == len(asks) == 2
    # minimum spread 8 bps x 1.5 until calibrated: 6 bps each side of 100.01
    assert bids[0].price == floor_to(100.01 * (1 - 6e-4), TICK)
    assert asks[0].price == ceil_to(100.01 * (1 + 6e-4), TICK)
    assert bids[1].price < bids[0].price and asks[1].price > asks[0].price
    assert all(q.qty == 0.002 for q in quotes)


def test_long_inventory_skews_both_quotes_down():
    mm_flat, mm_long = maker(), maker()
    book = features(60_000.0, 60_000.01)
    flat = {q.side: q.price for q in mm_flat.on_book(ctx(book)) if q.level == 0}
    long = {q.side: q.price for q in mm_long.on_book(ctx(book, position=0.01)) if q.level == 0}
    # GLFT skew with the priors: σ·c2 = 0.5 × 0.3777 bps per order unit, 5 units long
    shift = 60_000.005 * 5 * 0.5 * 0.3777 * 1e-4
    assert flat[BUY] - long[BUY] == pytest.approx(shift, abs=2 * TICK)
    assert flat[SELL] - long[SELL] == pytest.approx(shift, abs=2 * TICK)


@pytest.mark.parametrize("rate", [0.0005, -0.0005])
def test_funding_skew_leans_both_quotes_to_the_side_funding_pays(rate):
    """Longs pay at a positive rate: with funding_skew 2, a 0.05 % rate moves both quotes
    2 × 5 = 10 bps down (toward selling, to be short and paid); a negative rate, up (a book
    100 USDT wide, so that neither quote meets the touch)."""
    book = features(60_000.0, 60_100.0)
    plain = {q.side: q.price for q in maker(funding_skew=2.0).on_book(ctx(book)) if q.level == 0}
    leaning = ctx(book)
    leaning.funding_rate = rate
    skewed = {q.side: q.price for q in maker(funding_skew=2.0).on_book(leaning) if q.level == 0}
    for side in (BUY, SELL):  # the reservation price moves by 10 bps; each quote by 10 bps of itself
        assert skewed[side] - plain[side] == pytest.approx(-2.0 * rate * plain[side], abs=2 * TICK)
    unskewed = {q.side: q.price for q in maker().on_book(leaning) if q.level == 0}
    assert unskewed == plain  # off by default


def test_risk_modes():
    book = features(100.0, 100.02)
    assert maker().on_book(ctx(book, mode=RiskMode.PAUSED)) == []
    assert maker().on_book(ctx(book, mode=RiskMode.STOPPED)) == []
    reduce_long = maker().on_book(ctx(book, position=0.02, mode=RiskMode.REDUCE_ONLY))
    assert reduce_long and {q.side for q in reduce_long} == {SELL}
    reduce_short = maker().on_book(ctx(book, position=-0.02, mode=RiskMode.REDUCE_ONLY))
    assert {q.side for q in reduce_short} == {BUY}


@settings(max_examples=300, deadline=None)
@given(
    bid=st.floats(1_000.0, 100_000.0),
    spread_ticks=st.integers(1, 50),
    position=st.floats(-0.05, 0.05),
    room_buy=st.floats(0.0, 0.01),
    room_sell=st.floats(0.0, 0.01),
    model=st.sampled_from(["glft", "avellaneda_stoikov", "avellaneda_stoikov_infinite"]),
    gamma=st.floats(0.001, 1.0),
)
def test_quotes_never_cross_are_on_the_grid_and_fit_the_room(bid, spread_ticks, position, room_buy, room_sell, model, gamma):
    bid = floor_to(bid, TICK)
    ask = round(bid + spread_ticks * TICK, 2)
    quotes = maker(model=model, gamma=gamma).on_book(ctx(features(bid, ask), position, (room_buy, room_sell)))
    for q in quotes:
        assert q.price > 0 and math.isfinite(q.price)
        assert abs(q.price / TICK - round(q.price / TICK)) < 1e-6
        assert abs(q.qty / LOT - round(q.qty / LOT)) < 1e-6 and q.qty >= LOT
        if q.side == BUY:
            assert q.price <= ask - TICK + 1e-9
        else:
            assert q.price >= bid + TICK - 1e-9
    assert sum(q.qty for q in quotes if q.side == BUY) <= room_buy + 1e-12
    assert sum(q.qty for q in quotes if q.side == SELL) <= room_sell + 1e-12


def test_more_levels_than_the_envelope_allows_is_a_config_error_at_start():
    config = AppConfig.model_validate({"strategy": {"params": {"levels": 12}}, "orders": {"max_levels": 10}})
    with pytest.raises(ConfigError, match=r"strategy\.params: levels 12 is more than orders\.max_levels 10"):
        load_strategy(config, "mm.yaml")
