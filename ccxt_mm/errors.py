"""One exception tree for the whole package.

Foreign exceptions (ccxt, aiohttp, pydantic) are translated at the edge with
``raise Mapped(...) from exc`` so callers only ever catch these.
"""

from __future__ import annotations


class CcxtMmError(Exception):
    """Base of every error raised by ccxt-mm."""


class ConfigError(CcxtMmError):
    """The configuration is invalid; ``problems`` lists every error with its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class DataError(CcxtMmError):
    """A recorded market-data file is unusable at a known place.

    ``path`` and ``line`` (1-based; 0 for the file as a whole) name where; the message says
    what is wrong.
    """

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


class SequenceGapError(DataError):
    """A depth diff does not continue the previous one and no later snapshot can resync."""


class CrossedBookError(DataError):
    """The rebuilt book has best bid >= best ask after a complete update."""


class StrategyNotFoundError(CcxtMmError):
    """No strategy plugin is registered under the configured name."""


class StrategyPluginError(CcxtMmError):
    """A strategy plugin does not fit the contract of :mod:`ccxt_mm.strategies` (its factory
    cannot be imported or called as ``factory(params, config)``, or what it returns lacks a
    strategy method); the message names the entry point."""


class LlmError(CcxtMmError):
    """An LLM call failed for good (after any retries); ``status`` is the HTTP status if one
    came. Messages carry the server's error text, never a request header."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class LlmRequestError(LlmError):
    """The server refused the request itself (400, 401, 403, 404, exhausted quota): retrying
    cannot help; fix the config or the key."""


class LlmUnavailable(LlmError):
    """No answer this time: retries or the deadline ran out, the circuit breaker is open, or
    the budget is spent."""


class NoMarketStartedError(CcxtMmError):
    """``ccxt-mm run``: every configured market failed to start (each one's own error is
    printed first), so there is nothing to quote."""
