"""What the event loop cannot hand to a caller reaches the JSON log, masked."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging

from ccxt_mm.logs import configure_json_logging, log_loop_exceptions


def logged(provoke) -> tuple[list[dict], str]:
    stream = io.StringIO()
    handler = configure_json_logging(stream, ["sekrit-key"])
    loop = asyncio.new_event_loop()
    log_loop_exceptions(loop)
    try:
        provoke(loop)
        gc.collect()
    finally:
        loop.close()
        logging.getLogger("ccxt_mm").removeHandler(handler)
    text = stream.getvalue()
    return [json.loads(line) for line in text.splitlines()], text


def test_a_future_nobody_awaited_is_a_masked_json_warning():
    def provoke(loop):
        loop.create_future().set_exception(ConnectionError("handshake refused for sekrit-key"))

    (entry,), text = logged(provoke)
    assert (entry["level"], entry["logger"]) == ("warning", "ccxt_mm.loop")
    assert "never retrieved" in entry["msg"] and "ConnectionError: handshake refused for ***" in entry["msg"]
    assert "sekrit-key" not in text


def test_a_callback_that_raised_is_a_json_error():
    def provoke(loop):
        loop.call_soon(lambda: 1 / 0)
        loop.run_until_complete(asyncio.sleep(0))

    (entry,), _ = logged(provoke)
    assert entry["level"] == "error" and "ZeroDivisionError" in entry["msg"]
