"""``ccxt-mm`` command line."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ccxt_mm.config import AppConfig, load_config, validation_problems
from ccxt_mm.errors import CcxtMmError, ConfigError, DataError, NoMarketStartedError
from ccxt_mm.execution.market import MarketParams
from ccxt_mm.schema import as_mapping, parse_section

if TYPE_CHECKING:
    from ccxt_mm.engine import ReplayEngine, ReplayResult
    from ccxt_mm.engine.predictions import LivePredictions, ReplayPredictions
    from ccxt_mm.market.events import EventLog

BUNDLED = Path(__file__).resolve().parent
"""Where a relative data path not found beside its config is read from (``recordings/...``)."""
log = logging.getLogger("ccxt_mm.cli")

REPLAY_FLAGS = {"symbol": "--symbol", "tick_size": "--tick-size", "lot_size": "--lot-size", "data": "--data"}
"""The ``market`` keys ``replay`` takes from the command line, and their flags."""


def _config(path: str | None) -> tuple[AppConfig, Path, str]:
    """The config, the folder its relative paths are read from, and its name for errors."""
    if path is None and Path("config.yaml").is_file():
        path = "config.yaml"
    if path is None:
        return AppConfig(), BUNDLED, "built-in defaults"
    return load_config(path), Path(path).resolve().parent, path


def _resolve(paths: tuple[str, ...] | list[str], base: Path) -> list[str]:
    """Relative paths are read from ``base``, else from the package (the bundled recordings)."""
    out = []
    for p in paths:
        candidate = Path(p)
        if not candidate.is_absolute():
            candidate = base / p if (base / p).exists() or not (BUNDLED / p).exists() else BUNDLED / p
        out.append(str(candidate))
    return out


def cmd_check_config(args: argparse.Namespace) -> int:
    from ccxt_mm.strategies import load_strategy

    config, _, source = _config(args.config)
    load_strategy(config, source)
    print(f"{source}: OK")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from ccxt_mm.engine import ReplayEngine
    from ccxt_mm.market.capture import load_capture
    from ccxt_mm.report import compare, summarize, summary_json, write_report
    from ccxt_mm.strategies import load_strategy

    _remove_report(Path(args.report_dir))
    config, base_dir, source = _config(args.config)
    market = config.market
    overrides = {k: v for k, v in (("symbol", args.symbol), ("tick_size", args.tick_size), ("lot_size", args.lot_size)) if v is not None}
    if args.data:
        overrides["data"] = tuple(args.data)
    if overrides:
        try:
            market = parse_section(MarketParams, {**as_mapping(market), **overrides})
        except ValidationError as exc:
            raise ConfigError("command line", validation_problems(exc, "market.", REPLAY_FLAGS)) from exc
        config = config.model_copy(update={"market": market})
    data = _resolve(args.data, Path.cwd()) if args.data else _resolve(market.data, base_dir)
    load_strategy(config, source)  # a bad strategy config fails before the data is read
    log = load_capture(data, market.symbol)
    for warning in _fit_warnings(config, log, set(overrides)):
        print(f"warning: {warning}", file=sys.stderr)
    digest = hashlib.sha1("|".join([market.symbol, *(Path(p).name for p in data)]).encode()).hexdigest()[:6]
    predictions = _replay_predictions(config, args.predictions)
    bar = None
    if not args.json and not args.no_progress:
        from tqdm import tqdm

        runs = 1 if predictions is None else 2
        bar = tqdm(total=log.messages * runs, unit="msg", unit_scale=True, desc=f"replay {market.symbol}", file=sys.stderr)

    def progress_from(base: int) -> Callable[[int], None] | None:
        """Progress callback of one run whose messages start at ``base`` on the bar."""
        return None if bar is None else lambda done: bar.update(base + done - bar.n)

    baseline = None
    try:
        if predictions is not None:  # the same replay without predictions, for the side-by-side
            baseline = _replay_once(ReplayEngine(config, log, load_strategy(config, source), run_id=digest), progress_from(0))
        engine = ReplayEngine(config, log, load_strategy(config, source), run_id=digest, predictions=predictions)
        with _llm_cassette(args.predictions):
            result = _replay_once(engine, progress_from(0 if baseline is None else log.messages))
    finally:
        if predictions is not None:
            predictions.close()
        if bar is not None:
            bar.close()
    if result.book_ts_ns.size == 0:
        raise DataError(
            ", ".join(data),
            0,
            f"the {market.symbol} book never became quotable (0 book updates: never a bid and an ask after a snapshot); no report written",
        )
    log_stats = {
        "messages": log.messages_read,
        "book_rows": log.book_rows,
        "skipped_messages": log.skipped,
        "data": [Path(p).name for p in data],
        "orders_created": engine.orders.stats.placed,
        "orders_amended": engine.orders.stats.amended,
        "orders_cancelled": engine.orders.stats.cancelled,
        "post_only_rejects": engine.orders.stats.post_only_rejects,
        "late_cancels": engine.orders.stats.late_cancels,
        "balance_rejects": engine.venue.stats.balance_rejects,
        "orders_left_open": len(engine.venue.orders),
    }
    summary = summarize(config, result, log_stats)
    if predictions is not None and baseline is not None:
        summary["predictor"] = predictions.name
        summary["predictions"] = predictions.summary()
        summary["comparison"] = compare(baseline, result)
    out_dir = Path(args.report_dir)
    written = write_report(out_dir, config, result, summary)
    summary["wall_s"] = round(time.perf_counter() - started, 3)
    written[0].write_text(summary_json(summary) + "\n")
    if args.json:
        print(summary_json(summary))
    else:
        _print_summary(summary, written)
    return 0


def _remove_report(out_dir: Path) -> None:
    """Remove an earlier replay's report files from ``out_dir`` (nothing else in it), so a
    replay that fails leaves none of an earlier run's files."""
    from ccxt_mm.report import REPORT_FILES

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("command line", [f"--report-dir: {out_dir} is a file, not a folder"])
    for name in REPORT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def _fit_warnings(config: AppConfig, log: EventLog, from_flags: set[str]) -> list[str]:
    """What in the config does not fit the recording: the tick and lot (named by their flag
    when ``from_flags`` holds their key, else by their config key) and the position limit."""
    from ccxt_mm.market.grid_check import position_warning, step_warning

    m = config.market

    def name(key: str) -> str:
        return REPLAY_FLAGS[key] if key in from_flags else f"market.{key}"

    found = [
        step_warning(log.prices, m.tick_size, name("tick_size"), "prices"),
        step_warning(log.row_qty, m.lot_size, name("lot_size"), "sizes"),
        position_warning(log, config.risk.max_position_base, m.base, m.quote),
    ]
    return [w for w in found if w is not None]


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


def _replay_predictions(config: AppConfig, cassette: str | None) -> ReplayPredictions | None:
    """The predictor a replay uses: the LLM replaying ``cassette``; else ``llm.predictor``
    (an LLM only if its key is in the environment: no key, no calls)."""

    from ccxt_mm.engine.predictions import ReplayPredictions
    from ccxt_mm.llm.predictor import ImbalancePredictor

    cfg = config.llm
    market = config.market.symbol
    if cassette is not None:
        if not Path(cassette).is_file():
            raise ConfigError("--predictions", [f"{cassette}: no such cassette file"])
        return ReplayPredictions.llm(cfg, market, api_key="cassette-replay")
    if cfg.predictor == "imbalance":
        return ReplayPredictions(cfg, market, ImbalancePredictor(config.spread.regime_sigma_bps))
    key = _llm_key(config)
    return None if key is None else ReplayPredictions.llm(cfg, market, api_key=key)


def _llm_key(config: AppConfig) -> str | None:
    """The LLM's API key when ``llm.predictor`` is ``llm`` and the key is in the environment
    (no key: no calls, and a warning saying so)."""
    import os

    cfg = config.llm
    if cfg.predictor != "llm":
        return None
    key = os.environ.get(cfg.api_key_env)
    if not key:
        log.warning("llm.predictor is llm but %s is not set: no LLM calls, predictor none", cfg.api_key_env)
    return key or None


def _live_predictions(config: AppConfig) -> LivePredictions | None:
    from ccxt_mm.engine.predictions import LivePredictions
    from ccxt_mm.llm.predictor import ImbalancePredictor

    if config.llm.predictor == "imbalance":
        return LivePredictions(config.llm, ImbalancePredictor(config.spread.regime_sigma_bps))
    key = _llm_key(config)
    return None if key is None else LivePredictions.llm(config.llm, key)


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from ccxt_mm.exchange.clients import credentials
    from ccxt_mm.strategies import load_strategy

    config, _, source = _config(args.config)
    load_strategy(config, source)  # a bad strategy.params fails before anything connects
    secrets: list[str] = []
    if args.live:
        problems = []
        for name in sorted({m.exchange for m in config.live.markets}):
            try:
                secrets += credentials(config, name, source).values()
            except ConfigError as exc:
                problems += exc.problems
        if problems:
            raise ConfigError(source, problems)
    from ccxt_mm.logs import configure_json_logging

    handler = configure_json_logging(sys.stderr, secrets)
    _print_banner(config, args.live)
    try:
        summary = asyncio.run(_run(config, args.live, args.duration))
    finally:
        logging.getLogger("ccxt_mm").removeHandler(handler)
    text = json.dumps(summary, indent=2, sort_keys=True, default=str)
    for secret in secrets:
        text = text.replace(secret, "***")
    if args.report_dir:
        out = Path(args.report_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "run_summary.json").write_text(text + "\n")
    print(text)
    return 0 if all(not s.get("orders_left") for s in summary.values()) else 1


def _print_banner(config: AppConfig, live: bool) -> None:
    r = config.risk
    mode = "LIVE: real orders will be sent" if live else "paper: live public books, simulated orders (no keys used)"
    print(f"ccxt-mm run, {mode}", file=sys.stderr)
    for m in config.live.markets:
        print(f"  {m.exchange:8s} {m.symbol}", file=sys.stderr)
    print(
        f"  limits: max position {r.max_position_base} base, exposure {r.max_exposure_quote} quote, daily loss {r.daily_loss_limit_quote}",
        file=sys.stderr,
    )
    print(f"  kill switch: drawdown {r.max_drawdown_quote} quote from peak; dead-man {config.live.dead_man_secs} s", file=sys.stderr)


async def _run(config: AppConfig, live: bool, duration: float | None) -> dict[str, dict]:
    import asyncio
    import secrets
    import signal

    from ccxt_mm.engine.live import LiveEngine, open_market
    from ccxt_mm.exchange.clients import make_exchange
    from ccxt_mm.logs import log_loop_exceptions

    run_id = secrets.token_hex(3)
    exchanges: dict = {}
    markets = []
    failed: dict[str, dict] = {}
    try:
        for mc in config.live.markets:
            key = f"{mc.exchange} {mc.symbol}"
            try:
                if mc.exchange not in exchanges:
                    exchanges[mc.exchange] = make_exchange(mc.exchange, config, with_credentials=live)
                markets.append(await open_market(config, exchanges[mc.exchange], mc.symbol, live, run_id))
            except Exception as exc:  # one market failing to start never stops the others
                print(f"error: {key}: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
                failed[key] = {"error": f"{type(exc).__name__}: {exc}", "orders_left": 0}
        if not markets:
            raise NoMarketStartedError(f"no market started ({', '.join(failed) or 'live.markets is empty'}): nothing to quote")
        for m in markets:
            if not m.paper:
                switch = "armed" if await m.venue.arm_dead_man(config.live.dead_man_secs) else "not available on this exchange"
                print(f"  {m.key}: dead-man switch {switch}; cancelled from earlier runs: {m.leftovers_cancelled}", file=sys.stderr)
        state_path = Path(config.live.state_file) if live else None
        engine = LiveEngine(config, markets, predictions=_live_predictions(config), state_path=state_path)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        log_loop_exceptions(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        metrics = None
        if config.live.metrics_port:
            from ccxt_mm.metrics import serve_metrics

            metrics = await serve_metrics(engine, "127.0.0.1", config.live.metrics_port)
            log.info("metrics on http://127.0.0.1:%d/metrics", config.live.metrics_port)
        if markets:
            # no quiet_gc here (unlike replay): with ccxt and aiohttp in the loop a rarer
            # young-generation collection bought no p99 in benchmarks/live_loop.py and cost
            # 10 MiB of peak RSS
            await engine.run(stop)
        if metrics is not None:
            await metrics.cleanup()
        summary = engine.summary()
        for m in markets:
            summary[m.key]["orders_left"] = 0 if m.paper else len(await m.venue.open_orders())
        predictor = engine.predictions.summary() if engine.predictions is not None else {"predictor": "none"}
        return {**summary, **failed, "predictor": predictor}
    finally:
        for ex in exchanges.values():
            await ex.close()


def _print_summary(s: dict[str, object], written: list[Path]) -> None:
    def f(key: str, fmt: str = "{:.4f}") -> str:
        v = s.get(key)
        return "n/a" if v is None else fmt.format(v)

    print(f"symbol            {s['symbol']}  ({s['messages']} messages, {s['book_rows']} book rows)")
    print(f"fills             {s['fills']}  (maker {s['maker_fills']}, taker {s['taker_fills']}), volume {f('volume_base', '{:.6f}')} base")
    print(f"pnl               total {f('pnl_total')} = realized {f('pnl_realized')} + unrealized {f('pnl_unrealized')} - fees {f('fees')}")
    print(f"inventory         final {f('final_position', '{:.6f}')}, max |q| {f('max_abs_inventory', '{:.6f}')}")
    print(
        f"orders            created {s['orders_created']}, cancelled {s['orders_cancelled']}, "
        f"post-only rejects {s['post_only_rejects']}, left open {s['orders_left_open']}"
    )
    print(f"edge (bps)        captured {f('captured_bps', '{:.3f}')}, adverse {f('adverse_bps', '{:.3f}')}, fees {f('fee_bps', '{:.3f}')}")
    print(f"break-even spread {f('break_even_spread_bps', '{:.3f}')} bps")
    print(f"predictor         {s['predictor']}")
    comparison = s.get("comparison")
    if isinstance(comparison, dict):
        without, with_ = comparison["without_predictions"], comparison["with_predictions"]
        print(f"                  {'without':>14} {'with':>14}")
        for key in ("fills", "pnl_total", "fees", "max_abs_inventory", "final_position"):
            print(f"  {key:<16}{without[key]:>14.6g} {with_[key]:>14.6g}")
        p = s.get("predictions", {})
        if isinstance(p, dict) and "requests" in p:
            print(
                f"  llm             {p['requests']} requests, {p['predictions']} predictions, {p['discarded']} discarded, "
                f"{p['failed_requests']} failed; {p['prompt_tokens'] + p['completion_tokens']} tokens, ${p['cost_usd']:.4f} "
                f"(${p['cost_usd_per_hour']:.4f}/h)"
            )
    print(f"wall              {s['wall_s']} s")
    print("report            " + ", ".join(str(p) for p in written))


def version_text() -> str:
    """``ccxt-mm <version>``, with the ccxt it runs on and which build (compiled or not)."""
    import platform
    from importlib.metadata import version

    from ccxt_mm.compiled import build

    return f"ccxt-mm {version('ccxt-mm')} (ccxt {version('ccxt')}, {build()} build, Python {platform.python_version()})"


class _VersionAction(argparse.Action):
    """``--version``: prints :func:`version_text` and exits 0 (the versions are looked up
    only when asked)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccxt-mm", description="Market making on ccxt: replay, paper and live.")
    parser.add_argument("--version", action=_VersionAction, help="print the versions of ccxt-mm and ccxt and which build runs")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="paper-trade a recorded capture (default: bundled Binance BTCUSDT)")
    rp.add_argument("--config", help="YAML config (default: ./config.yaml if present, else built-in defaults)")
    rp.add_argument("--data", nargs="+", metavar="FILE", help="capture files of one recording, in order")
    rp.add_argument("--symbol", help="unified symbol, e.g. ETH/USDT")
    rp.add_argument("--tick-size", type=float, help="price increment (quote currency)")
    rp.add_argument("--lot-size", type=float, help="quantity increment (base units)")
    rp.add_argument("--report-dir", default="report", help="where the report is written (default: ./report)")
    rp.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    rp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    rp.add_argument(
        "--predictions",
        metavar="CASSETTE",
        help="replay recorded LLM predictions (a vcrpy cassette of chat completions) and compare with a run without",
    )
    rp.set_defaults(func=cmd_replay)
    rn = sub.add_parser("run", help="quote the configured exchanges: paper on live books, or --live")
    rn.add_argument("--config", help="YAML config (default: ./config.yaml if present, else built-in defaults)")
    rn.add_argument("--live", action="store_true", help="send real orders (keys from the environment variables in config)")
    rn.add_argument("--duration", type=float, help="stop after this many seconds (default: until SIGINT/SIGTERM)")
    rn.add_argument("--report-dir", help="also write run_summary.json here")
    rn.set_defaults(func=cmd_run)
    cc = sub.add_parser("check-config", help="validate a config file; every error names its key")
    cc.add_argument("--config", help="YAML config (default: ./config.yaml if present)")
    cc.set_defaults(func=cmd_check_config)
    for entry in entry_points(group="ccxt_mm.commands"):
        entry.load()(sub)  # commands of installed extras (the test kit's `record`)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"config error in {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except CcxtMmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
