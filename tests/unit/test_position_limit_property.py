"""Worst-case sizing: whatever fills, whenever (cancels arriving late included), the net
position never leaves the limit, no order is placed while the daily loss limit is hit, and
no slot ever holds two live orders. The real strategy,
order manager and risk manager run; only the market and the exchange's choices (which order
fills, how much, which cancel lands) are random: 10,000 sequences."""

from __future__ import annotations

from hypothesis import given, settings, target
from hypothesis import strategies as st

from ccxt_mm.book.features import BookFeatures
from ccxt_mm.config import AppConfig
from ccxt_mm.execution.orders import OrderManager, OrdersParams
from ccxt_mm.execution.types import CancelOrder, Fill, OrderAccepted, OrderCancelled, PlaceOrder
from ccxt_mm.quoting.risk import RiskManager
from ccxt_mm.quoting.strategy import MarketContext
from ccxt_mm.strategies import load_strategy

CONFIG = AppConfig.model_validate(
    {
        "risk": {"max_position_base": 0.01, "daily_loss_limit_quote": 2.0, "max_drawdown_quote": 1e9},
        "strategy": {"params": {"order_qty": 0.004, "levels": 3}},
    }
)
LIMIT = 0.01
SEC = 1_000_000_000

SHARES = (0.25, 0.5, 1.0)


def decode(x: int) -> tuple:
    """One step from one integer (cheaper for hypothesis to draw than nested tuples):
    the market moves by -30..30 ticks, an order is acknowledged, an order fills a share, or
    a cancel lands; which order is chosen among the live ones."""
    kind, arg = x % 4, x // 4
    if kind == 0:
        return ("tick", (arg % 601 - 300) / 10.0)
    if kind == 1:
        return ("ack", arg % 51)
    if kind == 2:
        return ("fill", arg % 51, SHARES[(arg // 51) % 3])
    return ("cancel_lands", arg % 51)


step = st.integers(0, 2**20).map(decode)


@settings(max_examples=10_000, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_limits_hold_and_slots_stay_single(steps):
    strategy = load_strategy(CONFIG)
    risk = RiskManager(CONFIG.risk, "BTC")
    om = OrderManager(OrdersParams(tolerance_bps=0.5, size_tolerance=0.1, max_age_secs=30.0), supports_amend=False, id_prefix="mmpx")
    live: dict[str, float] = {}  # on the exchange: client id → remaining
    sides: dict[str, int] = {}
    position, cash, mid, now, worst = 0.0, 0.0, 60_000.0, 0, 0.0
    for s in steps:
        now += SEC
        if s[0] == "tick":
            mid += s[1] * 0.01 * 100  # up to ±$30 a step: losses are reached
            f = BookFeatures(mid - 0.005, mid + 0.005, 1.0, 1.0, mid, mid, 0.0017, 0.0, 0.0, 5.0, 5.0, 1.0)
            pnl = cash + position * mid
            state = risk.evaluate(now, pnl, {"BTC": position}, {"BTC": position * mid}, 1e6)
            buy_room, sell_room = risk.order_room("BTC", position, *om.resting())
            ctx = MarketContext(now, f, position, buy_room, sell_room, state, 0.01, 0.00001)
            desired = strategy.on_book(ctx) if state.mode.value not in ("paused", "stopped") else []
            for a in om.reconcile(desired, now):
                if isinstance(a, PlaceOrder):
                    assert risk.day_start_pnl - pnl <= CONFIG.risk.daily_loss_limit_quote, "an order placed past the daily loss limit"
                    live[a.client_id], sides[a.client_id] = a.qty, a.side
                elif isinstance(a, CancelOrder):
                    pass  # the cancel is in flight; the exchange may still fill the order
            continue
        ids = sorted(live)
        if not ids:
            continue
        cid = ids[s[1] % len(ids)]
        if s[0] == "ack":
            om.on_event(OrderAccepted(cid, now))
        elif s[0] == "fill":
            qty = round(live[cid] * s[2], 8)
            live[cid] = round(live[cid] - qty, 8)
            position += sides[cid] * qty
            cash -= sides[cid] * qty * mid
            om.on_event(Fill(cid, now, sides[cid], mid, qty, 0.0, False, live[cid]))
            if live[cid] <= 0.0:
                del live[cid]
        elif s[0] == "cancel_lands" and om.by_id.get(cid) is not None and om.by_id[cid].status.value == "pending_cancel":
            del live[cid]
            om.on_event(OrderCancelled(cid, now))
        worst = max(worst, abs(position))
        assert abs(position) <= LIMIT + 1e-9, (position, s)
        # one live order per (side, level) slot, in flight ones included
        tracked = [om.by_id[c] for c in live if c in om.by_id]
        assert len({(o.side, o.level) for o in tracked}) == len(tracked), "two live orders in one slot"
        # the worst case the manager plans for covers everything the exchange still holds
        buy, sell = om.resting()
        assert buy + 1e-9 >= sum(q for c, q in live.items() if sides[c] > 0 and c in om.by_id)
        assert sell + 1e-9 >= sum(q for c, q in live.items() if sides[c] < 0 and c in om.by_id)
    target(worst)  # steer the search toward the limit
