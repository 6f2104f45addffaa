"""Predictors: what a market looks like → a short-term view, kept per market with its time.

The quoting path only ever reads :class:`PredictionBoard` (a dict lookup); asking a model
happens elsewhere (a background task live, the timer in replay) and may be slow or fail
without any quote waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import orjson

from ccxt_mm.config import LlmConfig
from ccxt_mm.errors import LlmError
from ccxt_mm.llm.prediction import parse_reply
from ccxt_mm.quoting.spread import VolRegime, vol_regime
from ccxt_mm.quoting.types import Prediction

if TYPE_CHECKING:  # the client pulls in aiohttp, which a replay without an LLM never needs
    from ccxt_mm.llm.client import ChatClient

log = logging.getLogger("ccxt_mm.llm")

View = tuple[float, float, VolRegime]
"""(direction in [-1, 1], confidence in [0, 1], volatility regime)."""

SYSTEM_PROMPT = (
    "You are a short-term crypto market microstructure model. For each market in the user's "
    "JSON you get order-book and trade features over the last seconds. Predict the next "
    "minute: direction in [-1, 1] (+1 = mid price up), confidence in [0, 1], volatility one "
    'of "low", "medium", "high", "extreme". Answer with one JSON object and nothing else: '
    '{"predictions": {"<market>": {"direction": <number>, "confidence": <number>, '
    '"volatility": "<regime>"}}}, one entry per market asked for.'
)


class MarketSnapshot(NamedTuple):
    """What a predictor is told about one market (from the quoting core, at one instant)."""

    market: str
    mid: float
    """Quote currency."""
    microprice_offset_bps: float
    """Microprice minus mid, bps of mid."""
    spread_bps: float
    imbalance: float
    """Top-levels book imbalance in [-1, 1]."""
    sigma_bps: float
    """Realized volatility, bps per square-root second."""
    trade_flow: float
    """Decayed aggressor-volume imbalance in [-1, 1] (+: buyers)."""
    inventory: float
    """Our position as a fraction of its limit, [-1, 1]."""


def build_messages(snapshots: list[MarketSnapshot]) -> list[dict[str, str]]:
    """The chat messages asking for one prediction per snapshot."""
    markets = {
        s.market: {
            "mid": round(s.mid, 8),
            "microprice_offset_bps": round(s.microprice_offset_bps, 3),
            "spread_bps": round(s.spread_bps, 3),
            "book_imbalance": round(s.imbalance, 3),
            "volatility_bps_per_sqrt_s": round(s.sigma_bps, 3),
            "trade_flow_imbalance": round(s.trade_flow, 3),
            "our_inventory_fraction_of_limit": round(s.inventory, 3),
        }
        for s in snapshots
    }
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": orjson.dumps({"markets": markets}).decode()},
    ]


class PredictionBoard:
    """The latest prediction per market; older than ``stale_secs`` → ignored."""

    def __init__(self, stale_secs: float) -> None:
        self.stale_ns = int(stale_secs * 1e9)
        self.latest: dict[str, Prediction] = {}

    def put(self, market: str, prediction: Prediction) -> None:
        self.latest[market] = prediction

    def get(self, market: str, now_ns: int) -> Prediction | None:
        p = self.latest.get(market)
        if p is None or now_ns - p.ts_ns > self.stale_ns or now_ns < p.ts_ns:
            return None
        return p


class ImbalancePredictor:
    """Local, free and instant: direction from book imbalance and trade flow, confidence
    their agreement, volatility the regime of the measured sigma."""

    name = "imbalance"

    def __init__(self, regime_sigma_bps: tuple[float, float, float]) -> None:
        self.bounds = regime_sigma_bps

    def view(self, s: MarketSnapshot) -> View:
        direction = max(-1.0, min(1.0, 0.5 * (s.imbalance + s.trade_flow)))
        return direction, min(1.0, abs(direction)), vol_regime(s.sigma_bps, self.bounds)


@dataclass
class PredictorStats:
    requests: int = 0
    """Chat requests made (each asks about up to ``batch_size`` markets)."""
    predictions: int = 0
    """Valid per-market predictions received."""
    failed_requests: int = 0
    """Requests that ended in an error (after the client's retries) or were refused."""
    discarded: int = 0
    """Per-market answers that failed validation (or never came in a reply)."""
    reasons: dict[str, int] = field(default_factory=dict)
    """Why requests failed or answers were discarded, counted (first 200 characters)."""

    def count(self, reason: str) -> None:
        key = reason[:200]
        self.reasons[key] = self.reasons.get(key, 0) + 1


class LlmPredictor:
    """Asks an OpenAI-compatible model about several markets per request."""

    def __init__(self, cfg: LlmConfig, client: ChatClient) -> None:
        self.cfg = cfg
        self.client = client
        self.name = f"llm:{cfg.model}"
        self.stats = PredictorStats()

    async def ask(self, snapshots: list[MarketSnapshot]) -> dict[str, View]:
        """Valid views per market; failures and invalid answers are counted, never raised."""
        views: dict[str, View] = {}
        size = self.cfg.batch_size
        for start in range(0, len(snapshots), size):
            batch = snapshots[start : start + size]
            self.stats.requests += 1
            try:
                reply = await self.client.complete(build_messages(batch))
            except LlmError as exc:
                self.stats.failed_requests += 1
                self.stats.count(str(exc))
                log.warning("prediction request failed: %s", exc)
                continue
            except asyncio.CancelledError:
                # cut off unanswered (the round's deadline, which may fire before the
                # client's own, or shutdown): a request that failed all the same
                self.stats.failed_requests += 1
                raise
            parsed = parse_reply(reply.content, [s.market for s in batch])
            views.update(parsed.predictions)
            self.stats.predictions += len(parsed.predictions)
            for market, why in parsed.rejected.items():
                self.stats.discarded += len(batch) if market == "reply" else 1
                self.stats.count(why)
                log.warning("prediction for %s discarded: %s", market, why)
        return views

    def summary(self, elapsed_secs: float) -> dict:
        """Requests, validity counts, tokens and cost, with cost per hour over ``elapsed_secs``
        (wall time live, recording time in replay)."""
        s, c = self.stats, self.client.stats
        return {
            "requests": s.requests,
            "predictions": s.predictions,
            "failed_requests": s.failed_requests,
            "discarded": s.discarded,
            "reasons": dict(sorted(s.reasons.items())),
            "http_attempts": c.attempts,
            "retries": c.retries,
            "rate_limited": c.rate_limited,
            "breaker_opens": self.client.breaker.opens,
            "refused": c.refused,
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "cost_usd": round(c.cost_usd, 6),
            "cost_usd_per_hour": round(c.cost_usd / max(elapsed_secs, 1.0) * 3600.0, 6),
        }
