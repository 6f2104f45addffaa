"""OpenAI-compatible chat client: ``POST {base_url}/chat/completions`` over aiohttp.

Works with any server that speaks that API (OpenAI, DeepSeek, OpenRouter and other relays,
local servers). Per call:

* throttled by two ``aiolimiter`` buckets, requests per minute and tokens per minute (tokens
  estimated before the call; the next call's estimate is corrected by the reply's ``usage``);
* retried (:mod:`ccxt_mm.retry`) on 429, 408, 5xx, timeouts and connection errors, with jittered
  exponential backoff, waiting what the server asks for instead when it says so
  (``Retry-After``, ``retry-after-ms``, ``x-ratelimit-reset-*``, or OpenAI's "Please try again
  in 26.604s" in the body); 400 / 401 / 403 / 404 and an exhausted quota are not retried;
* bounded by an overall deadline, a circuit breaker (N failed calls in a row: no calls for
  a cooldown) and a budget in US dollars priced from the config's table.

The API key goes into the Authorization header and nowhere else: errors carry the status
and the server's error text only.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import orjson
from aiolimiter import AsyncLimiter

from ccxt_mm.config import LlmConfig
from ccxt_mm.errors import LlmError, LlmRequestError, LlmUnavailable
from ccxt_mm.retry import Backoff, retry_hint_secs, retrying


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on this clock."""

    async def sleep(self, secs: float) -> None: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, secs: float) -> None:
        await asyncio.sleep(secs)


class SkipClock:
    """Real time plus skipped waits: a sleep returns at once and moves this clock forward.

    Replay uses it so that backoff and ``Retry-After`` waits cost no wall time but still count
    toward the deadline and delay when a prediction becomes usable."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    async def sleep(self, secs: float) -> None:
        self.skipped += secs
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class ChatReply:
    content: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@dataclass
class ClientStats:
    calls: int = 0
    """Calls made (a call is one prediction request, retries included)."""
    attempts: int = 0
    """HTTP requests sent."""
    retries: int = 0
    rate_limited: int = 0
    """429 answers."""
    failures: int = 0
    """Calls that ended without a reply."""
    refused: int = 0
    """Calls not made: breaker open or budget spent."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not; ``retry_after_secs`` is the wait
    the server asked for, if any."""

    def __init__(self, message: str, status: int | None, retry_after_secs: float | None) -> None:
        self.status = status
        self.retry_after_secs = retry_after_secs
        super().__init__(message)


def _error_text(body: str) -> tuple[str, str]:
    """(message, code) from an OpenAI-style error body; the raw text, cut short, otherwise."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.strip()[:300], ""
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return body.strip()[:300], ""
    message = str(err.get("message", ""))
    raw = (err.get("metadata") or {}).get("raw") if isinstance(err.get("metadata"), dict) else None
    if raw:
        message = f"{message}: {raw}"
    return message[:300], str(err.get("code") or err.get("type") or "")


class CircuitBreaker:
    """Opens after ``failures`` failed calls in a row; while open no call is made. After
    ``cooldown_secs`` one trial call is let through: success closes it, failure re-opens."""

    def __init__(self, failures: int, cooldown_secs: float, clock: Clock) -> None:
        self.failures = failures
        self.cooldown_secs = cooldown_secs
        self.clock = clock
        self.consecutive = 0
        self.opened_at: float | None = None
        self.opens = 0

    @property
    def open(self) -> bool:
        return self.opened_at is not None and self.clock.monotonic() - self.opened_at < self.cooldown_secs

    def check(self) -> None:
        if self.open:
            left = self.cooldown_secs - (self.clock.monotonic() - (self.opened_at or 0.0))
            raise LlmUnavailable(f"circuit breaker open after {self.consecutive} failed calls in a row ({left:.0f} s left)")

    def success(self) -> None:
        self.consecutive = 0
        self.opened_at = None

    def failure(self) -> None:
        self.consecutive += 1
        if self.consecutive >= self.failures:
            if self.opened_at is None or not self.open:
                self.opens += 1
            self.opened_at = self.clock.monotonic()


class ChatClient:
    """One client per process; ``complete`` may be awaited from several tasks."""

    def __init__(self, cfg: LlmConfig, api_key: str, clock: Clock | None = None, replay: bool = False) -> None:
        """``replay``: no aiolimiter buckets (the recording clock paces the calls and wall
        time does not matter) and backoff without jitter, so replays are reproducible."""
        self.cfg = cfg
        self.clock = clock or RealClock()
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._requests = None if replay else AsyncLimiter(cfg.requests_per_minute, 60.0)
        self._tokens = None if replay else AsyncLimiter(cfg.tokens_per_minute, 60.0)
        self._backoff = Backoff(initial_secs=cfg.backoff_initial_secs, max_secs=cfg.backoff_max_secs, jitter="none" if replay else "full")
        self._token_correction = 0
        self.breaker = CircuitBreaker(cfg.breaker_failures, cfg.breaker_cooldown_secs, self.clock)
        self.stats = ClientStats()
        self._session: aiohttp.ClientSession | None = None
        price = cfg.prices.get(cfg.model)
        self._price = (price.input, price.output) if price is not None else None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def cost_of(self, prompt_tokens: int, completion_tokens: int) -> float:
        """US dollars for this many tokens of the configured model (0 if it has no price)."""
        if self._price is None:
            return 0.0
        return (prompt_tokens * self._price[0] + completion_tokens * self._price[1]) * 1e-6

    async def complete(self, messages: list[dict[str, str]]) -> ChatReply:
        """One chat completion, or :class:`LlmRequestError` / :class:`LlmUnavailable`."""
        cfg, stats = self.cfg, self.stats
        if stats.cost_usd >= cfg.budget_usd:
            stats.refused += 1
            raise LlmUnavailable(f"budget spent: ${stats.cost_usd:.4f} of ${cfg.budget_usd:.2f}")
        try:
            self.breaker.check()
        except LlmUnavailable:
            stats.refused += 1
            raise
        payload: dict = {"model": cfg.model, "messages": messages, "max_tokens": cfg.max_tokens, "temperature": 0}
        if cfg.response_format:
            payload["response_format"] = {"type": "json_object"}
        body = orjson.dumps(payload)
        estimate = len(body) // 4 + cfg.max_tokens
        deadline = self.clock.monotonic() + cfg.deadline_secs
        stats.calls += 1
        attempts = retrying(
            attempts=cfg.max_attempts,
            retry_if=lambda exc: isinstance(exc, _Retryable),
            backoff=self._backoff,
            give_up=lambda rs: self.clock.monotonic() + (rs.upcoming_sleep or 0.0) >= deadline,
            sleep=self.clock.sleep,
        )
        try:
            async for attempt in attempts:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        stats.retries += 1
                    reply = await self._attempt(body, estimate, deadline)
        except _Retryable as exc:
            stats.failures += 1
            self.breaker.failure()
            raise LlmUnavailable(f"no reply from {self.url}: {exc}", exc.status) from None
        except LlmError:
            stats.failures += 1
            self.breaker.failure()
            raise
        self.breaker.success()
        self._token_correction = reply.prompt_tokens + reply.completion_tokens - estimate
        stats.prompt_tokens += reply.prompt_tokens
        stats.completion_tokens += reply.completion_tokens
        stats.cost_usd += reply.cost_usd
        return reply

    async def _throttle(self, estimate: int, deadline: float) -> None:
        if self._requests is None or self._tokens is None:
            return
        tokens = max(1, min(int(self.cfg.tokens_per_minute), estimate + self._token_correction))
        self._token_correction = 0
        try:
            async with asyncio.timeout(max(0.0, deadline - self.clock.monotonic())):
                await self._requests.acquire()
                await self._tokens.acquire(tokens)
        except TimeoutError:
            raise _Retryable("throttled past the deadline (requests or tokens per minute)", None, None) from None

    async def _attempt(self, body: bytes, estimate: int, deadline: float) -> ChatReply:
        await self._throttle(estimate, deadline)
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0.0:
            raise _Retryable("deadline passed", None, None)
        timeout = min(self.cfg.attempt_timeout_secs, remaining)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self.stats.attempts += 1
        try:
            async with self._session.post(self.url, data=body, headers=self._headers, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                status = resp.status
                headers = {k.lower(): v for k, v in resp.headers.items()}
                text = (await resp.read()).decode("utf-8", errors="replace")
        except TimeoutError:
            raise _Retryable(f"no answer within {timeout:.1f} s", None, None) from None
        except aiohttp.ClientError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__})", None, None) from None
        if status == 200:
            return self._reply(text)
        message, code = _error_text(text)
        if status == 429:
            self.stats.rate_limited += 1
            if code == "insufficient_quota":
                raise LlmRequestError(f"HTTP 429 insufficient_quota: {message}", status)
            raise _Retryable(f"HTTP 429: {message}", status, retry_hint_secs(headers, text))
        if status == 408 or status >= 500:
            raise _Retryable(f"HTTP {status}: {message}", status, retry_hint_secs(headers, text))
        raise LlmRequestError(f"HTTP {status} from {self.url}: {message}", status)

    def _reply(self, text: str) -> ChatReply:
        try:
            doc = orjson.loads(text)
            choice = doc["choices"][0]
            content = choice["message"]["content"]
            usage = doc.get("usage") or {}
            prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise LlmError(f"malformed chat.completion from {self.url}: {type(exc).__name__}: {exc}") from None
        if content is not None and not isinstance(content, str):
            raise LlmError(f"malformed chat.completion from {self.url}: message.content is {type(content).__name__}")
        return ChatReply(content, prompt, completion, self.cost_of(prompt, completion))
