"""The report's plot: market and our quotes with fills, PnL and inventory over the recording's
time, every axis with its unit (matplotlib, imported only when a plot is written)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final

import numpy as np

from ccxt_mm.config import AppConfig
from ccxt_mm.engine import FillRecord, ReplayResult
from ccxt_mm.quoting.contract import SPOT, Contract
from ccxt_mm.quoting.inventory import Inventory
from ccxt_mm.report.figures import utc_iso

PLOT_POINTS: Final = 12_000
"""Book updates drawn per curve, at most (plus every change of position): ten per pixel of the
1,200-pixel-wide plot; a day of 100 ms updates is 864,000, which would cost memory and time and
show nothing more."""


def plotted(position: np.ndarray) -> np.ndarray:
    """Indices of the book updates the plot draws: every ``n // PLOT_POINTS``-th, the last, and
    every one where ``position`` changed (so no excursion of inventory is drawn away)."""
    n = position.size
    every = np.arange(0, n, max(1, n // PLOT_POINTS))
    changed = np.flatnonzero(np.diff(position)) + 1
    return np.unique(np.concatenate([every, changed, [n - 1] if n else []]).astype(np.int64))


def pnl_curve(
    fills: list[FillRecord],
    ts_ns: np.ndarray,
    mid: np.ndarray,
    contract: Contract = SPOT,
    fundings: list[tuple[int, int, float, float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Realized PnL net of fees plus funding, and unrealized PnL (settle currency) at each book
    update (``ts_ns``, at ``mid``), from the fills and funding payments the engine knew by then
    (in the order it learnt them, average-cost accounting as the summary's): their sum at the
    last update is the summary's ``pnl_total``."""
    inv = Inventory(contract_size=contract.size, inverse=contract.inverse)
    after = np.zeros((len(fills) + 1, 3))
    for i, f in enumerate(fills, 1):
        inv.on_fill(f.side, f.price, f.qty, f.fee)
        after[i] = inv.realized - inv.fees, inv.position, inv.avg_price
    known = np.searchsorted(np.array([f.seen_ns for f in fills], dtype=np.int64), ts_ns, side="right")
    realized, position, avg_price = after[known].T
    if fundings:
        paid = np.concatenate([[0.0], np.cumsum([f[4] for f in fundings])])
        realized = realized + paid[np.searchsorted(np.array([f[1] for f in fundings], dtype=np.int64), ts_ns, side="right")]
    if contract.inverse:
        held = position != 0.0
        entry = np.where(held, avg_price, 1.0)
        return realized, np.where(held, position * contract.size * (1.0 / entry - 1.0 / mid), 0.0)
    return realized, position * (mid - avg_price) * contract.size


def plot(path: Path, config: AppConfig, result: ReplayResult, summary: dict[str, object]) -> None:
    """Three panels on one time axis (minutes since the first book update, UTC in the label):
    the market's best bid and ask with our level-0 quotes and our fills by side (price, quote);
    PnL realized net of fees, unrealized and total (quote); inventory with its limits (base)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = config.market
    amount, money, quote = ("contracts" if m.contract.margined else m.base), m.settle, m.quote
    ts = result.book_ts_ns
    t0 = int(ts[0]) if ts.size else 0
    shown = plotted(result.position)
    minutes = (ts[shown] - t0) / 60e9
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1.5, 1]})
    _prices(top, result, shown, minutes, t0)
    top.set_ylabel(f"price ({quote})")
    be = summary.get("break_even_spread_bps")
    be_text = "n/a" if not isinstance(be, float) or not math.isfinite(be) else f"{be:.2f} bps"
    top.set_title(
        f"{summary['symbol']}: {summary['fills']} executions, PnL {summary['pnl_total']:.6g} {money}, "
        f"break-even spread {be_text}"
    )
    realized, unrealized = pnl_curve(result.fills, ts, result.mid, m.contract, result.fundings)
    middle.plot(minutes, realized[shown], lw=0.9, color="tab:blue", label="realized − fees + funding")
    middle.plot(minutes, unrealized[shown], lw=0.7, color="tab:orange", label="unrealized")
    middle.plot(minutes, (realized + unrealized)[shown], lw=1.1, color="black", label="total")
    middle.axhline(0.0, color="grey", lw=0.5)
    middle.set_ylabel(f"PnL ({money})")
    middle.legend(loc="upper left", fontsize=8)
    limit = config.risk.max_position_base
    bottom.step(minutes, result.position[shown], where="post", color="tab:blue", label="position")
    for y in (limit, -limit):
        bottom.axhline(y, color="tab:red", lw=0.8, ls="--", label="limit" if y > 0 else None)
    bottom.set_ylabel(f"inventory ({amount})")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel(f"minutes since the first book update, {utc_iso(t0)}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _prices(ax, result: ReplayResult, shown: np.ndarray, minutes: np.ndarray, t0: int) -> None:
    """The market's best bid and ask, our level-0 quotes and our fills by side."""
    ax.plot(minutes, result.best_bid[shown], lw=0.6, color="grey", alpha=0.8, label="market bid / ask")
    ax.plot(minutes, result.best_ask[shown], lw=0.6, color="grey", alpha=0.8)
    ax.plot(minutes, result.bid_quote[shown], lw=0.7, color="tab:green", alpha=0.8, label="our bid")
    ax.plot(minutes, result.ask_quote[shown], lw=0.7, color="tab:red", alpha=0.8, label="our ask")
    for side, color, marker in ((1, "tab:green", "^"), (-1, "tab:red", "v")):
        fs = [f for f in result.fills if f.side == side]
        if fs:
            ax.scatter(
                [(f.ts_ns - t0) / 60e9 for f in fs],
                [f.price for f in fs],
                color=color,
                marker=marker,
                s=28,
                zorder=3,
                label="buy fill" if side > 0 else "sell fill",
            )
    ax.legend(loc="upper right", fontsize=8)
