"""The one interface every venue (paper, ccxt) implements.

The quoting loop never waits on a venue: actions are submitted and events drained, so the
same strategy and order manager run against a simulator or an exchange connection.
"""

from __future__ import annotations

from typing import Protocol

from ccxt_mm.execution.types import Action, VenueEvent


class Venue(Protocol):
    supports_amend: bool
    events: list[VenueEvent]
    """Events not drained yet, oldest first (read on every book update: empty means there
    is nothing to drain)."""

    def submit(self, action: Action, now_ns: int) -> None:
        """Queue an action; it reaches the exchange after the venue's latency."""

    def drain_events(self) -> list[VenueEvent]:
        """Every event since the last call, in the order they happened."""
