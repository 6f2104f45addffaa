"""JSON-lines logging with secrets masked: every record is one JSON object per line, and any
configured secret value (API key, secret, passphrase) is replaced before it is written."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, TextIO

REDACTED = "***"


class JsonLinesFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        line = json.dumps(entry, default=str)
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


def configure_json_logging(stream: TextIO, secrets: list[str], level: int = logging.INFO) -> logging.Handler:
    """Send the ``ccxt_mm`` loggers to ``stream`` as JSON lines; returns the handler."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter(secrets))
    root = logging.getLogger("ccxt_mm")
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def json_log_file(path: str, secrets: list[str], level: int = logging.INFO) -> logging.Handler:
    """Also append the ``ccxt_mm`` loggers' lines to the file ``path`` as JSON lines (secrets
    masked): every warning of a run kept, where a screen shows only the latest; returns the
    handler (close it when done)."""
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(JsonLinesFormatter(secrets))
    handler.setLevel(level)
    root = logging.getLogger("ccxt_mm")
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return handler


def log_loop_exceptions(loop: asyncio.AbstractEventLoop) -> None:
    """Report what asyncio cannot hand back to any caller (a future whose exception nobody
    retrieved, a callback that raised) through the ``ccxt_mm`` JSON logger, masked like every
    other line, instead of asyncio's plain-text stderr. An unretrieved future is a warning:
    ccxt leaves such futures behind when a websocket handshake fails, and the feed that hit the
    failure has already been retried; anything else is an error."""
    logger = logging.getLogger("ccxt_mm.loop")

    def report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = context.get("message", "unhandled exception in the event loop")
        exc = context.get("exception")
        level = logging.WARNING if "never retrieved" in message else logging.ERROR
        logger.log(level, "%s: %s", message, f"{type(exc).__name__}: {exc}" if exc is not None else context)

    loop.set_exception_handler(report)
