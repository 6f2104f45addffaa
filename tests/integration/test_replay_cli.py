"""`ccxt-mm replay` and `ccxt-mm check-config` end to end on the bundled real recordings."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ccxt_mm.cli import main
from tests.conftest import BINANCE_FILES, ROOT

REQUIRED = {
    "fills", "volume_base", "pnl_realized", "pnl_unrealized", "fees", "max_abs_inventory", "orders_created",
    "orders_cancelled", "post_only_rejects", "book_rows", "messages", "wall_s",
}  # fmt: skip


def replay_json(capsys, *args: str) -> dict:
    assert main(["replay", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The main job as a user runs it: console script, no arguments, from the repo root."""
    out = tmp_path_factory.mktemp("report")
    exe = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))
    proc = subprocess.run([exe, "replay", "--report-dir", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_default_replay_writes_a_complete_report(default_run):
    out, proc = default_run
    assert "break-even spread" in proc.stdout
    assert "replay BTC/USDT" in proc.stderr  # the progress bar
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= REQUIRED
    assert summary["messages"] == 41249 + 58325 and summary["book_rows"] == 319998  # every line of both files
    assert summary["fills"] > 0 and summary["orders_left_open"] == 0
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    # one self-contained page: the plot inside it, each figure with its unit, nothing fetched
    assert 'src="data:image/png;base64,' in page and "<script" not in page and "http" not in page
    assert f"<tr><td>pnl_total</td><td class=n>{summary['pnl_total']:,.6g}</td><td>USDT</td></tr>" in page
    assert summary["break_even_spread_bps"] == pytest.approx(2 * (summary["adverse_bps"] + summary["fee_bps"]))
    # every figure has its unit; the span is the recording's first to last message
    numbers = [k for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    assert numbers and all(k in summary["units"] for k in numbers)
    assert (summary["units"]["pnl_total"], summary["units"]["volume_base"]) == ("USDT", "BTC")
    assert summary["span"]["start_utc"] == "2024-08-08T23:54:14.087Z" and summary["span"]["secs"] == pytest.approx(650.447, abs=1e-3)
    assert 0 < summary["time_quoted_secs"] <= summary["span"]["secs"]
    assert summary["orders_filled"] + summary["orders_partly_filled"] <= summary["fills"]


def test_orders_csv_is_one_row_per_place_or_cancel_and_leaves_nothing_behind(default_run):
    out, _ = default_run
    summary = json.loads((out / "summary.json").read_text())
    with (out / "orders.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["ts_ns", "action", "order_id", "side", "price", "qty", "reason"]
    assert {r["action"] for r in rows} == {"place", "cancel"}
    # every order sent says why: a new quote, a requote or an unquoted slot, the end of the recording
    assert {r["reason"] for r in rows if r["action"] == "place"} == {"quote"}
    assert {r["reason"] for r in rows if r["action"] == "cancel"} <= {
        "unquoted",
        "requote: price moved",
        "requote: size changed",
        "requote: order aged",
        "end of the recording",
    }
    placed = {r["order_id"] for r in rows if r["action"] == "place"}
    cancelled = {r["order_id"] for r in rows if r["action"] == "cancel"}
    assert len(placed) == summary["orders_created"] and len(cancelled) == summary["orders_cancelled"]
    with (out / "fills.csv").open() as fh:
        fills = list(csv.DictReader(fh))
    filled_out = {f["order_id"] for f in fills if float(f["remaining"]) == 0.0}
    rejected = summary["post_only_rejects"] + summary["balance_rejects"]
    assert len(placed - cancelled - filled_out) <= rejected
    # times are on the recording's local receive clock
    with gzip.open(BINANCE_FILES[0], "rb") as fh:
        first_ts = int(fh.readline().split(b" ")[0])
    assert all(first_ts <= int(r["ts_ns"]) < first_ts + 15 * 60 * 10**9 for r in rows)
    assert all(r["order_id"].startswith("mm") for r in rows)


def test_two_runs_give_identical_summaries(capsys, tmp_path):
    a = replay_json(capsys, "--report-dir", str(tmp_path / "a"))
    b = replay_json(capsys, "--report-dir", str(tmp_path / "b"))
    a.pop("wall_s")
    b.pop("wall_s")
    assert a == b


def test_another_symbol_from_data_argument_gets_fills(capsys, tmp_path):
    config = ROOT / "tests/data/bybit_ltcusdt.yaml"
    bybit = str(ROOT / "ccxt_mm/recordings/cryptofeed/BYBIT.ws.25.0.ndjson.gz")
    s = replay_json(
        capsys, "--config", str(config), "--data", bybit, "--symbol", "LTC/USDT",
        "--tick-size", "0.01", "--lot-size", "0.1", "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert s["symbol"] == "LTC/USDT" and s["fills"] > 0 and s["orders_left_open"] == 0
    assert (tmp_path / "plot.png").exists()


def test_crossed_book_is_an_error_with_file_and_line(capsys, tmp_path):
    with gzip.open(BINANCE_FILES[0], "rb") as fh:
        lines = fh.readlines()[:400]
    depth = [i for i, line in enumerate(lines) if b"@depth" in line and i > 20]
    target = depth[3]
    ts, _, body = lines[target].partition(b" ")
    msg = orjson.loads(body)
    msg["data"]["b"].append(["70000.00000000", "1.00000000"])  # a bid far above every ask
    lines[target] = ts + b" " + orjson.dumps(msg) + b"\n"
    path = tmp_path / "crossed.gz"
    with gzip.open(path, "wb") as fh:
        fh.writelines(lines)
    assert main(["replay", "--data", str(path), "--report-dir", str(tmp_path / "r"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{target + 1}: crossed book" in err
    assert not (tmp_path / "r" / "summary.json").exists()


def test_check_config(capsys, tmp_path):
    assert main(["check-config", "--config", str(ROOT / "config.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk:\n  max_postion_base: 1\nbook:\n  levels: 0\norders:\n  tolerance_bps: fast\n")
    assert main(["check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    for key in ("risk.max_postion_base", "book.levels", "orders.tolerance_bps"):
        assert key in err
    params = tmp_path / "params.yaml"
    params.write_text("strategy:\n  params:\n    gamma: -1\n    modle: glft\n")
    assert main(["check-config", "--config", str(params)]) == 2
    err = capsys.readouterr().err
    assert "strategy.params.gamma" in err and "strategy.params.modle" in err
    ws_alone = tmp_path / "ws_alone.yaml"
    ws_alone.write_text("live:\n  ws_urls:\n    okx: ws://127.0.0.1:9\n")
    assert main(["check-config", "--config", str(ws_alone)]) == 2
    assert "ws_urls given without rest_urls for ['okx']" in capsys.readouterr().err
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("strategy:\n  name: nope\n")
    assert main(["check-config", "--config", str(unknown)]) == 1
    assert "market_maker" in capsys.readouterr().err


def test_default_replay_uses_no_predictor(default_run):
    out, proc = default_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["predictor"] == "none" and "comparison" not in summary
    assert "predictor         none" in proc.stdout


def test_llm_predictor_without_its_key_makes_no_call(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("CCXT_MM_TEST_LLM_KEY", raising=False)
    config = tmp_path / "llm.yaml"
    config.write_text("llm:\n  predictor: llm\n  api_key_env: CCXT_MM_TEST_LLM_KEY\n  base_url: http://127.0.0.1:9/v1\n")
    summary = replay_json(capsys, "--config", str(config), "--report-dir", str(tmp_path / "r"))
    assert summary["predictor"] == "none" and "predictions" not in summary


def test_replay_of_recorded_predictions_compares_with_and_without(capsys, tmp_path):
    cassette = str(ROOT / "cassettes/llm/replay_btcusdt.yaml")
    args = ["--config", str(ROOT / "examples/binance_btcusdt_tight.yaml"), "--predictions", cassette]
    first = replay_json(capsys, *args, "--report-dir", str(tmp_path / "a"))
    second = replay_json(capsys, *args, "--report-dir", str(tmp_path / "b"))
    first.pop("wall_s"), second.pop("wall_s")
    assert first == second  # recorded predictions replay identically
    p = first["predictions"]
    assert first["predictor"] == p["predictor"] == "llm:gpt-4.1-mini"
    # the cassette: 22 requests, one 429 retried after its Retry-After, one prose reply discarded
    assert (p["requests"], p["http_attempts"], p["rate_limited"], p["predictions"], p["discarded"]) == (22, 23, 1, 21, 1)
    assert p["prompt_tokens"] > 0 and p["cost_usd"] > 0 and p["cost_usd_per_hour"] > p["cost_usd"]
    without, with_ = first["comparison"]["without_predictions"], first["comparison"]["with_predictions"]
    assert without["fills"] > 100 and with_["fills"] > 100
    assert without != with_
    assert with_["fills"] == first["fills"] and with_["pnl_total"] == pytest.approx(first["pnl_total"])


def test_a_missing_predictions_cassette_is_a_clear_error(capsys, tmp_path):
    assert main(["replay", "--predictions", str(tmp_path / "nope.yaml"), "--report-dir", str(tmp_path)]) != 0
    assert "nope.yaml: no such cassette file" in capsys.readouterr().err
