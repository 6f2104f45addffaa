"""The portfolio shared through Redis: a task of the live engine publishes this process's
markets' parts and fills, renews their claims on each asset's limit (:mod:`.scripts`) and
mirrors the other processes' parts into the in-process portfolio, every
``portfolio.redis_sync_secs`` and at once when another process publishes a fill.

Quoting never waits on Redis: it reads the in-process portfolio, whose rooms are bounded by the
claims last granted. While a claim is being renewed the market commits nothing past what it has
(the grant is never below that), so the claims, and with them every market's position with its
resting orders counted as filled, sum within the limit across processes. While the server does
not answer within ``redis_timeout_secs``, every market of this process pauses (never quotes
without the book's limits); it resumes ``redis_resume_secs`` after the server answers again, by
when every other process has published its parts again (a server restarted empty loses the
parts of a process that is not running: run it with ``appendonly yes``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ccxt_mm.errors import ConfigError
from ccxt_mm.quoting.portfolio import Part, Portfolio, PortfolioParams
from ccxt_mm.quoting.risk import DAY_NS
from ccxt_mm.shared.scripts import CLAIM

log: Final = logging.getLogger("ccxt_mm.shared")
_OUTAGE: Final = (RedisError, OSError, TimeoutError)
_BACKOFF_MAX_SECS: Final = 1.0
_OWNER_FRESH_SECS: Final = 2.0
"""A market's part published this recently by another process: that process quotes it."""
_WAIT_SLICES: Final = 5
"""A wait between syncs looks for local fills this many times."""


class Fill(Protocol):
    """A fill as a market records it (:class:`ccxt_mm.engine.core.FillRecord`)."""

    ts_ns: int
    side: int
    price: float
    qty: float


@dataclass(slots=True)
class SharedStats:
    """What the run reports of the shared book."""

    syncs: int = 0
    outages: int = 0
    paused_secs: float = 0.0
    """Seconds quoting was paused for the store (outages and the wait after them)."""
    fills_published: int = 0
    fills_seen: int = 0
    """Fill entries of the stream read here (every process's, ours included)."""
    last_error: str = ""
    sync_ms: list[float] = field(default_factory=list)
    """Round trip of each sync, ms (the most recent 10,000)."""


def redis_url(params: PortfolioParams, source: str = "config") -> str:
    """The server's URL from ``portfolio.redis_url_env`` (a missing variable is an error naming it)."""
    url = os.environ.get(params.redis_url_env, "")
    if not url:
        raise ConfigError(source, [f"portfolio.redis_url_env: store is redis but environment variable {params.redis_url_env} is not set"])
    return url


def where(url: str) -> str:
    """``host:port/db`` of a Redis URL: what logs and reports say (never its password)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}{parts.path or '/0'}"


class RedisBook:
    """This process's side of the shared book. ``fills``: each local market's fill records, in
    the order they came (appended to by the engine; new ones are published)."""

    def __init__(
        self, portfolio: Portfolio, url: str, fills: dict[str, Sequence[Fill]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        p = portfolio.p
        self.portfolio, self.p, self.server = portfolio, p, where(url)
        self.local = list(fills)
        self._fills, self._published = fills, dict.fromkeys(fills, 0)
        self._clock = clock
        wait = p.redis_timeout_secs
        no_retry = Retry(NoBackoff(), 0)  # a request not answered is an outage at once, never hidden
        self.redis = aioredis.from_url(url, socket_timeout=wait + p.redis_sync_secs, socket_connect_timeout=wait, retry=no_retry)
        self._claim = self.redis.register_script(CLAIM)
        self._keys = (f"{p.redis_book}:parts", f"{p.redis_book}:fills", f"{p.redis_book}:epoch")
        self._epoch: bytes | None = None
        """The book's epoch as last seen (a new one: the server lost the keys)."""
        self._pubsub: PubSub | None = None
        """Subscribed to the fills' channel (None: not yet, or dropped at an outage)."""
        self._stream_id = b"0-0"
        """The newest fill entry counted."""
        self._phase: Literal["starting", "up", "down", "back"] = "starting"
        """starting (not synced yet), up (quoting), down (no answer), back (answering again, or
        a new epoch: quoting waits ``redis_resume_secs``)."""
        self._paused_at = self._back_at = clock()
        """When quoting paused for the store, and when the server answered again (clock's s)."""
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self.stats = SharedStats()
        for key in self.local:  # nothing is committed past what it has until the first grant
            part = portfolio.parts[key]
            part.claim_long, part.claim_short = part.position + part.resting_buy, part.position - part.resting_sell
        portfolio.unreachable = f"shared risk book at {self.server} not reached yet"

    async def run(self) -> None:
        """Sync until cancelled: an outage (or any failure here) pauses quoting, never this loop."""
        p, me = self.p, asyncio.current_task()
        backoff, most = p.redis_sync_secs, min(_BACKOFF_MAX_SECS, p.redis_resume_secs / 4)
        while True:
            if me is not None and me.cancelling():  # a cancel that met a timeout firing (Python 3.11 turns it into the timeout)
                raise asyncio.CancelledError
            try:
                if self._epoch is None and not await self._sole_quoter():
                    await asyncio.sleep(p.redis_sync_secs)
                    continue
                self._reached(await self.sync())
                backoff = p.redis_sync_secs
                await self._wait_for_fills()
            except Exception as exc:
                if not isinstance(exc, _OUTAGE):
                    log.exception("shared risk book: the sync failed")
                self._lost(exc)
                await self._drop_pubsub()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, most)

    async def _sole_quoter(self) -> bool:
        """No other process has published a part of our markets lately (each market is quoted
        by one process: two would overwrite each other's part); else quoting stays paused."""
        async with asyncio.timeout(self.p.redis_timeout_secs):
            raw = await self.redis.hmget(self._keys[0], self.local)
        now = time.time_ns()
        for key, doc in zip(self.local, raw, strict=True):
            if doc is None:
                continue
            other = json.loads(doc)
            age = (now - other["wall_ns"]) / 1e9
            if other["process"] != self.process and age < _OWNER_FRESH_SECS:
                why = f"{key} is quoted by process {other['process']} too (its part {age:.1f} s old): each market in one process"
                if self.portfolio.unreachable != why:
                    log.error("shared risk book: %s", why)
                self.portfolio.unreachable = why
                return False
        return True

    async def sync(self, headroom: bool = True) -> bytes | None:
        """One round trip: every local part and its new fills published and its claims renewed,
        then every other process's part read into the portfolio (``headroom`` False: claims
        shrunk to what is committed, at the stop). Returns the book's epoch (None: no market)."""
        started = time.perf_counter()
        pipe = self.redis.pipeline(transaction=False)
        sent = []
        for key in self.local:
            part = self.portfolio.parts[key]
            limit, need_long, want_long, need_short, want_short = self.portfolio.wanted_claim(key, headroom)
            part.claim_long, part.claim_short = min(part.claim_long, need_long), max(part.claim_short, need_short)
            fills = self._fills[key][self._published[key] :]
            sent.append((key, len(fills)))
            args = [key, self._part_json(part), -1.0 if limit == math.inf else limit, need_long, want_long, need_short, want_short]
            args += [json.dumps({"ts_ns": f.ts_ns, "side": f.side, "price": f.price, "qty": f.qty}) for f in fills]
            keys = [self._keys[0], f"{self.p.redis_book}:claims:{part.asset}", self._keys[1], self._keys[2]]
            await self._claim(keys=keys, args=args, client=pipe)
        pipe.hgetall(self._keys[0])
        async with asyncio.timeout(self.p.redis_timeout_secs):
            replies = await pipe.execute()
        for (key, published), (long, short, _) in zip(sent, replies, strict=False):
            part = self.portfolio.parts[key]
            part.claim_long, part.claim_short = float(long), float(short)
            self._published[key] += published
            self.stats.fills_published += published
        self._mirror(replies[-1])
        self.stats.syncs += 1
        self.stats.sync_ms = [*self.stats.sync_ms[-9_999:], (time.perf_counter() - started) * 1e3]
        return replies[0][2] if sent else None

    def _part_json(self, part: Part) -> str:
        """The part as the others read it, with this process's kill switch and daily-loss
        pause (they hold in every process sharing the book)."""
        now = time.time_ns()
        return json.dumps(
            {
                "asset": part.asset,
                "position": part.position,
                "resting_buy": part.resting_buy,
                "resting_sell": part.resting_sell,
                "mid": part.mid,
                "best_bid": part.best_bid,
                "best_ask": part.best_ask,
                "pnl": part.pnl,
                "process": self.process,
                "wall_ns": now,
                "stopped": self.portfolio.stopped_reason,
                "loss_paused_day": now // DAY_NS if self.portfolio.loss_paused(now) else -1,
            }
        )

    def _mirror(self, parts: dict[bytes, bytes]) -> None:
        """The other processes' parts into the portfolio (each market's part object kept)."""
        now = time.time_ns()
        pf, today, halted = self.portfolio, now // DAY_NS, ""
        for raw_key, raw in parts.items():
            key = raw_key.decode()
            if key in self._published:
                continue
            doc = json.loads(raw)
            if now - doc["wall_ns"] <= _OWNER_FRESH_SECS * 1e9:  # a process's stop and pause hold while it runs
                halted = self._heed(doc, today) or halted
            part = pf.parts.get(key) or Part(doc["asset"])
            part.position, part.resting_buy, part.resting_sell = doc["position"], doc["resting_buy"], doc["resting_sell"]
            part.mid, part.pnl, part.best_bid, part.best_ask = doc["mid"], doc["pnl"], doc["best_bid"], doc["best_ask"]
            pf.update(key, part)
        pf.halted = halted

    def _heed(self, doc: dict, today: int) -> str:
        """Another process's kill switch stops this process's markets too (latched); its pause
        for the day's loss: why this process pauses (empty: none)."""
        pf = self.portfolio
        if doc["stopped"] and not pf.stopped_reason:
            pf.stopped_reason = f"{doc['stopped']} (in process {doc['process']})"
            log.error("shared risk book: process %s stopped the book: %s", doc["process"], doc["stopped"])
        return f"portfolio daily loss past the limit in process {doc['process']}" if doc["loss_paused_day"] == today else ""

    async def _wait_for_fills(self) -> None:
        """Until ``redis_sync_secs`` have passed, a local market has new fills to publish, or
        another process has published some (the wait is ours, in fifths: a server's blocking
        timeouts are as coarse as its ``hz``); the stream's new entries are then counted."""
        if self._pubsub is None:
            self._pubsub = self.redis.pubsub()
            await self._pubsub.subscribe(self._keys[1])
            newest = await self.redis.xrevrange(self._keys[1], count=1)
            self._stream_id = newest[0][0] if newest else b"0-0"
        for _ in range(_WAIT_SLICES):
            woken = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=self.p.redis_sync_secs / _WAIT_SLICES)
            if woken is not None:
                break
            if any(len(fills) > self._published[key] for key, fills in self._fills.items()):
                return
        else:
            return
        while await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.0) is not None:
            pass
        for _, entries in await self.redis.xread({self._keys[1]: self._stream_id}, count=10_000):
            self._stream_id = entries[-1][0]
            self.stats.fills_seen += len(entries)

    def _reached(self, epoch: bytes | None) -> None:
        """A sync went through. Quoting starts, or resumes after an outage, or goes on after
        the server lost the book's keys (a new epoch), ``redis_resume_secs`` later: by then
        every process has published its part again."""
        now, pf, resume = self._clock(), self.portfolio, self.p.redis_resume_secs
        if epoch is not None and epoch != self._epoch:
            lost, self._epoch = self._epoch is not None, epoch
            self._phase, self._back_at = "back", now
            why = "holds a new book (the server lost its keys)" if lost else "joined"
            pf.unreachable = f"shared risk book at {self.server} {why}: quoting in {resume:g} s, when every process has published"
            (log.error if lost else log.info)("%s", pf.unreachable)
        elif self._phase == "down":
            self._phase, self._back_at = "back", now
            pf.unreachable = f"shared risk book at {self.server} is back: quoting resumes in {resume:g} s"
            log.warning("%s", pf.unreachable)
        if self._phase == "back" and now - self._back_at >= resume:
            self._phase, pf.unreachable = "up", ""
            self.stats.paused_secs += now - self._paused_at
            log.info("shared risk book at %s: quoting with it", self.server)

    def _lost(self, exc: BaseException) -> None:
        """The server did not answer: every market of this process pauses."""
        why = f"{type(exc).__name__}: {exc}"
        self.stats.last_error = why
        if self._phase in ("starting", "up"):
            self.stats.outages += self._phase == "up"
            self._paused_at = self._clock()
            log.error("shared risk book at %s unreachable (%s): every market pauses", self.server, why)
        self._phase = "down"
        self.portfolio.unreachable = f"shared risk book at {self.server} unreachable: {why}"

    async def _drop_pubsub(self) -> None:
        """Close the subscription's connection (subscribed again on the next wait)."""
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await pubsub.aclose()

    async def close(self) -> None:
        """At the stop, the orders cancelled: publish the parts with the claims shrunk to what
        is held, then disconnect (a failure is logged: the parts stay as last published)."""
        try:
            await self.sync(headroom=False)
        except _OUTAGE as exc:
            log.error("shared risk book at %s: the last parts not published (%s: %s)", self.server, type(exc).__name__, exc)
        try:
            async with asyncio.timeout(self.p.redis_timeout_secs):
                await self._drop_pubsub()
                await self.redis.aclose()
        except _OUTAGE as exc:
            log.error("shared risk book at %s: not closed cleanly (%s: %s)", self.server, type(exc).__name__, exc)

    def summary(self) -> dict[str, object]:
        s, now = self.stats, self._clock()
        paused = s.paused_secs + (0.0 if self._phase == "up" else now - self._paused_at)
        ms = sorted(s.sync_ms)
        return {
            "store": "redis",
            "server": self.server,
            "book": self.p.redis_book,
            "syncs": s.syncs,
            "sync_p50_ms": ms[len(ms) // 2] if ms else None,
            "outages": s.outages,
            "paused_secs": round(paused, 3),
            "fills_published": s.fills_published,
            "fills_seen": s.fills_seen,
            "last_error": s.last_error or None,
        }
