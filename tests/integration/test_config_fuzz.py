"""Schema fuzzing: any config ``check-config`` accepts replays to a report; any it refuses is
refused with each problem naming its key; never a traceback.

The configs are drawn from the schema itself: each number field's :class:`~ccxt_mm.schema.Range`
(its declared bounds, and the unit's cap where it declares none), its type (optional, a list, a
mapping, a choice), plus wrong types. Three sources: a fixed corpus of edge values, one field at
a time (each bound, just past it, 0, the smallest and largest floats), the same on every run;
each section's numbers at their edges together, the same on every run; and hypothesis, 150
configs a run setting one to eight keys at once. Each is checked with the command
line run in this process on a slice of the bundled recording. A failure prints the config as
YAML, ready to save and reproduce with ``ccxt-mm check-config --config`` and ``ccxt-mm replay``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import gc
import gzip
import io
import json
import math
import re
import statistics
import sys
import traceback
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ccxt_mm.cli import main
from ccxt_mm.config import AppConfig
from ccxt_mm.quoting.strategy import MarketMakerParams
from ccxt_mm.schema import Range, number_range, section_model

RECORDING = Path(__file__).resolve().parents[2] / "ccxt_mm" / "recordings" / "binance_spot" / "spot_btcusdt_20240808.gz"
SLICE_LINES = 2500
"""Lines of the bundled recording replayed per config (24 s of BTC/USDT: quotes, and fills where the spread is tight)."""

FIXED = {"market.symbol", "market.data", "strategy.name", "report.plot"}
"""Keys the fuzz leaves alone: they name the recording and the plugin (a mismatch is a data
error, tested elsewhere) or only cost time (the plot)."""
OUTSIDE = ("live", "capture", "exchanges")
"""Sections a replay does not read: their keys are fuzzed for check-config only (they name
servers and credentials, and a replay ignores them)."""


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One key of the config: its path, type and metadata as the schema checks them."""

    path: tuple[str, ...]
    annotation: Any
    metadata: tuple[Any, ...]

    @property
    def key(self) -> str:
        return ".".join(self.path)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if dataclasses.is_dataclass(annotation):
        return section_model(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def leaves(model: type[BaseModel] = AppConfig, prefix: tuple[str, ...] = ()) -> list[Leaf]:
    """Every key of the config below ``model`` (the built-in strategy's ``strategy.params``
    included), nested sections walked into."""
    out = []
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        if path == ("strategy", "params"):
            out += leaves(section_model(MarketMakerParams), path)
            continue
        sub = _model_of(info.annotation)
        if sub is not None:
            out += leaves(sub, path)
        elif ".".join(path) not in FIXED:
            out.append(Leaf(path, info.annotation, tuple(info.metadata)))
    return out


def number_of(tp: Any, metadata: tuple[Any, ...] = ()) -> tuple[Range, bool] | None:
    """The range of the number a key holds (alone or optional) and whether it is whole; None
    for any other key."""
    r = number_range(metadata)
    if r is not None:
        return r, tp is int
    if get_origin(tp) is Annotated:
        base, *inner = get_args(tp)
        return number_of(base, (*metadata, *inner))
    if get_origin(tp) is Union or get_origin(tp) is types.UnionType:
        return next((found for arg in get_args(tp) if (found := number_of(arg)) is not None), None)
    return None


LEAVES = leaves()
REPLAYED = [leaf for leaf in LEAVES if leaf.path[0] not in (*OUTSIDE, "llm")]
"""The keys a replay reads (the LLM's only with a cassette)."""
NUMBER_LEAVES = [(leaf, found) for leaf in LEAVES if (found := number_of(leaf.annotation, leaf.metadata)) is not None]

JUNK = st.sampled_from([None, True, "off", "x", [], {}, -1, "1e999"])
"""Wrong types and words, drawn now and then for any key."""
TINY, HUGE = 5e-324, 1.7976931348623157e308


def edges(r: Range, integer: bool) -> list[tuple[float, bool]]:
    """Edge values of a range and whether each is inside it: each bound, just past it, 0, the
    smallest and the largest floats."""
    low = r.low if r.low is not None else -HUGE
    candidates = {low, r.high, 0.0, TINY, -TINY, HUGE, -HUGE, math.nextafter(r.high, math.inf), math.nextafter(low, -math.inf)}
    if integer:
        candidates = {float(int(c)) for c in candidates if abs(c) < 2**62} | {r.high + 1, low - 1}
    out = []
    for value in sorted(candidates):
        inside = True
        try:
            r(value)
        except ValueError:
            inside = False
        out.append((int(value) if integer else value, inside))
    return out


def _numbers(r: Range, integer: bool) -> st.SearchStrategy:
    """Values of a number with range ``r``: mostly inside it (its edges inside, values
    log-spread over it), now and then any edge (outside it too)."""
    found = edges(r, integer)
    low = r.low if r.low is not None else 0.0
    if integer:
        spread = st.integers(math.ceil(low) + (1 if r.low_open else 0), int(min(r.high, 10**6)))
    else:
        exponent = st.floats(-6, math.log10(max(r.high, 1e-6)))
        spread = exponent.map(lambda e: min(r.high, max(low, 10.0**e)))
    inside = st.one_of(st.sampled_from([value for value, ok in found if ok]), spread)
    return st.one_of(*[inside] * 7, st.sampled_from([value for value, _ in found]))


def values(tp: Any, metadata: tuple[Any, ...] = ()) -> st.SearchStrategy:
    """Values of type ``tp`` as the schema declares it (``metadata``: the field's own)."""
    r = number_range(metadata)
    if r is not None:
        return _numbers(r, tp is int)
    origin = get_origin(tp)
    if origin is Annotated:
        base, *inner = get_args(tp)
        return values(base, (*metadata, *inner))
    if origin is Union or origin is types.UnionType:
        return st.one_of([values(arg, metadata) for arg in get_args(tp)])
    if tp is type(None):
        return st.just(None)
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from([member.value for member in tp])
    if tp is bool:
        return st.sampled_from([True, False, "off", "on"])
    if tp is str:
        return st.sampled_from(["binance", "okx", "BTC/USDT", "ETH/USDT:USDT", "MM", "x"])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return st.fixed_dictionaries({name: values(info.annotation, tuple(info.metadata)) for name, info in tp.model_fields.items()})
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(values(args[0]), max_size=4)
        return st.tuples(*(values(arg) for arg in args)).map(list)
    if origin is dict:
        key, value = get_args(tp)
        keys = (
            values(key)
            if get_origin(key) is Literal or (isinstance(key, type) and issubclass(key, enum.Enum))
            else st.sampled_from(["BTC", "ETH", "USDT"])
        )
        return st.dictionaries(keys, values(value), max_size=3)
    return st.nothing()


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config setting one to eight keys, drawn from the schema (now and then a wrong type)."""
    raw: dict[str, Any] = {}
    chosen = draw(st.permutations(REPLAYED))[: draw(st.integers(1, 8))]
    if draw(st.integers(0, 9)) == 0:  # a key only check-config reads
        chosen.append(draw(st.sampled_from([leaf for leaf in LEAVES if leaf not in REPLAYED])))
    for leaf in chosen:
        strategy = values(leaf.annotation, leaf.metadata)
        if strategy.is_empty:
            continue
        _set(raw, leaf.path, draw(JUNK if draw(st.integers(0, 19)) == 0 else strategy))
    return raw


def write_slice(folder: Path) -> Path:
    """The first :data:`SLICE_LINES` lines of the bundled recording as an event store in
    ``folder`` (read back in milliseconds: a config's check and replay each read it)."""
    capture = folder / "slice.gz"
    with gzip.open(RECORDING, "rt") as src, gzip.open(capture, "wt") as out:
        for _, line in zip(range(SLICE_LINES), src, strict=False):
            out.write(line)
    store = folder / "store"
    status, printed = cli(["convert", "--data", str(capture), "--symbol", "BTC/USDT", "--out", str(store)])
    assert status == 0, printed
    return store


@pytest.fixture(scope="module")
def slice_path(tmp_path_factory) -> Iterator[Path]:
    """The slice; while the module runs, the test process's heap as it was is frozen, so the
    collection each replay starts with (``quiet_gc``) sees only what the fuzz made."""
    gc.freeze()
    try:
        yield write_slice(tmp_path_factory.mktemp("fuzz"))
    finally:
        gc.unfreeze()


def cli(args: list[str]) -> tuple[int, str]:
    """Exit status and everything printed of ``ccxt-mm <args>`` run in this process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            status = main(args)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    return status, out.getvalue()


SECTIONS = tuple(AppConfig.model_fields)
PROBLEM = re.compile(r"^  - (?P<key>[A-Za-z_]+(\.[^:\s]+)*): \S")


def check(raw: dict[str, Any], folder: Path, slice_path: Path) -> str:
    """Run one config through check-config, and replay when it is accepted; how it ended
    (``refused``, ``replayed``). Any other end fails with the config as YAML."""
    config = {**raw, "market": {**raw.get("market", {}), "data": [str(slice_path)]}, "report": {**raw.get("report", {}), "plot": False}}
    text = yaml.safe_dump(config, sort_keys=True)
    path = folder / "fuzz.yaml"
    path.write_text(text)
    try:
        status, printed = cli(["check-config", "--config", str(path)])
        if status == 0 and not any(section in raw for section in OUTSIDE):
            report = folder / "report"
            status, printed = cli(["replay", "--config", str(path), "--report-dir", str(report), "--no-progress", "--json"])
            assert status == 0 and (report / "summary.json").is_file(), "check-config accepted it; replay did not write a report"
            summary = json.loads((report / "summary.json").read_text())
            assert summary["envelope"]["strategy_errors"] == 0, "the strategy raised (caught by the core, counted)"
            assert "Traceback" not in printed
            return "replayed"
    except Exception:  # any escape is the failure being looked for
        pytest.fail(f"uncaught exception for this config:\n{text}\n{traceback.format_exc()}")
    assert "Traceback" not in printed, f"a traceback was printed for this config:\n{text}\n{printed}"
    if status == 0:
        return "accepted"
    problems = [line for line in printed.splitlines() if line.startswith("  - ")]
    named = [PROBLEM.match(line) for line in problems]
    assert status == 2 and problems and all(m and m["key"].split(".")[0] in SECTIONS for m in named), (
        f"refused without naming a key (exit {status}) for this config:\n{text}\n{printed}"
    )
    return "refused"


def corpus() -> list[tuple[str, Any, bool]]:
    """The edge corpus: every number key at each of its edges, and whether it is in range."""
    return [(leaf.key, value, inside) for leaf, (r, whole) in NUMBER_LEAVES for value, inside in edges(r, whole)]


def test_the_corpus_covers_every_number_key_of_the_schema():
    keys = {leaf.key for leaf, _ in NUMBER_LEAVES}
    assert {"market.tick_size", "risk.max_drawdown_quote", "orders.max_age_secs", "strategy.params.gamma", "live.poll_secs"} <= keys
    assert len(keys) > 80 and len(corpus()) > 500


def test_every_edge_value_is_refused_with_its_key_or_replays(tmp_path, slice_path):
    """The seed-independent corpus: one key at a time at each edge of its range; an edge
    outside the range is refused naming that key, one inside replays (or is refused by a rule
    across keys, which names its key too)."""
    ends: dict[str, int] = {}
    for key, value, inside in corpus():
        path = tuple(key.split("."))
        raw: dict[str, Any] = {}
        _set(raw, path, value)
        outcome = check(raw, tmp_path, slice_path)
        ends[outcome] = ends.get(outcome, 0) + 1
        if not inside:
            assert outcome == "refused", f"{key}: {value!r} is outside its range and was not refused"
    print(f"corpus: {ends}", file=sys.stderr)
    assert ends.get("replayed", 0) > 150 and ends.get("refused", 0) > 300


def test_every_number_of_a_section_at_its_edge_at_once_replays(tmp_path, slice_path):
    """Extremes together, the same each run: every number key a replay reads, section by section
    and then all sections at once, at its lowest, middle or highest edge inside its range (a
    spot recording: no contract size, leverage 1). Each replays, or is refused by a rule across
    keys that names them."""
    spot = {"market.contract_size", "market.leverage"}
    replayable = [(leaf, found) for leaf, found in NUMBER_LEAVES if leaf in REPLAYED and leaf.key not in spot]
    ends: dict[str, int] = {}
    for pick in (min, statistics.median_low, max):
        for section in [*sorted({leaf.path[0] for leaf, _ in replayable}), None]:
            raw: dict[str, Any] = {}
            for leaf, (r, whole) in replayable:
                if section in (None, leaf.path[0]):
                    _set(raw, leaf.path, pick([value for value, inside in edges(r, whole) if inside]))
            outcome = check(raw, tmp_path, slice_path)
            ends[outcome] = ends.get(outcome, 0) + 1
    assert ends.get("replayed", 0) >= 20


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=configs())
def test_any_config_drawn_from_the_schema_is_refused_with_a_key_or_replays(raw, tmp_path, slice_path):
    event(check(raw, tmp_path, slice_path))
