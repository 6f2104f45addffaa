"""A sweep's files: ``trials.parquet`` and ``trials.csv`` (one row per trial), ``objective.png``
(a heatmap over a two-key grid, else parallel coordinates) and ``best.yaml``, a config ready
to replay."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ccxt_mm.sweep.space import set_key

SWEEP_FILES = ("trials.parquet", "trials.csv", "objective.png", "best.yaml", "sweep_summary.json")


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every column of ``rows``, in the order first seen."""
    seen: dict[str, None] = {}
    for r in rows:
        seen.update(dict.fromkeys(r))
    return list(seen)


def write_tables(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    """``trials.parquet`` and ``trials.csv``; a column mixing kinds of value is kept as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = columns(rows)
    arrays = {}
    for name in names:
        values = [r.get(name) for r in rows]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[name] = pa.array([None if v is None else str(v) for v in values])
    pq.write_table(pa.table(arrays), out_dir / "trials.parquet")
    with (out_dir / "trials.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)


def write_best(
    path: Path, raw_base: dict[str, Any], full: dict[str, Any], params: dict[str, Any], files: list[str] | None, header: str
) -> None:
    """The base config file (``raw_base``) with ``params`` set, and, with ``files`` (the sweep's
    one recording), the market it was replayed on: a config that replays to the trial's figures;
    ``header``, a comment line on top, says where it came from."""
    tree = copy.deepcopy(raw_base)
    if files is not None:
        for key in ("symbol", "tick_size", "lot_size"):
            set_key(tree, f"market.{key}", full["market"][key], full)
        set_key(tree, "market.data", list(files), full)
    for key, value in params.items():
        set_key(tree, key, value, full)
    path.write_text(f"# {header}\n" + yaml.safe_dump(tree, sort_keys=False))


def plot_objective(path: Path, rows: list[dict[str, Any]], keys: list[str], metric: str, grid: bool) -> None:
    """A heatmap of the objective over a grid of two keys, else parallel coordinates: one
    line per complete trial across the keys (each scaled to its range), coloured by objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["state"] == "complete" and not math.isnan(r["objective"])]
    fig, ax = plt.subplots(figsize=(10, 6))
    if grid and len(keys) == 2 and done:
        _heatmap(fig, ax, done, keys, metric)
    else:
        _parallel(fig, ax, done, keys, metric)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _order(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order, then anything else by its text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _heatmap(fig: Any, ax: Any, done: list[dict[str, Any]], keys: list[str], metric: str) -> None:
    xs, ys = sorted({r[keys[0]] for r in done}, key=_order), sorted({r[keys[1]] for r in done}, key=_order)
    cells = np.full((len(ys), len(xs)), np.nan)
    for r in done:
        cells[ys.index(r[keys[1]]), xs.index(r[keys[0]])] = r["objective"]
    image = ax.imshow(cells, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), [str(x) for x in xs], rotation=45)
    ax.set_yticks(range(len(ys)), [str(y) for y in ys])
    ax.set_xlabel(keys[0])
    ax.set_ylabel(keys[1])
    fig.colorbar(image, ax=ax, label=f"objective: {metric}")
    ax.set_title(f"{metric} over the grid ({len(done)} trials)")


def _parallel(fig: Any, ax: Any, done: list[dict[str, Any]], keys: list[str], metric: str) -> None:
    axes = [*keys, "objective"]
    scaled = np.zeros((len(done), len(axes)))
    for j, key in enumerate(axes):
        values = [r[key] for r in done]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        levels = sorted(set(values), key=_order)
        column = np.array(values, dtype=float) if numeric else np.array([levels.index(v) for v in values], dtype=float)
        span = column.max() - column.min() if column.size else 0.0
        scaled[:, j] = (column - column.min()) / span if span > 0 else 0.5
        if column.size:  # each axis's lowest and highest value, written at its ends
            low, high = (f"{column.min():.4g}", f"{column.max():.4g}") if numeric else (str(levels[0]), str(levels[-1]))
            ax.annotate(low, (j, 0.0), xytext=(4, -12), textcoords="offset points", fontsize=8)
            ax.annotate(high, (j, 1.0), xytext=(4, 4), textcoords="offset points", fontsize=8)
    order = np.argsort(scaled[:, -1], kind="stable")
    for line, colour in zip(scaled[order], matplotlib_colours(scaled[order, -1]), strict=True):
        ax.plot(range(len(axes)), line, color=colour, alpha=0.6, lw=1)
    if done:  # the best trial (the lowest number among equals), on top
        ax.plot(range(len(axes)), scaled[int(order[-1])], color="tab:red", lw=2.5, label="best")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_xticks(range(len(axes)), [*keys, f"objective: {metric}"], rotation=20)
    ax.set_ylabel("scaled to each axis's range")
    ax.set_title(f"{metric} over the fitted windows: {len(done)} complete trials (colour: objective)")


def matplotlib_colours(values: np.ndarray) -> list[Any]:
    """Viridis colours of ``values`` in [0, 1]."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(float(v)) for v in values]
