"""Retries, one mechanism for every caller: exchange reads and cancels, and LLM calls.

:func:`retrying` builds tenacity's retry loop from a :class:`Backoff`; a failure that says how
long to wait (an exception with ``retry_after_secs``, read by :func:`retry_hint_secs` from
the server's headers or body) waits that long instead of the backoff.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_exponential_jitter,
    wait_random_exponential,
)

_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration_secs(text: str) -> float | None:
    """``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m"`` (the x-ratelimit-reset-* format) in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    scale = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _retry_after_secs(value: str, now_epoch: float | None) -> float | None:
    """``Retry-After``: seconds, or an HTTP date (seconds from now, never negative)."""
    try:
        return float(value)
    except ValueError:
        try:
            at = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
    return max(0.0, at - (time.time() if now_epoch is None else now_epoch))


def retry_hint_secs(headers: dict[str, str], body: str = "", now_epoch: float | None = None) -> float | None:
    """What the server asked us to wait before retrying, in seconds (None: it did not say).

    Header names in any case. Takes the longest of ``retry-after-ms``, ``retry-after``
    (seconds or an HTTP date) and ``x-ratelimit-reset-requests`` / ``-tokens``; only when no
    header says anything, a "try again in X s" in the body (OpenAI's wording)."""
    lower = {k.lower(): v for k, v in headers.items()}
    hints: list[float] = []
    if (ms := lower.get("retry-after-ms")) is not None:
        with suppress(ValueError):  # a malformed hint leaves the backoff in charge
            hints.append(float(ms) / 1000.0)
    if (after := lower.get("retry-after")) is not None and (secs := _retry_after_secs(after, now_epoch)) is not None:
        hints.append(secs)
    for key in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        if (value := lower.get(key)) is not None and (secs := _duration_secs(value)) is not None:
            hints.append(secs)
    if hints:
        return max(hints)
    if (m := _TRY_AGAIN.search(body)) is not None:
        return float(m.group(1)) / (1000.0 if m.group(2).lower() == "ms" else 1.0)
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential waits between attempts: ``initial_secs`` doubling up to ``max_secs``.

    ``jitter``: ``full``, a random wait up to that step (spreads many clients apart);
    ``added``, the step plus up to 1 s (never shorter than the step: for calls that must
    outlast a network blip); ``none``, exactly the step (reproducible). ``honour_hint``: a
    failure's ``retry_after_secs`` replaces the step (off where a gate already holds every
    call back that long)."""

    initial_secs: float
    max_secs: float
    jitter: Literal["full", "added", "none"] = "full"
    honour_hint: bool = True

    def wait(self) -> Callable[[RetryCallState], float]:
        """tenacity's wait for these settings."""
        if self.jitter == "full":
            backoff = wait_random_exponential(multiplier=self.initial_secs, max=self.max_secs)
        elif self.jitter == "added":
            backoff = wait_exponential_jitter(multiplier=self.initial_secs, max=self.max_secs)
        else:
            backoff = wait_exponential(multiplier=self.initial_secs, max=self.max_secs)

        def wait(rs: RetryCallState) -> float:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            hint = getattr(exc, "retry_after_secs", None) if self.honour_hint else None
            return float(hint) if hint is not None else backoff(rs)

        return wait


def retrying(
    *,
    attempts: int,
    retry_if: Callable[[BaseException], bool],
    backoff: Backoff,
    give_up: Callable[[RetryCallState], bool] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> AsyncRetrying:
    """Up to ``attempts`` attempts while the failure passes ``retry_if`` (and ``give_up``, a
    further tenacity stop condition, does not hold); the last failure is re-raised."""
    stop = stop_after_attempt(attempts) if give_up is None else stop_after_attempt(attempts) | give_up
    kwargs = {} if sleep is None else {"sleep": sleep}
    return AsyncRetrying(stop=stop, wait=backoff.wait(), retry=retry_if_exception(retry_if), reraise=True, **kwargs)
