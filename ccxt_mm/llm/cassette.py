"""Recorded LLM replies replayed (``ccxt-mm replay --predictions CASSETTE``).

A cassette is a vcrpy recording of chat completions; replaying it matches on method, host
and path only, so the recorded replies are served in order whatever the prompt, and a
request the cassette lacks is an error (record mode ``none``). vcrpy is imported only here,
only when a cassette is replayed: it is the ``cassettes`` extra, not a core dependency.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from ccxt_mm.errors import ConfigError

MATCH_ON = ("method", "host", "path")
"""What a chat-completion request is matched on (never the prompt, the port or a header)."""


def replay_cassette(path: Path, flag: str = "--predictions") -> AbstractContextManager:
    """The cassette at ``path`` served to every HTTP call made inside the context."""
    try:
        import vcr
    except ImportError as exc:
        raise ConfigError(flag, ["replaying an LLM cassette needs vcrpy: pip install 'ccxt-mm[cassettes]'"]) from exc
    player = vcr.VCR(record_mode="none", serializer="yaml", match_on=list(MATCH_ON), decode_compressed_response=True)
    return player.use_cassette(str(path.resolve()))
