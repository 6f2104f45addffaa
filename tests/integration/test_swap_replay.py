"""``ccxt-mm replay`` on the bundled perpetual-swap captures, end to end: Binance USDⓈ-M
(linear) and COIN-M (inverse), OKX UNI-USD-SWAP (inverse) and Bybit LTCUSDT (linear). Positions
in contracts of either sign, money in the settle currency, funding at the funding time."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from ccxt_mm.amounts import for_recording
from ccxt_mm.cli import main
from ccxt_mm.config import load_config, parse_config
from ccxt_mm.engine import ReplayEngine
from ccxt_mm.market.capture import open_recording
from ccxt_mm.report import summarize
from ccxt_mm.report.plot import pnl_curve
from ccxt_mm.strategies import load_strategy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RECORDINGS = Path(__file__).resolve().parents[2] / "ccxt_mm" / "recordings"
SWAPS = {
    "binance_usdm_ethusdt.yaml": ("USDT", "linear", 300),
    "binance_coinm_ethusd.yaml": ("ETH", "inverse", 300),
    "okx_uni_usd_swap.yaml": ("UNI", "inverse", 0),
    "bybit_ltcusdt_swap.yaml": ("USDT", "linear", 10),
}
"""Example → (settle currency, margin, fewest fills the replay gives)."""


def replay(example: str, out: Path, capsys) -> dict:
    assert main(["replay", "--config", str(EXAMPLES / example), "--report-dir", str(out), "--json", "--no-progress"]) == 0
    capsys.readouterr()
    return json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("example", sorted(SWAPS))
def test_a_swap_replays_to_a_report_in_its_settle_currency(example, tmp_path, capsys):
    settle, margin, fewest = SWAPS[example]
    s = replay(example, tmp_path, capsys)
    assert s["market"]["type"] == "swap" and s["market"]["margin"] == margin and s["market"]["settle"] == settle
    assert s["units"]["pnl_total"] == settle and s["units"]["final_position"] == "contracts"
    assert s["fills"] >= fewest and s["orders_left_open"] == 0
    config = load_config(EXAMPLES / example)
    start = config.paper.initial_quote if margin == "linear" else config.paper.initial_base  # the collateral, settle currency
    assert s["equity_settle"] == pytest.approx(start + s["pnl_total"], rel=1e-12, abs=1e-9)
    assert s["pnl_total"] == pytest.approx(s["pnl_realized"] + s["pnl_unrealized"] - s["fees"] + s["funding"], abs=1e-12)
    wallet = start + s["pnl_realized"] - s["fees"] + s["funding"]  # the exchange's wallet balance: no unrealized PnL
    assert s["balances"] == {settle: pytest.approx(wallet, rel=1e-12, abs=1e-9)}
    limit = s["amounts"]["converted"]["risk.max_position_base"]["used"]
    assert s["max_abs_inventory"] <= limit + 1e-9
    with (tmp_path / "fills.csv").open() as fh:
        positions = [float(row["position"]) for row in csv.DictReader(fh)]
    assert len(positions) == s["fills"]
    assert all(abs(p) <= limit + 1e-9 for p in positions)


def test_the_linear_and_inverse_binance_swaps_hold_shorts_from_flat(tmp_path, capsys):
    """The position limit holds on a position that flips sign: both Binance replays go long and
    short of flat, never past the limit (checked above)."""
    for example in ("binance_usdm_ethusdt.yaml", "binance_coinm_ethusd.yaml"):
        replay(example, tmp_path, capsys)
        with (tmp_path / "fills.csv").open() as fh:
            positions = np.array([float(row["position"]) for row in csv.DictReader(fh)])
        assert positions.min() < 0.0 < positions.max(), example


def test_coinm_pays_funding_at_midnight_on_the_position_then(capsys):
    """The COIN-M capture crosses 00:00 UTC on 2024-08-09: one funding payment of −position ×
    10 USD / mark × rate ETH, the position being what the fills before it left; the plot's PnL
    curve, funding included, ends at the summary's total."""
    config = load_config(EXAMPLES / "binance_coinm_ethusd.yaml")
    files = [str(RECORDINGS / p.removeprefix("recordings/")) for p in config.market.data]
    recording = open_recording(files, config.market.symbol)
    config, units = for_recording(config, recording)
    engine = ReplayEngine(config, recording, load_strategy(config), run_id="fund")
    result = engine.run()
    ((ts_ns, seen_ns, rate, mark, amount),) = result.fundings
    assert ts_ns == 1723161600 * 1_000_000_000 and rate == config.paper.funding_rate and seen_ns >= ts_ns
    position = sum(f.side * f.qty for f in result.fills if f.ts_ns <= ts_ns)
    assert position != 0.0 and 2_600.0 < mark < 2_700.0
    assert amount == pytest.approx(-position * 10.0 / mark * rate, rel=1e-12)
    assert units.reference_price == pytest.approx(2_682.175)
    s = summarize(config, result, {})
    realized, unrealized = pnl_curve(result.fills, result.book_ts_ns, result.mid, config.market.contract, result.fundings)
    assert realized[-1] + unrealized[-1] == pytest.approx(s["pnl_total"], abs=1e-12)
    assert s["funding"] == pytest.approx(amount) and s["funding_payments"] == 1


def test_orders_sent_in_reduce_only_carry_the_flag_and_only_reduce(tmp_path, capsys):
    """COIN-M with a 300 USD exposure limit (30 contracts): at the limit the risk layer is in
    reduce-only, the orders it sends then carry the exchange's reduce-only flag (the order log
    says so), and every fill of such an order brings the position toward flat, never past it."""
    raw = load_config(EXAMPLES / "binance_coinm_ethusd.yaml").model_dump(mode="json")
    raw["risk"].update({"max_exposure_quote": 300.0, "max_position_base": 0.2})
    raw["strategy"]["params"]["order_qty"] = 0.04
    raw["market"]["data"] = [str(RECORDINGS / p.removeprefix("recordings/")) for p in raw["market"]["data"]]
    config = tmp_path / "reduce.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["replay", "--config", str(config), "--report-dir", str(tmp_path), "--json", "--no-progress"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["risk_mode_secs"]["reduce_only"] > 10.0 and s["max_abs_inventory"] == 30.0
    with (tmp_path / "orders.csv").open() as fh:
        flagged = {row["order_id"] for row in csv.DictReader(fh) if row["action"] == "place" and row["reason"] == "quote (reduce-only)"}
    with (tmp_path / "fills.csv").open() as fh:
        fills = list(csv.DictReader(fh))
    assert len(flagged) > 10
    before, reducing = 0.0, 0
    for row in fills:
        after = float(row["position"])
        if row["order_id"] in flagged:
            reducing += 1
            assert abs(after) < abs(before) and after * before >= 0.0, row
        before = after
    assert reducing > 5


def test_a_margin_ratio_at_its_limit_turns_reduce_only_and_the_report_gives_the_liquidation_price(tmp_path, capsys):
    """COIN-M at 20× on 0.02 ETH: past a 5 % margin ratio (maintenance margin / equity) the risk
    layer is reduce-only; the highest ratio seen stays far from liquidation (1), and the final
    liquidation price is Binance's COIN-M formula on the collateral and position left."""
    raw = load_config(EXAMPLES / "binance_coinm_ethusd.yaml").model_dump(mode="json")
    raw["market"]["leverage"] = 20.0
    raw["market"]["data"] = [str(RECORDINGS / p.removeprefix("recordings/")) for p in raw["market"]["data"]]
    raw["risk"].update({"inventory_risk_pause": 1.0, "max_margin_ratio": 0.05})
    raw["paper"]["initial_base"] = 0.02
    config = tmp_path / "margin.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["replay", "--config", str(config), "--report-dir", str(tmp_path), "--json", "--no-progress"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["risk_mode_secs"]["reduce_only"] > 10.0 and 0.05 <= s["margin_ratio_max"] < 0.2
    assert s["balance_rejects"] == 0 and s["market"]["maintenance_margin_rate"] == 0.005
    pos = s["final_position"]
    cash = s["equity_settle"] + pos * 10.0 / s["final_mid"]  # the collateral's cash flows: equity less the position's value
    assert pos != 0.0
    assert s["liquidation_price"] == pytest.approx(10.0 * (pos + abs(pos) * 0.005) / cash)
    assert s["liquidation_distance_bps"] == pytest.approx(abs(s["liquidation_price"] - s["final_mid"]) / s["final_mid"] * 1e4)
    assert s["margin_ratio"] == pytest.approx(abs(pos) * 10.0 / s["final_mid"] * 0.005 / s["equity_settle"])


def test_a_sweep_over_an_inverse_swap_runs_and_refuses_quote_limits(tmp_path, capsys):
    """The sweep replays the COIN-M example trial by trial (each trial's sizes converted as the
    replay's); a loss cap or drawdown limit in the quote currency cannot apply to a PnL in ETH."""
    grid = tmp_path / "grid.yaml"
    space = {"spread.min_spread_bps": {"values": [1.0, 2.0]}}
    grid.write_text(yaml.safe_dump({"space": space, "constraints": {"max_drawdown_quote": 5.0}}))
    args = ["sweep", "--config", str(EXAMPLES / "binance_coinm_ethusd.yaml"), "--grid", str(grid), "--workers", "1", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "refused")]) == 2
    assert "constraints.max_drawdown_quote: ETH/USD:ETH settles in ETH, its PnL is not in the quote currency" in capsys.readouterr().err
    grid.write_text(yaml.safe_dump({"space": space}))
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    with (tmp_path / "out" / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["state"] for r in rows] == ["complete", "complete"] and all(int(r["fills"]) > 100 for r in rows)
    assert {r["market.settle"] for r in rows} == {"ETH"}


def test_funding_skew_leans_the_position_to_the_side_funding_pays():
    """COIN-M at a 0.05 % funding rate (longs pay): without skew the replay is long at 00:00 and
    pays; with funding_skew 5 (quotes 25 bps lower) it holds a short through the funding time
    and is paid."""
    base = load_config(EXAMPLES / "binance_coinm_ethusd.yaml")
    files = [str(RECORDINGS / p.removeprefix("recordings/")) for p in base.market.data]
    recording = open_recording(files, base.market.symbol)
    funding = {}
    for skew in (0.0, 5.0):
        raw = base.model_dump(mode="json")
        raw["strategy"]["params"]["funding_skew"] = skew
        raw["paper"]["funding_rate"] = 0.0005
        config, _ = for_recording(parse_config(raw, "skew"), recording)
        result = ReplayEngine(config, recording, load_strategy(config), run_id="skew").run()
        ((_, _, rate, _, funding[skew]),) = result.fundings
        assert rate == 0.0005 and result.inventory.funding == funding[skew]
        if skew:
            assert float(np.mean(result.position)) < 0.0
    assert funding[0.0] < 0.0 < funding[5.0]


def test_check_config_states_the_swap_and_refuses_an_order_under_one_lot(tmp_path, capsys):
    """check-config says what market it resolved and refuses a linear swap's order size under
    one lot (no price needed for it)."""
    example = str(EXAMPLES / "binance_usdm_ethusdt.yaml")
    assert main(["check-config", "--config", example]) == 0
    assert "OK (ETH/USDT:USDT linear swap, 1 ETH a contract, leverage 5)" in capsys.readouterr().out
    raw = load_config(example).model_dump(mode="json")
    raw["strategy"]["params"]["order_qty"] = 0.0001
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(raw))
    assert main(["check-config", "--config", str(small)]) == 2
    assert "strategy.params.order_qty: 0.0001 ETH is 0.0001 contracts of ETH/USDT:USDT" in capsys.readouterr().err
