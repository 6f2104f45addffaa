"""Optuna's TPE sampler over the sweep's space, asked and told a batch at a time, with median
pruning of trials that score badly on the first recordings and the constraints handed to the
sampler (a trial past a limit is not taken as a good example)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ccxt_mm.sweep.pools import Outcome, Pool
from ccxt_mm.sweep.search import Sweep, Trial, collect
from ccxt_mm.sweep.space import ParamSpec


def _suggest(trial: Any, key: str, spec: ParamSpec) -> Any:
    """The value Optuna's ``trial`` suggests for ``key``."""
    if spec.values is not None:
        return trial.suggest_categorical(key, list(spec.values))
    if spec.integer:
        return trial.suggest_int(key, int(spec.low or 0), int(spec.high or 0), step=int(spec.step or 1))
    return trial.suggest_float(key, spec.low, spec.high, step=spec.step, log=spec.log)


def _study(sweep: Sweep) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=sweep.spec.search.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=sweep.spec.search.batch, n_warmup_steps=0)
    return optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)


def run_optuna(sweep: Sweep, pool: Pool, on_done: Callable[[Outcome], None]) -> list[Trial]:
    """``search.trials`` trials in batches of ``search.batch``; with ``search.prune`` and two
    recordings or more, each batch replays one recording at a time and the trials below the
    median so far stop there."""
    import optuna

    study, spec = _study(sweep), sweep.spec.search
    staged = spec.prune and len(sweep.recordings) > 1
    trials: list[Trial] = []
    while len(trials) < (spec.trials or 0):
        asked = [study.ask() for _ in range(min(spec.batch, (spec.trials or 0) - len(trials)))]
        batch = [Trial(a.number, {k: _suggest(a, k, p) for k, p in sweep.spec.space.items()}) for a in asked]
        for r in range(len(sweep.recordings)) if staged else [None]:
            running = [t for t in batch if t.state == "complete"]
            collect(running, pool.run(sweep.tasks(running, r), spec.retries, on_done))
            if r is not None:
                _prune(sweep, running, asked, r)
        for t, a in zip(batch, asked, strict=True):
            _tell(study, sweep, t, a, optuna)
        trials += batch
    return trials


def _prune(sweep: Sweep, running: list[Trial], asked: list[Any], step: int) -> None:
    """Report the objective so far of each trial still running; prune those Optuna says to."""
    by_number = {a.number: a for a in asked}
    for t in running:
        value = sweep.objective(t)
        if t.state != "complete" or math.isnan(value) or step == len(sweep.recordings) - 1:
            continue
        by_number[t.number].report(value, step)
        if by_number[t.number].should_prune():
            t.state = "pruned"


def _tell(study: Any, sweep: Sweep, trial: Trial, asked: Any, optuna: Any) -> None:
    if trial.state == "complete":
        for name, value in sweep.violations(trial).items():
            asked.set_constraint(name, value)
    if trial.state == "failed":
        study.tell(asked, state=optuna.trial.TrialState.FAIL)
    elif trial.state == "pruned":
        study.tell(asked, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(asked, sweep.objective(trial))
