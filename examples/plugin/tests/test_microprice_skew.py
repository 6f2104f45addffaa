"""The example plugin on a real book: the first Binance BTCUSDT snapshot of the bundled recording."""

from __future__ import annotations

from pathlib import Path

import pytest
from ccxt_mm_microprice import build
from pydantic import ValidationError

from ccxt_mm.book.features import book_features
from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError
from ccxt_mm.market.capture import load_capture
from ccxt_mm.market.events import MsgKind
from ccxt_mm.strategies import BUY, SELL, MarketContext, RiskMode, RiskState, load_strategy

RECORDING = Path(__file__).resolve().parents[3] / "ccxt_mm/recordings/binance_spot/spot_btcusdt_20240808.gz"
TICK, LOT = 0.01, 0.00001


@pytest.fixture(scope="module")
def book():
    log = load_capture([str(RECORDING)], "BTC/USDT")
    grid = GridBook(log.prices)
    log.apply_message(grid, int((log.msg_kind == MsgKind.SNAPSHOT).argmax()))
    return book_features(grid, 20, 10.0, 1.0)


def ctx(book, position=0.0, room=(1.0, 1.0), mode=RiskMode.QUOTING) -> MarketContext:
    reduce_side = SELL if position > 0 else BUY
    return MarketContext(0, book, position, room[0], room[1], RiskState(mode, "", 0.0, reduce_side, abs(position)), TICK, LOT)


def test_flat_quotes_straddle_the_microprice_one_bp_away_on_the_grid(book):
    bid, ask = build({"half_spread_bps": 1.0}, None).on_book(ctx(book))
    assert (bid.side, ask.side) == (BUY, SELL) and bid.qty == ask.qty == 0.002
    assert bid.price < book.microprice < ask.price
    assert bid.price == pytest.approx(book.microprice * (1 - 1e-4), abs=TICK)
    assert ask.price == pytest.approx(book.microprice * (1 + 1e-4), abs=TICK)
    assert bid.price < book.best_ask and ask.price > book.best_bid  # post-only
    for q in (bid, ask):
        assert round(q.price / TICK) * TICK == pytest.approx(q.price, abs=1e-9)


def test_long_moves_both_quotes_down_short_up(book):
    mm = build({"skew_bps": 4.0, "max_position_base": 0.02}, None)
    flat, long, short = (mm.on_book(ctx(book, position=p)) for p in (0.0, 0.01, -0.01))
    assert all(lq.price < fq.price for lq, fq in zip(long, flat, strict=True))
    assert all(sq.price > fq.price for sq, fq in zip(short, flat, strict=True))
    assert flat[0].price - long[0].price == pytest.approx(book.microprice * 2e-4, abs=TICK)  # half the skew at half the position


def test_sizes_never_exceed_the_room(book):
    quotes = build({"order_qty": 0.01}, None).on_book(ctx(book, room=(0.0041234, 0.0)))
    assert [(q.side, q.qty) for q in quotes] == [(BUY, 0.00412)]


def test_reduce_only_quotes_only_the_reducing_side_never_past_flat_and_nothing_when_paused(book):
    mm = build({}, None)
    assert [(q.side, q.qty) for q in mm.on_book(ctx(book, position=0.02, mode=RiskMode.REDUCE_ONLY))] == [(SELL, 0.002)]
    assert [(q.side, q.qty) for q in mm.on_book(ctx(book, position=-0.02, mode=RiskMode.REDUCE_ONLY))] == [(BUY, 0.002)]
    # the risk state says how much reduces to flat: the quote is no larger, so it cannot flip the position
    assert [(q.side, q.qty) for q in mm.on_book(ctx(book, position=0.0005, mode=RiskMode.REDUCE_ONLY))] == [(SELL, 0.0005)]
    assert mm.on_book(ctx(book, mode=RiskMode.PAUSED)) == [] and mm.on_book(ctx(book, mode=RiskMode.STOPPED)) == []


def test_bad_params_name_the_key():
    with pytest.raises(ValidationError, match="half_spread_bps"):
        build({"half_spread_bps": 0}, None)
    with pytest.raises(ValidationError, match="skew"):
        build({"skew": 1.0}, None)
    # through the loader, as `ccxt-mm replay` and `check-config` meet it: a config error naming the key
    config = AppConfig.model_validate({"strategy": {"name": "microprice_skew", "params": {"half_spred_bps": 1.0}}})
    with pytest.raises(ConfigError) as err:
        load_strategy(config, "microprice.yaml")
    assert [p.split(":")[0] for p in err.value.problems] == ["strategy.params.half_spred_bps"]
