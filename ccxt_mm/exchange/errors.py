"""ccxt's exceptions mapped to ours, once: :func:`translate` is the only place that reads
ccxt's exception tree; every exchange call of the edge raises the result ``from`` the
original, so the ccxt exception stays attached as ``__cause__``."""

from __future__ import annotations

from ccxt.base import errors as ccxt_errors

from ccxt_mm.errors import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeUnreachable,
    InsufficientBalance,
    OrderNotFound,
    OrderRefused,
    PostOnlyRejected,
    RateLimited,
)
from ccxt_mm.retry import retry_hint_secs

CcxtError = ccxt_errors.BaseError
"""What ccxt raises; only the edge catches it."""

_MAPPING: tuple[tuple[type[Exception], type[ExchangeError]], ...] = (
    (ccxt_errors.OrderImmediatelyFillable, PostOnlyRejected),  # before InvalidOrder, its parent
    (ccxt_errors.OrderNotFound, OrderNotFound),
    (ccxt_errors.InsufficientFunds, InsufficientBalance),
    (ccxt_errors.InvalidOrder, OrderRefused),
    (ccxt_errors.RateLimitExceeded, RateLimited),
    (ccxt_errors.DDoSProtection, RateLimited),
    (ccxt_errors.NetworkError, ExchangeUnreachable),  # RequestTimeout, ExchangeNotAvailable...
    (ccxt_errors.AuthenticationError, AuthenticationFailed),
)
"""ccxt class → ours, most specific first (the first match wins)."""


def translate(exc: BaseException, headers: dict[str, str] | None = None) -> ExchangeError:
    """Our error for ccxt's ``exc``, with the wait the last response's ``headers`` asked for
    (ccxt maps okx's HTTP 429 to ExchangeNotAvailable: it stays a network error, whose create
    may have reached the exchange, and its ``Retry-After`` still holds the venue back)."""
    ours = next((mine for theirs, mine in _MAPPING if isinstance(exc, theirs)), ExchangeError)
    return ours(str(exc), retry_hint_secs(headers or {}))
