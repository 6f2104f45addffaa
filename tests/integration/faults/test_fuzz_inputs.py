"""Bad input, generated: configs, corrupted recordings and mangled exchange replies give a
clear error naming where, or are discarded and counted; never another exception, never a
crossed book. (LLM replies are fuzzed in tests/unit/test_llm_reply.py.)"""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest
from aiohttp import web
from ccxt.base.errors import BaseError as CcxtError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccxt_mm.config import AppConfig, load_config, parse_config
from ccxt_mm.engine import ReplayEngine
from ccxt_mm.errors import CcxtMmError, ConfigError, DataError
from ccxt_mm.execution.types import CancelOrder, PlaceOrder
from ccxt_mm.market.binance_capture import read_binance_capture
from ccxt_mm.schema import section_keys
from ccxt_mm.strategies import load_strategy
from tests.conftest import BINANCE_FILES
from tests.integration.exchanges.test_venues_emulated import ENVS, best, run

# --- config ---------------------------------------------------------------------------
SECTIONS = {name: sorted(section_keys(field.annotation)) for name, field in AppConfig.model_fields.items() if name != "exchanges"}
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
)
section = st.sampled_from(sorted(SECTIONS)).flatmap(
    lambda name: st.tuples(st.just(name), st.dictionaries(st.sampled_from([*SECTIONS[name], "unknown_key"]), values, max_size=3))
)


@settings(max_examples=400, deadline=None)
@given(st.lists(section, max_size=4))
def test_any_config_is_valid_or_every_error_names_its_key(sections):
    raw = {name: body for name, body in sections}
    try:
        parse_config(raw, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            key = problem.split(":", 1)[0]
            assert key.split(".")[0] in raw, problem


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_yaml_text_loads_or_is_a_config_error(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


# --- recordings -----------------------------------------------------------------------
with gzip.open(BINANCE_FILES[0], "rb") as fh:
    HEAD = [next(fh) for _ in range(400)]  # the REST snapshot is line 8


def mutate(lines: list[bytes], rng: random.Random) -> list[bytes]:
    """One structural corruption somewhere after the snapshot."""
    lines = list(lines)
    i = rng.randrange(9, len(lines))
    kind = rng.randrange(6)
    if kind == 0:
        del lines[i]  # a lost message: a gap if it was a diff
    elif kind == 1:
        lines[i] = lines[i][: rng.randrange(1, len(lines[i]))].rstrip(b"\n") + b"\n"  # cut short
    elif kind == 2:
        j = rng.randrange(len(lines[i]) - 1)
        lines[i] = lines[i][:j] + bytes([rng.choice(b'{}[]",:0x ')]) + lines[i][j + 1 :]  # a flipped byte
    elif kind == 3:
        ts, _, body = lines[i].partition(b" ")
        doc = json.loads(body)
        data = doc.get("data", doc)
        if isinstance(data, dict) and data:
            data.pop(rng.choice(sorted(data)))  # a missing field
        lines[i] = ts + b" " + json.dumps(doc).encode() + b"\n"
    elif kind == 4:
        ts, _, body = lines[i].partition(b" ")
        doc = json.loads(body)
        data = doc.get("data", doc)
        if isinstance(data, dict) and data:
            data[rng.choice(sorted(data))] = rng.choice(["x", None, [], {"a": 1}, -1])  # a wrong type
        lines[i] = ts + b" " + json.dumps(doc).encode() + b"\n"
    else:
        j = rng.randrange(9, len(lines))
        lines[i], lines[j] = lines[j], lines[i]  # out of order
    return lines


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1))
def test_a_corrupted_recording_is_an_error_at_its_line_or_a_consistent_book(tmp_path, seed):
    path = tmp_path / "capture.gz"
    path.write_bytes(gzip.compress(b"".join(mutate(HEAD, random.Random(seed)))))
    try:
        log = read_binance_capture([str(path)], "BTC/USDT")
    except DataError as exc:
        assert exc.path == str(path) and exc.line >= 0, exc
        return
    config = AppConfig()
    try:  # the replay refuses a book that crosses (CrossedBookError names file and line)
        result = ReplayEngine(config, log, load_strategy(config), run_id="fz").run()
    except DataError as exc:
        assert exc.path == str(path) and exc.line > 0, exc
        return
    ok = ~np.isnan(result.bid_quote) & ~np.isnan(result.ask_quote)
    assert (result.bid_quote[ok] < result.ask_quote[ok]).all()


# --- exchange replies -----------------------------------------------------------------
def mangle(rng: random.Random, paths: tuple[str, ...]):
    """Every JSON reply on ``paths`` loses a field or gets a wrong-typed one, somewhere."""

    def damage(doc):
        if isinstance(doc, list) and doc:
            damage(rng.choice(doc))
        elif isinstance(doc, dict) and doc:
            key = rng.choice(sorted(doc))
            if isinstance(doc[key], dict | list) and rng.random() < 0.6:
                damage(doc[key])
            elif rng.random() < 0.5:
                del doc[key]
            else:
                doc[key] = rng.choice(["", "abc", None, [], -1])

    async def fault(request: web.Request, handler):
        response = await handler(request)
        if not any(p in request.path for p in paths) or getattr(response, "body", None) is None:
            return response
        doc = json.loads(response.body)
        damage(doc)
        return web.json_response(doc, status=response.status)

    return fault


REPLY_PATHS = ("/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades", "/api/v5/trade", "/v5/order", "/v5/execution")


@pytest.mark.parametrize("env", ENVS, ids=[e.name for e in ENVS])
@pytest.mark.parametrize("seed", range(8))
def test_mangled_exchange_replies_are_clear_errors_never_crashes(env, seed):
    rng = random.Random(seed)

    async def scenario(venue, ex, server):
        bid, _ = best(ex, env)
        server.fault = mangle(rng, REPLY_PATHS)
        venue.submit(PlaceOrder(f"mmfz{seed}x1", 1, round(bid * 0.99, 1), env.qty, "test"), 0)
        venue.submit(CancelOrder(f"mmfz{seed}x1", "test"), 0)
        for _ in range(4):
            try:  # actions absorb bad replies; reads may raise for the engine's loops to back off
                await venue.flush()
                await venue.poll_fills()
                await venue.open_orders()
            except (CcxtMmError, CcxtError):
                pass  # a clear error naming the exchange; a KeyError or TypeError fails the test
        server.fault = None
        # whatever happened, the venue can still see and cancel everything on the exchange
        for o in await venue.open_orders():
            await venue.exchange.cancel_order(o.order_id, env.symbol)
        assert ex.open_orders() == []
        return venue.drain_events()

    run(env, scenario)
