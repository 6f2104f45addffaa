"""Both live venues implement every member of :class:`Venue` (same names, same parameters,
async where the protocol is), the replay's paper venue the quoting core's :class:`OrderFlow`,
and the live engine never asks which venue it holds."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Protocol

import numpy as np
import pytest

from ccxt_mm.book.grid_book import GridBook
from ccxt_mm.exchange.paper import LivePaperVenue
from ccxt_mm.exchange.venue import CcxtVenue
from ccxt_mm.execution.paper import PaperParams, PaperVenue, QueueModel
from ccxt_mm.execution.venue import OrderFlow, Venue

LIVE_ENGINE = Path(__file__).resolve().parents[2] / "ccxt_mm" / "engine" / "live.py"


def members(protocol: type) -> tuple[set[str], dict[str, inspect.Signature]]:
    """(data members, methods with their signatures) of ``protocol`` and the protocols it extends."""
    data: set[str] = set()
    methods: dict[str, inspect.Signature] = {}
    for cls in protocol.__mro__:
        if cls is Protocol or not getattr(cls, "_is_protocol", False):
            continue
        data |= set(inspect.get_annotations(cls))
        methods |= {name: inspect.signature(fn) for name, fn in vars(cls).items() if inspect.isfunction(fn) and not name.startswith("_")}
    return data, methods


def paper_venue() -> PaperVenue:
    params = PaperParams(entry_latency_ms=0, cancel_latency_ms=0, maker_fee_bps=0, taker_fee_bps=0, queue_model=QueueModel.PROPORTIONAL)
    return PaperVenue(params, GridBook(np.empty(0)), 1.0, 1e5, lot_size=1e-5)


def live_venues() -> list[object]:
    exchange = SimpleNamespace(id="binance", has={"editOrder": True})
    return [CcxtVenue(exchange, "BTC/USDT", lambda: 0), LivePaperVenue(exchange, "BTC/USDT", paper_venue(), 0.001)]


def test_the_protocol_states_the_whole_lifecycle():
    data, methods = members(Venue)
    assert data == {"supports_amend", "events", "mode", "fills_from_public_trades", "dead_man_armed", "ack_latency"}
    assert set(methods) == {
        *("submit", "drain_events", "start", "cancel_leftovers", "balances", "holdings", "arm_dead_man", "workers", "on_book"),
        "on_trade",
        *("housekeeping", "reconcile", "settle_in_flight", "close", "open_orders", "seen_trades", "remember_seen", "order_headroom"),
    }


@pytest.mark.parametrize("venue", live_venues(), ids=lambda v: type(v).__name__)
def test_each_live_venue_implements_every_member(venue):
    data, methods = members(Venue)
    assert all(hasattr(venue, name) for name in data), [name for name in data if not hasattr(venue, name)]
    for name, wanted in methods.items():
        method = getattr(type(venue), name, None)
        assert callable(method), f"{type(venue).__name__} has no {name}"
        assert inspect.iscoroutinefunction(method) == inspect.iscoroutinefunction(getattr(Venue, name)), name
        assert list(inspect.signature(method).parameters) == list(wanted.parameters), name
    assert venue.mode in ("paper", "live")


def test_the_replay_paper_venue_is_an_order_flow():
    """(compiled, its methods show no signature)"""
    data, methods = members(OrderFlow)
    venue = paper_venue()
    assert all(hasattr(venue, name) for name in data) and all(callable(getattr(venue, name)) for name in methods)


def test_the_live_engine_has_no_paper_or_live_branch():
    """It names no venue class and reads no ``.paper``; ``live`` reaches only the venue factory."""
    tree = ast.parse(LIVE_ENGINE.read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {a.name.rsplit(".", 1)[-1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import) for a in n.names}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not {"PaperVenue", "CcxtVenue", "LivePaperVenue", "isinstance"} & names
    assert not {"paper", "PaperVenue", "CcxtVenue"} & attributes
    tests = [n.test for n in ast.walk(tree) if isinstance(n, ast.If | ast.IfExp | ast.While)]
    assert not [ast.unparse(t) for t in tests if {"live", "paper", "mode"} & {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}]
    assert not [ast.unparse(t) for t in tests if "mode" in {n.attr for n in ast.walk(t) if isinstance(n, ast.Attribute)}]
