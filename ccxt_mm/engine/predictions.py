"""Predictions along a replay: asked on the recording's clock, usable after their latency.

Every ``llm.interval_secs`` of recording time the market's snapshot goes to the predictor.
The local imbalance predictor answers at once; an LLM answers ``llm.replay_latency_secs``
later plus whatever its client waited (backoff, ``Retry-After``) on a :class:`SkipClock`, so
a replay costs no wall time for those waits and two replays of one cassette agree. Quotes
read the board by a dict lookup; a failing or silent model simply leaves it empty.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import TYPE_CHECKING

from ccxt_mm.config import LlmConfig
from ccxt_mm.llm.predictor import ImbalancePredictor, LlmPredictor, MarketSnapshot, PredictionBoard, View
from ccxt_mm.quoting.types import Prediction

if TYPE_CHECKING:
    from ccxt_mm.llm.client import SkipClock


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
            s, c = self.predictor.stats, self.predictor.client.stats
            hours = max(self.last_ns - self.first_ns, 1) / 3.6e12
            out.update(
                requests=s.requests,
                predictions=s.predictions,
                failed_requests=s.failed_requests,
                discarded=s.discarded,
                reasons=dict(sorted(s.reasons.items())),
                http_attempts=c.attempts,
                retries=c.retries,
                rate_limited=c.rate_limited,
                breaker_opens=self.predictor.client.breaker.opens,
                prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
                cost_usd=round(c.cost_usd, 6),
                cost_usd_per_hour=round(c.cost_usd / hours, 6),
            )
        return out
