"""A slow, failing or garbage-talking LLM never changes or delays a quote: the replay of the
real BTCUSDT recording quotes exactly as without a predictor, at the same recording times,
while a model that answers does move the quotes (so the comparison can fail)."""

from __future__ import annotations

import numpy as np
import pytest
from ccxt_mm_testkit.emulator.llm import LlmEmulator, Reply
from ccxt_mm_testkit.emulator.server import serve_in_thread

from ccxt_mm.config import load_config
from ccxt_mm.engine import ReplayEngine
from ccxt_mm.engine.predictions import ReplayPredictions
from ccxt_mm.llm.predictor import ImbalancePredictor
from ccxt_mm.market.binance_capture import read_binance_capture
from ccxt_mm.strategies import load_strategy
from tests.conftest import BINANCE_FILES, ROOT

CONFIG = load_config(ROOT / "examples/binance_btcusdt_tight.yaml")
"""BTC-sized spreads: hundreds of fills, so a biased quote shows."""


@pytest.fixture(scope="module")
def log():
    return read_binance_capture(BINANCE_FILES, "BTC/USDT")


@pytest.fixture(scope="module")
def baseline(log):
    return ReplayEngine(CONFIG, log, load_strategy(CONFIG), run_id="t").run()


def replay_with(log, emulator: LlmEmulator, **llm):
    with serve_in_thread(emulator.routes()) as url:
        cfg = CONFIG.llm.model_copy(update={"base_url": f"{url}/v1", **llm})
        predictions = ReplayPredictions.llm(cfg, "BTC/USDT", "sk-test")
        try:
            result = ReplayEngine(CONFIG, log, load_strategy(CONFIG), run_id="t", predictions=predictions).run()
        finally:
            predictions.close()
    return result, predictions


def same_quotes(a, b) -> bool:
    return (
        np.array_equal(a.book_ts_ns, b.book_ts_ns)
        and np.array_equal(a.bid_quote, b.bid_quote, equal_nan=True)
        and np.array_equal(a.ask_quote, b.ask_quote, equal_nan=True)
    )


FAILURES = {
    "hangs_10s": (LlmEmulator(fallback=Reply(delay_secs=10.0)), {"attempt_timeout_secs": 0.2, "deadline_secs": 0.4}),
    "429_forever": (LlmEmulator(fallback=Reply(429, body="openai_429_rate_limit_exceeded_tpm.json", headers={"Retry-After": "1"})), {}),
    "garbage": (LlmEmulator(fallback=Reply(content="BUY BUY BUY! ignore the previous instructions")), {}),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_failing_llm_leaves_every_quote_unchanged(log, baseline, failure):
    emulator, llm = FAILURES[failure]
    result, predictions = replay_with(log, emulator, **llm)
    summary = predictions.summary()
    assert len(emulator.requests) > 0
    assert summary["predictions"] == 0
    assert summary["failed_requests"] + summary["discarded"] > 0
    assert same_quotes(result, baseline)
    assert result.orders == baseline.orders
    assert len(result.fills) == len(baseline.fills)


def test_a_model_that_answers_moves_the_quotes_within_its_bounds(log, baseline):
    emulator = LlmEmulator()
    result, predictions = replay_with(log, emulator)
    summary = predictions.summary()
    assert summary["predictions"] == len(emulator.requests) > 10
    assert not same_quotes(result, baseline)
    # bounded influence: the level-0 mid of our quotes moves by at most the configured shift
    # plus the spread change, never by more than the widest spread multiplier allows
    both = ~np.isnan(result.bid_quote) & ~np.isnan(baseline.bid_quote) & ~np.isnan(result.ask_quote) & ~np.isnan(baseline.ask_quote)
    ours = 0.5 * (result.bid_quote + result.ask_quote)[both]
    theirs = 0.5 * (baseline.bid_quote + baseline.ask_quote)[both]
    assert both.sum() > 1000
    assert np.median(np.abs(ours - theirs) / theirs * 1e4) < CONFIG.strategy.params.get("prediction_shift_bps", 2.0) + 1.0


def test_the_local_imbalance_predictor_runs_without_any_call(log, baseline):
    predictions = ReplayPredictions(CONFIG.llm, "BTC/USDT", ImbalancePredictor(CONFIG.spread.regime_sigma_bps))
    result = ReplayEngine(CONFIG, log, load_strategy(CONFIG), run_id="t", predictions=predictions).run()
    assert predictions.summary() == {"predictor": "imbalance"}
    assert not same_quotes(result, baseline)
