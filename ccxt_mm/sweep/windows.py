"""A replay's figures in windows of recording time, and the objectives scored on them.

A window's figures combine exactly with the next's (PnL, fills, inventory, drawdown), so an
objective over several windows, of one recording or of several in turn, is the objective of
their PnL laid end to end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

MINUTE_NS = 60_000_000_000


@dataclass(frozen=True, slots=True)
class Minutes:
    """A window's PnL (quote) on the minute grid of its recording (minutes from its start): each
    whole minute inside the window, and the parts of the minutes cut by its edges."""

    whole: tuple[float, ...] = ()
    """PnL of each whole minute, in order."""
    first_part: float = 0.0
    """PnL from the window's start to its first minute mark (the whole window's without one)."""
    last_part: float = 0.0
    """PnL from its last minute mark to its end (0 without one)."""
    marked: bool = False
    """A minute mark falls in the window."""

    def then(self, nxt: Minutes) -> Minutes:
        """These minutes followed by ``nxt``'s: a minute cut by the edge between them is whole again."""
        if not nxt.marked:
            if self.marked:
                return Minutes(self.whole, self.first_part, self.last_part + nxt.first_part, True)
            return Minutes((), self.first_part + nxt.first_part, 0.0, False)
        if not self.marked:
            return Minutes(nxt.whole, self.first_part + nxt.first_part, nxt.last_part, True)
        joined = (*self.whole, self.last_part + nxt.first_part, *nxt.whole)
        return Minutes(joined, self.first_part, nxt.last_part, True)


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """What a window of a replay did; PnL is net of fees, marked to mid (quote)."""

    pnl_quote: float
    fills: int
    max_abs_inventory_base: float
    peak_quote: float
    """Highest PnL reached, from the window's start (≥ 0, quote)."""
    trough_quote: float
    """Lowest PnL reached, from the window's start (≤ 0, quote)."""
    max_drawdown_quote: float
    """Largest fall of the PnL from a running high within the window (≥ 0, quote)."""
    minutes: Minutes = field(default_factory=Minutes)

    def then(self, nxt: WindowFigures) -> WindowFigures:
        """This window followed by ``nxt``: the figures of the two laid end to end."""
        return WindowFigures(
            pnl_quote=self.pnl_quote + nxt.pnl_quote,
            fills=self.fills + nxt.fills,
            max_abs_inventory_base=max(self.max_abs_inventory_base, nxt.max_abs_inventory_base),
            peak_quote=max(self.peak_quote, self.pnl_quote + nxt.peak_quote),
            trough_quote=min(self.trough_quote, self.pnl_quote + nxt.trough_quote),
            max_drawdown_quote=max(self.max_drawdown_quote, nxt.max_drawdown_quote, self.peak_quote - self.pnl_quote - nxt.trough_quote),
            minutes=self.minutes.then(nxt.minutes),
        )

    def as_dict(self) -> dict[str, object]:
        """Plain data (what a worker sends back)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "minutes"}
        m = self.minutes
        return {**out, "minutes": {"whole": list(m.whole), "first_part": m.first_part, "last_part": m.last_part, "marked": m.marked}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> WindowFigures:
        m = raw["minutes"]
        minutes = Minutes(tuple(float(x) for x in m["whole"]), float(m["first_part"]), float(m["last_part"]), bool(m["marked"]))
        return cls(**{k: v for k, v in raw.items() if k != "minutes"}, minutes=minutes)


def window_edges(start_ns: int, end_ns: int, windows: int) -> np.ndarray:
    """``windows + 1`` edges cutting [start_ns, end_ns] into equal windows (ns); window k is
    (edge k, edge k+1], the first one also holds ``start_ns``."""
    edges = start_ns + (np.arange(windows + 1, dtype=np.float64) * (end_ns - start_ns) / windows).astype(np.int64)
    edges[0], edges[-1] = start_ns - 1, end_ns
    return edges


def _minutes(ts_ns: np.ndarray, values: np.ndarray, lo_ns: int, hi_ns: int, origin_ns: int) -> Minutes:
    """The minutes of a window (lo_ns, hi_ns] whose PnL from its start is ``values`` (the start,
    then each book update at ``ts_ns``), on the grid of minutes from ``origin_ns``."""
    first = origin_ns + -(-(lo_ns + 1 - origin_ns) // MINUTE_NS) * MINUTE_NS
    marks = np.arange(first, hi_ns + 1, MINUTE_NS, dtype=np.int64)
    if marks.size == 0:
        return Minutes((), float(values[-1]), 0.0, False)
    at = values[np.searchsorted(ts_ns, marks, side="right")]
    return Minutes(tuple(float(d) for d in np.diff(at)), float(at[0]), float(values[-1] - at[-1]), True)


def windows_of(
    ts_ns: np.ndarray, pnl: np.ndarray, position: np.ndarray, fill_seen_ns: np.ndarray, edges: np.ndarray
) -> list[WindowFigures]:
    """Each window's figures from the PnL (quote) and position (base) at each book update
    (``ts_ns``) and when each fill was learnt (``fill_seen_ns``); minutes count from the first
    window's start."""
    cut = np.searchsorted(ts_ns, edges, side="right")
    fills_cut = np.searchsorted(np.sort(fill_seen_ns), edges, side="right")
    out = []
    for k in range(edges.size - 1):
        lo, hi = int(cut[k]), int(cut[k + 1])
        start_value = float(pnl[lo - 1]) if lo > 0 else 0.0
        start_position = float(position[lo - 1]) if lo > 0 else 0.0
        values = np.concatenate(([start_value], pnl[lo:hi])) - start_value
        running_high = np.maximum.accumulate(values)
        out.append(
            WindowFigures(
                pnl_quote=float(values[-1]),
                fills=int(fills_cut[k + 1] - fills_cut[k]),
                max_abs_inventory_base=float(np.abs(np.concatenate(([start_position], position[lo:hi]))).max()),
                peak_quote=float(values.max()),
                trough_quote=float(values.min()),
                max_drawdown_quote=float((running_high - values).max()),
                minutes=_minutes(ts_ns[lo:hi], values, int(edges[k]), int(edges[k + 1]), int(edges[0]) + 1),
            )
        )
    return out


def laid_end_to_end(windows: list[WindowFigures]) -> WindowFigures:
    """The figures of ``windows`` (at least one) in turn."""
    total = windows[0]
    for nxt in windows[1:]:
        total = total.then(nxt)
    return total


def score(metric: str, figures: WindowFigures) -> float:
    """The objective ``metric`` (see :class:`~ccxt_mm.sweep.space.ObjectiveSpec`) of ``figures``;
    higher is better; 0 where it is undefined (no inventory held, no spread of minute PnL)."""
    if metric == "pnl":
        return figures.pnl_quote
    if metric == "fills":
        return float(figures.fills)
    if metric == "pnl_per_inventory":
        held = figures.max_abs_inventory_base
        return figures.pnl_quote / held if held > 0 else 0.0
    if metric == "sharpe_per_minute":
        minutes = np.array(figures.minutes.whole)
        sd = float(minutes.std(ddof=1)) if minutes.size > 1 else 0.0
        return float(minutes.mean()) / sd if sd > 0 and math.isfinite(sd) else 0.0
    raise ValueError(f"unknown metric {metric!r}")
