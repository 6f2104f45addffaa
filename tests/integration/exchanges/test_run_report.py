"""`ccxt-mm run`'s report against the three emulated exchanges: per market the replay's report
files, the total at the top; on exit, on SIGUSR1 while it keeps quoting, every
``report.every_secs``, and a report that cannot be written never stops quoting."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import signal
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import yaml

from ccxt_mm.app.run_report import SUMMED_COUNTS, SUMMED_QUOTE
from ccxt_mm.cli import main
from ccxt_mm.report import REPORT_FILES
from tests.integration.exchanges.conftest import API_KEY, SECRET
from tests.integration.exchanges.test_run_cli import emulators, write_config  # noqa: F401  (fixture)
from tests.integration.exchanges.test_venues_emulated import PASSPHRASE
from tests.integration.faults.test_shutdown_and_restart import ours, start, wait_for_quotes

FOLDERS = {"binance": "binance-BTC-USDT", "okx": "okx-BTC-USDT", "bybit": "bybit-LTC-USDT"}


def with_report(config: str, **report: object) -> str:
    """``config`` with these ``report`` keys set."""
    path = Path(config)
    cfg = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**cfg, "report": report}))
    return config


async def trade_through_our_quotes(started, rounds: int) -> None:
    """Once every market has our orders resting, public trades 30 bps through the touch on
    each, every 0.2 s, ``rounds`` times; then none (the fills are all polled before the end)."""
    for _ in range(100):
        if all(ours(started).values()):
            break
        await asyncio.sleep(0.05)
    for _ in range(rounds):
        for env, ex, _ in started:
            tick = ex.markets[env.market_id].tick
            bid, ask = ex.best(env.market_id)
            ex.trade(env.market_id, "sell", (bid * Decimal("0.997")).quantize(tick), Decimal(100))
            ex.trade(env.market_id, "buy", (ask * Decimal("1.003")).quantize(tick), Decimal(100))
        await asyncio.sleep(0.2)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def assert_total_is_the_sum(report: Path, markets: list[str]) -> dict:
    """The top summary.json's totals are the sums of the markets' own summary.json figures
    (counts over all, money per quote currency); returns the total."""
    total = json.loads((report / "summary.json").read_text())
    per_market = {key: json.loads((report / m["folder"] / "summary.json").read_text()) for key, m in total["markets"].items()}
    assert sorted(m["folder"] for m in total["markets"].values()) == sorted(markets)
    for k in SUMMED_COUNTS:
        assert total["total"][k] == sum(s.get(k, 0) for s in per_market.values()), k
    quotes = {total["markets"][key]["quote"] for key in per_market}
    assert set(total["total"]["by_quote"]) == quotes
    for quote in quotes:
        for k in SUMMED_QUOTE:
            summed = sum(s[k] for key, s in per_market.items() if total["markets"][key]["quote"] == quote)
            assert math.isclose(total["total"]["by_quote"][quote][k], summed, rel_tol=1e-12, abs_tol=1e-12), (quote, k)
    assert total["summed"] == {"counts": list(SUMMED_COUNTS), "by_quote_currency": list(SUMMED_QUOTE)}
    return total


def test_a_live_run_writes_each_markets_report_and_the_total_on_exit(tmp_path, monkeypatch, capsys, emulators):  # noqa: F811
    """Real orders on the emulators, filled by public trades through them: each market's
    fills.csv is exactly the emulator's fills of our orders, its orders.csv holds every order
    our client ids placed there; the report is written every ``report.every_secs`` and once
    more at the end, after every order is cancelled."""
    for var, value in (("EMU_KEY", API_KEY), ("EMU_SECRET", SECRET), ("EMU_PASSPHRASE", PASSPHRASE)):
        monkeypatch.setenv(var, value)
    started, loop = emulators
    activity = asyncio.run_coroutine_threadsafe(trade_through_our_quotes(started, 5), loop)
    report = tmp_path / "report"
    config = with_report(write_config(tmp_path, emulators), every_secs=1.0, plot=True)
    assert main(["run", "--live", "--duration", "3", "--config", config, "--report-dir", str(report)]) == 0
    activity.result(10)
    out, err = capsys.readouterr()
    summary = json.loads(out)
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["msg"].startswith("run report (every 1 s) written") for e in logs), err[-2000:]
    assert not [e for e in logs if e["level"] == "error"]
    total = assert_total_is_the_sum(report, list(FOLDERS.values()))
    assert total["reason"] == "exit" and total["markets_failed_to_start"] == []
    assert total["total"]["fills"] > 0
    for env, ex, _ in started:
        folder = report / FOLDERS[env.name]
        assert sorted(p.name for p in folder.iterdir()) == sorted(REPORT_FILES)
        market = json.loads((folder / "summary.json").read_text())
        assert market["orders_left"] == 0 == summary[f"{env.name} {env.symbol}"]["orders_left"], "written after the cancels"
        made = [f for f in ex.fills if f.order.market.id == env.market_id and f.order.client_id.startswith("mm")]
        assert made, env.name
        wanted = Counter((f.order.client_id, f.order.side, float(f.price), float(f.qty)) for f in made)
        got = Counter((r["order_id"], r["side"], float(r["price"]), float(r["qty"])) for r in rows(folder / "fills.csv"))
        assert got == wanted, env.name
        assert market["fills"] == len(made) == total["markets"][f"{env.name} {env.symbol}"]["fills"]
        placed = {r["order_id"] for r in rows(folder / "orders.csv") if r["action"] in ("place", "take")}
        on_exchange = {o.client_id for o in ex.orders.values() if o.market.id == env.market_id and o.client_id.startswith("mm")}
        assert on_exchange and on_exchange <= placed, (env.name, on_exchange - placed)


def test_sigusr1_writes_the_report_while_the_run_keeps_quoting(tmp_path, emulators):  # noqa: F811
    """``ccxt-mm run`` as a process: SIGUSR1 writes the report; the run quotes on (orders
    filled after it are replaced), and SIGINT writes the last one."""
    started, loop = emulators
    report = tmp_path / "report"
    proc = start(with_report(write_config(tmp_path, emulators), plot=False), "--report-dir", str(report))
    try:
        wait_for_quotes(started, proc)
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not (report / "summary.json").exists() and time.monotonic() < deadline:  # written last, whole
            time.sleep(0.05)
        assert proc.poll() is None, "SIGUSR1 writes a report; it does not stop the run"
        total = assert_total_is_the_sum(report, list(FOLDERS.values()))
        assert total["reason"] == "SIGUSR1"
        for env, _, _ in started:
            assert rows(report / FOLDERS[env.name] / "orders.csv"), env.name
        before = {env.name: len(ex.orders) for env, ex, _ in started}
        asyncio.run_coroutine_threadsafe(trade_through_our_quotes(started, 1), loop).result(10)
        deadline = time.monotonic() + 10
        while not all(len(ex.orders) > before[env.name] for env, ex, _ in started) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(len(ex.orders) > before[env.name] for env, ex, _ in started), "filled orders are replaced after the report"
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert json.loads((report / "summary.json").read_text())["reason"] == "exit"
    assert ours(started) == {"binance": [], "okx": [], "bybit": []}


def test_a_report_that_cannot_be_written_is_logged_and_quoting_goes_on(tmp_path, capsys, emulators):  # noqa: F811
    every_secs = 0.3
    report = tmp_path / "report"
    report.mkdir()
    (report / FOLDERS["okx"]).write_text("a file where the market's folder goes")
    config = with_report(write_config(tmp_path, emulators), every_secs=every_secs, plot=False)
    assert main(["run", "--duration", "2", "--config", config, "--report-dir", str(report)]) == 0
    out, err = capsys.readouterr()
    errors = [e for e in map(json.loads, (line for line in err.splitlines() if line.startswith("{"))) if e["level"] == "error"]
    assert any(e["msg"].startswith("run report (exit) not written") for e in errors), err[-2000:]
    assert any(e["msg"].startswith(f"run report (every {every_secs:g} s) not written") and "exc" in e for e in errors)
    summary = json.loads(out)
    for env, _, _ in emulators[0]:
        s = summary[f"{env.name} {env.symbol}"]
        assert s["book_updates"] > 3 and s["orders_created"] > 0, env.name
    assert (report / "run_summary.json").exists()
