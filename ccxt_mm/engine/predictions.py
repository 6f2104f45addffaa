"""Predictions for the engines: along a replay on the recording's clock, or as a live
background task. Quotes only ever read a :class:`PredictionBoard` (a dict lookup); a failing
or silent model simply leaves it empty.

In replay, every ``llm.interval_secs`` of recording time the market's snapshot goes to the
predictor. The local imbalance predictor answers at once; an LLM answers
``llm.replay_latency_secs`` later plus whatever its client waited (backoff, ``Retry-After``)
on a :class:`SkipClock`, so a replay costs no wall time for those waits and two replays of
one cassette agree.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ccxt_mm.config import LlmConfig
from ccxt_mm.llm.predictor import ImbalancePredictor, LlmPredictor, MarketSnapshot, PredictionBoard, View
from ccxt_mm.quoting.types import Prediction

if TYPE_CHECKING:
    from ccxt_mm.llm.client import SkipClock

log = logging.getLogger("ccxt_mm.llm")


class ReplayPredictions:
    """Drives one predictor for one market through a replay."""

    def __init__(self, cfg: LlmConfig, market: str, predictor: ImbalancePredictor | LlmPredictor, clock: SkipClock | None = None) -> None:
        """``clock``: the LLM client's skip clock (its waits delay the answers)."""
        self.cfg = cfg
        self.clock = clock
        self.market = market
        self.predictor = predictor
        self.board = PredictionBoard(cfg.stale_secs)
        self._interval_ns = int(cfg.interval_secs * 1e9)
        self._next_ns = 0
        self._pending: list[tuple[int, int, Prediction]] = []
        self._seq = 0
        self._runner: asyncio.Runner | None = None
        self.first_ns = 0
        self.last_ns = 0

    @classmethod
    def llm(cls, cfg: LlmConfig, market: str, api_key: str) -> ReplayPredictions:
        """An LLM predictor on a skip clock (its client replays or calls for real)."""
        from ccxt_mm.llm.client import ChatClient, SkipClock  # aiohttp only when an LLM is used

        clock = SkipClock()
        return cls(cfg, market, LlmPredictor(cfg, ChatClient(cfg, api_key, clock=clock, replay=True)), clock)

    @property
    def name(self) -> str:
        return self.predictor.name

    def get(self, now_ns: int) -> Prediction | None:
        """The prediction usable at ``now_ns`` (answers that have arrived by then)."""
        pending = self._pending
        while pending and pending[0][0] <= now_ns:
            self.board.put(self.market, heapq.heappop(pending)[2])
        return self.board.get(self.market, now_ns)

    def on_timer(self, now_ns: int, snapshot: MarketSnapshot | None) -> None:
        """Ask for a prediction if one is due (called from the replay's timer, off the
        per-update path)."""
        if not self.first_ns:
            self.first_ns = now_ns
        self.last_ns = now_ns
        if snapshot is None or now_ns < self._next_ns:
            return
        self._next_ns = now_ns + self._interval_ns
        predictor = self.predictor
        if isinstance(predictor, ImbalancePredictor):
            self._schedule(now_ns, predictor.view(snapshot))
            return
        waited = self.clock.skipped if self.clock else 0.0
        if self._runner is None:
            self._runner = asyncio.Runner()
        views = self._runner.run(predictor.ask([snapshot]))
        delay = self.cfg.replay_latency_secs + (self.clock.skipped - waited if self.clock else 0.0)
        self._schedule(now_ns + int(delay * 1e9), views.get(self.market))

    def _schedule(self, ready_ns: int, view: View | None) -> None:
        if view is None:
            return
        direction, confidence, volatility = view
        self._seq += 1
        heapq.heappush(self._pending, (ready_ns, self._seq, Prediction(direction, confidence, volatility, ready_ns, self.name)))

    def close(self) -> None:
        """Close the client's HTTP session and the private event loop."""
        if self._runner is not None:
            if isinstance(self.predictor, LlmPredictor):
                self._runner.run(self.predictor.client.close())
            self._runner.close()
            self._runner = None

    def summary(self) -> dict:
        """Calls, validity counts, tokens and cost (per hour of recording time)."""
        out: dict = {"predictor": self.name}
        if isinstance(self.predictor, LlmPredictor):
            out.update(self.predictor.summary(max(self.last_ns - self.first_ns, 1) * 1e-9))
        return out


class LivePredictions:
    """The live engine's predictor: one owned background task asks about every market each
    ``interval_secs`` (batched); quotes read :attr:`board` and never wait for it."""

    def __init__(self, cfg: LlmConfig, predictor: ImbalancePredictor | LlmPredictor) -> None:
        self.cfg = cfg
        self.predictor = predictor
        self.board = PredictionBoard(cfg.stale_secs)
        self.rounds = 0
        self.errors = 0
        self._started = time.monotonic()

    @classmethod
    def llm(cls, cfg: LlmConfig, api_key: str) -> LivePredictions:
        from ccxt_mm.llm.client import ChatClient  # aiohttp only when an LLM is used

        return cls(cfg, LlmPredictor(cfg, ChatClient(cfg, api_key)))

    @property
    def name(self) -> str:
        return self.predictor.name

    async def run(self, snapshots: Callable[[], list[MarketSnapshot]], clock_ns: Callable[[], int]) -> None:
        """Ask forever; a round that fails or overruns its deadline is counted and skipped."""
        predictor = self.predictor
        while True:
            started = asyncio.get_running_loop().time()
            snaps = snapshots()
            try:
                if isinstance(predictor, ImbalancePredictor):
                    views = {s.market: predictor.view(s) for s in snaps}
                else:
                    batches = -(-len(snaps) // self.cfg.batch_size)
                    async with asyncio.timeout(self.cfg.deadline_secs * max(1, batches)):
                        views = await predictor.ask(snaps)
                now = clock_ns()
                for market, (direction, confidence, volatility) in views.items():
                    self.board.put(market, Prediction(direction, confidence, volatility, now, self.name))
            except TimeoutError:
                self.errors += 1
                log.warning("prediction round overran its deadline: skipped")
            self.rounds += 1
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, self.cfg.interval_secs - elapsed))

    async def close(self) -> None:
        if isinstance(self.predictor, LlmPredictor):
            await self.predictor.client.close()

    def summary(self) -> dict:
        out: dict = {"predictor": self.name, "rounds": self.rounds, "overruns": self.errors, "markets": len(self.board.latest)}
        if isinstance(self.predictor, LlmPredictor):
            out.update(self.predictor.summary(time.monotonic() - self._started))
        return out
