"""The portfolio's rooms and risk modes with numbers: BTC quoted on three markets."""

from __future__ import annotations

import pytest

from ccxt_mm.quoting.portfolio import Part, Portfolio, PortfolioParams, stricter
from ccxt_mm.quoting.risk import DAY_NS, RiskMode, RiskState

NOON = 20_000 * DAY_NS + DAY_NS // 2
MID = 60_000.0


def book(**params) -> Portfolio:
    """Binance long 0.02 BTC with 0.01 bid resting, okx long 0.01 with 0.004 bid and 0.006 ask
    resting, bybit flat; ETH on a fourth market."""
    pf = Portfolio(PortfolioParams(**params))
    pf.update("binance BTC/USDT", Part("BTC", 0.02, 0.01, 0.0, MID))
    pf.update("okx BTC/USDT", Part("BTC", 0.01, 0.004, 0.006, MID))
    pf.update("bybit BTC/USDT:USDT", Part("BTC", 0.0, 0.0, 0.0, MID))
    pf.update("okx ETH/USDT", Part("ETH", 1.0, 0.0, 0.0, 3_000.0))
    return pf


def evaluate(pf: Portfolio, now: int) -> None:
    """As each market does before it quotes: its asset's state moved on to ``now``."""
    for asset in ("BTC", "ETH"):
        pf.evaluate(now, asset)


def test_an_asset_s_rooms_count_every_market_s_position_and_resting_orders():
    pf = book(max_asset_base={"BTC": 0.05})
    assert pf.position("BTC") == pytest.approx(0.03) and pf.others("bybit BTC/USDT:USDT") == pytest.approx(0.03)
    # buys: 0.05 - (0.03 held + 0.014 bid) = 0.006 left to every market; sells: 0.05 + (0.03 - 0.006)
    for key in ("binance BTC/USDT", "okx BTC/USDT", "bybit BTC/USDT:USDT"):
        assert pf.rooms(key) == pytest.approx((0.006, 0.074))
    assert pf.rooms("okx ETH/USDT") == (float("inf"), float("inf"))  # no limit named for ETH


def test_the_notional_limit_is_a_base_limit_at_the_mid_and_the_tighter_one_holds():
    pf = book(max_asset_base={"BTC": 0.05}, max_asset_notional_quote={"BTC": 2_700.0})  # 0.045 BTC at 60 000
    assert pf.rooms("okx BTC/USDT") == pytest.approx((0.001, 0.069))


def test_at_the_limit_every_market_reduces_the_sum_no_further_than_its_own_position():
    pf = book(max_asset_base={"BTC": 0.03})
    pf.update("bybit BTC/USDT:USDT", Part("BTC", -0.005, 0.0, 0.0, MID))  # sum 0.025
    evaluate(pf, NOON)
    assert pf.state("binance BTC/USDT", 0.0) is None
    pf.update("bybit BTC/USDT:USDT", Part("BTC", 0.0, 0.0, 0.0, MID))  # sum 0.03: at the limit
    evaluate(pf, NOON)
    binance, okx, bybit = (pf.state(k, 0.1) for k in ("binance BTC/USDT", "okx BTC/USDT", "bybit BTC/USDT:USDT"))
    assert (binance.mode, binance.reduce_side, binance.reduce_max_base) == (RiskMode.REDUCE_ONLY, -1, 0.02)
    assert (okx.reduce_side, okx.reduce_max_base) == (-1, 0.01)
    assert (bybit.mode, bybit.reduce_side, bybit.reduce_max_base) == (RiskMode.REDUCE_ONLY, -1, 0.0)  # flat: nothing to reduce
    assert "portfolio limit of BTC" in binance.reason and pf.state("okx ETH/USDT", 0.0) is None
    # it lasts until the sum is back under 0.8 of the limit (0.024)
    pf.update("binance BTC/USDT", Part("BTC", 0.015, 0.0, 0.0, MID))  # sum 0.025
    evaluate(pf, NOON)
    assert pf.state("okx BTC/USDT", 0.0).mode is RiskMode.REDUCE_ONLY
    pf.update("binance BTC/USDT", Part("BTC", 0.013, 0.0, 0.0, MID))  # sum 0.023
    evaluate(pf, NOON)
    assert pf.state("okx BTC/USDT", 0.0) is None


def test_gross_and_net_notional_make_the_assets_in_them_reduce_only():
    pf = book(max_gross_notional_quote=4_000.0)  # 0.03 BTC (1 800) + 1 ETH (3 000) = 4 800
    evaluate(pf, NOON)
    assert pf.state("okx ETH/USDT", 0.0).reduce_side == -1 and pf.state("bybit BTC/USDT:USDT", 0.0).reduce_max_base == 0.0
    pf = book(max_net_notional_quote=4_000.0)
    pf.update("bybit BTC/USDT:USDT", Part("BTC", -0.05, 0.0, 0.0, MID))  # BTC -0.02 (-1 200), net 1 800: under
    evaluate(pf, NOON)
    assert pf.state("okx ETH/USDT", 0.0) is None
    pf.update("okx ETH/USDT", Part("ETH", 2.0, 0.0, 0.0, 3_000.0))  # net 4 800; BTC is short against it
    evaluate(pf, NOON)
    assert pf.state("okx ETH/USDT", 0.0).mode is RiskMode.REDUCE_ONLY and pf.state("okx BTC/USDT", 0.0) is None


def test_the_day_s_loss_of_all_markets_together_pauses_each_and_the_drawdown_stops_all():
    pf = book(total_daily_loss_quote=100.0, total_drawdown_quote=150.0)
    evaluate(pf, NOON)
    pf.update("binance BTC/USDT", Part("BTC", 0.02, 0.0, 0.0, MID, -60.0))
    pf.update("okx BTC/USDT", Part("BTC", 0.01, 0.0, 0.0, MID, -50.0))  # -110 together: each alone is within 100
    evaluate(pf, NOON + 1)
    assert pf.state("bybit BTC/USDT:USDT", 0.0).mode is RiskMode.PAUSED
    evaluate(pf, NOON + DAY_NS)  # the next day starts from -110
    assert pf.state("bybit BTC/USDT:USDT", 0.0) is None
    pf.update("okx ETH/USDT", Part("ETH", 1.0, 0.0, 0.0, 3_000.0, -50.0))  # 160 below the peak of 0
    evaluate(pf, NOON + DAY_NS + 1)
    pf.update("okx ETH/USDT", Part("ETH", 1.0, 0.0, 0.0, 3_000.0, 500.0))  # it latches: a recovery does not resume
    evaluate(pf, NOON + DAY_NS + 2)
    assert all(pf.state(k, 0.0).mode is RiskMode.STOPPED for k in pf.parts)


def test_the_stricter_state_wins_and_opposite_reduce_only_sides_pause():
    quoting, paused = RiskState(RiskMode.QUOTING, "", 0.2), RiskState(RiskMode.PAUSED, "p", 0.2)
    sell_02, sell_01 = RiskState(RiskMode.REDUCE_ONLY, "a", 0.2, -1, 0.02), RiskState(RiskMode.REDUCE_ONLY, "b", 0.2, -1, 0.01)
    assert stricter(quoting, None) is quoting and stricter(quoting, sell_02) is sell_02 and stricter(paused, sell_02) is paused
    both = stricter(sell_02, sell_01)
    assert (both.mode, both.reduce_side, both.reduce_max_base, both.reason) == (RiskMode.REDUCE_ONLY, -1, 0.01, "a; b")
    assert stricter(sell_02, RiskState(RiskMode.REDUCE_ONLY, "c", 0.2, 1, 0.01)).mode is RiskMode.PAUSED


def test_the_summary_shows_each_asset_s_sum_every_market_s_part_and_the_limits():
    pf = book(max_asset_notional_quote={"BTC": 1_800.0}, total_drawdown_quote=10.0)
    evaluate(pf, NOON)
    s = pf.summary()
    btc = s["assets"]["BTC"]
    assert btc["position_base"] == pytest.approx(0.03) and btc["limit_base"] == pytest.approx(0.03)
    assert btc["markets"] == {"binance BTC/USDT": 0.02, "bybit BTC/USDT:USDT": 0.0, "okx BTC/USDT": 0.01}
    assert btc["reduce_only"] == "portfolio limit of BTC: 0.03 held across markets"
    assert s["assets"]["ETH"] == {"position_base": 1.0, "markets": {"okx ETH/USDT": 1.0}, "limit_base": None, "reduce_only": None}
    assert (s["pnl_quote"], s["loss_today_quote"], s["stopped"]) == (0.0, 0.0, None)


def test_a_concentrated_book_makes_its_concentrated_assets_reduce_only():
    """Capital 3 000: BTC's 0.03 x 60 000 = 1 800 is 60 %, ETH's 3 000 is 100 %: the score
    (0.36 + 1.0) x 1.5 is capped at 1 > 0.5, both above the 15 % share: both reduce-only, each
    on the side that sells; with capital 1 000 000 neither is."""
    pf = book(capital_quote=3_000.0, max_concentration=0.5)
    evaluate(pf, NOON)
    assert pf.concentration == 1.0
    assert "concentration 1.00 > 0.5 (BTC 60% of capital)" in pf.reducing["BTC"] and "ETH 100%" in pf.reducing["ETH"]
    state = pf.state("bybit BTC/USDT:USDT", 0.0)
    assert state is not None and state.mode is RiskMode.REDUCE_ONLY and state.reduce_side == -1
    pf = book(capital_quote=1_000_000.0, max_concentration=0.5)
    evaluate(pf, NOON)
    assert pf.concentration == pytest.approx((1_800 / 1e6) ** 2 + (3_000 / 1e6) ** 2) and not pf.reducing


def test_past_the_band_the_excess_over_the_target_is_hedged_on_the_market_with_the_best_price():
    """Target flat, capital 30 000, band 5 %: 1 500 / 60 000 = 0.025 BTC. The 0.03 held is past
    it: the book sells 0.03 on the market with the highest bid, and goes on down to half the
    band (0.0125), then stops."""
    pf = book(capital_quote=30_000.0, asset_target_fraction={"BTC": 0.0}, hedge="taker")
    for key, bid in (("binance BTC/USDT", 59_990.0), ("okx BTC/USDT", 60_005.0), ("bybit BTC/USDT:USDT", 59_999.0)):
        pf.parts[key].best_bid, pf.parts[key].best_ask = bid, bid + 10.0
    evaluate(pf, NOON)
    assert pf.rebalancing == {"BTC": pytest.approx(0.03)}
    assert [pf.hedge_for(k) for k in ("binance BTC/USDT", "okx BTC/USDT", "bybit BTC/USDT:USDT")] == [0.0, pytest.approx(0.03), 0.0]
    pf.parts["okx BTC/USDT"].position = -0.007  # 0.013 held together: within the band, not within half of it
    evaluate(pf, NOON)
    assert pf.rebalancing["BTC"] == pytest.approx(0.013)
    pf.parts["okx BTC/USDT"].position = -0.008
    evaluate(pf, NOON)
    assert pf.rebalancing == {} and pf.hedge_for("okx BTC/USDT") == 0.0
    pf.parts["binance BTC/USDT"].position = -0.03  # short 0.038 together: bought back on the lowest ask
    evaluate(pf, NOON)
    assert pf.rebalancing["BTC"] == pytest.approx(-0.038) and pf.hedge_for("binance BTC/USDT") == pytest.approx(-0.038)
    assert pf.slice_due("BTC", NOON) and not pf.slice_due("BTC", NOON + 4 * 10**9) and pf.slice_due("BTC", NOON + 5 * 10**9)


def test_allocation_settings_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="max_concentration need capital_quote"):
        PortfolioParams(max_concentration=0.3)
    with pytest.raises(ValueError, match="asset_target_fraction need capital_quote"):
        PortfolioParams(asset_target_fraction={"BTC": 0.0})
    with pytest.raises(ValueError, match="hedge 'passive' needs asset_target_fraction"):
        PortfolioParams(capital_quote=1.0, hedge="passive")
