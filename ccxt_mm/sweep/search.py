"""The search: which parameters each trial runs (a full grid, random draws, or Optuna's TPE
sampler asked in fixed batches) and each trial's score, on whatever pool runs the tasks.

One seed gives one result table wherever it runs: a grid's order and random draws are fixed
up front, and Optuna is asked and told a whole batch at a time, the batch size set by the sweep
file, not by the number of workers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ccxt_mm.sweep.pools import Outcome, Pool, Task
from ccxt_mm.sweep.space import SweepFile, trial_config
from ccxt_mm.sweep.windows import WindowFigures, laid_end_to_end, score


@dataclass
class Trial:
    """One point of the space and what its replays gave."""

    number: int
    params: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)
    """One per recording replayed, in recording order (fewer when pruned)."""
    state: str = "complete"
    """``complete``, ``pruned`` (stopped after its first recordings) or ``failed``."""

    @property
    def error(self) -> str:
        return next((str(o["error"]) for o in self.outcomes if "error" in o), "")

    def windows(self) -> list[WindowFigures]:
        """Every window of the recordings replayed, in order, up to the first that failed."""
        out = []
        for outcome in sorted(self.outcomes, key=lambda o: int(o["recording"])):
            if "error" in outcome:
                break
            out += [WindowFigures.from_dict(w) for w in outcome["windows"]]
        return out


@dataclass(frozen=True)
class Sweep:
    """What the search runs: the sweep file, the full base config and the recordings."""

    spec: SweepFile
    base: dict[str, Any]
    recordings: list[list[str]]
    """The files of each recording, in order."""

    @property
    def windows(self) -> int:
        """Windows in all: each recording's, laid end to end."""
        return len(self.recordings) * self.spec.walk_forward.windows

    def fitted(self, windows: list[WindowFigures]) -> WindowFigures | None:
        """The windows the search fits, laid end to end: all but the last (held out) when there
        are two or more; None when there are none."""
        kept = windows[: self.windows - 1] if self.windows > 1 else windows
        return laid_end_to_end(kept) if kept else None

    def objective(self, trial: Trial) -> float:
        """The objective over the fitted windows replayed (NaN: none replayed)."""
        fitted = self.fitted(trial.windows())
        return math.nan if fitted is None or trial.state == "failed" else score(self.spec.objective.metric, fitted)

    def violations(self, trial: Trial) -> dict[str, float]:
        """How far the trial is past each limit over its fitted windows (≤ 0: within it):
        ``loss_cap``, ``max_drawdown``, ``min_fills``."""
        fitted = self.fitted(trial.windows())
        if fitted is None:
            return {"replayed": 1.0}
        cap, limits = self.spec.objective.loss_cap_quote, self.spec.constraints
        out = {}
        if cap is not None:
            out["loss_cap"] = -cap - fitted.pnl_quote
        if limits.max_drawdown_quote is not None:
            out["max_drawdown"] = fitted.max_drawdown_quote - limits.max_drawdown_quote
        if limits.min_fills is not None:
            out["min_fills"] = float(limits.min_fills - fitted.fills)
        return out

    def feasible(self, trial: Trial) -> bool:
        return trial.state == "complete" and all(v <= 0 for v in self.violations(trial).values())

    def tasks(self, trials: list[Trial], recording: int | None = None) -> list[Task]:
        """The tasks of ``trials``: each over every recording, or over ``recording`` only."""
        indices = range(len(self.recordings)) if recording is None else [recording]
        return [
            {
                "trial": t.number,
                "recording": r,
                "config": trial_config(self.base, t.params),
                "files": self.recordings[r],
                "windows": self.spec.walk_forward.windows,
            }
            for t in trials
            for r in indices
        ]


def grid_points(spec: SweepFile) -> list[dict[str, Any]]:
    """Every point of the grid, the first key varying slowest."""
    keys = list(spec.space)
    axes = [spec.space[k].grid() or () for k in keys]
    return [dict(zip(keys, point, strict=True)) for point in itertools.product(*axes)]


def random_points(spec: SweepFile) -> list[dict[str, Any]]:
    """``search.trials`` random points from ``search.seed``: uniform (log-uniform with ``log``)
    on a range, on its step's grid when it has one; a listed value with equal chances."""
    rng = np.random.default_rng(spec.search.seed)
    points = []
    for _ in range(spec.search.trials or 0):
        point: dict[str, Any] = {}
        for key, p in spec.space.items():
            grid = p.grid()
            if grid is not None:
                point[key] = grid[int(rng.integers(len(grid)))]
            elif p.log:
                point[key] = float(math.exp(rng.uniform(math.log(p.low or 1.0), math.log(p.high or 1.0))))
            else:
                point[key] = float(rng.uniform(p.low, p.high))
        points.append(point)
    return points


def run_points(sweep: Sweep, points: list[dict[str, Any]], pool: Pool, on_done: Callable[[Outcome], None]) -> list[Trial]:
    """Trials of a grid or random search: every point over every recording at once."""
    trials = [Trial(n, p) for n, p in enumerate(points)]
    collect(trials, pool.run(sweep.tasks(trials), sweep.spec.search.retries, on_done))
    return trials


def collect(trials: list[Trial], outcomes: list[Outcome]) -> None:
    """Add each outcome to its trial (one failed recording fails the trial)."""
    by_number = {t.number: t for t in trials}
    for outcome in outcomes:
        trial = by_number[outcome["trial"]]
        trial.outcomes.append(outcome)
        if "error" in outcome:
            trial.state = "failed"
