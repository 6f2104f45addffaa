"""Limits switched off, out-of-range numbers and unwise values, through the real command line on
the bundled recording: a refusal names the key and the allowed range; a limit that is off, and a
value that is allowed but unwise, is a warning with its numbers, from ``check-config`` and at the
start of a replay; a market as the exchange describes it is checked at a run's start."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ccxt_mm.app.run import _print_banner
from ccxt_mm.cli import main
from ccxt_mm.config import load_config, parse_config, read_yaml
from ccxt_mm.config_checks import KnownMarket, limits_off, unfit, unwise
from ccxt_mm.execution.venue import MarketFacts
from ccxt_mm.market.store import record_market
from tests.conftest import BINANCE_FILES

OFF = """\
risk: {daily_loss_limit_quote: off, max_drawdown_quote: null, max_exposure_quote: off}
orders: {max_age_secs: off}
report: {plot: off}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def check_config(capsys, path: str) -> tuple[int, list[str], str]:
    """Exit status, the warning lines and stderr of ``ccxt-mm check-config``."""
    status = main(["check-config", "--config", path])
    out, err = capsys.readouterr()
    return status, [line for line in out.splitlines() if line.startswith("warning: ")], err


def test_limits_switched_off_with_off_or_null_are_each_a_warning(capsys, tmp_path):
    """The issue's case: the kill switch and the daily loss limit switched off said nothing;
    now ``off`` or ``null`` switch them off and check-config names each, with what is lost."""
    path = write(tmp_path, OFF)
    status, warnings, _ = check_config(capsys, path)
    assert status == 0
    off = [w.split(": ")[2] for w in warnings if w.startswith("warning: limit off: ")]
    assert off == ["risk.max_exposure_quote", "risk.daily_loss_limit_quote", "risk.max_drawdown_quote", "orders.max_age_secs"]
    assert "warning: limit off: risk.max_drawdown_quote: no kill switch: no drawdown stops the run" in warnings
    # the defaults' three markets of `run` have no limit across them: said once
    assert warnings[-1] == (
        "warning: limits off across the 3 markets of a run together: portfolio.max_gross_notional_quote, "
        "portfolio.max_net_notional_quote, portfolio.total_daily_loss_quote, portfolio.total_drawdown_quote, portfolio.max_concentration "
        "(each market's own limits hold)"
    )
    config = load_config(path)
    assert (config.risk.max_drawdown_quote, config.risk.daily_loss_limit_quote, config.orders.max_age_secs) == (None, None, None)
    assert config.report.plot is False  # YAML's `off` reads as text; a boolean field still takes it


def test_a_replay_with_limits_off_warns_at_its_start_and_runs_without_them(capsys, tmp_path):
    path = write(tmp_path, OFF)
    status = main(["replay", "--config", path, "--no-progress", "--report-dir", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert status == 0 and (tmp_path / "report" / "summary.json").is_file()
    head = err.splitlines()[:4]
    assert head == [
        "warning: limit off: risk.max_exposure_quote: no limit on the value of the holdings",
        "warning: limit off: risk.daily_loss_limit_quote: no daily loss pauses quoting",
        "warning: limit off: risk.max_drawdown_quote: no kill switch: no drawdown stops the run",
        "warning: limit off: orders.max_age_secs: resting orders are never replaced for their age",
    ]
    assert "markets of a run together" not in err  # a replay quotes one market


def test_the_run_banner_says_each_limit_that_is_off(capsys, tmp_path):
    _print_banner(load_config(write(tmp_path, OFF)), live=True)
    err = capsys.readouterr().err
    assert "  limits: max position 0.02 base, exposure OFF, daily loss OFF" in err
    assert "  kill switch: drawdown OFF from peak; dead-man 60.0 s" in err
    assert "  warning: limit off: risk.max_drawdown_quote: no kill switch: no drawdown stops the run" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("risk: {max_position_base: off}", "risk.max_position_base: cannot be switched off: expected a number (got 'off')"),
        ("risk: {max_position_base: 1e300}", "risk.max_position_base: must be greater than 0 and at most 1e+15 (got 1e+300)"),
        ("risk: {max_drawdown_quote: 1e13}", "risk.max_drawdown_quote: must be greater than 0 and at most 1e+12 (got 10000000000000.0)"),
        ("orders: {max_age_secs: 1e9}", "orders.max_age_secs: must be greater than 0 and at most 31536000 (got 1000000000.0)"),
        ("spread: {min_spread_bps: 20000}", "spread.min_spread_bps: must be at least 0 and at most 10000 (got 20000)"),
        ("paper: {entry_latency_ms: 1e6}", "paper.entry_latency_ms: must be at least 0 and at most 60000 (got 1000000.0)"),
        ("market: {tick_size: 1e-300}", "market.tick_size: must be at least 1e-12 and at most 1e+12 (got 1e-300)"),
        ("market: {min_order_base: true}", "market.min_order_base: expected a number (got True)"),
        ("spread: {depth_window: 10000000000}", "spread.depth_window: must be at least 1 and at most 1000000000 (got 10000000000)"),
        ("portfolio: {max_asset_base: {BTC: false}}", "portfolio.max_asset_base.BTC: expected a number (got False)"),
        ("strategy: {params: {gamma: 1e200}}", "strategy.params.gamma: must be greater than 0 and at most 1e+12 (got 1e+200)"),
    ],
)
def test_a_number_out_of_range_is_refused_with_its_key_and_the_allowed_range(capsys, tmp_path, text, problem):
    status = main(["check-config", "--config", write(tmp_path, text + "\n")])
    assert status == 2
    assert f"  - {problem}" in capsys.readouterr().err.splitlines()


def test_yaml_booleans_are_only_true_and_false(tmp_path):
    """YAML 1.1 read ``NO``, ``off`` and ``on`` as booleans: an asset NO, or ``off`` for a limit,
    would have changed type on the way in; and it read ``1e-5`` as text."""
    path = write(
        tmp_path, "portfolio: {max_asset_base: {NO: 5}}\nrisk: {max_drawdown_quote: off}\nreport: {plot: false}\nbook: {near_bps: 1e1}\n"
    )
    raw = read_yaml(path)
    assert raw == {
        "portfolio": {"max_asset_base": {"NO": 5}},
        "risk": {"max_drawdown_quote": "off"},
        "report": {"plot": False},
        "book": {"near_bps": 10.0},
    }
    config = load_config(path)
    assert (config.portfolio.max_asset_base, config.risk.max_drawdown_quote, config.report.plot) == ({"NO": 5.0}, None, False)


def test_unwise_values_are_warned_about_with_their_numbers(capsys, tmp_path):
    path = write(
        tmp_path,
        "spread: {min_spread_bps: 1.5}\npaper: {maker_fee_bps: 1.0}\n"
        "risk: {max_position_base: 0.001, daily_loss_limit_quote: 300, max_drawdown_quote: 250}\n"
        "market: {min_order_base: 0.01}\nstrategy: {params: {order_qty: 0.002}}\n"
        "live: {markets: [{exchange: binance, symbol: BTC/USDT}]}\n",
    )
    status, warnings, _ = check_config(capsys, path)
    assert status == 0
    assert warnings == [
        "warning: spread.min_spread_bps 1.5 is under twice paper.maker_fee_bps 1 (2 bps): "
        "a round trip at the narrowest spread pays more in fees than it earns",
        "warning: risk.max_drawdown_quote 250 (the kill switch) is not above risk.daily_loss_limit_quote 300: a loss of a day "
        "is a drawdown at least as deep, so the run stops before the daily loss limit can pause it",
        "warning: strategy.params.order_qty 0.002 is above risk.max_position_base 0.001 (base): "
        "no order can be that big; each is cut to the room the limit leaves",
        "warning: strategy.params.order_qty 0.002 is under market.min_order_base 0.01 (base): every quote is dropped as below the minimum",
    ]


def test_the_shipped_config_has_no_unwise_value_and_one_market_no_limit_off(capsys, tmp_path):
    config = load_config(Path(__file__).resolve().parents[2] / "config.yaml")
    assert unwise(config) == [] and limits_off(config, 1) == []
    assert len(limits_off(config, 2)) == 1  # the portfolio's limits across markets are null there: one warning


@pytest.fixture
def store(tmp_path) -> Path:
    """A slice of the bundled recording as an event store whose manifest holds Binance's
    BTC/USDT as its exchangeInfo gives it (tick 0.01, step 0.00001, min notional 5)."""
    piece = tmp_path / "slice.gz"
    with gzip.open(BINANCE_FILES[0], "rt") as src, gzip.open(piece, "wt") as out:
        for _, line in zip(range(3000), src, strict=False):
            out.write(line)
    root = tmp_path / "store"
    assert main(["convert", "--data", str(piece), "--symbol", "BTC/USDT", "--out", str(root)]) == 0
    facts = {"tick_size": 0.01, "lot_size": 0.00001, "min_order_base": 0.00001, "min_notional_quote": 5.0, "type": "spot"}
    record_market(root, "binance", "BTC/USDT", facts)
    return root


def test_check_config_reads_the_market_from_the_store_it_names(capsys, tmp_path, store):
    """A tick and a lot that are not multiples of the exchange's, and an order worth less than
    its minimum value at the recording's first mid, each with the numbers."""
    path = write(
        tmp_path,
        f"market: {{data: [{store}], tick_size: 0.015, lot_size: 0.000015}}\nstrategy: {{params: {{order_qty: 0.00005}}}}\n"
        "live: {markets: [{exchange: binance, symbol: BTC/USDT}]}\n",
    )
    capsys.readouterr()
    status, warnings, _ = check_config(capsys, path)
    assert status == 0
    worth = [w for w in warnings if "is worth" in w]
    assert len(worth) == 1 and "under the minimum order value 5: every quote is dropped" in worth[0]
    mid = float(worth[0].split("the recording's first mid ")[1].split(",")[0])
    assert 60_000 < mid < 63_000 and f"is worth {0.00005 * mid:.4g} USDT" in worth[0]
    assert "warning: market.tick_size 0.015 is not a multiple of the market's 0.01 (the store's manifest): " in "\n".join(warnings)
    assert "warning: market.lot_size 0.000015 is not a multiple of the market's 0.00001 (the store's manifest): " in "\n".join(warnings)


def test_a_step_that_is_a_multiple_of_the_market_s_is_not_warned_about_float_noise_included():
    config = parse_config({"market": {"tick_size": 0.3, "lot_size": 0.0001}}, "x")
    facts = MarketFacts(tick_size=0.1, lot_size=0.00001, min_order_base=0.0, min_notional_quote=0.0, base="BTC", quote="USDT")
    assert unfit(config, KnownMarket("binance", facts)) == []  # 0.3 / 0.1 is 2.9999999999999996


def test_a_live_market_s_minimums_are_checked_in_its_amount_unit():
    """At a run's start the exchange's market is known: an order under its minimum size, or
    worth less than its minimum value at the mark, is named with the exchange."""
    config = parse_config({"strategy": {"params": {"order_qty": 0.0001}}}, "x")
    facts = MarketFacts(tick_size=0.01, lot_size=0.00001, min_order_base=0.001, min_notional_quote=10.0, base="BTC", quote="USDT")
    found = unfit(config, KnownMarket("okx", facts, 60_000.0, "okx's mark price", in_amounts=True))
    assert found == [
        "strategy.params.order_qty 0.0001 is under the minimum order of okx, 0.001: every quote is dropped as below the minimum",
        "strategy.params.order_qty 0.0001 is worth 6 USDT at okx's mark price 60000, under the minimum order value 10: "
        "every quote is dropped as below the minimum",
    ]
    unconverted = KnownMarket("okx", facts, 60_000.0, "okx's mark price", in_amounts=False)
    assert unfit(config, unconverted) == []  # sizes not in the amount unit: not compared


def test_a_recording_check_config_cannot_read_is_a_warning_not_an_error(capsys, tmp_path):
    """A config for `run` alone may name a symbol the bundled recording lacks: check-config
    still passes it, says the recording was not read, and why a replay would fail."""
    status, warnings, _ = check_config(capsys, write(tmp_path, "market: {symbol: ETH/USDT}\n"))
    assert status == 0
    assert warnings[-1].startswith("warning: market.data: cannot be read for ETH/USDT (")
    assert "no depth stream for ETH/USDT (ethusdt@depth)" in warnings[-1]
    assert warnings[-1].endswith("`replay` would fail; the config was not checked against a recording")
    status, warnings, _ = check_config(capsys, write(tmp_path, "market: {data: [nowhere.gz]}\n"))
    assert status == 0
    assert warnings[-1] == f"warning: market.data: {tmp_path / 'nowhere.gz'} not found; the config was not checked against a recording"


def test_a_book_shared_through_redis_names_the_portfolio_limits_off_with_one_market():
    """One market a process, several processes: the limits across markets matter as much."""
    config = parse_config(
        {"portfolio": {"store": "redis", "redis_book": "desk"}, "live": {"markets": [{"exchange": "okx", "symbol": "BTC/USDT"}]}}, "x"
    )
    assert limits_off(config, 1) == [
        "limits off across every market of the Redis book 'desk' together: portfolio.max_gross_notional_quote, "
        "portfolio.max_net_notional_quote, portfolio.total_daily_loss_quote, portfolio.total_drawdown_quote, "
        "portfolio.max_concentration (each market's own limits hold)"
    ]


def test_a_loss_limit_past_the_capital_is_off_in_all_but_name():
    """The kill switch at 1e12 on a 10,000 account: no word of it was said, as a limit it is on."""
    config = parse_config({"risk": {"max_drawdown_quote": 1e12, "daily_loss_limit_quote": 500}}, "x")
    assert unwise(config) == [
        "risk.max_drawdown_quote 1000000000000 is more than the capital, paper.initial_quote (the paper account) 10000: it "
        "cannot act before the capital is gone (a limit is switched off with `off`, which is warned about as such)"
    ]
    config = parse_config({"risk": {"max_drawdown_quote": 20_000}, "portfolio": {"capital_quote": 50_000}}, "x")
    assert unwise(config) == []  # within the capital the portfolio names
