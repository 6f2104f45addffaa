"""The envelope's rules one at a time, with numbers, and as properties over any input."""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.config import AppConfig
from ccxt_mm.engine.envelope import Envelope
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.orders import OrderManager, OrdersParams
from ccxt_mm.execution.types import OrderAccepted
from ccxt_mm.quoting.risk import RiskManager, RiskMode, RiskState
from ccxt_mm.quoting.types import BUY, SELL, Quote

TICK, LOT = 0.01, 0.00001
BID, ASK = 61_800.00, 61_800.05  # best bid and ask
SEC = 1_000_000_000


def envelope(min_order_base: float = 0.0, min_notional_quote: float = 0.0, post_only_cross: str = "passive") -> Envelope:
    market = MarketParams(tick_size=TICK, lot_size=LOT, min_order_base=min_order_base, min_notional_quote=min_notional_quote)
    return Envelope(market, OrdersParams(max_levels=3, max_distance_bps=100.0, post_only_cross=post_only_cross))


def orders(amend: bool = False) -> OrderManager:
    return OrderManager(OrdersParams(tolerance_bps=2.0, size_tolerance=0.1, max_age_secs=60.0), supports_amend=amend, id_prefix="t")


def admit(env: Envelope, quotes: list, mode=RiskMode.QUOTING, position=0.0, room=(1.0, 1.0), om=None, now=SEC) -> list[Quote]:
    """``position``: what a position limit would have reduce-only reduce (0: nothing)."""
    side = SELL if position > 0 else BUY if position < 0 else 0
    risk = RiskState(mode, "", 0.0, side, abs(position))
    return env.admit(quotes, risk, BID, ASK, room[0], room[1], om or orders(), now)


def as_tuples(quotes: list[Quote]) -> list[tuple]:
    return [(q.side, q.level, q.price, q.qty) for q in quotes]


def test_prices_are_rounded_away_from_the_touch():
    env = envelope()
    out = admit(env, [Quote(BUY, 0, 61_799.987, 0.001), Quote(SELL, 0, 61_800.061, 0.001)])
    assert as_tuples(out) == [(BUY, 0, 61_799.98, 0.001), (SELL, 0, 61_800.07, 0.001)]
    assert env.clipped == {"tick": 2} and env.dropped == {}


def test_a_crossing_post_only_price_moves_behind_the_opposite_best_or_is_dropped():
    passive = envelope()
    out = admit(passive, [Quote(BUY, 0, 61_900.0, 0.001), Quote(SELL, 0, BID, 0.001)])
    assert as_tuples(out) == [(BUY, 0, 61_800.04, 0.001), (SELL, 0, 61_800.01, 0.001)]
    assert passive.clipped == {"crossing": 2}
    strict = envelope(post_only_cross="drop")
    assert admit(strict, [Quote(BUY, 0, ASK, 0.001), Quote(SELL, 0, 61_799.0, 0.001)]) == []
    assert strict.dropped == {"crossing": 2}


def test_sizes_go_down_to_the_lot_and_share_the_room_level_zero_first():
    env = envelope()
    quotes = [Quote(BUY, 1, 61_799.0, 0.004), Quote(BUY, 0, 61_799.5, 0.0041234567)]
    out = admit(env, quotes, room=(0.005, 1.0))
    assert as_tuples(out) == [(BUY, 0, 61_799.5, 0.00412), (BUY, 1, 61_799.0, 0.00088)]
    assert env.clipped == {"lot": 1, "room": 1}
    assert admit(env, [Quote(BUY, 0, 61_799.5, 0.001)], room=(0.000004, 1.0)) == []
    assert env.dropped == {"no_room": 1}


def test_an_order_the_manager_keeps_uses_no_room_and_an_amend_uses_its_new_size():
    om = orders(amend=True)
    om.reconcile([Quote(BUY, 0, 61_799.0, 0.004)], SEC)
    om.on_event(OrderAccepted(next(iter(om.by_id)), SEC))
    env = envelope()
    # the resting 0.004 already fills the room: the same quote is kept, a new level is not
    kept = admit(env, [Quote(BUY, 0, 61_799.0, 0.004), Quote(BUY, 1, 61_798.0, 0.001)], room=(0.0, 1.0), om=om)
    assert as_tuples(kept) == [(BUY, 0, 61_799.0, 0.004)] and env.dropped == {"no_room": 1}
    assert om.reconcile(kept, 2 * SEC) == []
    # moved 20 bps: until the amend is answered the old order and the new size both count
    # (a cancel-replace), so 0.005 of room allows a new size of 0.005
    amended = admit(env, [Quote(BUY, 0, 61_676.0, 0.008)], room=(0.005, 1.0), om=om)
    assert as_tuples(amended) == [(BUY, 0, 61_676.0, 0.005)]


def test_reduce_only_lets_through_only_the_reducing_side_and_no_more_than_the_position():
    env = envelope()
    both = [Quote(BUY, 0, 61_799.0, 0.004), Quote(SELL, 0, 61_801.0, 0.004)]
    assert as_tuples(admit(env, both, RiskMode.REDUCE_ONLY, position=0.003)) == [(SELL, 0, 61_801.0, 0.003)]
    assert as_tuples(admit(env, both, RiskMode.REDUCE_ONLY, position=-0.01)) == [(BUY, 0, 61_799.0, 0.004)]
    assert admit(env, both, RiskMode.REDUCE_ONLY, position=0.0) == []  # flat: nothing reduces
    assert env.dropped == {"reduce_only": 4}


def test_at_the_exposure_limit_reduce_only_sells_holdings_even_when_flat():
    """The risk manager names the reducing side: holdings of 1 BTC (61,800 USDT of 300,000
    equity) over a 50,000 USDT exposure limit with no position traded: sells reduce."""
    state = RiskManager(AppConfig().risk, "BTC").evaluate(SEC, 0.0, {"BTC": 0.0}, {"BTC": 61_800.0}, 300_000.0)
    assert (state.mode, state.reduce_side, state.reduce_max_base) == (RiskMode.REDUCE_ONLY, SELL, math.inf)
    env = envelope()
    both = [Quote(BUY, 0, 61_799.0, 0.004), Quote(SELL, 0, 61_801.0, 0.004)]
    out = env.admit(both, state, BID, ASK, 1.0, 1.0, orders(), SEC)
    assert as_tuples(out) == [(SELL, 0, 61_801.0, 0.004)] and env.dropped == {"reduce_only": 1}


def test_nothing_passes_while_paused_or_stopped():
    env = envelope()
    quote = [Quote(BUY, 0, 61_799.0, 0.001)]
    assert admit(env, quote, RiskMode.PAUSED) == [] and admit(env, quote, RiskMode.STOPPED) == []
    assert env.dropped == {"risk_mode": 2}


def test_malformed_quotes_are_dropped_each_for_its_reason():
    env = envelope()
    good = Quote(BUY, 0, 61_799.0, 0.001)
    junk = [
        None,
        (BUY, 0, 61_799.0, 0.001),
        Quote(0, 0, 61_799.0, 0.001),
        Quote(BUY, -1, 61_799.0, 0.001),
        Quote(BUY, 3, 61_799.0, 0.001),  # max_levels 3: levels 0..2
        Quote(BUY, 1, math.nan, 0.001),
        Quote(BUY, 1, -5.0, 0.001),
        Quote(SELL, 1, 61_801.0, math.inf),
        Quote(SELL, 1, 61_801.0, 0.0),
        good,
        Quote(BUY, 0, 61_798.0, 0.002),  # the same slot again
        Quote(SELL, 2, 55_000.0, 0.001),  # 1100 bps away: a fat finger
    ]
    assert admit(env, junk) == [good]
    assert env.dropped == {
        "not_a_quote": 2,
        "bad_side": 1,
        "bad_level": 2,
        "bad_price": 2,
        "bad_size": 2,
        "duplicate_slot": 1,
        "far_from_mid": 1,
    }


def test_under_the_exchange_minimum_is_dropped():
    env = envelope(min_notional_quote=5.0, min_order_base=0.0001)
    quotes = [Quote(BUY, 0, 61_799.0, 0.00008), Quote(SELL, 0, 61_801.0, 0.0001)]
    assert as_tuples(admit(env, quotes)) == [(SELL, 0, 61_801.0, 0.0001)]
    assert admit(env, [Quote(SELL, 0, 61_801.0, 0.0002)], room=(1.0, 0.00005)) == []  # clipped under it
    assert env.dropped == {"below_minimum": 2}


def test_a_swap_s_reduce_only_quote_is_held_to_the_minimum_size_but_not_the_minimum_notional():
    """Binance USDⓈ-M ETHUSDT (5 USDT minimum notional, 0.001 ETH lot): a 0.001 ETH long
    (~2.7 USDT) is closed by a reduce-only ask the minimum notional would refuse, as Binance
    takes it; quoting normally, the same ask is dropped, and on spot it is dropped either way."""
    swap = MarketParams(symbol="ETH/USDT:USDT", contract_size=1.0, tick_size=0.01, lot_size=0.001, min_notional_quote=5.0)
    spot = MarketParams(symbol="ETH/USDT", tick_size=0.01, lot_size=0.001, min_notional_quote=5.0)
    params = OrdersParams(max_levels=1, max_distance_bps=100.0)
    mid, ask = 2_700.0, Quote(SELL, 0, 2_700.5, 0.001)

    def admitted(market: MarketParams, mode: RiskMode) -> tuple[list[tuple], dict]:
        env = Envelope(market, params)
        risk = RiskState(mode, "", 0.0, SELL, 0.001)
        return as_tuples(env.admit([ask], risk, mid - 0.01, mid + 0.01, 1.0, 1.0, orders(), SEC)), env.dropped

    assert admitted(swap, RiskMode.REDUCE_ONLY) == ([(SELL, 0, 2_700.5, 0.001)], {})
    assert admitted(swap, RiskMode.QUOTING) == ([], {"below_minimum": 1})
    assert admitted(spot, RiskMode.REDUCE_ONLY) == ([], {"below_minimum": 1})
    below_size = Envelope(dataclasses.replace(swap, min_order_base=0.002), params)
    assert below_size.taker_qty(0.001, 1.0, mid) == 0.0 and below_size.dropped == {"below_minimum": 1}
    assert Envelope(swap, params).taker_qty(0.001, 1.0, mid) == 0.001  # an active reduce-only slice, too


def test_taker_slices_stay_within_the_room_and_the_minimums():
    env = envelope(min_notional_quote=5.0)
    assert env.taker_qty(0.0123456, 1.0, BID) == 0.01234
    assert env.taker_qty(0.01, 0.0061, BID) == 0.0061 and env.clipped == {"room": 1}
    assert env.taker_qty(0.01, 0.00005, BID) == 0.0 and env.dropped == {"below_minimum": 1}


number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(61_000, 62_600), st.floats(0, 0.05))
quote = st.builds(Quote, st.sampled_from([BUY, SELL, 0, 2]), st.integers(-1, 4), number, number)


@settings(max_examples=2_000, deadline=None)
@given(
    st.lists(quote, max_size=10),
    st.sampled_from(list(RiskMode)),
    st.floats(-0.05, 0.05),
    st.floats(0, 0.03),
    st.floats(0, 0.03),
    st.sampled_from(["passive", "drop"]),
)
def test_whatever_is_asked_what_passes_fits_every_rule(quotes, mode, position, room_buy, room_sell, post_only_cross):
    env = envelope(min_notional_quote=1.0, post_only_cross=post_only_cross)
    out = admit(env, quotes, mode, position, (room_buy, room_sell))
    assert len({(q.side, q.level) for q in out}) == len(out)
    for side, room in ((BUY, room_buy), (SELL, room_sell)):
        mine = [q for q in out if q.side == side]
        assert sum(q.qty for q in mine) <= room + 1e-12
        if mode is RiskMode.REDUCE_ONLY and mine:
            assert position * side < 0 and sum(q.qty for q in mine) <= abs(position) + 1e-12
    if mode in (RiskMode.PAUSED, RiskMode.STOPPED):
        assert out == []
    for q in out:
        assert 0 <= q.level < 3 and q.qty >= LOT and q.qty * q.price >= 1.0
        assert abs(q.price / TICK - round(q.price / TICK)) < 1e-6 and abs(q.qty / LOT - round(q.qty / LOT)) < 1e-6
        assert q.price < ASK if q.side == BUY else q.price > BID
        assert abs(q.price - 0.5 * (BID + ASK)) <= 0.5 * (BID + ASK) * 0.01
    assert sum(env.dropped.values()) + len(out) == len(quotes)
