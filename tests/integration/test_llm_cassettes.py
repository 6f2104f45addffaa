"""The real chat client replaying the LLM cassettes (record mode none): retries, waits,
usage, costs and validation, on bodies taken from real OpenAI / OpenRouter replies."""

from __future__ import annotations

import asyncio
import re

import pytest
from ccxt_mm_testkit.cassettes import llm_vcr

from ccxt_mm.config import LlmConfig
from ccxt_mm.errors import LlmRequestError
from ccxt_mm.llm.client import ChatClient, SkipClock
from ccxt_mm.llm.predictor import LlmPredictor, MarketSnapshot
from ccxt_mm.quoting.spread import VolRegime
from tests.conftest import CASSETTES

LLM = CASSETTES / "llm"
SNAPSHOT = MarketSnapshot("BTC/USDT", 61234.56, 0.42, 0.0016, 0.35, 1.3, 0.6, 0.1)
"""The market the single-call cassettes were recorded asking about."""


def ask(cassette: str, cfg: LlmConfig | None = None):
    """(views, predictor, client, clock) after one prediction request replayed from ``cassette``."""
    cfg = cfg or LlmConfig()
    clock = SkipClock()
    client = ChatClient(cfg, "sk-test-not-a-real-key", clock=clock, replay=True)
    predictor = LlmPredictor(cfg, client)

    async def main():
        try:
            with llm_vcr().use_cassette(str(LLM / cassette)) as tape:
                views = await predictor.ask([SNAPSHOT])
                assert tape.all_played, f"{cassette}: {tape.play_count} of {len(tape)} interactions played"
        finally:
            await client.close()
        return views

    return asyncio.run(main()), predictor, client, clock


def test_success_gives_a_validated_prediction_and_prices_the_real_usage():
    views, predictor, client, _ = ask("success.yaml")
    # the emulator's model: direction = (imbalance + trade flow) / 2, regime from sigma 1.3 -> medium
    assert views == {"BTC/USDT": (0.475, 0.475, VolRegime.MEDIUM)}
    s = client.stats
    assert (s.calls, s.attempts, s.retries) == (1, 1, 0)
    assert s.prompt_tokens > 0 and s.completion_tokens > 0
    price = LlmConfig().prices["gpt-4.1-mini"]
    assert s.cost_usd == pytest.approx((s.prompt_tokens * price.input + s.completion_tokens * price.output) / 1e6)
    assert predictor.stats.predictions == 1


def test_429_waits_what_the_server_asked_then_succeeds():
    views, _, client, clock = ask("rate_limited_then_success.yaml")
    assert "BTC/USDT" in views
    assert (client.stats.attempts, client.stats.retries, client.stats.rate_limited) == (2, 1, 1)
    assert clock.skipped == 2.0  # Retry-After: 2 beats x-ratelimit-reset-tokens 1.5s and the body's 26.604s


def test_429_without_header_uses_backoff_and_the_real_openrouter_body():
    views, _, client, clock = ask("rate_limited_body_hint_then_success.yaml")
    assert "BTC/USDT" in views
    assert client.stats.rate_limited == 1
    assert clock.skipped == pytest.approx(LlmConfig().backoff_initial_secs)  # first exponential step, no jitter in replay


@pytest.mark.parametrize("cassette", ["server_error_then_success.yaml", "gateway_timeout_then_success.yaml"])
def test_5xx_is_retried(cassette):
    views, _, client, clock = ask(cassette)
    assert "BTC/USDT" in views
    assert (client.stats.attempts, client.stats.retries, client.stats.failures) == (2, 1, 0)
    assert clock.skipped > 0.0


@pytest.mark.parametrize(
    ("cassette", "reason"),
    [
        ("malformed_json.yaml", "not a JSON object"),
        ("invalid_values.yaml", "direction"),
        ("instruction_text.yaml", "note: Extra inputs are not permitted"),
    ],
)
def test_replies_that_fail_validation_are_discarded_and_counted(cassette, reason):
    views, predictor, client, _ = ask(cassette)
    assert views == {}
    assert predictor.stats.discarded == 1 and predictor.stats.predictions == 0
    assert any(reason in r for r in predictor.stats.reasons)
    assert client.stats.cost_usd > 0.0  # a bad answer is still paid for


def test_invalid_values_name_every_bad_field():
    _, predictor, _, _ = ask("invalid_values.yaml")
    (text,) = predictor.stats.reasons
    assert "direction" in text and "confidence" in text and "volatility" in text


@pytest.mark.parametrize(("cassette", "status"), [("insufficient_quota.yaml", 429), ("model_not_found.yaml", 404)])
def test_refusals_are_not_retried_and_say_why(cassette, status):
    cfg = LlmConfig()
    client = ChatClient(cfg, "sk-test-not-a-real-key", clock=SkipClock(), replay=True)

    async def main():
        try:
            with llm_vcr().use_cassette(str(LLM / cassette)):
                await client.complete([{"role": "user", "content": "x"}])
        finally:
            await client.close()

    with pytest.raises(LlmRequestError) as info:
        asyncio.run(main())
    assert info.value.status == status
    assert client.stats.attempts == 1 and client.stats.retries == 0
    assert "quota" in str(info.value) or "does not exist" in str(info.value)


def test_no_cassette_holds_a_key_or_an_authorization_value():
    for path in sorted(LLM.glob("*.yaml")):
        text = path.read_text()
        for auth in re.findall(r"Authorization:\n\s+- (\S+)", text):
            assert auth == "REDACTED", path.name
        assert "Bearer" not in text and "sk-" not in text, path.name
