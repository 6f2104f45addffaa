"""ccxt's exceptions become ours in one place, and one retry loop serves every caller."""

from __future__ import annotations

import asyncio

import pytest
from ccxt.base import errors as ccxt_errors

from ccxt_mm import errors
from ccxt_mm.exchange.errors import translate
from ccxt_mm.retry import Backoff, retrying

CASES = [
    (ccxt_errors.OrderImmediatelyFillable, errors.PostOnlyRejected, "post_only"),
    (ccxt_errors.OrderNotFound, errors.OrderNotFound, "not_found"),
    (ccxt_errors.InsufficientFunds, errors.InsufficientBalance, "balance"),
    (ccxt_errors.InvalidOrder, errors.OrderRefused, "invalid"),
    (ccxt_errors.RateLimitExceeded, errors.RateLimited, "rate_limit"),
    (ccxt_errors.DDoSProtection, errors.RateLimited, "rate_limit"),
    (ccxt_errors.RequestTimeout, errors.ExchangeUnreachable, "network"),
    (ccxt_errors.ExchangeNotAvailable, errors.ExchangeUnreachable, "network"),
    (ccxt_errors.NetworkError, errors.ExchangeUnreachable, "network"),
    (ccxt_errors.AuthenticationError, errors.AuthenticationFailed, "auth"),
    (ccxt_errors.BadSymbol, errors.ExchangeError, "error"),
    (ccxt_errors.InvalidNonce, errors.ExchangeUnreachable, "network"),  # a book out of sync: ccxt's NetworkError
]


@pytest.mark.parametrize(("theirs", "ours", "kind"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_ccxt_error_maps_to_one_of_ours(theirs, ours, kind):
    err = translate(theirs('okx {"code":"51000"}'))
    assert type(err) is ours and err.kind == kind
    assert isinstance(err, errors.CcxtMmError) and str(err) == 'okx {"code":"51000"}'
    assert err.retry_after_secs is None


def test_the_wait_the_exchange_asks_for_is_kept_whatever_the_error():
    assert translate(ccxt_errors.RateLimitExceeded("429"), {"Retry-After": "3"}).retry_after_secs == 3.0
    # okx's 429 reaches us as ExchangeNotAvailable: still a network error, with its wait
    err = translate(ccxt_errors.ExchangeNotAvailable("429"), {"retry-after": "1.5"})
    assert type(err) is errors.ExchangeUnreachable and err.retry_after_secs == 1.5
    assert translate(ccxt_errors.RateLimitExceeded("429"), {"Retry-After": "soon"}).retry_after_secs is None


def test_the_retry_loop_waits_what_the_failure_asks_then_gives_up_with_the_last_error():
    slept: list[float] = []
    calls = 0

    async def sleep(secs: float) -> None:
        slept.append(secs)

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise errors.RateLimited(f"call {calls}", retry_after_secs=None if calls == 1 else 7.0)

    async def run() -> None:
        backoff = Backoff(initial_secs=0.5, max_secs=4.0, jitter="none")
        async for attempt in retrying(attempts=3, retry_if=lambda e: isinstance(e, errors.RateLimited), backoff=backoff, sleep=sleep):
            with attempt:
                await call()

    with pytest.raises(errors.RateLimited, match="call 3"):
        asyncio.run(run())
    assert calls == 3 and slept == [0.5, 7.0]  # the backoff, then the server's Retry-After


def test_an_error_the_loop_does_not_retry_propagates_at_once():
    calls = 0

    async def run() -> None:
        nonlocal calls
        backoff = Backoff(initial_secs=1, max_secs=1)
        async for attempt in retrying(attempts=5, retry_if=lambda e: isinstance(e, errors.RateLimited), backoff=backoff):
            with attempt:
                calls += 1
                raise errors.OrderRefused("too small")

    with pytest.raises(errors.OrderRefused):
        asyncio.run(run())
    assert calls == 1


def test_the_venues_reads_and_cancels_wait_at_least_the_step_and_leave_hints_to_its_gate():
    from tenacity import RetryCallState

    from ccxt_mm.exchange.venue import IDEMPOTENT_BACKOFF

    wait = IDEMPOTENT_BACKOFF.wait()
    totals = []
    for _ in range(200):
        total = 0.0
        for n in (1, 2):  # the waits before the 2nd and the 3rd attempt
            rs = RetryCallState(None, None, (), {})
            rs.attempt_number = n
            rs.set_exception((errors.RateLimited, errors.RateLimited("429", retry_after_secs=30.0), None))
            total += wait(rs)
        totals.append(total)
    # 0.2 s then 0.4 s, each plus up to 1 s; the 30 s Retry-After is the gate's, not slept twice
    assert min(totals) >= 0.6 and max(totals) <= 2.6 and max(totals) - min(totals) > 0.5
