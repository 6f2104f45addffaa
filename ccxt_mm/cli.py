"""``ccxt-mm`` command line: parses the arguments and dispatches to :mod:`ccxt_mm.app`."""

from __future__ import annotations

import argparse
import sys
from functools import cache
from importlib.metadata import entry_points

from ccxt_mm.errors import CcxtMmError, ConfigError


def cmd_check_config(args: argparse.Namespace) -> int:
    """``check-config``: see :func:`ccxt_mm.app.config_file.check_config`."""
    from ccxt_mm.app.config_file import check_config

    return check_config(args.config)


def cmd_replay(args: argparse.Namespace) -> int:
    """``replay``: see :func:`ccxt_mm.app.replay.replay`."""
    from ccxt_mm.app.replay import replay

    return replay(
        args.config,
        data=args.data,
        symbol=args.symbol,
        tick_size=args.tick_size,
        lot_size=args.lot_size,
        report_dir=args.report_dir,
        as_json=args.json,
        progress=not args.no_progress,
        cassette=args.predictions,
    )


def cmd_convert(args: argparse.Namespace) -> int:
    """``convert``: see :func:`ccxt_mm.app.convert.convert`."""
    from ccxt_mm.app.convert import convert

    return convert(args.data, args.symbol, args.out, args.exchange)


def cmd_capture(args: argparse.Namespace) -> int:
    """``capture``: see :func:`ccxt_mm.app.capture.capture`."""
    from ccxt_mm.app.capture import capture

    symbols = None if args.symbols is None else [s.strip() for s in args.symbols.split(",") if s.strip()]
    flags = {"exchange": args.exchange, "symbols": symbols, "book_depth": args.depth, "out_dir": args.out}
    return capture(args.config, {**flags, "rotate_secs": args.rotate_secs, "duration_secs": args.duration})


def cmd_run(args: argparse.Namespace) -> int:
    """``run``: see :func:`ccxt_mm.app.run.run`."""
    from ccxt_mm.app.run import run

    shown = {"no_status": args.no_status, "json_logs": args.json_logs, "status_secs": args.status_secs, "log_file": args.log_file}
    return run(args.config, args.live, args.duration, args.report_dir, **shown)


def cmd_sweep(args: argparse.Namespace) -> int:
    """``sweep``: see :func:`ccxt_mm.app.sweep.sweep`."""
    from ccxt_mm.app.sweep import sweep

    return sweep(
        args.config,
        args.grid,
        data=args.data,
        workers=args.workers,
        cluster=args.cluster,
        out_dir=args.out,
        progress=not args.no_progress,
    )


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


def _add_run(sub: argparse._SubParsersAction) -> None:
    rn = sub.add_parser("run", help="quote the configured exchanges: paper on live books, or --live")
    rn.add_argument("--config", help="YAML config (default: ./config.yaml if present, else built-in defaults)")
    rn.add_argument("--live", action="store_true", help="send real orders (keys from the environment variables in config)")
    rn.add_argument("--duration", type=float, help="stop after this many seconds (default: until SIGINT/SIGTERM)")
    rn.add_argument("--report-dir", help="write run_summary.json and the run report here (on exit, on SIGUSR1, every report.every_secs)")
    rn.add_argument("--no-status", action="store_true", help="no status screen and no status lines (a service that logs only)")
    rn.add_argument("--json-logs", action="store_true", help="JSON log lines on stderr instead of the status screen")
    rn.add_argument("--status-secs", type=float, default=10.0, help="off a terminal: a status line per market this often (default 10)")
    rn.add_argument("--log-file", metavar="FILE", help="also append every log line to FILE as JSON (secrets masked): all warnings kept")
    rn.set_defaults(func=cmd_run)


def _add_capture(sub: argparse._SubParsersAction) -> None:
    """The ``capture`` command: each flag overrides its key of the config's ``capture`` section."""
    cp = sub.add_parser("capture", help="record books and trades of any ccxt.pro exchange into an event store, until stopped")
    cp.add_argument("--exchange", help="ccxt exchange id, e.g. okx (default: capture.exchange of the config)")
    cp.add_argument("--symbols", help="comma-separated unified symbols, e.g. BTC/USDT,ETH/USDT (default: capture.symbols)")
    cp.add_argument("--depth", type=int, help="levels a side of each book (default: capture.book_depth, 20)")
    cp.add_argument("--out", metavar="DIR", help="the store (default: capture.out_dir, ./store; made if missing, files are added)")
    cp.add_argument(
        "--duration", type=float, help="stop after this many seconds (default: capture.duration_secs; none: until SIGINT/SIGTERM)"
    )
    cp.add_argument(
        "--rotate-secs", type=float, help="a new file per this many seconds of receive time (default: capture.rotate_secs, 3600)"
    )
    cp.add_argument("--config", help="YAML config: its capture section says what to record (the flags override it), its live section how")
    cp.set_defaults(func=cmd_capture)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    sw = sub.add_parser("sweep", help="search strategy parameters over recordings: grid, random or Optuna, locally or on a Dask cluster")
    sw.add_argument("--config", help="the base YAML config (default: ./config.yaml if present, else built-in defaults)")
    sw.add_argument(
        "--grid", required=True, metavar="SWEEP_YAML", help="the sweep file (space, search, objective, constraints, walk_forward)"
    )
    sw.add_argument(
        "--data", nargs="+", metavar="RECORDING", help="recordings in time order: each an event store, or capture files joined by commas"
    )
    sw.add_argument("--workers", type=int, help="local worker processes (default: every core)")
    sw.add_argument("--cluster", metavar="ADDRESS", help="run on the Dask scheduler at tcp://host:port instead")
    sw.add_argument("--out", default="sweep", metavar="DIR", help="where the results are written (default: ./sweep)")
    sw.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sw.set_defaults(func=cmd_sweep)


@cache  # a process runs one command; one that runs many (the tests) builds it once
def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, the installed extras' (``ccxt_mm.commands``) included."""
    parser = argparse.ArgumentParser(prog="ccxt-mm", description="Market making on ccxt: replay, paper and live.")
    parser.add_argument("--version", action=_VersionAction, help="print the versions of ccxt-mm and ccxt and which build runs")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="paper-trade a recorded capture (default: bundled Binance BTCUSDT)")
    rp.add_argument("--config", help="YAML config (default: ./config.yaml if present, else built-in defaults)")
    rp.add_argument("--data", nargs="+", metavar="FILE", help="capture files of one recording, in order, or an event store (a directory)")
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
    _add_run(sub)
    cv = sub.add_parser("convert", help="write a raw capture into an event store (the format replay reads fastest)")
    cv.add_argument("--data", nargs="+", metavar="FILE", required=True, help="capture files of one recording, in order")
    cv.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
    cv.add_argument("--out", required=True, metavar="DIR", help="the store (made if missing; files are added to it)")
    cv.add_argument("--exchange", help="exchange name in the store (default: the capture's format: binance, okx, bybit)")
    cv.set_defaults(func=cmd_convert)
    _add_capture(sub)
    _add_sweep(sub)
    cc = sub.add_parser("check-config", help="validate a config file; every error names its key")
    cc.add_argument("--config", help="YAML config (default: ./config.yaml if present)")
    cc.set_defaults(func=cmd_check_config)
    for entry in entry_points(group="ccxt_mm.commands"):
        entry.load()(sub)  # commands of installed extras (the test kit's `record`)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names; exit status 2 for a config error (each problem
    printed), 1 for any other ccxt-mm error."""
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
