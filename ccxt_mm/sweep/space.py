"""The sweep file: the search space over config keys, the search, the objective, the
constraints and the walk-forward windows, validated before anything runs (every error names
its key)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from ccxt_mm.config import AppConfig, parse_config, read_yaml, validation_problems
from ccxt_mm.errors import ConfigError
from ccxt_mm.schema import Strict

MAX_GRID = 100_000
"""Most points a grid may have."""
REPLAYED = ("market", "book", "strategy", "spread", "risk", "orders", "paper")
"""The config sections a replay reads: the only ones a sweep may search."""
NOT_SEARCHED = {"market.data": "give recordings with --data", "market.symbol": "a sweep replays one symbol"}

FREE_FORM = ("strategy", "params")
"""The one config mapping whose keys the schema does not list (the strategy plugin validates
them): a sweep may set a key there that the base config does not have."""


class ParamSpec(Strict):
    """One searched key: ``values`` (a list), or a range ``low``..``high`` (both ends included)
    with an optional ``step`` (a grid of it; whole numbers when all three are) or ``log``
    (log-uniform; random and Optuna only)."""

    values: tuple[Any, ...] | None = Field(None, min_length=1)
    low: float | None = None
    high: float | None = None
    step: Annotated[float, Field(gt=0)] | None = None
    log: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> ParamSpec:
        if self.values is not None:
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("give either values or low/high (with step or log), not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give values, or low and high")
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"expected finite low <= high (got {self.low:g}, {self.high:g})")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("log needs low > 0 and no step")
        if self.step is not None:
            steps = (self.high - self.low) / self.step
            if abs(steps - round(steps)) > 1e-9:
                raise ValueError(f"high must be low + a whole number of steps (got {self.low:g} + {steps:.4g} × {self.step:g})")
        return self

    @property
    def integer(self) -> bool:
        """A whole-number grid: low, high and step all whole numbers (a range without a step is
        continuous, whatever its ends)."""
        ends = (self.low, self.high, self.step)
        return self.values is None and all(v is not None and float(v).is_integer() for v in ends)

    def grid(self) -> tuple[Any, ...] | None:
        """Every value of a grid over this key (None: a continuous range, which has none)."""
        if self.values is not None:
            return self.values
        if self.step is None or self.low is None or self.high is None:
            return None
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        points = [self.low + i * self.step for i in range(count)]
        return tuple(round(p) for p in points) if self.integer else tuple(round(p, 12) for p in points)

    def ends(self) -> tuple[Any, ...]:
        """The values checked against the config before the sweep: each listed value, or a
        range's two ends, and a continuous range's midpoint too (a whole-number key given a
        range without a step fails there: its draws are fractions)."""
        if self.values is not None:
            return self.values
        assert self.low is not None and self.high is not None
        if self.integer:
            return (int(self.low), int(self.high))
        if self.step is None and self.low < self.high:
            return (self.low, self.high, (self.low + self.high) / 2)
        return (self.low, self.high)


class SearchSpec(Strict):
    method: Literal["grid", "random", "optuna"] = "grid"
    trials: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(None, validate_default=True)
    """Trials of a random or Optuna search (a grid runs every point)."""
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    """Of the random draws and of Optuna's sampler (which takes 0 to 2**32 − 1)."""
    batch: Annotated[int, Field(ge=1, le=4096)] = 16
    """Optuna: trials asked at once and told together before the next batch; it, not the
    number of workers, decides what the sampler sees, so one seed gives one table anywhere."""
    prune: bool = False
    """Optuna: stop a trial whose score after a recording is below the median of the trials
    that got that far (median pruning; needs two recordings or more)."""
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    """Times a trial is run again after its worker died or it raised, before it is reported failed."""

    @field_validator("trials")
    @classmethod
    def _trials(cls, value: int | None, info: ValidationInfo) -> int | None:
        method = info.data.get("method", "grid")
        if method == "grid" and value is not None:
            raise ValueError("a grid runs every point of the space (leave trials out)")
        if method != "grid" and value is None:
            raise ValueError(f"a {method} search needs a number of trials")
        return value

    @field_validator("batch", "prune")
    @classmethod
    def _optuna_only(cls, value: object, info: ValidationInfo) -> object:
        """Checked only when given (a default is not validated)."""
        if info.data.get("method", "grid") != "optuna":
            raise ValueError("only an optuna search has it")
        return value


class ObjectiveSpec(Strict):
    metric: Literal["pnl", "pnl_per_inventory", "sharpe_per_minute", "fills"] = "pnl"
    """``pnl``: PnL net of fees marked to mid (quote); ``pnl_per_inventory``: that per unit of
    the largest absolute inventory held (quote per base); ``sharpe_per_minute``: mean over
    standard deviation of the PnL made in each minute (not annualised); ``fills``: executions."""
    loss_cap_quote: Annotated[float, Field(gt=0)] | None = None
    """A trial losing more than this (quote) over the fitted windows is infeasible."""


class ConstraintSpec(Strict):
    max_drawdown_quote: Annotated[float, Field(gt=0)] | None = None
    """Largest fall of the PnL from its running high over the fitted windows (quote)."""
    min_fills: Annotated[int, Field(ge=0)] | None = None
    """Fewest executions over the fitted windows."""


class WalkForwardSpec(Strict):
    windows: Annotated[int, Field(ge=1, le=1000)] = 1
    """Each recording is cut into this many windows of equal recording time; with two windows or
    more in all, the search fits every window but the last and the last is held out."""


class SweepFile(Strict):
    """The whole sweep file."""

    space: dict[str, ParamSpec] = Field(min_length=1)
    search: SearchSpec = SearchSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    constraints: ConstraintSpec = ConstraintSpec()
    walk_forward: WalkForwardSpec = WalkForwardSpec()


def load_sweep(path: str | Path) -> SweepFile:
    """Read and validate a sweep file (its keys not yet checked against the config)."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["top level: expected a mapping with a space section"])
    try:
        return SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc)) from exc


def set_key(tree: dict[str, Any], key: str, value: Any, defaults: dict[str, Any] | None = None) -> None:
    """Set dotted ``key`` of the nested mapping ``tree`` to ``value``; a mapping missing on the
    way is copied from ``defaults`` (the full config) when it has it, else made empty."""
    parts = key.split(".")
    node, default = tree, defaults
    for part in parts[:-1]:
        default = default.get(part) if isinstance(default, dict) else None
        if not isinstance(node.get(part), dict):
            node[part] = copy.deepcopy(default) if isinstance(default, dict) else {}
        node = node[part]
    node[parts[-1]] = value


def key_problem(full: dict[str, Any], key: str) -> str | None:
    """Why ``key`` names no value of the full config ``full`` (None: it does)."""
    parts = key.split(".")
    if parts[0] in full and parts[0] not in REPLAYED:
        return f"space.{key}: a replay does not read the {parts[0]} section (search keys of {', '.join(REPLAYED)})"
    if key in NOT_SEARCHED:
        return f"space.{key}: not searched: {NOT_SEARCHED[key]}"
    node: Any = full
    for depth, part in enumerate(parts):
        if tuple(parts[:depth]) == FREE_FORM:
            return None if depth == len(parts) - 1 else f"space.{key}: set a strategy parameter itself (strategy.params.<name>)"
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[:depth]) or "the config"
            known = ", ".join(sorted(node)) if isinstance(node, dict) else "no keys"
            return f"space.{key}: no key {part!r} in {where} (it has: {known})"
        node = node[part]
    if isinstance(node, dict):
        return f"space.{key}: names a section; search one of its keys ({', '.join(sorted(node))})"
    return None


def trial_config(full: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The full config (plain data) with the trial's ``params`` (dotted key → value) set."""
    tree = copy.deepcopy(full)
    for key, value in params.items():
        set_key(tree, key, value)
    return tree


def check_space(sweep: SweepFile, full: dict[str, Any], source: str) -> None:
    """Every searched key names a config value and each listed value (or range end) makes a
    valid config with its strategy; raises :class:`ConfigError` listing every problem of every
    key."""
    from ccxt_mm.strategies import load_strategy

    problems = [p for p in (key_problem(full, key) for key in sweep.space) if p is not None]
    if sweep.search.method == "grid":
        problems += [f"space.{k}: a grid needs values or a step" for k, s in sweep.space.items() if s.grid() is None]
        points = math.prod(len(s.grid() or ()) for s in sweep.space.values())
        if not problems and points > MAX_GRID:
            problems.append(f"space: the grid has {points:,} points (at most {MAX_GRID:,}): fewer values, or a random or optuna search")
    problems += _settle_problems(sweep, full)
    bad_keys = {k for k in sweep.space if key_problem(full, k) is not None}
    for key, spec in sweep.space.items():
        for value in () if key in bad_keys else spec.ends():
            try:
                load_strategy(parse_config(trial_config(full, {key: value}), source), source)
            except ConfigError as exc:
                problems += [f"space.{key} = {value!r}: {p}" for p in exc.problems]
                break  # one bad value a key is enough to name it
    if problems:
        raise ConfigError(source, problems)


def _settle_problems(sweep: SweepFile, full: dict[str, Any]) -> list[str]:
    """An inverse swap's PnL is in its base coin: the caps and limits named in the quote
    currency cannot apply to it."""
    symbol = str(full["market"]["symbol"])
    base, settle = symbol.partition("/")[0], symbol.partition(":")[2]
    if settle != base:
        return []
    named = [
        ("objective.loss_cap_quote", sweep.objective.loss_cap_quote),
        ("constraints.max_drawdown_quote", sweep.constraints.max_drawdown_quote),
    ]
    return [f"{key}: {symbol} settles in {base}, its PnL is not in the quote currency" for key, value in named if value is not None]


def base_tree(config: AppConfig) -> dict[str, Any]:
    """The whole config as plain data (every key present): what trials set keys in."""
    return config.model_dump(mode="json")
