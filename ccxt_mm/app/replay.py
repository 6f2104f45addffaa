"""``ccxt-mm replay``: the config and its command-line overrides, the recording, the
predictor, the progress bar, the replay (twice with a predictor: with and without it) and
the report."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ccxt_mm.app.config_file import app_config, resolve
from ccxt_mm.app.predictors import replay_predictions
from ccxt_mm.app.summary_text import print_summary
from ccxt_mm.config import AppConfig, validation_problems
from ccxt_mm.errors import ConfigError, DataError
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.execution.venue import MarketFacts
from ccxt_mm.schema import as_mapping, parse_section

if TYPE_CHECKING:
    from tqdm import tqdm

    from ccxt_mm.engine import ReplayEngine, ReplayResult
    from ccxt_mm.engine.predictions import ReplayPredictions
    from ccxt_mm.market.events import Recording

REPLAY_FLAGS = {"symbol": "--symbol", "tick_size": "--tick-size", "lot_size": "--lot-size", "data": "--data"}
"""The ``market`` keys ``replay`` takes from the command line, and their flags."""


def replay(
    config_path: str | None,
    *,
    data: list[str] | None,
    symbol: str | None,
    tick_size: float | None,
    lot_size: float | None,
    report_dir: str,
    as_json: bool,
    progress: bool,
    cassette: str | None,
) -> int:
    """Replay a recording against the paper venue and write the report to ``report_dir``;
    ``data``, ``symbol``, ``tick_size`` (quote) and ``lot_size`` (base) override the config's
    market, ``cassette`` replays recorded LLM predictions. Prints the summary (JSON if
    ``as_json``; a progress bar on stderr if ``progress`` and not ``as_json``)."""
    started = time.perf_counter()
    from ccxt_mm.amounts import for_recording
    from ccxt_mm.market.capture import open_recording
    from ccxt_mm.report import summary_json, write_report
    from ccxt_mm.strategies import load_strategy

    _remove_report(Path(report_dir))
    config, base_dir, source = app_config(config_path)
    tick_size, lot_size = store_grid(data, symbol or config.market.symbol, tick_size, lot_size)
    config, from_flags = with_market_overrides(config, symbol=symbol, tick_size=tick_size, lot_size=lot_size, data=data)
    market = config.market
    files = resolve(data, Path.cwd()) if data else resolve(market.data, base_dir)
    load_strategy(config, source)  # a bad strategy config fails before the data is read
    recording = open_recording(files, market.symbol)
    given = config
    config, amounts = for_recording(config, recording, source)
    _print_start_warnings(given, config, recording, files, from_flags)
    digest = hashlib.sha1("|".join([market.symbol, *(Path(p).name for p in files)]).encode()).hexdigest()[:6]
    predictions = replay_predictions(config, cassette)
    bar = _progress_bar(market.symbol, recording.messages * (1 if predictions is None else 2)) if progress and not as_json else None
    engine, result, baseline = _replays(config, source, recording, digest, predictions, cassette, bar)
    if result.book_ts_ns.size == 0:
        raise _never_quotable(files, market.symbol)
    summary = _summary(config, engine, result, files, baseline)
    summary.update(amounts.as_summary())
    written = write_report(Path(report_dir), config, result, summary)
    summary["wall_s"] = round(time.perf_counter() - started, 3)
    written[0].write_text(summary_json(summary) + "\n")
    if as_json:
        print(summary_json(summary))
    else:
        print_summary(summary, written)
    return 0


def _never_quotable(files: list[str], symbol: str) -> DataError:
    why = "0 book updates: never a bid and an ask after a snapshot"
    return DataError(", ".join(files), 0, f"the {symbol} book never became quotable ({why}); no report written")


def store_grid(data: list[str] | None, symbol: str, tick_size: float | None, lot_size: float | None) -> tuple[float | None, float | None]:
    """The tick and lot of ``--data`` when it is one event store whose manifest has ``symbol``'s
    market and the flags do not set them (said on stderr); else the flags'."""
    facts = None if not data or (tick_size is not None and lot_size is not None) else store_facts(data, symbol)
    if facts is None:
        return tick_size, lot_size
    tick = tick_size if tick_size is not None else facts.tick_size
    lot = lot_size if lot_size is not None else facts.lot_size
    print(f"{symbol}: tick {tick}, lot {lot} from the store's manifest", file=sys.stderr)
    return tick, lot


def _print_start_warnings(given: AppConfig, config: AppConfig, recording: Recording, files: list[str], from_flags: set[str]) -> None:
    """The warnings of :func:`~ccxt_mm.config_checks.start_warnings` on stderr, a key the
    command line set named by its flag."""
    from ccxt_mm.config_checks import start_warnings

    flags = {key: flag for key, flag in REPLAY_FLAGS.items() if key in from_flags}
    for warning in start_warnings(given, config, recording, store_facts(files, config.market.symbol), flags):
        print(f"warning: {warning}", file=sys.stderr)


def store_facts(files: list[str], symbol: str) -> MarketFacts | None:
    """``symbol``'s market as the manifest of the event store ``files`` names has it (None: not
    a store, or a manifest without it)."""
    from ccxt_mm.config_checks import facts_of
    from ccxt_mm.market.store import is_store, market_of

    facts = market_of(files[0], symbol) if len(files) == 1 and is_store(files[0]) else None
    return None if facts is None else facts_of(facts, symbol)


def with_market_overrides(
    config: AppConfig, *, symbol: str | None, tick_size: float | None, lot_size: float | None, data: list[str] | None
) -> tuple[AppConfig, set[str]]:
    """``config`` with the ``market`` keys the command line set (None: not set), validated as
    the file's are (errors named by their flag), and the keys it set."""
    overrides: dict[str, object] = {
        k: v for k, v in (("symbol", symbol), ("tick_size", tick_size), ("lot_size", lot_size)) if v is not None
    }
    if data:
        overrides["data"] = tuple(data)
    if not overrides:
        return config, set()
    try:
        market = parse_section(MarketParams, {**as_mapping(config.market), **overrides})
    except ValidationError as exc:
        raise ConfigError("command line", validation_problems(exc, "market.", REPLAY_FLAGS)) from exc
    return config.model_copy(update={"market": market}), set(overrides)


def _remove_report(out_dir: Path) -> None:
    """Remove an earlier replay's report files from ``out_dir`` (nothing else in it), so a
    replay that fails leaves none of an earlier run's files."""
    from ccxt_mm.report import REPORT_FILES

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("command line", [f"--report-dir: {out_dir} is a file, not a folder"])
    for name in REPORT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def _progress_bar(symbol: str, total: int) -> tqdm:
    """A progress bar on stderr over ``total`` messages."""
    from tqdm import tqdm

    return tqdm(total=total, unit="msg", unit_scale=True, desc=f"replay {symbol}", file=sys.stderr)


def _replays(
    config: AppConfig,
    source: str,
    recording: Recording,
    digest: str,
    predictions: ReplayPredictions | None,
    cassette: str | None,
    bar: tqdm | None,
) -> tuple[ReplayEngine, ReplayResult, ReplayResult | None]:
    """The replay's engine and result, and with ``predictions`` the result of the same replay
    without them first (for the side-by-side); closes ``predictions`` and ``bar``."""
    from ccxt_mm.engine import ReplayEngine
    from ccxt_mm.strategies import load_strategy

    def progress_from(base: int) -> Callable[[int], None] | None:
        """Progress callback of one run whose messages start at ``base`` on the bar."""
        return None if bar is None else lambda done: bar.update(base + done - bar.n)

    baseline = None
    try:
        if predictions is not None:  # the same replay without predictions, for the side-by-side
            baseline = _replay_once(ReplayEngine(config, recording, load_strategy(config, source), run_id=digest), progress_from(0))
        engine = ReplayEngine(config, recording, load_strategy(config, source), run_id=digest, predictions=predictions)
        with _llm_cassette(cassette):
            result = _replay_once(engine, progress_from(0 if baseline is None else recording.messages))
    finally:
        if predictions is not None:
            predictions.close()
        if bar is not None:
            bar.close()
    return engine, result, baseline


def _replay_once(engine: ReplayEngine, progress: Callable[[int], None] | None) -> ReplayResult:
    """One replay with the collector kept quiet (see :mod:`ccxt_mm.engine.gc_policy`)."""
    from ccxt_mm.engine.gc_policy import quiet_gc

    with quiet_gc():
        return engine.run(progress)


def _llm_cassette(path: str | None) -> AbstractContextManager:
    """Replay of an LLM cassette (record mode none: a request it lacks is an error)."""
    if path is None:
        return nullcontext()
    from ccxt_mm.llm.cassette import replay_cassette

    return replay_cassette(Path(path))


def _summary(
    config: AppConfig, engine: ReplayEngine, result: ReplayResult, files: list[str], baseline: ReplayResult | None
) -> dict[str, object]:
    """The report's summary (:func:`~ccxt_mm.report.replay_summary`), with predictions the
    predictor's and the side-by-side with ``baseline`` (the same replay without them)."""
    from ccxt_mm.report import compare, replay_summary

    summary = replay_summary(config, engine, result, files)
    predictions = engine.predictions
    if predictions is not None and baseline is not None:
        summary["predictor"] = predictions.name
        summary["predictions"] = predictions.summary()
        summary["comparison"] = compare(baseline, result)
    return summary
