"""Two `ccxt-mm run --live` processes, one on the emulated binance's BTC/USDT and one on okx's,
sharing one risk book through a real redis-server (``portfolio.store: redis``)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import yaml

from tests.integration.exchanges.conftest import API_KEY, SECRET
from tests.integration.exchanges.test_run_cli import emulators, write_config  # noqa: F401 (a fixture)
from tests.integration.exchanges.test_venues_emulated import PASSPHRASE

LIMIT = Decimal("0.03")
"""The book's BTC limit, shared by the two processes (each market's own: 0.08). A market's
claim reaches half of it at most (two markets), whatever it committed first: before that
cap, the first market to commit its quotes kept the whole limit and the other never quoted."""
QTY = Decimal("0.01")
NAMES = ("binance", "okx")
ORDER_PATHS = {"/api/v3/order", "/api/v5/trade/batch-orders", "/api/v5/trade/cancel-order", "/api/v5/trade/order"}
"""Where the emulated binance and okx take our orders' creates, cancels and look-ups."""
T = TypeVar("T")


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], T]) -> T:
    """``fn()`` run on the emulators' event loop, between two of their requests (the emulated
    exchanges are not thread-safe), and its result."""

    async def call() -> T:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(10)


def process_config(folder: Path, entry: tuple, loop: asyncio.AbstractEventLoop) -> str:
    """A live config in ``folder`` quoting the one emulated market of ``entry`` (env, exchange,
    server), its BTC limit in the book shared through Redis."""
    folder.mkdir()
    path = Path(write_config(folder, ([entry], loop)))
    cfg = yaml.safe_load(path.read_text())
    # polls within okx's request pacing (its fills poll costs 0.22 s of it), so that an order's
    # create and cancel do not wait behind them for long
    cfg["live"].update(poll_secs=0.2, fill_poll_secs=0.4, order_budget_per_min=6000.0)
    # only the shared limit binds (the 1 BTC each account holds is worth 62k USDT on binance)
    cfg["risk"] = {"max_position_base": 0.08, "max_exposure_quote": 1_000_000.0}
    cfg["portfolio"] = {
        "store": "redis",
        "max_asset_base": {"BTC": float(LIMIT)},
        "redis_sync_secs": 0.05,
        "redis_timeout_secs": 0.3,
        "redis_resume_secs": 0.5,
    }
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_two_processes_hold_one_limit_and_pause_while_redis_is_down(tmp_path, emulators, redis_server):  # noqa: F811
    """Process A quotes binance BTC/USDT, process B okx BTC/USDT, each market's own limit 0.08
    BTC, the book they share through Redis 0.03 BTC. Takers hit every bid of ours on both
    exchanges: both fill (the limit is shared, not held by one), the BTC bought on the two
    together reaches the limit, and never does it plus every bid still resting pass it. Redis
    killed: both processes pull every order within 1.5 s and place none while it is down; started
    again (empty), orders rest again within seconds, takers on both sides fill them, and the
    sum still stays within the limit. At the stop each process's summary shows both markets in
    the book (the other process's mirrored from Redis), the outage counted, no order left."""
    started, loop = emulators
    venues = [(env, ex) for env, ex, _ in started if env.name in NAMES]
    env_vars = {**redis_server.env(), "EMU_KEY": API_KEY, "EMU_SECRET": SECRET, "EMU_PASSPHRASE": PASSPHRASE}
    worst: list[Decimal] = []
    """After every step: BTC bought on both exchanges plus every bid of ours resting on them."""

    def held(env, ex) -> Decimal:
        """BTC our orders on ``env``'s market have bought less what they sold, gross of fees
        (the position the engine counts; the balance, net of the fee in BTC, is less)."""
        fills = (f for f in ex.fills if f.order.market.id == env.market_id)
        return sum((f.qty if f.order.side == "buy" else -f.qty for f in fills), Decimal(0))

    def bids(env, ex) -> Decimal:
        return sum((o.remaining for o in ex.open_orders(env.market_id) if o.side == "buy"), Decimal(0))

    def step(sides: tuple[str, ...]) -> tuple[dict[str, Decimal], tuple]:
        """On the loop: record the worst case, then fill every resting order of ours on
        ``sides`` by a taker; the BTC held on each exchange, and the orders still open with
        the order requests seen so far."""
        worst.append(sum((held(env, ex) + bids(env, ex) for env, ex in venues), Decimal(0)))
        for env, ex in venues:
            for o in ex.open_orders(env.market_id):
                if o.side in sides and o.status == "open":
                    ex.trade(env.market_id, "sell" if o.side == "buy" else "buy", o.price, o.remaining)
        orders = {(env.name, o.order_id) for env, ex in venues for o in ex.open_orders()}
        requests = sum(path in ORDER_PATHS for _, _, server in started for _, path in server.requests)
        return {env.name: held(env, ex) for env, ex in venues}, (frozenset(orders), requests)

    def open_orders() -> dict[str, int]:
        return on_loop(loop, lambda: {env.name: len(ex.open_orders()) for env, ex in venues})

    def wait_for(check: Callable[[dict[str, int]], bool], secs: float) -> tuple[bool, float]:
        t0 = time.monotonic()
        while time.monotonic() - t0 < secs:
            if check(open_orders()):
                return True, time.monotonic() - t0
            time.sleep(0.02)
        return False, secs

    def logs() -> dict[str, str]:
        return {name: (tmp_path / name / "stderr.txt").read_text()[-3000:] for name in NAMES}

    procs: dict[str, subprocess.Popen] = {}
    try:
        for env, ex, server in started:
            if env.name not in NAMES:
                continue
            folder = tmp_path / env.name
            config = process_config(folder, (env, ex, server), loop)
            cmd = [sys.executable, "-m", "ccxt_mm.cli", "run", "--live", "--duration", "60", "--no-status", "--config", config]
            with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
                procs[env.name] = subprocess.Popen([*cmd, "--report-dir", str(folder / "report")], stdout=out, stderr=err, env=env_vars)
        quoting, _ = wait_for(lambda n: all(n.values()), 20.0)
        assert quoting, (open_orders(), logs())

        # 1. every bid of ours hit as soon as it rests on either exchange, until the limit is
        # reached and no order has been sent nor changed for 0.6 s: the outage comes to markets
        # done placing (a market that pauses still sends the creates it has queued, and
        # cancels them only once they rest)
        t0 = last_change = time.monotonic()
        seen: tuple = ()
        while time.monotonic() - t0 < 8.0:
            bought, orders = step(("buy",))
            if orders != seen:
                seen, last_change = orders, time.monotonic()
            settled = time.monotonic() - last_change >= 0.6 and time.monotonic() - t0 >= 1.5
            if settled and sum(bought.values()) >= LIMIT - Decimal("1e-9"):
                break
            time.sleep(0.05)
        assert all(bought[name] > 0 for name in NAMES), bought  # both markets had room: the limit is shared
        assert sum(bought.values()) >= LIMIT - QTY, bought  # the limit binds
        assert max(worst) <= LIMIT + Decimal("1e-9"), max(worst)

        # 2. the outage: every order pulled within 1.5 s (okx's two cancels, each followed by
        # a poll of the fills, go through ccxt's request pacing: 0.8 s), none placed while the
        # server is down; then back, empty
        redis_server.kill()
        pulled, _ = wait_for(lambda n: not any(n.values()), 1.5)
        assert pulled, (open_orders(), logs())
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            assert not any(open_orders().values()), "quoted while the shared book was unreachable"
            time.sleep(0.05)
        redis_server.start()
        back, _ = wait_for(lambda n: any(n.values()), 6.0)
        assert back, ("no order rests after the server is back", logs())

        # 3. takers on both sides: quoting goes on, the sum stays within the limit
        fills_before = on_loop(loop, lambda: sum(len(ex.fills) for _, ex in venues))
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            step(("buy", "sell"))
            time.sleep(0.05)
        assert on_loop(loop, lambda: sum(len(ex.fills) for _, ex in venues)) > fills_before
        assert max(worst) <= LIMIT + Decimal("1e-9"), max(worst)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in procs.items():
            try:
                codes[name] = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait(10)
    assert codes == dict.fromkeys(NAMES, 0), (codes, logs())
    for name in NAMES:
        summary = json.loads((tmp_path / name / "report" / "run_summary.json").read_text())
        book = summary["portfolio"]
        assert set(book["assets"]["BTC"]["markets"]) == {f"{n} BTC/USDT" for n in NAMES}, (name, book)
        assert book["shared"]["outages"] >= 1, (name, book["shared"])
        assert summary[f"{name} BTC/USDT"]["orders_left"] == 0, (name, summary[f"{name} BTC/USDT"])
    assert open_orders() == dict.fromkeys(NAMES, 0)
