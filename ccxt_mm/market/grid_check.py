"""Does a configured tick, lot or position limit fit a recording? Pure functions over an
:class:`~ccxt_mm.market.events.EventLog`'s arrays; each returns a warning's text or None.

A recording's *grid* is the largest step of the form 1, 2 or 5 × 10^k that its values fit:
the exchange's tick (prices) or lot (sizes) as far as the recording can tell.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from ccxt_mm.execution.market import SMALLEST_STEP
from ccxt_mm.market.events import EventLog, MsgKind

OFF_GRID_SHARE: Final = 0.001
"""Share of a recording's distinct values that may be off a grid the recording still fits:
orders resting far from the touch since before the exchange changed its step (the bundled
BTCUSDT recording has 7 sizes of 32,979 off its 0.00001 lot, all asks at 74,000 to 200,000)."""

FIT_TOLERANCE_STEPS: Final = 1e-3
"""How far from a multiple of a step a value may be and still fit it, in steps: float noise
(Bybit sends sizes as 32-bit floats, 116.600006 for 116.6)."""

FINER_FACTOR: Final = 10.0
"""A configured step this many times finer than the recording's grid is warned about."""



def decimal_text(x: float) -> str:
    """``x`` as a plain decimal (0.00001, not 1e-05)."""
    return np.format_float_positional(x, trim="-")


def off_grid(values: np.ndarray, step: float) -> int:
    """How many of ``values`` are not a multiple of ``step`` (same units)."""
    ratio = values / step
    return int((np.abs(ratio - np.rint(ratio)) > FIT_TOLERANCE_STEPS).sum())


def recorded_grid(values: np.ndarray) -> float | None:
    """The largest 1, 2 or 5 × 10^k that all but :data:`OFF_GRID_SHARE` of the distinct
    positive ``values`` fit; None when there are none, or no step down to 1e-12 fits."""
    return _grid(np.unique(values[values > 0]))


def _grid(distinct: np.ndarray) -> float | None:
    """:func:`recorded_grid` of sorted distinct positive values."""
    if distinct.size == 0:
        return None
    allowed = int(OFF_GRID_SHARE * distinct.size)
    k = math.floor(math.log10(float(distinct[-1])))
    while 10.0**k >= SMALLEST_STEP:
        for mantissa in (5, 2, 1):
            step = float(f"{mantissa}e{k}")
            if off_grid(distinct, step) <= allowed:
                return step
        k -= 1
    return None


def step_warning(values: np.ndarray, step: float, name: str, what: str) -> str | None:
    """Warning text when ``step`` (``name``: the flag or config key that set it) does not fit
    the recording's ``values`` (``what``: ``prices`` or ``sizes``): more of them off its grid
    than :data:`OFF_GRID_SHARE`, or the recording's grid :data:`FINER_FACTOR` times coarser
    (quotes could then land between the exchange's steps)."""
    distinct = np.unique(values[values > 0])
    grid = _grid(distinct)
    if grid is None:
        return None
    ratio = grid / step
    if round(ratio) >= 1 and abs(ratio - round(ratio)) <= FIT_TOLERANCE_STEPS:  # step divides the grid
        if ratio < FINER_FACTOR:
            return None
        return (
            f"{name} {decimal_text(step)} is {round(ratio)}x finer than the recording's {what}, which are on a "
            f"{decimal_text(grid)} grid: quotes could land between the exchange's steps"
        )
    off = off_grid(distinct, step)
    if off <= int(OFF_GRID_SHARE * distinct.size):
        return None
    return (
        f"{name} {decimal_text(step)} does not fit the recording: {off:,} of its {distinct.size:,} distinct {what} are off "
        f"that grid; the recording's {what} are on a {decimal_text(grid)} grid"
    )


def first_snapshot_depth(log: EventLog) -> tuple[float, float] | None:
    """Total quantity (base units) on the bid and on the ask side of the recording's first
    snapshot; None without one."""
    snapshots = np.flatnonzero(log.msg_kind == MsgKind.SNAPSHOT)
    if snapshots.size == 0:
        return None
    m = int(snapshots[0])
    a, s, b = int(log.msg_start[m]), int(log.msg_split[m]), int(log.msg_stop[m])
    return float(log.row_qty[a:s].sum()), float(log.row_qty[s:b].sum())


def first_snapshot_mid(log: EventLog) -> float | None:
    """Mid price of the recording's first snapshot (quote currency); None without a snapshot
    holding both sides."""
    snapshots = np.flatnonzero(log.msg_kind == MsgKind.SNAPSHOT)
    if snapshots.size == 0:
        return None
    m = int(snapshots[0])
    a, s, b = int(log.msg_start[m]), int(log.msg_split[m]), int(log.msg_stop[m])
    bids, asks = log.row_price[a:s][log.row_qty[a:s] > 0], log.row_price[s:b][log.row_qty[s:b] > 0]
    if bids.size == 0 or asks.size == 0:
        return None
    return (float(bids.max()) + float(asks.min())) / 2.0


def position_warning(log: EventLog, max_position_base: float, base: str, quote: str) -> str | None:
    """Warning text when ``risk.max_position_base`` (``base`` units) is more than the whole
    bid or ask side of the recording's first snapshot: most likely a ``quote`` amount typed
    into a base field. A one-sided snapshot tells nothing."""
    depth = first_snapshot_depth(log)
    if depth is None or not 0.0 < min(depth) < max_position_base:
        return None
    bids, asks = depth
    return (
        f"risk.max_position_base {decimal_text(max_position_base)} {base} is more than a whole side of the recording's first "
        f"snapshot (bids {bids:,.4f} {base}, asks {asks:,.4f} {base}): it is in {base}{', the base asset' if base != 'contracts' else ''}; "
        f"was it meant as a {quote} amount?"
    )
