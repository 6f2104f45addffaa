"""A replay's figures in windows of recording time, and the objectives scored on them.

A window's figures combine exactly with the next's (PnL, fills, inventory, drawdown), so an
objective over several windows, of one recording or of several in turn, is the objective of
their PnL laid end to end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MINUTE_NS = 60_000_000_000


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
    minute_pnl_quote: tuple[float, ...] = field(default=())
    """PnL made in each whole minute from the window's start (quote)."""

    def then(self, nxt: WindowFigures) -> WindowFigures:
        """This window followed by ``nxt``: the figures of the two laid end to end."""
        return WindowFigures(
            pnl_quote=self.pnl_quote + nxt.pnl_quote,
            fills=self.fills + nxt.fills,
            max_abs_inventory_base=max(self.max_abs_inventory_base, nxt.max_abs_inventory_base),
            peak_quote=max(self.peak_quote, self.pnl_quote + nxt.peak_quote),
            trough_quote=min(self.trough_quote, self.pnl_quote + nxt.trough_quote),
            max_drawdown_quote=max(self.max_drawdown_quote, nxt.max_drawdown_quote, self.peak_quote - self.pnl_quote - nxt.trough_quote),
            minute_pnl_quote=self.minute_pnl_quote + nxt.minute_pnl_quote,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "pnl_quote": self.pnl_quote,
            "fills": self.fills,
            "max_abs_inventory_base": self.max_abs_inventory_base,
            "peak_quote": self.peak_quote,
            "trough_quote": self.trough_quote,
            "max_drawdown_quote": self.max_drawdown_quote,
            "minute_pnl_quote": list(self.minute_pnl_quote),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> WindowFigures:
        minutes = raw["minute_pnl_quote"]
        assert isinstance(minutes, list)
        return cls(
            pnl_quote=float(raw["pnl_quote"]),  # type: ignore[arg-type]
            fills=int(raw["fills"]),  # type: ignore[call-overload]
            max_abs_inventory_base=float(raw["max_abs_inventory_base"]),  # type: ignore[arg-type]
            peak_quote=float(raw["peak_quote"]),  # type: ignore[arg-type]
            trough_quote=float(raw["trough_quote"]),  # type: ignore[arg-type]
            max_drawdown_quote=float(raw["max_drawdown_quote"]),  # type: ignore[arg-type]
            minute_pnl_quote=tuple(float(m) for m in minutes),
        )


def window_edges(start_ns: int, end_ns: int, windows: int) -> np.ndarray:
    """``windows + 1`` edges cutting [start_ns, end_ns] into equal windows (ns); window k is
    (edge k, edge k+1], the first one also holds ``start_ns``."""
    edges = start_ns + (np.arange(windows + 1, dtype=np.float64) * (end_ns - start_ns) / windows).astype(np.int64)
    edges[0], edges[-1] = start_ns - 1, end_ns
    return edges


def windows_of(
    ts_ns: np.ndarray, pnl: np.ndarray, position: np.ndarray, fill_seen_ns: np.ndarray, edges: np.ndarray
) -> list[WindowFigures]:
    """Each window's figures from the PnL (quote) and position (base) at each book update
    (``ts_ns``) and when each fill was learnt (``fill_seen_ns``)."""
    cut = np.searchsorted(ts_ns, edges, side="right")
    fills_cut = np.searchsorted(np.sort(fill_seen_ns), edges, side="right")
    out = []
    for k in range(edges.size - 1):
        lo, hi = int(cut[k]), int(cut[k + 1])
        start_value = float(pnl[lo - 1]) if lo > 0 else 0.0
        start_position = float(position[lo - 1]) if lo > 0 else 0.0
        values = np.concatenate(([start_value], pnl[lo:hi])) - start_value
        running_high = np.maximum.accumulate(values)
        marks = edges[k] + 1 + np.arange(int((edges[k + 1] - edges[k]) // MINUTE_NS) + 1, dtype=np.int64) * MINUTE_NS
        at_marks = values[np.searchsorted(ts_ns[lo:hi], marks, side="right")]
        out.append(
            WindowFigures(
                pnl_quote=float(values[-1]),
                fills=int(fills_cut[k + 1] - fills_cut[k]),
                max_abs_inventory_base=float(np.abs(np.concatenate(([start_position], position[lo:hi]))).max()),
                peak_quote=float(values.max()),
                trough_quote=float(values.min()),
                max_drawdown_quote=float((running_high - values).max()),
                minute_pnl_quote=tuple(float(d) for d in np.diff(at_marks)),
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
        minutes = np.array(figures.minute_pnl_quote)
        sd = float(minutes.std(ddof=1)) if minutes.size > 1 else 0.0
        return float(minutes.mean()) / sd if sd > 0 and math.isfinite(sd) else 0.0
    raise ValueError(f"unknown metric {metric!r}")
