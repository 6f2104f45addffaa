"""``ccxt-mm sweep``: the base config and the sweep file checked before anything runs, the
search on a local pool or a Dask cluster with a progress bar, and the results written."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from ccxt_mm.app.config_file import DEFAULTS, app_config, resolve
from ccxt_mm.app.replay import store_grid, with_market_overrides
from ccxt_mm.config import AppConfig, read_yaml
from ccxt_mm.errors import ConfigError, DataError
from ccxt_mm.sweep.pools import LocalPool, Pool
from ccxt_mm.sweep.search import Sweep, Trial, grid_points, random_points, run_points
from ccxt_mm.sweep.space import SweepFile, base_tree, check_space, load_sweep

BEST_FIGURES = ("trial", "objective", "pnl_total", "fills", "max_abs_inventory")
"""The best trial's columns the summary shows, beside its parameters."""


def sweep(
    config_path: str | None,
    grid_path: str,
    *,
    data: list[str] | None,
    workers: int | None,
    cluster: str | None,
    out_dir: str,
    progress: bool,
) -> int:
    """Run the sweep ``grid_path`` describes over ``config_path`` on each recording of ``data``
    (an event store, or capture files joined by commas; default: the config's ``market.data``),
    on ``workers`` local processes or the Dask scheduler at ``cluster``; write the results to
    ``out_dir``. Exit 0, or 1 when no trial completed within the constraints."""
    started = time.perf_counter()
    plan, raw_base = _plan(config_path, grid_path, data)
    pool: Pool = _cluster_pool(cluster, plan) if cluster else LocalPool(workers)
    print(f"sweep: {_describe(plan)} on {pool.workers} {'cluster' if cluster else 'local'} workers", file=sys.stderr)
    try:
        trials = _search(plan, pool, progress)
    finally:
        pool.close()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = _write(out, plan, trials, raw_base, config_path)
    summary.update({"workers": pool.workers, "wall_s": round(time.perf_counter() - started, 3)})
    summary["trials_per_minute"] = round(len(trials) * 60.0 / summary["wall_s"], 1)
    (out / "sweep_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    _print(summary, out)
    return 0 if summary["best"] is not None else 1


def _plan(config_path: str | None, grid_path: str, data: list[str] | None) -> tuple[Sweep, dict[str, Any]]:
    """The sweep to run (checked against the config) and the base config file as written."""
    from ccxt_mm.config_checks import limits_off, unwise
    from ccxt_mm.strategies import load_strategy

    config, base_dir, source = app_config(config_path)
    spec = load_sweep(grid_path)
    recordings = [resolve(item.split(","), Path.cwd()) for item in data] if data else [resolve(config.market.data, base_dir)]
    _check_inputs(config, spec, recordings, source, grid_path)
    for warning in [*limits_off(config, 1), *unwise(config)]:  # of the base config; a point may move its values
        print(f"warning: base config: {warning}", file=sys.stderr)
    first = recordings[0]
    tick, lot = store_grid(first if len(first) == 1 else None, config.market.symbol, None, None)
    config, _ = with_market_overrides(config, symbol=None, tick_size=tick, lot_size=lot, data=None)
    load_strategy(config, source)
    full = base_tree(config)
    full["market"]["data"] = recordings[0]  # what best.yaml replays: the (first) recording
    check_space(spec, full, grid_path)
    raw = read_yaml(source) if source != DEFAULTS else None
    return Sweep(spec, full, recordings), raw if isinstance(raw, dict) else {}


def _check_inputs(config: AppConfig, spec: SweepFile, recordings: list[list[str]], source: str, grid_path: str) -> None:
    """What the sweep cannot run with: a recording file that is not there, a predictor (trials
    replay without one); pruning with one recording is said."""
    for files in recordings:
        for name in files:
            if not Path(name).exists():
                raise DataError(name, 0, "no such recording (--data: an event store, or capture files joined by commas)")
    if config.llm.predictor != "none":
        raise ConfigError(source, [f"llm.predictor: a sweep replays without predictions (set none; got {config.llm.predictor!r})"])
    if spec.search.prune and len(recordings) < 2:
        print(f"warning: {grid_path}: search.prune needs two recordings or more: no trial is pruned", file=sys.stderr)


def _cluster_pool(address: str, plan: Sweep) -> Pool:
    from ccxt_mm.sweep.pools import DaskPool

    return DaskPool(address, [f for files in plan.recordings for f in files])


def _describe(plan: Sweep) -> str:
    s = plan.spec.search
    count = len(grid_points(plan.spec)) if s.method == "grid" else s.trials
    return f"{s.method} search, {count} trials × {len(plan.recordings)} recording(s), objective {plan.spec.objective.metric}"


def _search(plan: Sweep, pool: Pool, progress: bool) -> list[Trial]:
    """Run the search with a progress bar (replays done, with an ETA) on stderr."""
    from tqdm import tqdm

    s = plan.spec.search
    points = grid_points(plan.spec) if s.method == "grid" else random_points(plan.spec) if s.method == "random" else None
    total = (len(points) if points is not None else s.trials or 0) * len(plan.recordings)
    bar = tqdm(total=total, unit="replay", desc="sweep", file=sys.stderr, disable=not progress)
    try:
        if points is not None:
            return run_points(plan, points, pool, lambda _: bar.update())
        from ccxt_mm.sweep.optuna_search import run_optuna

        return run_optuna(plan, pool, lambda _: bar.update())
    finally:
        bar.total = bar.n  # pruned trials' replays are never run
        bar.refresh()
        bar.close()


def _write(out: Path, plan: Sweep, trials: list[Trial], raw_base: dict[str, Any], config_path: str | None) -> dict[str, Any]:
    """Write the tables, the plot and the best config; the sweep's summary."""
    from ccxt_mm.sweep.output import plot_objective, write_best, write_tables
    from ccxt_mm.sweep.results import best_trial, row, walk_forward

    rows = [row(plan, t) for t in trials]
    write_tables(out, rows)
    keys = list(plan.spec.space)
    plot_objective(out / "objective.png", rows, keys, plan.spec.objective.metric, plan.spec.search.method == "grid")
    best = best_trial(plan, trials)
    (out / "best.yaml").unlink(missing_ok=True)
    if best is not None:
        base = config_path or DEFAULTS
        score = f"{plan.spec.objective.metric} = {plan.objective(best):.6g}"
        header = f"best trial {best.number} of a {plan.spec.search.method} sweep over {base}: {score}"
        write_best(out / "best.yaml", raw_base, plan.base, best.params, plan.base["market"]["data"], header)
    states = [t.state for t in trials]
    return {
        "config": config_path or DEFAULTS,
        "method": plan.spec.search.method,
        "seed": plan.spec.search.seed,
        "objective": plan.spec.objective.metric,
        "recordings": plan.recordings,
        "trials": len(trials),
        **{state: states.count(state) for state in ("complete", "pruned", "failed")},
        "infeasible": sum(1 for t in trials if t.state == "complete" and not plan.feasible(t)),
        "best": None if best is None else {k: v for k, v in rows[trials.index(best)].items() if k in {*keys, *BEST_FIGURES}},
        "walk_forward": walk_forward(plan, trials),
        "errors": sorted({t.error for t in trials if t.error}),
    }


def _print(summary: dict[str, Any], out: Path) -> None:
    """What a user reads first: the counts, the best trial, the walk-forward, where the files are."""
    print(
        f"{summary['trials']} trials ({summary['complete']} complete, {summary['pruned']} pruned, {summary['failed']} failed,"
        f" {summary['infeasible']} past a constraint) in {summary['wall_s']:.1f} s on {summary['workers']} workers"
        f" ({summary['trials_per_minute']} trials/min)"
    )
    for error in summary["errors"]:
        print(f"  failed: {error}")
    best, wf = summary["best"], summary["walk_forward"]
    if best is None:
        why = "every trial failed (errors above)" if summary["complete"] == 0 else "no trial completed within the constraints"
        print(f"{why}: no best.yaml written", file=sys.stderr)
    else:
        fitted = "the fitted windows " + " ".join(f["fit"] for f in wf["folds"]) if wf["folds"] else "the whole recording"
        print(f"best: trial {best['trial']}, objective {summary['objective']} over {fitted} = {best['objective']:.6g}")
        print("  whole recording: " + ", ".join(f"{k} = {_short(v)}" for k, v in best.items() if k not in {"trial", "objective"}))
    for fold in wf["folds"]:
        print(
            f"  walk-forward: best on {fold['fit']} (trial {fold['best_trial']}, {fold['fit_score']:.4g}) scored"
            f" {fold['test_score']:.4g} on {fold['test']}: rank {fold['test_rank']}, median {fold['test_median']:.4g}"
        )
    if wf["held_out"] is not None and len(wf["folds"]) > 1:  # with two windows the one fold is the held-out score
        h = wf["held_out"]
        print(
            f"  held out {h['window']}: best trial {h['best_trial']} scored {h['held_out_score']:.4g}"
            f" (rank {h['held_out_rank']} of {h['trials']}, median {h['held_out_median']:.4g})"
        )
    print(f"results: {out}/trials.parquet, trials.csv, objective.png, sweep_summary.json" + (", best.yaml" if best else ""))
    if best is not None and len(summary["recordings"]) > 1:
        print("best.yaml replays the first recording (the r0.* figures); --data replays another")


def _short(value: object) -> object:
    """A float to 6 significant digits, anything else as it is."""
    return f"{value:.6g}" if isinstance(value, float) else value
