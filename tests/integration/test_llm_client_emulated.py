"""The real chat client against the local OpenAI-compatible emulator on 127.0.0.1: hangs,
throttling, the circuit breaker, the budget and batching, in real time."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from ccxt_mm_testkit.emulator.llm import LlmEmulator, Reply
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.config import LlmConfig
from ccxt_mm.errors import LlmRequestError, LlmUnavailable
from ccxt_mm.llm.client import ChatClient
from ccxt_mm.llm.predictor import LlmPredictor, MarketSnapshot

KEY = "sk-emulated-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "ping"}]


def snapshot(market: str, imbalance: float = 0.2) -> MarketSnapshot:
    return MarketSnapshot(market, 100.0, 0.1, 1.0, imbalance, 0.5, 0.0, 0.0)


def run(emulator: LlmEmulator, cfg_fields: dict, body):
    """Start the emulator, build a client on it, run ``body(client)``; returns its result."""

    async def main():
        server = EmulatorServer(emulator.routes())
        url = await server.start()
        client = ChatClient(LlmConfig(base_url=f"{url}/v1", **cfg_fields), KEY)
        try:
            return await body(client)
        finally:
            await client.close()
            await server.stop()

    return asyncio.run(main())


def test_a_hanging_server_costs_at_most_the_deadline():
    emulator = LlmEmulator(fallback=Reply(delay_secs=10.0))

    async def body(client):
        t0 = time.monotonic()
        with pytest.raises(LlmUnavailable, match="no answer within") as info:
            await client.complete(MESSAGES)
        return time.monotonic() - t0, info.value, client.stats

    elapsed, error, stats = run(emulator, {"attempt_timeout_secs": 0.3, "deadline_secs": 0.8, "backoff_initial_secs": 0.05}, body)
    assert elapsed < 1.5
    assert stats.attempts >= 2 and stats.failures == 1
    assert KEY not in str(error)


def test_the_breaker_stops_calls_after_consecutive_failures():
    emulator = LlmEmulator(fallback=Reply(500, body="openai_429_insufficient_quota.json"))

    async def body(client):
        for _ in range(2):
            with pytest.raises(LlmUnavailable, match="HTTP 500"):
                await client.complete(MESSAGES)
        with pytest.raises(LlmUnavailable, match="circuit breaker open"):
            await client.complete(MESSAGES)
        return client.stats, client.breaker.opens

    stats, opens = run(emulator, {"breaker_failures": 2, "max_attempts": 1}, body)
    assert len(emulator.requests) == 2  # the refused call never reached the server
    assert (stats.failures, stats.refused, opens) == (2, 1, 1)


def test_the_budget_cap_stops_further_calls():
    emulator = LlmEmulator()

    async def body(client):
        await client.complete(MESSAGES)
        with pytest.raises(LlmUnavailable, match="budget spent"):
            await client.complete(MESSAGES)
        return client.stats

    stats = run(emulator, {"budget_usd": 1e-9}, body)
    assert len(emulator.requests) == 1 and stats.cost_usd > 1e-9 and stats.refused == 1


LONG = [{"role": "user", "content": "features " * 200}]
"""About 450 tokens of prompt: one call nearly fills a 500 tokens-per-minute bucket."""


@pytest.mark.parametrize(("limits", "messages"), [({"requests_per_minute": 1.0}, MESSAGES), ({"tokens_per_minute": 500.0}, LONG)])
def test_requests_and_tokens_per_minute_hold_calls_back(limits, messages):
    emulator = LlmEmulator()

    async def body(client):
        await client.complete(messages)
        with pytest.raises(LlmUnavailable, match="throttled past the deadline"):
            await client.complete(messages)

    run(emulator, {**limits, "deadline_secs": 0.5, "max_attempts": 1}, body)
    assert len(emulator.requests) == 1


def test_the_reply_usage_corrects_the_token_estimate():
    """Each short call is estimated at ~300 tokens (max_tokens) but uses ~15: without the
    correction the third call would wait for the 500 tokens-per-minute bucket."""
    emulator = LlmEmulator()

    async def body(client):
        t0 = time.monotonic()
        for _ in range(3):
            await client.complete(MESSAGES)
        return time.monotonic() - t0, client.stats

    elapsed, stats = run(emulator, {"tokens_per_minute": 500.0, "deadline_secs": 0.5, "max_attempts": 1}, body)
    assert stats.calls == 3 and stats.failures == 0
    assert stats.prompt_tokens + stats.completion_tokens < 100
    assert elapsed < 0.5


def test_batches_map_back_per_market_and_the_key_is_only_in_the_header():
    emulator = LlmEmulator()
    snaps = [snapshot("BTC/USDT", 0.4), snapshot("ETH/USDT", -0.6), snapshot("SOL/USDT", 0.0)]

    async def body(client):
        predictor = LlmPredictor(client.cfg, client)
        return await predictor.ask(snaps), predictor.stats

    views, stats = run(emulator, {"batch_size": 2}, body)
    assert [sorted(json.loads(r["messages"][-1]["content"])["markets"]) for r in emulator.requests] == [
        ["BTC/USDT", "ETH/USDT"],
        ["SOL/USDT"],
    ]
    assert {m: v[0] for m, v in views.items()} == {"BTC/USDT": 0.2, "ETH/USDT": -0.3, "SOL/USDT": 0.0}
    assert stats.requests == 2 and stats.predictions == 3
    assert emulator.authorizations == [f"Bearer {KEY}"] * 2
    assert all(KEY not in json.dumps(r) for r in emulator.requests)


def test_a_reply_missing_one_market_keeps_the_others():
    answer = json.dumps({"predictions": {"BTC/USDT": {"direction": 0.1, "confidence": 0.9, "volatility": "low"}}})
    emulator = LlmEmulator([Reply(content=answer)])

    async def body(client):
        predictor = LlmPredictor(client.cfg, client)
        return await predictor.ask([snapshot("BTC/USDT"), snapshot("ETH/USDT")]), predictor.stats

    views, stats = run(emulator, {}, body)
    assert list(views) == ["BTC/USDT"]
    assert stats.discarded == 1 and stats.reasons == {"missing from the reply": 1}


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (400, "openai_400_unsupported_value.json", "does not support 'system'"),
        (401, '{"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}', "API key"),
        (403, '{"error": {"message": "Country, region, or territory not supported", "type": "request_forbidden"}}', "not supported"),
    ],
)
def test_client_errors_are_not_retried_and_name_the_problem(status, body, text):
    emulator = LlmEmulator(fallback=Reply(status, body=body))

    async def body_(client):
        with pytest.raises(LlmRequestError) as info:
            await client.complete(MESSAGES)
        return info.value, client.stats

    error, stats = run(emulator, {}, body_)
    assert error.status == status and text in str(error) and f"HTTP {status}" in str(error)
    assert stats.attempts == 1 and len(emulator.requests) == 1
    assert KEY not in str(error)


@pytest.mark.parametrize(
    "body",
    [
        '{"choices": []}',
        '{"choices": [{"message": {"content": 7}}]}',
        '{"choices": [{"message": {"content": "{}"}}], "usage": 5}',
        "[1]",
        "\xff<html>",
    ],
    ids=["no_choice", "content_not_text", "usage_not_object", "not_an_object", "not_json"],
)
def test_a_broken_200_envelope_is_a_clear_error_counted_by_the_predictor(body, caplog):
    caplog.set_level(logging.WARNING, logger="ccxt_mm")
    emulator = LlmEmulator(fallback=Reply(200, body=body))

    async def main_body(client):
        predictor = LlmPredictor(client.cfg, client)
        return await predictor.ask([snapshot("BTC/USDT")]), predictor.stats

    views, stats = run(emulator, {"max_attempts": 1}, main_body)
    assert views == {} and stats.failed_requests == 1
    assert "malformed chat.completion" in caplog.text and KEY not in caplog.text


def test_connection_errors_are_retried_until_the_deadline():
    async def main():
        client = ChatClient(LlmConfig(base_url="http://127.0.0.1:9/v1", backoff_initial_secs=0.01, max_attempts=3), KEY)
        try:
            with pytest.raises(LlmUnavailable, match="connection error") as info:
                await client.complete(MESSAGES)
        finally:
            await client.close()
        return info.value, client.stats

    error, stats = asyncio.run(main())
    assert stats.attempts == 3 and stats.retries == 2
    assert KEY not in str(error)
