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

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:
        """Pickled by its arguments (a sweep's worker process sends it back whole)."""
        return (type(self), (self.source, self.problems))


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

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:
        """Pickled by its arguments (a sweep's worker process sends it back whole)."""
        return (type(self), (self.path, self.line, self.reason))


class SequenceGapError(DataError):
    """A depth diff does not continue the previous one and no later snapshot can resync."""


class StoreWriteError(CcxtMmError):
    """The event store could not be written (disk full, a write error): the capture stops; the
    files completed before stay whole and the open one is recovered on the next start."""


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

    def __reduce__(self) -> tuple[type, tuple[str, int | None]]:
        return (type(self), (str(self), self.status))


class LlmRequestError(LlmError):
    """The server refused the request itself (400, 401, 403, 404, exhausted quota): retrying
    cannot help; fix the config or the key."""


class LlmUnavailable(LlmError):
    """No answer this time: retries or the deadline ran out, the circuit breaker is open, or
    the budget is spent."""


class ExchangeError(CcxtMmError):
    """An exchange call failed. ``kind`` says what a venue does about it; the exchange
    edge raises these ``from`` the client library's own exception (see
    :mod:`ccxt_mm.exchange.errors`), so nothing above the edge catches a ccxt type."""

    kind = "error"

    def __init__(self, message: str, retry_after_secs: float | None = None) -> None:
        self.retry_after_secs = retry_after_secs
        """The wait the exchange asked for (``Retry-After``), seconds, if it said."""
        super().__init__(message)

    def __reduce__(self) -> tuple[type, tuple[str, float | None]]:
        return (type(self), (str(self), self.retry_after_secs))


class PostOnlyRejected(ExchangeError):
    """A post-only order would have taken liquidity and was refused (not a failure)."""

    kind = "post_only"


class OrderNotFound(ExchangeError):
    """The exchange does not know the order (filled, cancelled or never there)."""

    kind = "not_found"


class InsufficientBalance(ExchangeError):
    kind = "balance"


class OrderRefused(ExchangeError):
    """The exchange refused the order as invalid (size, price, precision, limits)."""

    kind = "invalid"


class RateLimited(ExchangeError):
    """429 / 418 or a DDoS guard: every call of the venue waits ``retry_after_secs``."""

    kind = "rate_limit"


class ExchangeUnreachable(ExchangeError):
    """Network error, timeout or maintenance: the request may or may not have reached the
    exchange, so a create is looked up by client id, never resent."""

    kind = "network"


class AuthenticationFailed(ExchangeError):
    kind = "auth"


class VenueError(ExchangeError):
    """A venue cannot go on with what the exchange answered (unknown symbol, a malformed
    reply, a cancel to be retried); names exchange and symbol."""


class NoMarketStartedError(CcxtMmError):
    """``ccxt-mm run``: every configured market failed to start (each one's own error is
    printed first), so there is nothing to quote."""
