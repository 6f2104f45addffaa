"""JSON-lines logging with secrets masked: every record is one JSON object per line, and any
configured secret value (API key, secret, passphrase) is replaced before it is written."""

from __future__ import annotations

import json
import logging
import time
from typing import TextIO

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
