"""The risk book shared through a real redis-server: processes (here, books each with its own
portfolio and connection, as a process has) hold one limit per asset between them, see each
other's fills within a sync, and pause while the server does not answer."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ccxt_mm.cli import main
from ccxt_mm.errors import ConfigError
from ccxt_mm.quoting.portfolio import Part, Portfolio, PortfolioParams
from ccxt_mm.quoting.risk import RiskMode
from ccxt_mm.shared.redis_book import RedisBook, redis_url

LIMIT = 0.05
KEYS = ("binance BTC/USDT", "okx BTC/USDT", "bybit BTC/USDT")
PARAMS = PortfolioParams(max_asset_base={"BTC": LIMIT}, store="redis", redis_sync_secs=0.02, redis_timeout_secs=0.3, redis_resume_secs=0.3)


@dataclass
class FillRow:
    ts_ns: int
    side: int
    price: float
    qty: float


@dataclass
class Process:
    """One process's side: its portfolio, its market's part (as its core reports it) and its book."""

    portfolio: Portfolio
    part: Part
    book: RedisBook
    fills: list[FillRow]

    @property
    def key(self) -> str:
        return self.book.local[0]

    def place(self, side: int, fraction: float) -> None:
        """An order of ``fraction`` of the room its claims leave: the view of the other
        processes' parts, which bounds the core's rooms too, is left out, as if it were as
        stale as can be (the claims alone must hold the limit)."""
        p = self.part
        if side > 0:
            p.resting_buy += fraction * max(0.0, p.claim_long - p.position - p.resting_buy)
        else:
            p.resting_sell += fraction * max(0.0, p.position - p.resting_sell - p.claim_short)

    def fill(self, side: int, fraction: float) -> None:
        """``fraction`` of the resting orders on ``side`` filled."""
        p = self.part
        qty = fraction * (p.resting_buy if side > 0 else p.resting_sell)
        if side > 0:
            p.resting_buy -= qty
        else:
            p.resting_sell -= qty
        p.position += side * qty
        self.fills.append(FillRow(time.time_ns(), side, 100.0, qty))
        self.portfolio.update(self.key, p)

    def cancel(self, side: int) -> None:
        if side > 0:
            self.part.resting_buy = 0.0
        else:
            self.part.resting_sell = 0.0


def processes(url: str, params: PortfolioParams = PARAMS, n: int = 3) -> list[Process]:
    out = []
    for key in KEYS[:n]:
        pf, part, fills = Portfolio(params), Part("BTC", mid=100.0), []
        pf.update(key, part)
        out.append(Process(pf, part, RedisBook(pf, url, {key: fills}), fills))
    return out


def committed(procs: list[Process]) -> tuple[float, float]:
    """The long and the short sums of every market, each resting order counted as filled."""
    return sum(p.part.position + p.part.resting_buy for p in procs), sum(p.part.position - p.part.resting_sell for p in procs)


SIDE = st.sampled_from([1, -1])
FRACTION = st.one_of(st.just(1.0), st.just(0.5), st.floats(0.0, 1.0))
EVENT = st.one_of(
    st.tuples(st.just("place"), st.integers(0, 2), SIDE, FRACTION),
    st.tuples(st.just("fill"), st.integers(0, 2), SIDE, FRACTION),
    st.tuples(st.just("cancel"), st.integers(0, 2), SIDE, FRACTION),
    st.tuples(st.just("sync"), st.integers(0, 2), SIDE, FRACTION),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=10, max_size=60))
@example(  # a claim granted on a stale view: the store must count the other's claim
    events=[("sync", 0, 1, 0.0), ("sync", 1, 1, 0.0), ("place", 0, 1, 1.0), ("place", 1, 1, 1.0)]
)
@example(  # an order placed while a sync shrinks the claim: the grant must cover it
    events=[("sync", 0, 1, 0.0), ("sync", 1, 1, 0.0), ("sync", 0, 1, 1.0), ("sync", 1, 1, 0.0), ("place", 1, 1, 1.0)]
)
def test_three_processes_never_commit_past_the_limit_together(redis_server, events):
    """Random orders, fills, cancels and syncs on three processes' markets, each placing what
    its claims allow, and each sync letting the market place an order while the sync is in
    flight: after every event, the markets' positions with every resting order counted as
    filled sum within ±0.05 BTC."""
    redis.Redis.from_url(redis_server.url).flushdb()

    async def run() -> None:
        procs = processes(redis_server.url)
        try:
            for kind, i, side, fraction in events:
                p = procs[i]
                if kind == "sync":
                    syncing = asyncio.create_task(p.book.sync())
                    await asyncio.sleep(0)  # the sync is sent; the market quotes meanwhile
                    p.place(side, fraction)
                    await syncing
                else:
                    getattr(p, kind)(*((side, fraction) if kind != "cancel" else (side,)))
                longest, shortest = committed(procs)
                assert longest <= LIMIT + 1e-12 and shortest >= -LIMIT - 1e-12, (kind, i, longest, shortest)
        finally:
            for p in procs:
                await p.book.redis.aclose()

    asyncio.run(run())


def test_the_markets_share_the_room_and_a_fill_on_one_reaches_the_others(redis_server):
    """Three books syncing on their own: each market is granted a third of the limit past what
    it holds; a fill published by one process wakes the others' sync (the stream), so their
    portfolios count its position at once."""

    async def run() -> tuple[list[tuple[float, float]], float, list[float]]:
        procs = processes(redis_server.url)
        tasks = [asyncio.create_task(p.book.run()) for p in procs]
        await asyncio.sleep(0.3)
        claims = [(p.part.claim_short, p.part.claim_long) for p in procs]
        seen_before = procs[1].book.stats.fills_seen
        procs[0].part.resting_buy = 0.01
        procs[0].fill(1, 1.0)
        started = time.monotonic()
        while procs[1].portfolio.others(procs[1].key) == 0.0 and time.monotonic() - started < 2.0:
            await asyncio.sleep(0.001)
        reached = time.monotonic() - started
        await asyncio.sleep(0.1)
        others = [p.portfolio.others(p.key) for p in procs[1:]] + [procs[1].book.stats.fills_seen - seen_before]
        for t in tasks:
            t.cancel()
        for p in procs:
            await p.book.close()
        return claims, reached, others

    claims, reached, (okx_others, bybit_others, okx_seen) = asyncio.run(run())
    for short, long in claims:
        assert long == pytest.approx(LIMIT / 3) and short == pytest.approx(-LIMIT / 3)
    assert okx_others == pytest.approx(0.01) and bybit_others == pytest.approx(0.01)
    assert okx_seen >= 1 and reached < 0.5, (okx_seen, reached)


def test_an_outage_pauses_every_market_and_the_book_resumes_with_its_limit(redis_server, caplog):
    """The server killed: within the timeout every market of each process is paused, its
    claims no wider than before; started again, empty: after ``redis_resume_secs`` each
    process has published its part again and quotes, and the claims still sum within the
    limit (the one holding 0.04 BTC keeps room for no more than 0.01 together with the other).
    The client never retries: a restart is an outage at once."""
    caplog.set_level(logging.INFO, "ccxt_mm.shared")

    async def run() -> dict:
        procs = processes(redis_server.url, n=2)
        procs[0].part.position = 0.04
        tasks = [asyncio.create_task(p.book.run()) for p in procs]
        await asyncio.sleep(PARAMS.redis_resume_secs + 0.2)  # joined: quoting once every process has published
        up = [p.portfolio.state(p.key, 0.0) for p in procs]
        before = [(p.part.claim_short, p.part.claim_long) for p in procs]
        redis_server.kill()
        await asyncio.sleep(PARAMS.redis_timeout_secs + 0.3)
        down = [p.portfolio.state(p.key, 0.0) for p in procs]
        during = [(p.part.claim_short, p.part.claim_long) for p in procs]
        redis_server.start()
        await asyncio.sleep(0.15)
        back = [p.portfolio.state(p.key, 0.0) for p in procs]
        await asyncio.sleep(PARAMS.redis_resume_secs + 0.3)
        after = [p.portfolio.state(p.key, 0.0) for p in procs]
        claims = [(p.part.claim_short, p.part.claim_long) for p in procs]
        for t in tasks:
            t.cancel()
        summaries = [p.book.summary() for p in procs]
        for p in procs:
            await p.book.close()
        return {"up": up, "before": before, "down": down, "during": during, "back": back, "after": after, "claims": claims, "s": summaries}

    r = asyncio.run(run())
    assert r["up"] == [None, None]
    assert all(s.mode is RiskMode.PAUSED and "unreachable" in s.reason for s in r["down"]), r["down"]
    assert all(s.mode is RiskMode.PAUSED and "holds a new book (the server lost its keys)" in s.reason for s in r["back"]), r["back"]
    assert r["after"] == [None, None]
    for (short0, long0), (short1, long1) in zip(r["before"], r["during"], strict=True):
        assert long1 <= long0 and short1 >= short0
    assert sum(long for _, long in r["claims"]) <= LIMIT + 1e-12
    assert r["claims"][0][1] >= 0.04 and sum(short for short, _ in r["claims"]) >= -LIMIT - 1e-12
    for s in r["s"]:
        assert s["outages"] == 1 and s["paused_secs"] >= PARAMS.redis_resume_secs and "Error" in s["last_error"]
    assert sum("unreachable" in m and "every market pauses" in m for m in caplog.messages) == 2


def test_the_server_is_named_without_its_password_and_a_missing_url_is_an_error(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("CCXT_MM_REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="CCXT_MM_REDIS_URL"):
        redis_url(PARAMS)
    pf = Portfolio(PARAMS)
    pf.update(KEYS[0], Part("BTC"))
    book = RedisBook(pf, "redis://:hunter2secret@127.0.0.1:1/3", {KEYS[0]: []})
    assert book.server == "127.0.0.1:1/3" and "hunter2" not in str(book.summary()) and "hunter2" not in pf.unreachable
    assert pf.rooms(KEYS[0]) == (0.0, 0.0) and pf.state(KEYS[0], 0.0).mode is RiskMode.PAUSED  # nothing before the first grant
    config = tmp_path / "shared.yaml"
    config.write_text("portfolio:\n  store: redis\n  redis_url_env: MY_BOOK_URL\n")
    assert main(["run", "--config", str(config), "--duration", "1"]) != 0
    assert "MY_BOOK_URL" in capsys.readouterr().err


def test_no_limit_on_an_asset_asks_for_no_claim(redis_server):
    """An asset without a portfolio limit: the part is published, no claim is held."""
    params = PortfolioParams(store="redis")

    async def run() -> tuple[float, float, dict]:
        (p,) = processes(redis_server.url, params, n=1)
        await p.book.sync()
        claims = await p.book.redis.hgetall("ccxt_mm:claims:BTC")
        await p.book.close()
        return p.part.claim_short, p.part.claim_long, claims

    short, long, claims = asyncio.run(run())
    assert (short, long, claims) == (-math.inf, math.inf, {})


async def until_up(procs: list[Process]) -> None:
    """Run until every book quotes (joined: after ``redis_resume_secs``)."""
    for _ in range(200):
        if all(p.portfolio.state(p.key, 0.0) is None for p in procs):
            return
        await asyncio.sleep(0.01)
    raise AssertionError([p.portfolio.unreachable for p in procs])


async def stop(procs: list[Process], tasks: list[asyncio.Task]) -> None:
    """Cancel the sync tasks, as the engine does at its stop: each ends within the wait (a
    cancel that meets a timeout firing is honoured still), and each book closes."""
    for t in tasks:
        t.cancel()
    _, pending = await asyncio.wait(tasks, timeout=5.0)
    assert not pending, pending
    for p in procs:
        await p.book.close()


def test_a_book_the_server_lost_under_running_processes_pauses_them_until_all_have_published(redis_server):
    """The keys flushed while both run (a restart no request saw): each finds a new epoch at
    its next sync and pauses for ``redis_resume_secs``; then the 0.04 BTC one holds counts
    again, and the other is granted no more than the 0.01 left."""

    async def run() -> tuple:
        procs = processes(redis_server.url, n=2)
        procs[0].part.position = 0.04
        tasks = [asyncio.create_task(p.book.run()) for p in procs]
        await until_up(procs)
        await procs[0].book.redis.flushall()
        await asyncio.sleep(0.1)
        paused = [p.portfolio.state(p.key, 0.0) for p in procs]
        await until_up(procs)
        claims = [p.part.claim_long for p in procs]
        await stop(procs, tasks)
        return paused, claims

    paused, (long_a, long_b) = asyncio.run(run())
    assert all(s.mode is RiskMode.PAUSED and "new book" in s.reason for s in paused), paused
    assert long_a >= 0.04 and long_b <= 0.01 + 1e-12 and long_a + long_b <= LIMIT + 1e-12


def test_one_process_s_kill_switch_and_daily_loss_pause_hold_in_the_others(redis_server):
    """Process A's portfolio stops (drawdown) or pauses for the day's loss: at B's next sync
    B stops, or pauses until the day's end, naming A."""
    params = PortfolioParams(
        max_asset_base={"BTC": LIMIT}, store="redis", redis_sync_secs=0.02, redis_resume_secs=0.1, total_daily_loss_quote=100.0
    )

    async def run(kind: str):
        await redis.asyncio.Redis.from_url(redis_server.url).flushdb()
        procs = processes(redis_server.url, params, n=2)
        tasks = [asyncio.create_task(p.book.run()) for p in procs]
        await until_up(procs)
        a = procs[0]
        if kind == "stop":
            a.portfolio.stopped_reason = "portfolio drawdown 300.00 > portfolio.total_drawdown_quote 250.0"
        else:
            a.portfolio.evaluate(time.time_ns(), "BTC")  # the day starts at 0
            a.part.pnl = -150.0
            a.portfolio.update(a.key, a.part)
        await asyncio.sleep(0.15)
        state = procs[1].portfolio.state(procs[1].key, 0.0)
        await stop(procs, tasks)
        return state

    stopped = asyncio.run(run("stop"))
    assert stopped.mode is RiskMode.STOPPED and "drawdown 300.00" in stopped.reason and "(in process " in stopped.reason
    paused = asyncio.run(run("loss"))
    assert paused.mode is RiskMode.PAUSED and paused.reason.startswith("portfolio daily loss past the limit in process ")


def test_a_market_another_process_quotes_stays_paused(redis_server):
    """A second process with a market the first one publishes: it never quotes, and says why."""

    async def run() -> str:
        (a,) = processes(redis_server.url, n=1)
        (b,) = processes(redis_server.url, n=1)
        b.book.process = "elsewhere:1"
        tasks = [asyncio.create_task(a.book.run())]
        await until_up([a])
        tasks.append(asyncio.create_task(b.book.run()))
        await asyncio.sleep(0.5)
        why = b.portfolio.state(b.key, 0.0).reason
        await stop([a, b], tasks)
        return why

    assert asyncio.run(run()).startswith("binance BTC/USDT is quoted by process ")


def test_a_notional_limit_before_any_price_grants_only_what_is_held(redis_server):
    """A notional limit, no mid yet: the claims are what the market holds, so its rooms are 0."""

    async def run() -> tuple:
        params = PortfolioParams(max_asset_notional_quote={"BTC": 3_000.0}, store="redis")
        (p,) = processes(redis_server.url, params, n=1)
        p.part.mid, p.part.position = 0.0, 0.01
        await p.book.sync()
        out = (p.part.claim_short, p.part.claim_long, p.portfolio.rooms(p.key))
        await p.book.close()
        return out

    assert asyncio.run(run()) == (0.01, 0.01, (0.0, 0.0))
