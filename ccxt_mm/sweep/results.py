"""A sweep's results: one row per trial (parameters, objective, window scores, every summary
figure, wall time), the walk-forward scores, and the best trial."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ccxt_mm.sweep.search import Sweep, Trial
from ccxt_mm.sweep.windows import score

PLACE_COLUMNS = ("wall_s", "worker")
"""Where and how long each trial ran: the only columns that differ between two runs of one
sweep (locally and on a cluster, say)."""


def window_names(sweep: Sweep) -> list[str]:
    """``w0``, ``w1``... for one recording; ``r0w0``, ``r0w1``, ``r1w0``... for several."""
    per = sweep.spec.walk_forward.windows
    if len(sweep.recordings) == 1:
        return [f"w{k}" for k in range(per)]
    return [f"r{r}w{k}" for r in range(len(sweep.recordings)) for k in range(per)]


def window_bounds(sweep: Sweep, trials: list[Trial]) -> dict[str, dict[str, str]]:
    """Each window's first and last moment (UTC), from any replay of its recording."""
    from ccxt_mm.report.figures import utc_iso

    names, per = window_names(sweep), sweep.spec.walk_forward.windows
    out: dict[str, dict[str, str]] = {}
    for r in range(len(sweep.recordings)):
        edges = next((o["edges_ns"] for t in trials for o in t.outcomes if o["recording"] == r and "edges_ns" in o), None)
        for k in range(per) if edges is not None else ():
            out[names[r * per + k]] = {"start_utc": utc_iso(edges[k]), "end_utc": utc_iso(edges[k + 1])}
    return out


def row(sweep: Sweep, trial: Trial) -> dict[str, Any]:
    """The trial's row: its number and state, parameters, objective and feasibility, each
    window's score, each recording's summary figures (prefixed ``r<i>.`` when there are
    several), then wall time (seconds, all its replays), the worker (host:pid) and error."""
    out: dict[str, Any] = {"trial": trial.number, "state": trial.state, **trial.params}
    out["objective"] = sweep.objective(trial)
    out["feasible"] = sweep.feasible(trial)
    windows = trial.windows()
    for k, name in enumerate(window_names(sweep)):
        out[f"score.{name}"] = score(sweep.spec.objective.metric, windows[k]) if k < len(windows) else math.nan
    several = len(sweep.recordings) > 1
    for outcome in trial.outcomes:
        prefix = f"r{outcome['recording']}." if several else ""
        out.update({f"{prefix}{k}": v for k, v in outcome.get("summary", {}).items()})
    out["wall_s"] = sum(float(o.get("wall_s", 0.0)) for o in trial.outcomes)
    out["worker"] = " ".join(sorted({str(o["worker"]) for o in trial.outcomes if "worker" in o}))
    out["error"] = trial.error
    return out


def best_trial(sweep: Sweep, trials: list[Trial]) -> Trial | None:
    """The feasible complete trial of highest objective (the lowest number among equals)."""
    kept = [t for t in trials if sweep.feasible(t) and not math.isnan(sweep.objective(t))]
    return max(kept, key=lambda t: (sweep.objective(t), -t.number)) if kept else None


def _rank(value: float, among: list[float]) -> int:
    """1 + how many of ``among`` are higher than ``value``."""
    return 1 + sum(1 for s in among if s > value)


def walk_forward(sweep: Sweep, trials: list[Trial]) -> dict[str, Any]:
    """For each window but the last, the trial best on it and how it then scored on the next
    window (its rank and the median there), and the best trial's score on the held-out last
    window: how much of what was fitted carries over. Empty with one window."""
    names, metric = window_names(sweep), sweep.spec.objective.metric
    done = [t for t in trials if sweep.feasible(t)]
    if len(names) < 2 or not done:
        return {"windows": window_bounds(sweep, trials), "folds": [], "held_out": None}
    scores = {t.number: [score(metric, w) for w in t.windows()] for t in done}
    folds = []
    for k in range(len(names) - 1):
        best = max(done, key=lambda t: (scores[t.number][k], -t.number))
        nxt = [scores[t.number][k + 1] for t in done]
        folds.append(
            {
                "fit": names[k],
                "test": names[k + 1],
                "best_trial": best.number,
                "fit_score": scores[best.number][k],
                "test_score": scores[best.number][k + 1],
                "test_rank": _rank(scores[best.number][k + 1], nxt),
                "test_median": float(np.median(nxt)),
            }
        )
    overall = best_trial(sweep, trials)
    assert overall is not None
    last = [scores[t.number][-1] for t in done]
    held_out = {
        "window": names[-1],
        "best_trial": overall.number,
        "fit_objective": sweep.objective(overall),
        "held_out_score": scores[overall.number][-1],
        "held_out_rank": _rank(scores[overall.number][-1], last),
        "held_out_median": float(np.median(last)),
        "trials": len(done),
    }
    return {"windows": window_bounds(sweep, trials), "metric": metric, "folds": folds, "held_out": held_out}
