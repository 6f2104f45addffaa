"""``ccxt-mm run``: paper on live books, or ``--live``: credentials, the banner, the markets
started, the live engine until stopped (signal or ``--duration``), metrics, the summary and
the run report (:mod:`ccxt_mm.app.run_report`)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ccxt_mm.app.config_file import app_config
from ccxt_mm.app.predictors import live_predictions
from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError, NoMarketStartedError

if TYPE_CHECKING:
    import asyncio

    from ccxt_mm.app.run_report import RunReporter
    from ccxt_mm.engine.live import LiveEngine, LiveMarket

log = logging.getLogger(__name__)


def run(
    config_path: str | None,
    live: bool,
    duration: float | None,
    report_dir: str | None,
    *,
    no_status: bool = False,
    json_logs: bool = False,
    status_secs: float = 10.0,
    log_file: str | None = None,
) -> int:
    """Quote the configured markets for ``duration`` seconds (None: until SIGINT/SIGTERM),
    print the summary (secrets masked); with ``report_dir``, write it there as well, and the run
    report on exit, on SIGUSR1 and every ``report.every_secs``; 1 if an order was left open,
    else 0. While it runs: a status screen on a terminal (warnings in its pane; ``json_logs``:
    JSON log lines on stderr instead), else a plain line per market every ``status_secs``
    (``no_status``: neither; see :func:`~ccxt_mm.app.status_screen.display_for`); with
    ``log_file``, every log line is appended there as JSON too (secrets masked)."""
    import asyncio

    from ccxt_mm.strategies import load_strategy

    config, _, source = app_config(config_path)
    load_strategy(config, source)  # a bad strategy.params fails before anything connects
    secrets = _credentials(config, source) if live else []
    display, handler = _logging(no_status, json_logs, secrets)
    handlers = [handler]
    if log_file is not None:
        from ccxt_mm.logs import json_log_file

        handlers.append(json_log_file(log_file, secrets))
    _print_banner(config, live)
    show = _display(display, handler, status_secs)
    try:
        summary = asyncio.run(_run(config, live, duration, Path(report_dir) if report_dir else None, show))
    finally:
        for h in handlers:
            logging.getLogger("ccxt_mm").removeHandler(h)
            h.close()
    text = json.dumps(summary, indent=2, sort_keys=True, default=str)
    for secret in secrets:
        text = text.replace(secret, "***")
    if report_dir:
        out = Path(report_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "run_summary.json").write_text(text + "\n")
    print(text)
    return 0 if all(not s.get("orders_left") for s in summary.values()) else 1


def _credentials(config: AppConfig, source: str) -> list[str]:
    """The secret values of every exchange the config quotes live (all problems at once)."""
    from ccxt_mm.exchange.clients import credentials

    secrets: list[str] = []
    problems: list[str] = []
    for name in sorted({m.exchange for m in config.live.markets}):
        try:
            secrets += credentials(config, name, source).values()
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(source, problems)
    return secrets


def _logging(no_status: bool, json_logs: bool, secrets: list[str]) -> tuple[str, logging.Handler]:
    """How the run is shown (:func:`~ccxt_mm.app.status_screen.display_for`) and the log handler
    that goes with it: the screen's warnings pane, or JSON lines on stderr (secrets masked)."""
    from ccxt_mm.app.status_screen import WarningPane, display_for
    from ccxt_mm.logs import configure_json_logging

    display = display_for(no_status, json_logs, sys.stdout.isatty())
    if display != "screen":
        return display, configure_json_logging(sys.stderr, secrets)
    pane = WarningPane(secrets)
    logging.getLogger("ccxt_mm").addHandler(pane)
    return display, pane


def _print_banner(config: AppConfig, live: bool) -> None:
    """What is about to run, on stderr: the mode, the markets, the risk limits, each limit that
    is off and each unwise value (:mod:`ccxt_mm.config_checks`)."""
    from ccxt_mm.config_checks import limits_off, unwise

    r = config.risk
    mode = "LIVE: real orders will be sent" if live else "paper: live public books, simulated orders (no keys used)"
    print(f"ccxt-mm run, {mode}", file=sys.stderr)
    for m in config.live.markets:
        print(f"  {m.exchange:8s} {m.symbol}", file=sys.stderr)
    exposure, daily, drawdown = (_limit_text(v) for v in (r.max_exposure_quote, r.daily_loss_limit_quote, r.max_drawdown_quote))
    print(f"  limits: max position {r.max_position_base} base, exposure {exposure}, daily loss {daily}", file=sys.stderr)
    print(f"  kill switch: drawdown {drawdown} from peak; dead-man {config.live.dead_man_secs} s", file=sys.stderr)
    for warning in [*limits_off(config, len(config.live.markets)), *unwise(config)]:
        print(f"  warning: {warning}", file=sys.stderr)


def _limit_text(limit: float | None) -> str:
    """A limit in quote currency as the banner says it."""
    return "OFF" if limit is None else f"{limit} quote"


def _display(display: str, handler: logging.Handler, status_secs: float) -> Callable[[LiveEngine], Awaitable[None]] | None:
    """The task that shows the run's state, by ``display`` (None: nothing shown)."""
    from ccxt_mm.app.status_screen import WarningPane, print_lines, show_screen

    if display == "screen" and isinstance(handler, WarningPane):
        return lambda engine: show_screen(engine, handler, sys.stdout)
    if display == "lines":
        return lambda engine: print_lines(engine, status_secs, sys.stdout)
    return None


async def _run(
    config: AppConfig, live: bool, duration: float | None, report_dir: Path | None, show: Callable[[LiveEngine], Awaitable[None]] | None
) -> dict[str, dict]:
    """Quote until stopped; the summary of each market (started or failed) and the predictor's.
    With ``report_dir``, the run report is written there (the last one after every order is
    cancelled)."""
    import asyncio
    import secrets

    from ccxt_mm.engine.live import LiveEngine
    from ccxt_mm.shared.redis_book import redis_url

    run_id = secrets.token_hex(3)
    shared_url = redis_url(config.portfolio) if config.portfolio.store == "redis" else None
    exchanges: dict = {}
    reporter: RunReporter | None = None
    try:
        markets, failed = await _start_markets(config, exchanges, live, run_id)
        state_path = Path(config.live.state_file) if live else None
        engine = LiveEngine(config, markets, predictions=live_predictions(config), state_path=state_path, shared_url=shared_url)
        stop = asyncio.Event()
        reporter = _signals(engine, stop, duration, report_dir, list(failed))
        metrics = None
        if config.live.metrics_port:
            from ccxt_mm.metrics import serve_metrics

            metrics = await serve_metrics(engine, "127.0.0.1", config.live.metrics_port)
            log.info("metrics on http://127.0.0.1:%d/metrics", config.live.metrics_port)
        if markets:
            # no quiet_gc here (unlike replay): with ccxt and aiohttp in the loop a rarer
            # young-generation collection bought no p99 in benchmarks/live_loop.py and cost
            # 10 MiB of peak RSS
            await _quote(engine, stop, reporter, show)
        if metrics is not None:
            await metrics.cleanup()
        summary = engine.summary()
        for m in markets:
            summary[m.key]["orders_left"] = len(await m.venue.open_orders())
        if reporter is not None:
            await reporter.write(summary, "exit")
        predictor = engine.predictions.summary() if engine.predictions is not None else {"predictor": "none"}
        return {**summary, **failed, "predictor": predictor, "portfolio": engine.portfolio_summary()}
    finally:
        if reporter is not None:
            await asyncio.to_thread(reporter.shutdown)  # waits for the writer process off the loop
        for ex in exchanges.values():
            await ex.close()


def _signals(
    engine: LiveEngine, stop: asyncio.Event, duration: float | None, report_dir: Path | None, failed: list[str]
) -> RunReporter | None:
    """SIGINT / SIGTERM and ``duration`` (s) set ``stop``; SIGUSR1 asks for a run report; the
    run's reporter (None without ``report_dir``); loop exceptions go to the JSON log."""
    import asyncio
    import signal

    from ccxt_mm.app.run_report import RunReporter
    from ccxt_mm.logs import log_loop_exceptions

    loop = asyncio.get_running_loop()
    log_loop_exceptions(loop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    every = engine.cfg.report.every_secs
    reporter = RunReporter(engine, report_dir, every, failed) if report_dir is not None else None
    loop.add_signal_handler(signal.SIGUSR1, _on_sigusr1, reporter)
    if reporter is None and every is not None:
        log.warning("report.every_secs is set but no --report-dir is given: no run report is written")
    if duration is not None:
        loop.call_later(duration, stop.set)
    return reporter


async def _quote(
    engine: LiveEngine, stop: asyncio.Event, reporter: RunReporter | None, show: Callable[[LiveEngine], Awaitable[None]] | None
) -> None:
    """Run ``engine`` until ``stop`` is set, with ``reporter``'s task and the status display (if
    any) beside it."""
    import asyncio
    import contextlib

    shown = asyncio.create_task(show(engine), name="status") if show is not None else None
    reports = asyncio.create_task(reporter.run(), name="run report") if reporter is not None else None
    try:
        await engine.run(stop)
    finally:
        if shown is not None:
            shown.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shown
        if reporter is not None and reports is not None:
            await reporter.close(reports)


def _on_sigusr1(reporter: RunReporter | None) -> None:
    """SIGUSR1: write the run report now, quoting on."""
    if reporter is None:
        log.warning("SIGUSR1: no --report-dir given: no run report written")
    else:
        reporter.request("SIGUSR1")


async def _start_markets(config: AppConfig, exchanges: dict, live: bool, run_id: str) -> tuple[list[LiveMarket], dict[str, dict]]:
    """Open every configured market on the clients of ``exchanges`` (made here, by exchange
    name; the caller closes them) and arm the dead-man switches of live ones. One market
    failing to start is reported and never stops the others; none started is an error."""
    from ccxt_mm.engine.live import open_market
    from ccxt_mm.exchange.clients import make_exchange

    markets = []
    failed: dict[str, dict] = {}
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
        armed = await m.venue.arm_dead_man(config.live.dead_man_secs)
        if armed is not None:  # None: no order rests on an exchange (paper)
            switch = "armed" if armed else "not available on this exchange"
            print(f"  {m.key}: dead-man switch {switch}; cancelled from earlier runs: {m.leftovers_cancelled}", file=sys.stderr)
    return markets, failed
