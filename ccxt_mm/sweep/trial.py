"""One task of a sweep, run in a worker process (a local pool's or a Dask worker's): one
trial's config replayed over one recording, its summary figures and its windows' figures.

Tasks and their results are plain data (the compiled build's frozen classes do not pickle);
a worker keeps every recording it has opened, so each is read once per worker however many
trials replay it."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ccxt_mm.errors import DataError

if TYPE_CHECKING:
    from ccxt_mm.market.events import Recording

KEPT = 4
"""Recordings a worker keeps open (the least recently used one is dropped past this)."""
_OPENED: dict[tuple[object, ...], Recording] = {}
"""The recordings this worker process has opened: (files, their sizes and times, symbol) → recording."""


def _fingerprint(files: list[str]) -> tuple[object, ...]:
    """Each file (each file of a store folder) with its size and modification time: a
    recording that changed on disk (a store still being captured) is opened again."""
    out: list[object] = []
    for name in files:
        path = Path(name)
        if not path.exists():
            raise DataError(name, 0, f"not found on worker {socket.gethostname()}: give recordings on a path every worker shares")
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            st = f.stat()
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


def recording(files: list[str], symbol: str) -> Recording:
    """``symbol``'s recording in ``files``, opened once per process while it is unchanged."""
    key = (_fingerprint(files), symbol)
    found = _OPENED.pop(key, None)
    if found is None:
        from ccxt_mm.market.capture import open_recording

        found = open_recording(files, symbol)
        while len(_OPENED) >= KEPT:
            _OPENED.pop(next(iter(_OPENED)))
    _OPENED[key] = found  # last: the most recently used
    return found


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Replay ``task["config"]`` (a full config as plain data) over the recording
    ``task["files"]`` cut into ``task["windows"]`` windows; returns the summary's figures,
    each window's figures, the wall time (seconds) and the worker."""
    started = time.perf_counter()
    from ccxt_mm.amounts import for_recording
    from ccxt_mm.config import parse_config
    from ccxt_mm.engine import ReplayEngine
    from ccxt_mm.engine.gc_policy import quiet_gc
    from ccxt_mm.report import replay_summary
    from ccxt_mm.report.figures import span_ns
    from ccxt_mm.report.plot import pnl_curve
    from ccxt_mm.strategies import load_strategy
    from ccxt_mm.sweep.windows import window_edges, windows_of

    where = f"trial {task['trial']}"
    config = parse_config(task["config"], where)
    files = list(task["files"])
    log = recording(files, config.market.symbol)
    config, _ = for_recording(config, log, where)
    engine = ReplayEngine(config, log, load_strategy(config, where), run_id=f"t{task['trial']}")
    with quiet_gc():
        result = engine.run(None)
    if result.book_ts_ns.size == 0:
        raise DataError(files[0], 0, f"the {config.market.symbol} book never became quotable (0 book updates)")
    realized, unrealized = pnl_curve(result.fills, result.book_ts_ns, result.mid, config.market.contract, result.fundings)
    seen = np.array([f.seen_ns for f in result.fills], dtype=np.int64)
    start, end = span_ns(result)
    edges = window_edges(start, end, task["windows"])
    windows = windows_of(result.book_ts_ns, realized + unrealized, result.position, seen, edges)
    return {
        "trial": task["trial"],
        "recording": task["recording"],
        "summary": flat_figures(replay_summary(config, engine, result, files)),
        "windows": [w.as_dict() for w in windows],
        "edges_ns": [start, *(int(e) for e in edges[1:])],
        "wall_s": time.perf_counter() - started,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


def flat_figures(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The summary's figures as one flat mapping: nested names joined by dots, lists joined
    by ``; ``, the units left out (they are the same for every trial)."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if key == "units":
            continue
        if isinstance(value, dict):
            out.update(flat_figures(value, f"{name}."))
        elif isinstance(value, list | tuple):
            out[name] = "; ".join(str(v) for v in value)
        else:
            out[name] = value
    return out
