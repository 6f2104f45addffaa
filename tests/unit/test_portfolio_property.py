"""Three markets of one asset share a portfolio: whatever fills where, whenever (cancels
arriving late included), the position summed over the markets never leaves the portfolio's
limit, nor does the sum of each position and the buys its exchange still holds; and a fill on
one market moves the others' quotes at their next update. The real quoting core (strategy,
envelope, order manager, risk) runs for each market; only the markets and the exchanges'
choices (which order fills, how much, which cancel lands) are random."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from ccxt_mm.book.levels import book_levels
from ccxt_mm.config import AppConfig
from ccxt_mm.engine.core import QuotingCore
from ccxt_mm.execution.types import Action, CancelOrder, Fill, OrderAccepted, OrderCancelled, PlaceOrder, VenueEvent
from ccxt_mm.quoting.portfolio import Portfolio, PortfolioParams
from ccxt_mm.quoting.risk import RiskMode, RiskState
from ccxt_mm.quoting.types import BUY
from ccxt_mm.strategies import load_strategy

LIMIT = 0.01
"""BTC across the three markets; each market's own limit (1 BTC) never binds."""
CONFIG = AppConfig.model_validate(
    {
        "risk": {"max_position_base": 1.0, "daily_loss_limit_quote": 1e9, "max_drawdown_quote": 1e9, "inventory_risk_pause": 1.0},
        "portfolio": {"max_asset_base": {"BTC": LIMIT}},
        "strategy": {"params": {"order_qty": 0.004, "levels": 3, "uncalibrated_widen": 1.0}},
    }
)
KEYS = ("binance BTC/USDT", "okx BTC/USDT", "bybit BTC/USDT")
SEC = 1_000_000_000


class Exchange:
    """One market's exchange as the test drives it: it holds every order sent until the test
    acknowledges, fills or cancels it."""

    supports_amend = False

    def __init__(self) -> None:
        self.events: list[VenueEvent] = []
        self.orders: dict[str, list] = {}
        """Client id → [side, remaining base units]."""
        self.cancelling: set[str] = set()

    def submit(self, action: Action, now_ns: int) -> None:
        if isinstance(action, PlaceOrder):
            self.orders[action.client_id] = [action.side, action.qty]
        elif isinstance(action, CancelOrder):
            self.cancelling.add(action.client_id)

    def drain_events(self) -> list[VenueEvent]:
        events, self.events = self.events, []
        return events

    def held_buys(self) -> float:
        return sum(q for side, q in self.orders.values() if side == BUY)


def markets(config: AppConfig = CONFIG) -> tuple[Portfolio, list[QuotingCore], list[Exchange]]:
    portfolio = Portfolio(config.portfolio)
    exchanges = [Exchange() for _ in KEYS]
    cores = [QuotingCore(config, load_strategy(config), ex, f"p{i}", 0.5, 1e6) for i, ex in enumerate(exchanges)]
    for core, key in zip(cores, KEYS, strict=True):
        core.join(portfolio, key)
    return portfolio, cores, exchanges


def quote(core: QuotingCore, now: int, mid: float) -> None:
    core.on_levels(now, book_levels([[mid - 0.005, 1.0]], [[mid + 0.005, 1.0]]))


def decode(x: int) -> tuple:
    """One step from one integer: which market, then its book moves by -30..30 dollars, or
    its exchange acknowledges an order, fills a share of one, or lands a cancel."""
    market, x = x % 3, x // 3
    kind, arg = x % 4, x // 4
    if kind == 0:
        return (market, "tick", (arg % 601 - 300) / 10.0)
    if kind == 1:
        return (market, "ack", arg % 51)
    if kind == 2:
        return (market, "fill", arg % 51, (0.25, 0.5, 1.0)[(arg // 51) % 3])
    return (market, "cancel_lands", arg % 51)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 2**22).map(decode), min_size=1, max_size=40))
def test_the_sum_over_markets_never_leaves_the_portfolio_limit(steps):
    portfolio, cores, exchanges = markets()
    mids, now, worst = [60_000.0, 60_010.0, 59_990.0], 0, 0.0
    for m, kind, *args in steps:
        now += SEC
        core, ex = cores[m], exchanges[m]
        if kind == "tick":
            mids[m] += args[0]
            quote(core, now, mids[m])
        elif ex.orders:
            cid = sorted(ex.orders)[args[0] % len(ex.orders)]
            side, remaining = ex.orders[cid]
            if kind == "ack":
                ex.events.append(OrderAccepted(cid, now))
            elif kind == "fill":
                qty = round(remaining * args[1], 8)
                ex.orders[cid][1] = left = round(remaining - qty, 8)
                ex.events.append(Fill(cid, now, side, mids[m], qty, 0.0, False, left))
                if left <= 0.0:
                    del ex.orders[cid]
            elif cid in ex.cancelling:
                del ex.orders[cid]
                ex.events.append(OrderCancelled(cid, now))
            core.drain(now)
        held = sum(c.inventory.position for c in cores)
        assert abs(held - portfolio.position("BTC")) < 1e-12
        assert held <= LIMIT + 1e-9 and -held <= LIMIT + 1e-9, (held, m, kind)
        # the worst case: every buy the exchanges still hold fills too
        assert held + sum(e.held_buys() for e in exchanges) <= LIMIT + 1e-9
        worst = max(worst, abs(held))
    target(worst)  # steer the search toward the limit


def test_a_fill_on_one_market_moves_the_others_quotes_at_their_next_update():
    """okx's bid is filled 0.004 BTC: binance and bybit, unchanged books, quote lower at their
    next update (their inventory term counts okx's long); with ``skew: local`` they do not."""

    def bids_after_a_fill_on_okx(skew: str) -> tuple[list[float], list[float]]:
        _, cores, exchanges = markets(CONFIG.model_copy(update={"portfolio": PortfolioParams(skew=skew)}))
        for core in cores:
            quote(core, SEC, 60_000.0)
        before = [core.quotes[0] for core in cores]
        okx = exchanges[1]
        cid = next(c for c, (side, _) in okx.orders.items() if side == BUY)
        okx.events.append(Fill(cid, 2 * SEC, BUY, 60_000.0, 0.004, 0.0, False, 0.0))
        cores[1].drain(2 * SEC)
        for core in cores:
            quote(core, 3 * SEC, 60_000.0)
        return before, [core.quotes[0] for core in cores]

    before, after = bids_after_a_fill_on_okx("portfolio")
    assert not any(math.isnan(b) for b in before)
    assert after[0] < before[0] and after[2] < before[2] and after[1] < before[1]
    before, after = bids_after_a_fill_on_okx("local")
    assert after[0] == before[0] and after[2] == before[2] and after[1] < before[1]


def test_past_the_band_the_market_with_the_best_bid_takes_a_slice_and_skews_its_asks():
    """Target flat, capital 6 000, band 5 %: 0.005 BTC at 60 000. okx's bids fill 0.008 BTC:
    at their next update, binance, whose bid is the highest, takes a quarter of the excess
    (0.002 BTC, its cost 5 bps of fee within the 10 bps cap) with the hedge in the order log,
    and only once within the interval; its asks, skewed by ten times the excess, move and are
    logged as hedging; okx and bybit take
    nothing. ``passive`` only skews: binance's ask is lower than with ``none``. A fee over the
    cap takes nothing."""

    def run(hedge: str, fee_bps: float = 5.0) -> list[QuotingCore]:
        targets = {"BTC": 0.0}
        params = PortfolioParams(capital_quote=6_000.0, asset_target_fraction=targets, hedge=hedge, hedge_fee_bps=fee_bps, hedge_skew=10.0)
        _, cores, exchanges = markets(CONFIG.model_copy(update={"portfolio": params}))
        for core, mid in zip(cores, (60_010.0, 60_000.0, 60_000.0), strict=True):
            quote(core, SEC, mid)
        okx = exchanges[1]
        for cid in [c for c, (side, _) in okx.orders.items() if side == BUY][:2]:
            okx.events.append(Fill(cid, 2 * SEC, BUY, 60_000.0, 0.004, 0.0, False, 0.0))
        for core, ex in zip(cores, exchanges, strict=True):
            ex.events += [OrderAccepted(cid, 2 * SEC) for cid in ex.orders]
            core.drain(2 * SEC)
        for now in (3 * SEC, 4 * SEC):
            for core, ex, mid in zip(cores, exchanges, (60_010.0, 60_000.0, 60_000.0), strict=True):
                ex.events += [OrderCancelled(cid, now) for cid in ex.cancelling]  # the requotes' cancels land
                ex.cancelling.clear()
                core.drain(now)
                quote(core, now, mid)
        return cores

    cores = run("taker")
    takes = [[row for row in core.order_rows if row[1] == "take"] for core in cores]
    assert [len(t) for t in takes] == [1, 0, 0], takes
    _, _, _, side, _, qty, reason = takes[0][0]
    assert side == -1 and qty == pytest.approx(0.002) and reason.startswith("portfolio hedge: BTC +0.008 from target")
    places = [row for row in cores[0].order_rows if row[1] == "place" and row[0] >= 3 * SEC and row[3] == -1]
    assert places and all("(portfolio hedge: BTC +0.008 from target)" in row[6] for row in places)
    assert all("portfolio hedge" not in row[6] for core in cores[1:] for row in core.order_rows)
    assert run("passive")[0].quotes[1] < run("none")[0].quotes[1]
    assert not [row for core in run("passive") for row in core.order_rows if row[1] == "take"]
    assert not [row for core in run("taker", fee_bps=20.0) for row in core.order_rows if row[1] == "take"]


def test_a_hedge_slice_in_reduce_only_goes_only_the_reducing_way_and_no_further():
    """Past the band with binance reduce-only: reducing by buying, the hedge (a sell) takes
    nothing; reducing by selling at most 0.001 BTC, the slice is cut to that."""
    targets = {"BTC": 0.0}
    params = PortfolioParams(capital_quote=6_000.0, asset_target_fraction=targets, hedge="taker", hedge_slice_fraction=1.0)
    pf, cores, _ = markets(CONFIG.model_copy(update={"portfolio": params}))
    for core, mid in zip(cores, (60_010.0, 60_000.0, 60_000.0), strict=True):
        quote(core, SEC, mid)
    pf.parts[KEYS[1]].position = 0.008  # okx's long, as its part says
    pf.evaluate(2 * SEC, "BTC")
    binance = cores[0]
    binance.hedge_excess = pf.hedge_for(KEYS[0])
    feats = binance.features
    sent: list[Action] = []
    binance._hedge_slice(3 * SEC, feats, RiskState(RiskMode.REDUCE_ONLY, "position limit", 0.0, BUY, 1.0), sent)  # no slot taken
    assert binance.hedge_excess == pytest.approx(0.008) and sent == []
    binance._hedge_slice(3 * SEC, feats, RiskState(RiskMode.REDUCE_ONLY, "position limit", 0.0, -1, 0.001), sent)
    assert [(a.side, a.qty) for a in sent] == [(-1, pytest.approx(0.001))]
