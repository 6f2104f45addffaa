"""Bad input a user can type, through the real CLI on the bundled recordings: a clear error
(what is wrong and where, non-zero exit, no report) or a warning (stderr, the run goes on)."""

from __future__ import annotations

import gzip
import re
import shutil
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import orjson
import pytest
import yaml

from ccxt_mm.cli import main
from ccxt_mm.compiled import build
from ccxt_mm.execution.market import SYMBOL_FORMAT
from ccxt_mm.market.capture import load_capture
from ccxt_mm.market.grid_check import recorded_grid
from ccxt_mm.report import REPORT_FILES
from tests.conftest import BINANCE_FILES, BYBIT_FILE, COINM_FILE, OKX_FILE, ROOT


def replay(capsys, tmp_path: Path, *args: str) -> tuple[int, str]:
    """Exit code and stderr of ``ccxt-mm replay ARGS`` writing its report under ``tmp_path``."""
    code = main(["replay", "--no-progress", "--report-dir", str(tmp_path / "report"), *args])
    return code, capsys.readouterr().err


def report_files(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "report").glob("*")}


# --- a symbol the recording does not hold -----------------------------------------------------
def test_a_symbol_the_binance_recording_lacks_is_an_error_naming_what_it_holds(capsys, tmp_path):
    code, err = replay(capsys, tmp_path, "--symbol", "ETH/USDT")
    assert code == 1
    assert f"error: {BINANCE_FILES[0]}, {BINANCE_FILES[1]}: " in err
    assert "no depth stream for ETH/USDT (ethusdt@depth) in this recording; it has depth streams for: btcusdt" in err
    assert report_files(tmp_path) == set()


@pytest.mark.parametrize(
    ("capture", "symbol", "expected"),
    [
        (
            OKX_FILE,
            "ETH/USDT",
            "no OKX books for ETH/USDT (instId ETH-USDT) in this capture; it has books for: BTC-USD-220527, BTC-USDT, UNI-USD-SWAP",
        ),
        (
            BYBIT_FILE,
            "BTC/USDT",
            "no Bybit orderBookL2_25 book for BTC/USDT (BTCUSDT) in this capture; it has books for: "
            "ADAUSDT, BCHUSDT, DOTUSDT, ETHUSDT, LINKUSDT, LTCUSDT, UNIUSDT, XTZUSDT",
        ),
    ],
    ids=["okx", "bybit"],
)
def test_a_symbol_the_cryptofeed_capture_lacks_is_an_error_naming_what_it_holds(capsys, tmp_path, capture, symbol, expected):
    code, err = replay(capsys, tmp_path, "--data", capture, "--symbol", symbol)
    assert code == 1
    assert f"error: {capture}: {expected}" in err
    assert report_files(tmp_path) == set()


def test_a_futures_recording_asked_for_another_symbol_is_an_error(capsys, tmp_path):
    capture = COINM_FILE
    code, err = replay(capsys, tmp_path, "--data", capture, "--symbol", "BTC/USD")
    assert code == 1
    assert "no depth stream for BTC/USD (btcusd@depth) in this recording; it has depth streams for: ethusd_perp" in err
    assert report_files(tmp_path) == set()


def test_a_book_that_never_becomes_quotable_is_an_error_and_writes_no_report(capsys, tmp_path):
    """The recording's first 8 lines with the snapshot's asks gone and the one diff that
    connects to it removed: the book has bids only, so not one update can be quoted on."""
    with gzip.open(BINANCE_FILES[0], "rb") as fh:
        lines = [next(fh) for _ in range(8)]
    ts, _, body = lines[7].partition(b" ")
    snapshot = orjson.loads(body)
    snapshot["asks"] = []
    lines[7] = ts + b" " + orjson.dumps(snapshot) + b"\n"
    del lines[5]  # the diff spanning the snapshot's lastUpdateId (the two before are older than it)
    path = tmp_path / "one_sided.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))
    code, err = replay(capsys, tmp_path, "--data", str(path))
    assert code == 1
    assert f"error: {path}: the BTC/USDT book never became quotable (0 book updates" in err
    assert "no report written" in err and "warning" not in err
    assert report_files(tmp_path) == set()


# --- a capture of a format that is not read --------------------------------------------------
KRAKEN_LINES = (
    b'{"recv_ts":1618678132.3858151,"dir":"connect","url":"wss://ws.kraken.com"}\n'
    b'{"recv_ts":1618678134.213106,"dir":"recv","url":"wss://ws.kraken.com","msg":[992,{"b":[["354.15000000","5.00000000",'
    b'"1618678133.365913"]],"c":"2583817756"},"book-1000","XMR/USD"]}\n'
)  # the first line and a book update of cryptofeed's KRAKEN.ws.50.0.ndjson.gz
KNOWN = (
    "known formats: an event store (a directory with manifest.json, written by ccxt-mm convert), "
    "Binance raw captures (gzip text of '<ts_ns> <json>' lines) and cryptofeed NDJSON captures (gzip) "
    "of OKX v5 books and Bybit orderBookL2_25"
)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("kraken.ndjson.gz", gzip.compress(KRAKEN_LINES), "unsupported capture: a cryptofeed capture of url 'wss://ws.kraken.com'"),
        (
            "trades.csv.gz",
            gzip.compress(b"1723161253937,61837.63,0.02\n"),
            "unrecognised capture format (the line starts '1723161253937,61837.63,0.02')",
        ),
        ("trades.csv", b"ts,price,qty\n1723161253937,61837.63,0.02\n", "not a gzip file (captures are gzip-compressed text)"),
    ],
    ids=["kraken", "gzip-csv", "plain-csv"],
)
def test_a_capture_of_an_unknown_format_names_the_formats_that_are_read(capsys, tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    code, err = replay(capsys, tmp_path, "--data", str(path))
    assert code == 1
    assert f"error: {path}:1: {expected}; {KNOWN}" in err


# --- a tick, lot or position limit that does not fit the recording -----------------------------
def test_recorded_grids_of_the_bundled_recordings(btc_log):
    assert (recorded_grid(btc_log.prices), recorded_grid(btc_log.row_qty)) == (0.01, 0.00001)  # 7 old asks off the lot: tolerated
    okx = load_capture([OKX_FILE], "BTC/USDT")
    assert (recorded_grid(okx.prices), recorded_grid(okx.row_qty)) == (0.1, 0.00000001)
    ltc = load_capture([BYBIT_FILE], "LTC/USDT")
    assert (recorded_grid(ltc.prices), recorded_grid(ltc.row_qty)) == (0.01, 0.1)  # sizes as 32-bit floats (116.600006)


TIGHT_FEES = (
    "warning: spread.min_spread_bps 1 is under twice paper.maker_fee_bps 1 (2 bps): "
    "a round trip at the narrowest spread pays more in fees than it earns"
)
"""The tight examples' one warning: true (their replays lose money; see docs/fill_model.md)."""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], []),
        (["--config", str(ROOT / "examples/binance_btcusdt_tight.yaml")], [TIGHT_FEES]),
        (["--config", str(ROOT / "tests/data/bybit_ltcusdt.yaml")], [TIGHT_FEES]),
        (["--data", OKX_FILE, "--symbol", "BTC/USDT", "--tick-size", "0.1", "--lot-size", "0.00000001"], []),
    ],
    ids=["defaults", "tight", "bybit-ltc", "okx-readme"],
)
def test_settings_that_fit_their_recording_print_no_fit_warning(capsys, tmp_path, args, expected):
    code, err = replay(capsys, tmp_path, *args)
    assert code == 0
    assert [line for line in err.splitlines() if "warning" in line] == expected


def test_a_tick_lot_or_position_limit_that_does_not_fit_is_warned_and_the_replay_runs(capsys, tmp_path):
    config = tmp_path / "misfit.yaml"
    config.write_text(yaml.safe_dump({"market": {"tick_size": 0.03}, "risk": {"max_position_base": 5000}}))
    code, err = replay(capsys, tmp_path, "--config", str(config), "--lot-size", "0.0000001")
    assert code == 0 and report_files(tmp_path) == set(REPORT_FILES)
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 3, err
    tick, lot, position = warnings
    assert re.fullmatch(
        r"warning: market\.tick_size 0\.03 does not fit the recording: [\d,]+ of its 45,027 distinct prices are off that grid; "
        r"the recording's prices are on a 0\.01 grid",
        tick,
    )
    off = int(re.search(r"([\d,]+) of its", tick).group(1).replace(",", ""))
    assert 45_027 * 0.5 < off < 45_027  # about two thirds: a cent price is on a 3-cent grid one time in three
    assert lot == (
        "warning: --lot-size 0.0000001 is 100x finer than the recording's sizes, which are on a 0.00001 grid: "
        "quotes could land between the exchange's steps"
    )
    assert position == (
        "warning: risk.max_position_base 5000 BTC is more than a whole side of the recording's first snapshot "
        "(bids 111.7927 BTC, asks 116.8134 BTC): it is in BTC, the base asset; was it meant as a USDT amount?"
    )


def test_a_coarser_tick_given_on_the_command_line_is_warned_by_its_flag(capsys, tmp_path):
    code, err = replay(capsys, tmp_path, "--data", BYBIT_FILE, "--symbol", "LTC/USDT", "--tick-size", "0.05", "--lot-size", "0.1")
    assert code == 0
    assert "warning: --tick-size 0.05 does not fit the recording: " in err
    assert "the recording's prices are on a 0.01 grid" in err


# --- a failed replay leaves no earlier report ----------------------------------------------------
def test_a_failed_replay_leaves_none_of_the_previous_reports_files(capsys, tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "report/notes.txt").write_text("mine")
    assert replay(capsys, tmp_path)[0] == 0
    assert report_files(tmp_path) == {*REPORT_FILES, "notes.txt"}  # REPORT_FILES is what a replay writes
    code, err = replay(capsys, tmp_path, "--symbol", "ETH/USDT")
    assert code == 1 and "no depth stream for ETH/USDT" in err
    assert report_files(tmp_path) == {"notes.txt"}  # the user's own file stays


def test_a_report_dir_that_is_a_file_is_a_config_error(capsys, tmp_path):
    (tmp_path / "report").write_text("not a folder")
    code, err = replay(capsys, tmp_path)
    assert code == 2
    assert f"--report-dir: {tmp_path / 'report'} is a file, not a folder" in err


# --- command-line and config values the schema refuses -----------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tick-size", "-1"], "--tick-size: must be at least 1e-12 and at most 1e+12 (got -1.0)"),
        (["--lot-size", "0"], "--lot-size: must be at least 1e-12 and at most 1e+12 (got 0.0)"),
        (
            ["--symbol", "BTC/USDT:EUR"],
            "--symbol: settle currency EUR is neither the base BTC nor the quote USDT (quanto contracts are not supported) "
            "(got 'BTC/USDT:EUR')",
        ),
        (["--symbol", "btc"], f"--symbol: {SYMBOL_FORMAT} (got 'btc')"),
    ],
)
def test_a_command_line_value_the_schema_refuses_is_named_by_its_flag(capsys, tmp_path, args, expected):
    code, err = replay(capsys, tmp_path, *args)
    assert code == 2
    assert err.splitlines() == ["config error in command line:", f"  - {expected}"]


def test_no_number_of_the_config_may_be_infinite_or_nan(capsys, tmp_path):
    """What check-config once passed as OK: an infinite tick (replay then died in a traceback),
    the kill switch, the daily loss limit and the order age switched off by infinity; every
    number of every section, nested ones included, is refused where it is, with its key."""
    config = tmp_path / "inf.yaml"
    config.write_text(
        "market: {tick_size: .inf}\n"
        "risk: {daily_loss_limit_quote: .inf, max_drawdown_quote: .inf, max_position_base: .nan}\n"
        "orders: {max_age_secs: .inf}\n"
        "portfolio: {max_asset_base: {BTC: -.inf}}\n"
    )
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    for key, got in (
        ("market.tick_size", "inf"),
        ("risk.daily_loss_limit_quote", "inf"),
        ("risk.max_drawdown_quote", "inf"),
        ("risk.max_position_base", "nan"),
        ("orders.max_age_secs", "inf"),
        ("portfolio.max_asset_base.BTC", "-inf"),
    ):
        assert f"  - {key}: must be a finite number (got {got})" in err.splitlines(), (key, err)
    assert main(["replay", "--config", str(config)]) == 2 and "Traceback" not in capsys.readouterr().err
    config.write_text("strategy: {params: {order_qty: .inf}}\n")  # the strategy's own, checked once the sections pass
    assert main(["check-config", "--config", str(config)]) == 2
    assert "  - strategy.params.order_qty: must be a finite number (got inf)" in capsys.readouterr().err.splitlines()


def test_config_file_errors_read_the_same_way_and_name_their_keys(capsys, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "market": {"symbol": "btc-usdt", "tick_size": -1},
                "live": {"markets": [{"exchange": "kraken", "symbol": "BTC/USDT:EUR"}]},
                "book": {"levels": 1.5},
                "orders": {"tolerance_bps": "fast", "post_only_cross": "maybe"},
                "risk": {"max_postion_base": 1},
            }
        )
    )
    assert main(["check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"config error in {config}:",
        f"  - market.symbol: {SYMBOL_FORMAT} (got 'btc-usdt')",
        "  - market.tick_size: must be at least 1e-12 and at most 1e+12 (got -1)",
        "  - book.levels: expected a whole number (got 1.5)",
        "  - risk.max_postion_base: unknown key",
        "  - orders.tolerance_bps: expected a number (got 'fast')",
        "  - orders.post_only_cross: expected 'passive' or 'drop' (got 'maybe')",
        "  - live.markets.0.exchange: expected one of binance, bybit, okx (got 'kraken')",
        "  - live.markets.0.symbol: settle currency EUR is neither the base BTC nor the quote USDT "
        "(quanto contracts are not supported) (got 'BTC/USDT:EUR')",
    ]
    assert "pydantic" not in err and "http" not in err


# --- ccxt-mm run: nothing started, bad strategy.params ----------------------------------------
def run_config(tmp_path: Path, port: int, params: dict | None = None) -> str:
    """A paper ``run`` config whose binance and okx REST hosts are 127.0.0.1:``port``."""
    cfg = {
        "live": {
            "markets": [{"exchange": "binance", "symbol": "BTC/USDT"}, {"exchange": "okx", "symbol": "BTC/USDT"}],
            "websocket": False,
            "rest_urls": {"binance": f"http://127.0.0.1:{port}", "okx": f"http://127.0.0.1:{port}"},
            "state_file": str(tmp_path / "state.json"),
        },
        "strategy": {"params": params or {}},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_a_run_where_no_market_starts_is_an_error_after_each_markets_own(capsys, tmp_path):
    with socket.socket() as s:  # a port nothing listens on: every connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["run", "--config", run_config(tmp_path, port), "--duration", "5", "--report-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[-3].startswith(f"error: binance BTC/USDT: cannot start: ExchangeUnreachable: binance GET http://127.0.0.1:{port}/")
    assert lines[-2].startswith(f"error: okx BTC/USDT: cannot start: ExchangeUnreachable: okx GET http://127.0.0.1:{port}/")
    assert lines[-1] == "error: no market started (binance BTC/USDT, okx BTC/USDT): nothing to quote"
    assert not (tmp_path / "run_summary.json").exists()


@pytest.mark.parametrize("live", [False, True], ids=["paper", "live"])
def test_bad_strategy_params_fail_before_any_connection(capsys, tmp_path, live):
    with socket.socket() as server:  # the "exchange": any connection would wait in its backlog
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        config = run_config(tmp_path, server.getsockname()[1], {"levels": 0})
        code = main(["run", "--config", config, "--duration", "5", *(["--live"] if live else [])])
        err = capsys.readouterr().err
        assert code == 2
        assert err.splitlines() == [f"config error in {config}:", "  - strategy.params.levels: must be at least 1 and at most 20 (got 0)"]
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing ever connected


# --- --version ---------------------------------------------------------------------------------
def test_version_names_the_package_ccxt_and_the_build():
    exe = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ccxt-mm {version('ccxt-mm')} (ccxt {version('ccxt')}, {build()} build, Python ")
