"""When a feed leaves its websocket for REST polling and when it goes back."""

from __future__ import annotations

import time

from ccxt_mm.exchange.feed import WebsocketFallback


def test_falls_back_after_failures_in_a_row_and_retries_the_websocket_later():
    mode = WebsocketFallback("okx BTC/USDT book", websocket=True, after=3, retry_secs=0.05)
    for _ in range(2):
        mode.failed(ConnectionError())
    assert mode.use_websocket and mode.fallbacks == 0
    mode.succeeded()  # a success in between: the count starts again
    for _ in range(2):
        mode.failed(ConnectionError())
    assert mode.use_websocket
    mode.failed(ConnectionError())
    assert not mode.use_websocket and mode.fallbacks == 1
    time.sleep(0.06)
    assert mode.use_websocket  # tried again once the retry time has passed...
    mode.failed(ConnectionError())
    assert not mode.use_websocket and mode.fallbacks == 2  # ...and one more failure falls back at once
    time.sleep(0.06)
    mode.succeeded()
    assert mode.use_websocket and mode.failures == 0


def test_never_falls_back_with_after_zero_and_always_polls_without_websocket():
    stays = WebsocketFallback("book", websocket=True, after=0, retry_secs=30.0)
    for _ in range(100):
        stays.failed(ConnectionError())
    assert stays.use_websocket and stays.fallbacks == 0
    assert not WebsocketFallback("book", websocket=False, after=3, retry_secs=30.0).use_websocket
