"""Every fault on each of binance, okx and bybit while the engine quotes two symbols on each:
afterwards the engine's open orders equal the exchange's, the ledger equals the exchange's
fills (fees included), no position limit was ever exceeded (resting orders counted), the
markets the fault did not touch kept quoting, and the touched ones quote again. The
websocket faults run with books and fills over websockets, and also check that every book
the engine holds is the exchange's once the market is quiet."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from ccxt_mm_testkit.emulator import faults

from tests.integration.faults.rig import FAULT_SECS, LIMIT, Outcome, Venue, expected_ledger, run

CREATE = {"binance": "POST /api/v3/order", "okx": "/api/v5/trade/batch-orders", "bybit": "/v5/order/create"}
CANCEL = {"binance": "DELETE /api/v3/order", "okx": "/api/v5/trade/cancel-order", "bybit": "/v5/order/cancel"}
FILLS = {"binance": "/api/v3/myTrades", "okx": "/api/v5/trade/fills", "bybit": "/v5/execution/list"}
BOOKS = {"binance": "/api/v3/depth", "okx": "/api/v5/market/books", "bybit": "/v5/market/orderbook"}


def hook(make: Callable[[Venue], faults.Fault]) -> Callable[[Venue], Callable[[], None]]:
    """A fault installed as the emulator's request hook, removed when cleared."""

    def apply(v: Venue) -> Callable[[], None]:
        v.server.fault = make(v)
        return lambda: setattr(v.server, "fault", None)

    return apply


def post_only_crosses(v: Venue) -> Callable[[], None]:
    v.ex.post_only_crosses = True
    return lambda: setattr(v.ex, "post_only_crosses", False)


def clock_skew(v: Venue) -> Callable[[], None]:
    """The exchange's clock runs a minute ahead of ours: signed requests fall outside the
    receive window (binance -1021, okx 50102, bybit 10002)."""
    v.ex.clock_ms = lambda: int(time.time() * 1000) + 60_000
    return lambda: setattr(v.ex, "clock_ms", lambda: int(time.time() * 1000))


def broke(v: Venue) -> Callable[[], None]:
    """Most of the account is moved away (a withdrawal elsewhere): creates fail for balance."""
    held = {asset: amount * Decimal("0.9999") for asset, amount in v.ex.balances.items()}
    for asset, amount in held.items():
        v.ex.balances[asset] -= amount

    def back() -> None:
        for asset, amount in held.items():
            v.ex.balances[asset] += amount

    return back


FAULTS: dict[str, Callable[[Venue], Callable[[], None]]] = {
    "429_retry_after": hook(lambda v: faults.status(429, "Too many requests", retry_after=1)),
    "418_ip_ban": hook(lambda v: faults.status(418, "IP banned", retry_after=1)),
    "5xx": hook(lambda v: faults.status(502, "Bad Gateway")),
    "hang_past_timeout": hook(lambda v: faults.hang(5.0)),
    "connection_reset": hook(lambda v: faults.reset()),
    "create_reply_lost": hook(lambda v: faults.lose_reply((CREATE[v.env.name],))),
    "late_ack": hook(lambda v: faults.late_reply(0.8, (CREATE[v.env.name], CANCEL[v.env.name]))),
    "duplicated_fills": hook(lambda v: faults.duplicate_items((FILLS[v.env.name],))),
    "post_only_reject": post_only_crosses,
    "cancel_of_filled_order": hook(lambda v: faults.fill_first(v.ex, (CANCEL[v.env.name],))),
    "timestamp_outside_recv_window": clock_skew,
    "insufficient_balance": broke,
    "maintenance_503": hook(lambda v: faults.status(503, "System maintenance")),
    "stale_book": hook(lambda v: faults.hang(5.0, (BOOKS[v.env.name],))),
}


def websocket_disconnect(v: Venue) -> Callable[[], None]:
    """Every websocket of the exchange is cut, and new ones are refused until the fault
    clears (REST keeps working: the feeds fall back to polling it). The emulator's websockets
    are under their hosts' first labels: ``/stream`` (binance, bybit), ``/ws`` and ``/ws-api``."""
    v.server.drop_websockets()
    v.server.fault = faults.status(503, "Service Unavailable", paths=("/stream", "/ws"))
    return lambda: setattr(v.server, "fault", None)


def sequence_gap(v: Venue) -> Callable[[], None]:
    """Every 7th book diff of each market is lost on the way (binance ``U`` ≠ last ``u`` + 1,
    okx ``prevSeqId`` ≠ last ``seqId``, bybit ``u`` ≠ last ``u`` + 1)."""
    v.book_stream.drop_every = 7
    return lambda: setattr(v.book_stream, "drop_every", 0)


WS_FAULTS: dict[str, Callable[[Venue], Callable[[], None]]] = {
    "websocket_disconnect": websocket_disconnect,
    "order_book_sequence_gap": sequence_gap,
}
EXCHANGES = ["binance", "okx", "bybit"]


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_keeps_every_invariant(fault, exchange):
    check_invariants(run(exchange, FAULTS[fault]))


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_long_maintenance_is_waited_out_without_hammering(exchange):
    """503 for 5 s (a maintenance window, compressed): every invariant holds, and the engine
    backs off: the exchange sees far fewer requests than while it was up."""
    out = run(exchange, FAULTS["maintenance_503"], fault_secs=5.0)
    check_invariants(out)
    up, down = out.request_rates
    assert down < up / 3, f"{exchange}: {down:.0f} requests/s during maintenance, {up:.0f} before"


@pytest.mark.parametrize("exchange", EXCHANGES)
@pytest.mark.parametrize("fault", list(WS_FAULTS))
def test_websocket_fault_keeps_every_invariant(fault, exchange):
    out = run(exchange, WS_FAULTS[fault], websocket=True, fault_secs=2.5 if fault == "websocket_disconnect" else FAULT_SECS)
    check_invariants(out)
    assert out.books_match and all(out.books_match.values()), out.books_match
    victim = next(v for v in out.venues if v.env.name == exchange)
    touched = [m for m in out.engine.markets if m.key.startswith(exchange)]
    if fault == "order_book_sequence_gap":
        assert victim.book_stream.dropped >= 2
        assert victim.book_stream.subscriptions > 2  # both markets resubscribed after their gaps
    else:
        # two failures in a row, then REST polling: the touched markets quote through the
        # outage, and are back on the websocket (retried after 1 s) once it is over
        assert all(m.book_feed.mode.fallbacks >= 1 for m in touched)
        assert out.touched_quoting and all(out.touched_quoting.values()), out.touched_quoting
        assert all(m.book_feed.mode.use_websocket and m.book_feed.mode.failures == 0 for m in touched)
    errors = sum(m.errors.get("book", 0) for m in touched)
    assert errors >= 1, "the fault never reached the engine's book loop"


def check_invariants(out: Outcome) -> None:
    engine = out.engine
    # no order left behind, on any exchange
    for v in out.venues:
        assert v.ex.open_orders() == [], f"{v.env.name}: orders left after shutdown"
    # the engine's open orders equalled the exchange's once the fault was over
    for name, (on_exchange, engine_open, in_flight) in out.open_orders_match.items():
        assert on_exchange <= engine_open | in_flight, f"{name}: untracked orders {on_exchange - engine_open - in_flight}"
        assert engine_open <= on_exchange, f"{name}: engine believes {engine_open - on_exchange} are open"
    # the ledger equals the exchange's fills, fees included
    for v in out.venues:
        for m in engine.markets:
            if not m.key.startswith(v.env.name):
                continue
            market_id = v.market_id(m.key)
            pos, base, quote = expected_ledger(v.ex, market_id)
            start_base, start_quote = out.start_balances[m.key]
            fills = sorted((f.order_id, round(f.qty, 8)) for f in m.core.fills)
            theirs = sorted((f.order.client_id, float(f.qty)) for f in v.ex.fills if f.order.market.id == market_id)
            assert m.core.inventory.position == pytest.approx(pos, abs=1e-9), (m.key, fills, theirs)
            assert m.core.base_balance - start_base == pytest.approx(base, abs=1e-9), m.key
            assert m.core.quote_balance - start_quote == pytest.approx(quote, abs=1e-6), m.key
    # no position limit was ever exceeded, resting orders counted as filled
    for key, worst in out.worst.items():
        assert worst <= LIMIT + 1e-9, f"{key}: worst case {worst} > limit {LIMIT}"
    assert not any(m.core.risk.breaches for m in engine.markets)
    # the markets the fault did not touch kept quoting; every market quotes again after it
    assert out.untouched_quoting and all(out.untouched_quoting.values()), out.untouched_quoting
    assert all(out.recovered.values()), out.recovered
