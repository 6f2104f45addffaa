"""Which predictor a replay or a run uses: the imbalance predictor, the LLM (only with its
key in the environment, or replaying a cassette), or none."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError

if TYPE_CHECKING:
    from ccxt_mm.engine.predictions import LivePredictions, ReplayPredictions

log = logging.getLogger(__name__)


def replay_predictions(config: AppConfig, cassette: str | None) -> ReplayPredictions | None:
    """The predictor a replay uses: the LLM replaying ``cassette``; else ``llm.predictor``
    (an LLM only if its key is in the environment: no key, no calls)."""

    from ccxt_mm.engine.predictions import ReplayPredictions
    from ccxt_mm.llm.predictor import ImbalancePredictor

    cfg = config.llm
    market = config.market.symbol
    if cassette is not None:
        if not Path(cassette).is_file():
            raise ConfigError("--predictions", [f"{cassette}: no such cassette file"])
        return ReplayPredictions.llm(cfg, market, api_key="cassette-replay")
    if cfg.predictor == "imbalance":
        return ReplayPredictions(cfg, market, ImbalancePredictor(config.spread.regime_sigma_bps))
    key = llm_key(config)
    return None if key is None else ReplayPredictions.llm(cfg, market, api_key=key)


def llm_key(config: AppConfig) -> str | None:
    """The LLM's API key when ``llm.predictor`` is ``llm`` and the key is in the environment
    (no key: no calls, and a warning saying so)."""
    import os

    cfg = config.llm
    if cfg.predictor != "llm":
        return None
    key = os.environ.get(cfg.api_key_env)
    if not key:
        log.warning("llm.predictor is llm but %s is not set: no LLM calls, predictor none", cfg.api_key_env)
    return key or None


def live_predictions(config: AppConfig) -> LivePredictions | None:
    """The predictor a live or paper run asks in the background (``llm.predictor``)."""
    from ccxt_mm.engine.predictions import LivePredictions
    from ccxt_mm.llm.predictor import ImbalancePredictor

    if config.llm.predictor == "imbalance":
        return LivePredictions(config.llm, ImbalancePredictor(config.spread.regime_sigma_bps))
    key = llm_key(config)
    return None if key is None else LivePredictions.llm(config.llm, key)
