"""What an engine keeps of each book update it quotes on, for the report: the replay and live
engines record the same samples and the same time per state, so their reports are one."""

from __future__ import annotations

from array import array

import numpy as np


class Samples:
    """Per book update: receive time (ns), the market's best bid and ask and mid, our level-0
    bid and ask (quote), position (base) and tick → intent (ns), in typed arrays (64 bytes an
    update: a day of 100 ms diffs is 55 MB)."""

    def __init__(self) -> None:
        self.ts_ns = array("q")
        self.best_bid = array("d")
        self.best_ask = array("d")
        self.mid = array("d")
        self.bid = array("d")
        self.ask = array("d")
        self.position = array("d")
        self.latency_ns = array("q")

    def add(
        self, ts_ns: int, best_bid: float, best_ask: float, mid: float, bid: float, ask: float, position: float, latency_ns: int
    ) -> None:
        self.ts_ns.append(ts_ns)
        self.best_bid.append(best_bid)
        self.best_ask.append(best_ask)
        self.mid.append(mid)
        self.bid.append(bid)
        self.ask.append(ask)
        self.position.append(position)
        self.latency_ns.append(latency_ns)

    def arrays(self, copy: bool) -> list[np.ndarray]:
        """[ts_ns, best_bid, best_ask, mid, bid, ask, position, latency_ns] as numpy arrays. Without ``copy`` they
        share the samples' memory, and nothing may be added while one of them lives (an array
        exporting its buffer cannot grow); with ``copy`` they are the samples as they are now,
        for a thread to read while more are added."""
        columns = (self.ts_ns, self.best_bid, self.best_ask, self.mid, self.bid, self.ask, self.position, self.latency_ns)
        out = []
        for column in columns:
            view = np.frombuffer(column, dtype=np.int64 if column.typecode == "q" else np.float64)
            out.append(view.copy() if copy else view)
        return out


class StateTimes:
    """Time spent in each state (a risk mode, or ``book_invalid``: no book to quote on), ns on
    the engine's clock."""

    def __init__(self, state: str, since_ns: int) -> None:
        self.start_ns = since_ns
        """When counting began (ns): the span the states share."""
        self.state = state
        """The state the time is counted in now."""
        self.since_ns = since_ns
        """When ``state`` began (ns)."""
        self._ns: dict[str, int] = {}

    def set(self, state: str, now_ns: int) -> None:
        """Count the time up to ``now_ns`` in the current state, then in ``state``."""
        if state != self.state:
            self._add(self.state, now_ns - self.since_ns)
            self.state, self.since_ns = state, now_ns

    def secs(self, now_ns: int) -> dict[str, float]:
        """Seconds in each state up to ``now_ns``, the current one included, by state name."""
        totals = dict(self._ns)
        totals[self.state] = totals.get(self.state, 0) + now_ns - self.since_ns
        return {k: v * 1e-9 for k, v in sorted(totals.items())}

    def _add(self, state: str, ns: int) -> None:
        self._ns[state] = self._ns.get(state, 0) + ns
