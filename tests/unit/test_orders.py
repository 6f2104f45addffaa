"""Order manager: diffing, tolerance, in-flight tracking, and a property test of slots."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccxt_mm.execution.orders import OrderManager, OrdersParams, OrderStatus
from ccxt_mm.execution.types import (
    AmendAccepted,
    AmendOrder,
    CancelOrder,
    CancelRejected,
    Fill,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    PlaceOrder,
)
from ccxt_mm.quoting.types import BUY, SELL, Quote

SEC = 1_000_000_000
PARAMS = OrdersParams(tolerance_bps=2.0, size_tolerance=0.5, max_age_secs=60.0)
PREFIX = "mmab12x"


def quotes(bid: float, ask: float, qty: float = 1.0) -> list[Quote]:
    return [Quote(BUY, 0, bid, qty), Quote(SELL, 0, ask, qty)]


def test_places_then_waits_for_acks_then_keeps_orders_within_tolerance():
    om = OrderManager(PARAMS, supports_amend=False, id_prefix=PREFIX)
    first = om.reconcile(quotes(100.0, 101.0), 0)
    assert [type(a) for a in first] == [PlaceOrder, PlaceOrder]
    assert {a.client_id for a in first} == {"mmab12x1", "mmab12x2"}
    # unanswered: nothing new for the same slots even if prices move
    assert om.reconcile(quotes(99.0, 100.0), SEC) == []
    for a in first:
        om.on_event(OrderAccepted(a.client_id, SEC))
    # 100.01 is 1 bp away: within tolerance
    assert om.reconcile(quotes(100.01, 101.0), 2 * SEC) == []
    # 3 bps away: cancel; the replacement waits for the cancel ack
    actions = om.reconcile(quotes(100.03, 101.0), 3 * SEC)
    assert actions == [CancelOrder("mmab12x1", "requote: price moved")]
    assert om.reconcile(quotes(100.03, 101.0), 3 * SEC) == []
    om.on_event(OrderCancelled("mmab12x1", 4 * SEC))
    (place,) = om.reconcile(quotes(100.03, 101.0), 4 * SEC)
    assert (place.side, place.price) == (BUY, 100.03)


def test_amend_where_supported_and_max_age_replaces():
    om = OrderManager(PARAMS, supports_amend=True, id_prefix=PREFIX)
    for a in om.reconcile(quotes(100.0, 101.0), 0):
        om.on_event(OrderAccepted(a.client_id, 0))
    (amend,) = om.reconcile(quotes(99.9, 101.0), SEC)
    assert amend == AmendOrder("mmab12x1", 99.9, 1.0, "requote: price moved")
    # the bid amending counts old and new (binance's amend is a cancel-replace: the old order
    # may fill before the new one rests), and the ask
    assert om.resting() == (2.0, 1.0)
    om.on_event(AmendAccepted("mmab12x1", 2 * SEC, 99.9, 1.0))
    assert om.slots[(BUY, 0)].price == 99.9
    # older than 60 s: cancel and place fresh rather than amend
    actions = om.reconcile(quotes(99.9, 101.0), 70 * SEC)
    assert CancelOrder("mmab12x2", "requote: order aged") in actions


def test_partial_fill_then_fill_of_a_cancelling_order_counts_a_late_cancel():
    om = OrderManager(PARAMS, supports_amend=False, id_prefix=PREFIX)
    (bid,) = om.reconcile([Quote(BUY, 0, 100.0, 1.0)], 0)
    om.on_event(OrderAccepted(bid.client_id, 0))
    om.on_event(Fill(bid.client_id, SEC, BUY, 100.0, 0.4, 0.0, False, 0.6))
    assert om.resting() == (0.6, 0.0)
    assert om.reconcile([], 2 * SEC) == [CancelOrder(bid.client_id, "unquoted")]
    om.on_event(Fill(bid.client_id, 2 * SEC, BUY, 100.0, 0.6, 0.0, False, 0.0))
    om.on_event(CancelRejected(bid.client_id, 3 * SEC, "filled"))
    assert om.stats.late_cancels == 1 and om.slots == {} and om.by_id == {}


def test_post_only_reject_frees_the_slot_and_is_counted():
    om = OrderManager(PARAMS, supports_amend=False, id_prefix=PREFIX)
    (bid,) = om.reconcile([Quote(BUY, 0, 100.0, 1.0)], 0)
    om.on_event(OrderRejected(bid.client_id, SEC, "would take", post_only=True))
    assert om.stats.post_only_rejects == 1
    (again,) = om.reconcile([Quote(BUY, 0, 99.99, 1.0)], SEC)
    assert again.client_id != bid.client_id


event_kind = st.sampled_from(["accept", "reject", "cancelled", "cancel_rejected", "partial", "fill"])
step = st.one_of(
    st.tuples(st.just("quote"), st.floats(95, 105), st.floats(0.1, 2.0), st.integers(1, 3)),
    st.tuples(st.just("event"), event_kind, st.integers(0, 40)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(step, min_size=1, max_size=80))
def test_never_two_live_orders_for_one_slot(steps):
    """Random quotes and venue answers (in any order, late or duplicated): at every point
    each slot has at most one order the venue might still hold."""
    om = OrderManager(PARAMS, supports_amend=True, id_prefix=PREFIX)
    live: dict[str, tuple[int, int]] = {}  # client id → slot, as the venue may still hold it
    sent: list[str] = []
    now = 0
    for s in steps:
        now += SEC
        if s[0] == "quote":
            _, mid, qty, levels = s
            want = [Quote(BUY, lv, round(mid - 0.5 - lv * 0.1, 2), qty) for lv in range(levels)]
            want += [Quote(SELL, lv, round(mid + 0.5 + lv * 0.1, 2), qty) for lv in range(levels)]
            for a in om.reconcile(want, now):
                if isinstance(a, PlaceOrder):
                    order = om.by_id[a.client_id]
                    live[a.client_id] = (order.side, order.level)
                    sent.append(a.client_id)
        else:
            _, kind, pick = s
            if not sent:
                continue
            cid = sent[pick % len(sent)]
            order = om.by_id.get(cid)
            remaining = order.qty if order else 0.0
            ev = {
                "accept": OrderAccepted(cid, now),
                "reject": OrderRejected(cid, now, "x", post_only=True),
                "cancelled": OrderCancelled(cid, now),
                "cancel_rejected": CancelRejected(cid, now, "gone"),
                "partial": Fill(cid, now, BUY, 100.0, remaining / 2, 0.0, False, remaining / 2),
                "fill": Fill(cid, now, BUY, 100.0, remaining, 0.0, False, 0.0),
            }[kind]
            amend_rejected = kind == "reject" and order is not None and order.status is OrderStatus.PENDING_AMEND
            if order is not None and kind in ("reject", "cancelled", "cancel_rejected", "fill") and not amend_rejected:
                live.pop(cid, None)
            om.on_event(ev)
        per_slot: dict[tuple[int, int], int] = {}
        for slot in live.values():
            per_slot[slot] = per_slot.get(slot, 0) + 1
        assert all(n == 1 for n in per_slot.values()), per_slot
        assert set(om.by_id) == set(live)


def test_a_taker_order_counts_as_resting_until_it_fills_is_refused_or_settles():
    """A hedge or reduce slice sent: what it may still fill counts in the rooms (as a resting
    order would) until its fills come, a refusal, or 5 s (a market order's rest expires
    unheard of)."""
    om = OrderManager(PARAMS, supports_amend=False, id_prefix=PREFIX)
    om.take_sent("t1", BUY, 0.3, 0)
    om.take_sent("t2", SELL, 0.2, 0)
    assert om.resting() == (0.3, 0.2)
    om.on_event(Fill("t1", 1, BUY, 100.0, 0.1, 0.0, True, 0.0))  # a walk of the book reports each level's fill
    assert om.resting() == pytest.approx((0.2, 0.2))
    om.on_event(Fill("t1", 1, BUY, 100.1, 0.2, 0.0, True, 0.0))
    om.on_event(OrderRejected("t2", 1, "insufficient balance"))
    assert om.resting() == (0.0, 0.0) and not om.takes
    om.take_sent("t3", BUY, 0.5, 0)
    om.reconcile([], 5 * 10**9)
    assert om.resting() == (0.5, 0.0)
    om.reconcile([], 5 * 10**9 + 1)
    assert om.resting() == (0.0, 0.0)
